"""Directions in actor-parameter space: random, normalized; orthogonalized; PCA.

Random directions follow "Visualizing the Loss Landscape of Neural Nets" (Li et al.,
NeurIPS 2018): a Gaussian direction ``d`` shaped like the parameters ``theta`` is
rescaled group by group to the norm of the same group of ``theta``,
``d_g <- d_g / ||d_g|| * ||theta_g||``, so a step of 1 along ``d`` moves every group by
its own size. The groups (``normalization``):

* ``filter``: one output unit: a column of a dense kernel ``(in, out)`` or an output
  channel of a convolution kernel ``(h, w, in, out)`` (flax puts the output axis
  last); a bias vector, when it moves, is one group;
* ``layer``: one leaf (a whole kernel, a whole bias);
* ``model``: all moving leaves together;
* ``none``: no rescaling (the raw Gaussian draw, or the raw update step).

``bias``: ``ignore`` gives biases, and every other parameter with fewer than two axes
(a PPO observation normalizer's statistics included), a zero direction, as Li et al.'s
``ignore='biasbn'``; ``normalized`` moves them too, normalized as above.

``orthogonalize`` takes the second direction's component along the first out, group by
group (Gram-Schmidt), and rescales it to the group's norm again, so the two directions
are orthogonal (per group, hence in all) and keep their group norms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

EPSILON = 1e-10  # Li et al.'s guard against an all-zero random filter
NORMALIZATIONS = ("filter", "layer", "model", "none")
BIASES = ("ignore", "normalized")


def filter_normalized_direction(key: jax.Array, params):
    """A random direction shaped like ``params`` (any pytree), normalized per filter,
    biases still."""
    return random_direction(key, params, "filter", "ignore")


def random_direction(
    key: jax.Array, params, normalization: str = "filter", bias: str = "ignore"
):
    """A Gaussian direction shaped like ``params``, normalized by ``normalization``.

    Leaves that do not move (see ``moves``) get zeros; the key of leaf ``i`` is the
    ``i``-th of ``split(key, leaves)``, whatever the options.
    """
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    drawn = [
        jax.random.normal(k, jnp.shape(leaf), jnp.asarray(leaf).dtype)
        if moves(leaf, bias)
        else jnp.zeros_like(leaf)
        for k, leaf in zip(keys, leaves, strict=True)
    ]
    return normalize(treedef.unflatten(drawn), params, normalization, bias)


def moves(leaf, bias: str = "ignore") -> bool:
    """Whether a direction moves this leaf: floating point, and a weight (two axes
    or more) unless ``bias`` is ``normalized``."""
    leaf = jnp.asarray(leaf)
    if not jnp.issubdtype(leaf.dtype, jnp.floating):
        return False
    return leaf.ndim >= 2 or (bias == "normalized" and leaf.ndim >= 1)


def normalize(direction, params, normalization: str = "filter", bias: str = "ignore"):
    """``direction`` rescaled group by group to the norms of ``params``' groups;
    leaves that do not move become zeros."""
    d_leaves, treedef = jax.tree.flatten(direction)
    p_leaves = treedef.flatten_up_to(params)
    mask = [moves(p, bias) for p in p_leaves]
    d_leaves = [
        jnp.asarray(d) if m else jnp.zeros_like(d)
        for d, m in zip(d_leaves, mask, strict=True)
    ]
    if normalization == "none":
        return treedef.unflatten(d_leaves)
    p_norms = group_norms(p_leaves, mask, normalization)
    d_norms = group_norms(d_leaves, mask, normalization)
    return treedef.unflatten(
        [
            d * (pn / (dn + EPSILON)) if m else d
            for d, pn, dn, m in zip(d_leaves, p_norms, d_norms, mask, strict=True)
        ]
    )


def group_norms(leaves, mask, normalization: str) -> list:
    """Per leaf, the norm of each of its groups, shaped to broadcast against it."""
    return [jnp.sqrt(s) for s in group_sums([jnp.square(x) for x in leaves], mask,
                                             normalization)]  # fmt: skip


def group_sums(values, mask, normalization: str) -> list:
    """Per leaf, the sum of ``values`` over each group (broadcastable to the leaf);
    ``model`` sums over every moving leaf; leaves not in ``mask`` give 0."""
    if normalization == "model":
        total = sum(
            (jnp.sum(v) for v, m in zip(values, mask, strict=True) if m),
            jnp.zeros((), jnp.float32),
        )
        return [total if m else jnp.zeros(()) for m in mask]
    out = []
    for value, m in zip(values, mask, strict=True):
        if not m:
            out.append(jnp.zeros(()))
            continue
        axes = tuple(range(value.ndim))
        if normalization == "filter" and value.ndim >= 2:
            out.append(jnp.sum(value, axis=axes[:-1]))  # one sum per output unit
        else:
            out.append(jnp.sum(value, axis=axes, keepdims=True))
    return out


def filter_norms(leaf: jax.Array) -> jax.Array:
    """The norm of every filter of a weight (output units along the last axis)."""
    axes = tuple(range(leaf.ndim - 1))
    return jnp.sqrt(jnp.sum(jnp.square(leaf), axis=axes))


def orthogonalize(
    first, second, params, normalization: str = "filter", bias: str = "ignore"
):
    """``second`` with its component along ``first`` removed group by group
    (Gram-Schmidt), then rescaled to ``params``' group norms (unless ``none``)."""
    f_leaves, treedef = jax.tree.flatten(first)
    s_leaves = treedef.flatten_up_to(second)
    p_leaves = treedef.flatten_up_to(params)
    mask = [moves(p, bias) for p in p_leaves]
    groups = "model" if normalization == "none" else normalization
    dots = group_sums([f * s for f, s in zip(f_leaves, s_leaves, strict=True)],
                      mask, groups)  # fmt: skip
    sizes = group_sums([jnp.square(f) for f in f_leaves], mask, groups)
    projected = [
        s - jnp.where(n > 0, d / jnp.where(n > 0, n, 1), 0) * f if m else s
        for f, s, d, n, m in zip(f_leaves, s_leaves, dots, sizes, mask, strict=True)
    ]
    return normalize(treedef.unflatten(projected), params, normalization, bias)


