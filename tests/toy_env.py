"""Tiny jittable envs in Brax's interface, for exact and fast behaviour tests."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from brax.envs.base import State


class PointReach:
    """A 1-D point mass pushed by the action; reward ``-|position - 0.5|``.

    Starts uniformly in [-1, 1] at rest, never terminates. A random-init policy drifts
    (returns of -30 to -150 over 50 steps); steering to 0.5 and stopping earns about
    -5 over 50 steps. Learnable in a few thousand steps.
    """

    observation_size = 2
    action_size = 1

    def reset(self, key: jax.Array) -> State:
        position = jax.random.uniform(key, (), minval=-1.0, maxval=1.0)
        return State(None, jnp.stack([position, 0.0]), jnp.zeros(()), jnp.zeros(()))

    def step(self, state: State, action: jax.Array) -> State:
        position, velocity = state.obs
        velocity = 0.9 * velocity + 0.1 * action[0]
        position = position + velocity
        reward = -jnp.abs(position - 0.5)
        return state.replace(
            obs=jnp.stack([position, velocity]), reward=reward, done=jnp.zeros(())
        )


class Countdown:
    """Reward 1 every step; terminates on step ``length`` (that step rewarded)."""

    observation_size = 1
    action_size = 1

    def __init__(self, length: int):
        self.length = length

    def reset(self, key: jax.Array) -> State:
        del key
        return State(None, jnp.zeros(1), jnp.zeros(()), jnp.zeros(()))

    def step(self, state: State, action: jax.Array) -> State:
        del action
        count = state.obs + 1.0
        done = (count[0] >= self.length).astype(jnp.float32)
        return state.replace(obs=count, reward=jnp.ones(()), done=done)
