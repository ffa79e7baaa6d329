"""A replay buffer as a pure pytree: fixed capacity, circular, vmappable over seeds.

Transition ``t`` of training (counting from 0) is stored at row ``t % capacity``, so
the buffer as it was after any step can be rebuilt from the rows written so far; see
``checkpoint.py`` for how rows are saved between checkpoints.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from return_landscapes.envs.brax import Transition


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


def replay_insert(buffer: ReplayBuffer, transition: Transition) -> ReplayBuffer:
    """Write one transition at ``position`` and advance it circularly."""
    data = jax.tree.map(
        lambda rows, row: jax.lax.dynamic_update_index_in_dim(
            rows, jnp.asarray(row, rows.dtype), buffer.position, axis=0
        ),
        buffer.data,
        transition,
    )
    return buffer.replace(
        data=data,
        position=(buffer.position + 1) % buffer.capacity,
        size=jnp.minimum(buffer.size + 1, buffer.capacity),
    )


def replay_sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Transition:
    """Draw ``batch_size`` rows uniformly, with replacement, from the filled part."""
    rows = jax.random.randint(key, (batch_size,), 0, buffer.size)
    return jax.tree.map(lambda field: field[rows], buffer.data)