def tree_dot(a, b) -> jax.Array:
    """The dot product of two trees of the same shape (float64 on the host)."""
    return sum(
        np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def flat_vector(tree) -> np.ndarray:
    """Every floating-point leaf of ``tree`` in one float64 vector (leaf order)."""
    return np.concatenate(
        [np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(tree)]
    )


def unflatten_like(vector: np.ndarray, template):
    """``vector`` (``flat_vector``'s layout) as a tree shaped and typed like
    ``template``."""
    leaves, treedef = jax.tree.flatten(template)
    out, start = [], 0
    for leaf in leaves:
        size = int(np.size(leaf))
        out.append(
            np.asarray(vector[start : start + size])
            .reshape(np.shape(leaf))
            .astype(np.asarray(leaf).dtype)
        )
        start += size
    return treedef.unflatten(out)


def pca_directions(checkpoints: list, centre: int):
    """The first two principal components of a seed's checkpoints (Li et al.'s
    trajectory plot).

    Args:
      checkpoints: actor parameter trees, in step order (at least 3).
      centre: the index of the checkpoint the plane goes through.

    Returns:
      ``(pc1, pc2, explained, trajectory)``: the components as unit-norm trees shaped
      like the parameters; the fraction of the variance of the differences each
      explains; and every checkpoint's coordinates ``(n, 2)`` in the plane (its
      difference from the centre, projected; the centre is ``(0, 0)``).

    The differences ``theta_k - theta_centre`` are centred on their mean before the
    SVD (as scikit-learn's PCA, which Li et al. use); the projections are of the
    differences themselves, so the centre checkpoint lies at the origin.
    """
    vectors = np.stack([flat_vector(c) for c in checkpoints])
    diffs = vectors - vectors[centre]
    centred = diffs - diffs.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    # A fixed sign: each component's largest-magnitude entry is positive.
    signs = np.sign(components[np.arange(len(components)), np.argmax(
        np.abs(components), axis=1)])  # fmt: skip
    components = components * np.where(signs == 0, 1, signs)[:, None]
    variance = np.square(singular)
    explained = variance[:2] / variance.sum()
    trajectory = diffs @ components[:2].T
    template = checkpoints[centre]
    pcs = [unflatten_like(components[i], template) for i in range(2)]
    return pcs[0], pcs[1], [float(e) for e in explained], trajectory
