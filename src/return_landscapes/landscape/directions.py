"""Random directions in parameter space, normalized filter-wise (Li et al., 2018).

"Visualizing the Loss Landscape of Neural Nets" (NeurIPS 2018) draws a Gaussian
direction ``d`` shaped like the parameters ``theta`` and rescales every filter of it
to the norm of the same filter of ``theta``: ``d_ij <- d_ij / ||d_ij|| * ||theta_ij||``,
so a step of 1 along ``d`` moves every filter by its own size, whatever the layer's
scale. A filter is one output unit: a column of a dense kernel ``(in, out)`` or an
output channel of a convolution kernel ``(h, w, in, out)`` (flax puts the output axis
last). Biases, and every other parameter with fewer than two axes (a PPO observation
normalizer's statistics included), get a zero direction, as in Li et al.'s
``ignore='biasbn'`` setting.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

EPSILON = 1e-10  # Li et al.'s guard against an all-zero random filter


def filter_normalized_direction(key: jax.Array, params):
    """A random direction shaped like ``params`` (any pytree), normalized per filter."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    return treedef.unflatten(
        [_normalized(k, leaf) for k, leaf in zip(keys, leaves, strict=True)]
    )


def filter_norms(leaf: jax.Array) -> jax.Array:
    """The norm of every filter of a weight (output units along the last axis)."""
    axes = tuple(range(leaf.ndim - 1))
    return jnp.sqrt(jnp.sum(jnp.square(leaf), axis=axes))


def _normalized(key: jax.Array, weight: jax.Array) -> jax.Array:
    weight = jnp.asarray(weight)
    if weight.ndim < 2 or not jnp.issubdtype(weight.dtype, jnp.floating):
        return jnp.zeros_like(weight)
    direction = jax.random.normal(key, weight.shape, weight.dtype)
    scale = filter_norms(weight) / (filter_norms(direction) + EPSILON)
    return direction * scale
