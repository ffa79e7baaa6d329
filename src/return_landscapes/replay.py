"""A replay buffer as a pure pytree: fixed capacity, circular, vmappable over seeds.

Transition ``t`` of training (counting from 0) is stored at row ``t % capacity``, so
the buffer as it was after any step can be rebuilt from the rows written so far; see
``checkpoint.py`` for how rows are saved between checkpoints.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from return_landscapes.types import Transition


@flax.struct.dataclass
class ReplayBuffer:
    """Stored transitions (each field ``(capacity, ...)``) and the fill counters."""

    data: Transition
    position: jax.Array  # next row to write
    size: jax.Array  # rows holding data, at most the capacity

    @property
    def capacity(self) -> int:
        return self.data.reward.shape[-1]


def replay_init(capacity: int, observation_size: int, action_size: int) -> ReplayBuffer:
    """An empty buffer of float32 rows."""

    def zeros(*shape):
        return jnp.zeros((capacity, *shape), jnp.float32)

    data = Transition(
        observation=zeros(observation_size),
        action=zeros(action_size),
        reward=zeros(),
        next_observation=zeros(observation_size),
        discount=zeros(),
    )
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def replay_insert(
    buffer: ReplayBuffer, transition: Transition, step: jax.Array | None = None
) -> ReplayBuffer:
    """Write one transition per buffer and advance the write position circularly.

    Works on one buffer, or on buffers stacked over seeds (data ``(seeds, capacity,
    ...)``, a transition per seed) when ``step`` is given. ``step`` counts the
    transitions inserted before this one, so the row is ``step % capacity``, the same
    for every seed: the write is then one in-place slice update of the (donated)
    stacked buffer. Vmapping a per-seed insert instead turns it into a scatter that
    XLA implements by copying the whole buffer every step.
    """
    seed_axes = buffer.position.ndim
    if step is None:
        if seed_axes:
            raise ValueError("stacked buffers need the shared step to insert")
        count, position = buffer.size, buffer.position
    else:
        count, position = step, step % buffer.capacity

    def write(rows, row):
        row = jnp.expand_dims(jnp.asarray(row, rows.dtype), seed_axes)
        index = (0,) * seed_axes + (position,) + (0,) * (rows.ndim - seed_axes - 1)
        return jax.lax.dynamic_update_slice(rows, row, index)

    return buffer.replace(
        data=jax.tree.map(write, buffer.data, transition),
        position=jnp.broadcast_to(
            (position + 1) % buffer.capacity, buffer.position.shape
        ),
        size=jnp.broadcast_to(
            jnp.minimum(count + 1, buffer.capacity), buffer.size.shape
        ),
    )


def replay_sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Transition:
    """Draw ``batch_size`` rows uniformly, with replacement, from the filled part."""
    rows = jax.random.randint(key, (batch_size,), 0, buffer.size)
    return jax.tree.map(lambda field: field[rows], buffer.data)


def nested_rows(key: jax.Array, count: int, size: jax.Array) -> jax.Array:
    """``count`` rows drawn uniformly, with replacement, from ``[0, size)``, such that
    one key gives (nearly) the same rows for every size.

    Each row is a jump consistent hash (Lamping and Veach, 2014) of its own key: a
    sequence of candidate rows that depends on the key alone, ``j_{k+1} = floor((j_k
    + 1) / u_k)`` with ``u_k`` uniform in ``(0, 1]``, of which the row is the last
    below ``size``. Growing the buffer from ``N`` to ``N + 1`` rows changes a row
    only if it becomes the new row ``N``, with probability ``1 / (N + 1)``, so two
    estimates one insert apart share their minibatches (common random numbers),
    where ``jax.random.randint`` redraws them all. Exact for sizes below 2**24.
    """
    limit = jnp.asarray(size, jnp.float32)

    def one(row_key):
        def more(carry):
            return carry[1] < limit

        def jump(carry):
            _, candidate, k = carry
            u = 1.0 - jax.random.uniform(jax.random.fold_in(row_key, k))  # (0, 1]
            return candidate, jnp.floor((candidate + 1.0) / u), k + 1

        start = (jnp.float32(0.0), jnp.float32(0.0), jnp.uint32(0))
        row, _, _ = jax.lax.while_loop(more, jump, start)
        return row.astype(jnp.int32)

    return jax.vmap(one)(jax.random.split(key, count))


def replay_sample_nested(
    buffer: ReplayBuffer, key: jax.Array, batch_size: int
) -> Transition:
    """``replay_sample`` with ``nested_rows``: one key, nearly the same rows at
    every buffer size (the landscape perturbations' minibatches)."""
    rows = nested_rows(key, batch_size, buffer.size)
    return jax.tree.map(lambda field: field[rows], buffer.data)


def replay_sample_seeds(
    buffer: ReplayBuffer, keys: jax.Array, batch_size: int
) -> Transition:
    """``replay_sample`` for buffers stacked over seeds, one key per seed.

    Returns a ``Transition`` whose fields are ``(num_seeds, batch_size, ...)``.

    The gather runs inside a ``lax.cond`` (both branches the same) on purpose: the
    conditional is a computation boundary that XLA does not fuse across. Without it,
    XLA on the CPU fuses a preceding ``replay_insert`` into this gather, which then
    reads the buffer as it was before the write, and to keep that old buffer alive it
    copies the whole buffer on every env step (about 2.4x slower training with 1M rows).
    """
    size = buffer.size.reshape(-1)[0]

    def sample(buffer, keys):
        return jax.vmap(replay_sample, in_axes=(0, 0, None))(buffer, keys, batch_size)

    return jax.lax.cond(size > 0, sample, sample, buffer, keys)
