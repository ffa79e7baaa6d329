"""Every sample key of the landscape commands, derived in one place.

Keys depend on what a sample *is* (sample seed, training seed, checkpoint, sample
index; a path's endpoints; a rejection repeat), never on chunk sizes, counts or the
order of work, so results are reproducible and scales, grid points and paths share
their random draws (common random numbers).

Tags folded under a checkpoint's block key: 0 the PURD samples, 1 the unperturbed
episode, 2 a surface's random directions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

SAMPLES_TAG = 0
PLAIN_TAG = 1
DIRECTION_TAG = 2


def block_key(sample_seed: int, seed: int, step: int) -> jax.Array:
    """The root key of one training seed's checkpoint ``step``."""
    key = jax.random.fold_in(jax.random.PRNGKey(sample_seed), seed)
    return jax.random.fold_in(key, step)


def indexed_keys(key: jax.Array, count: int) -> jax.Array:
    """``(count,)`` keys: key ``j`` is ``fold_in(key, j)``."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(
        key, jnp.arange(count, dtype=jnp.uint32)
    )


def sample_keys(sample_seed: int, seed: int, step: int, samples: int) -> jax.Array:
    """``(samples,)`` keys of one seed's PURD at ``step``: key ``j`` is sample ``j``'s.

    Keys depend on (sample seed, seed, step, j) only: not on the chunk size, the
    number of samples or the perturbation, so scales share their random draws.
    """
    base = block_key(sample_seed, seed, step)
    return indexed_keys(jax.random.fold_in(base, SAMPLES_TAG), samples)


def plain_key(sample_seed: int, seed: int, step: int) -> jax.Array:
    """The key of the unperturbed episode of one seed's checkpoint ``step``."""
    return jax.random.fold_in(block_key(sample_seed, seed, step), PLAIN_TAG)


def direction_key(sample_seed: int, seed: int, step: int) -> jax.Array:
    """The key of a random plane's directions through one seed's checkpoint."""
    return jax.random.fold_in(block_key(sample_seed, seed, step), DIRECTION_TAG)


def pair_key(sample_seed: int, first, second) -> jax.Array:
    """The root key of a path: from the sample seed and the endpoints alone.

    ``first`` and ``second`` are ``store.interpolation.Endpoint``s ``(run_dir, seed,
    checkpoint)``.
    """
    key = jax.random.PRNGKey(sample_seed)
    cross_run = first.run_dir.resolve() != second.run_dir.resolve()
    for value in (*first[1:], *second[1:], int(cross_run)):
        key = jax.random.fold_in(key, value)
    return key


def tagged_keys(key: jax.Array, tag: int, count: int) -> jax.Array:
    """``(count,)`` keys under ``fold_in(key, tag)`` (a path's samples or points)."""
    return indexed_keys(jax.random.fold_in(key, tag), count)


def repeat_sample_keys(
    sample_seed: int, seed: int, checkpoint: int, repeat: int, samples: int
) -> jax.Array:
    """``(samples,)`` keys of every PURD estimate of one rejection repeat."""
    key = jax.random.PRNGKey(sample_seed)
    for value in (seed, checkpoint, repeat):
        key = jax.random.fold_in(key, value)
    return indexed_keys(key, samples)


CHECK_TAG = 5  # folded into a repeat's key for the fresh draws of its checks


def check_sample_keys(
    sample_seed: int,
    seed: int,
    checkpoint: int,
    repeat: int,
    check: int,
    samples: int,
    fresh: bool,
) -> jax.Array:
    """``(samples,)`` keys of check ``check`` of a rejection repeat (0: the root).

    The root's keys are the repeat's (``repeat_sample_keys``) either way; with
    ``fresh``, every later check draws its own, from ``(CHECK_TAG, check)`` folded
    into the repeat's key.
    """
    if not fresh or check == 0:
        return repeat_sample_keys(sample_seed, seed, checkpoint, repeat, samples)
    key = jax.random.PRNGKey(sample_seed)
    for value in (seed, checkpoint, repeat, CHECK_TAG, check):
        key = jax.random.fold_in(key, value)
    return indexed_keys(key, samples)


HELDOUT_TAG = 6  # folded into a repeat's key for its held-out evaluation


def heldout_sample_keys(
    sample_seed: int, seed: int, checkpoint: int, repeat: int, samples: int
) -> jax.Array:
    """``(samples,)`` keys of a rejection repeat's held-out PURD of its final
    policy: no check of any repeat draws them, and every criterion's repeat
    ``repeat`` draws the same (paired comparisons across criteria)."""
    key = jax.random.PRNGKey(sample_seed)
    for value in (seed, checkpoint, repeat, HELDOUT_TAG):
        key = jax.random.fold_in(key, value)
    return indexed_keys(key, samples)


def repeat_training_key(root_key: jax.Array, sample_seed: int, repeat: int):
    """A rejection repeat's training key, from the checkpoint's own training key."""
    return jax.random.fold_in(jax.random.fold_in(root_key, sample_seed), repeat)
