"""Types every layer shares: transitions, episode results, env carries, policies.

The bottom of the package: envs, replay, agents, training and landscape code import
these from here, never from each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax

Policy = Callable[[jax.Array, jax.Array], jax.Array]
"""``policy(observation, key) -> action``, actions in [-1, 1]."""

PolicyApply = Callable[[Any, jax.Array], jax.Array]
"""``policy_apply(params, observation) -> action`` of the deterministic policy."""


class EpisodeStats(NamedTuple):
    """Per-episode results; each field has the batch shape of the call."""

    undiscounted_return: jax.Array
    discounted_return: jax.Array
    length: jax.Array


def episode_stats_shapes(count: int) -> EpisodeStats:
    """The shapes and dtypes of ``count`` episodes' ``EpisodeStats``."""
    return EpisodeStats(
        jax.ShapeDtypeStruct((count,), "float32"),
        jax.ShapeDtypeStruct((count,), "float32"),
        jax.ShapeDtypeStruct((count,), "int32"),
    )


class Transition(NamedTuple):
    """One environment transition as stored in the replay buffer."""

    observation: jax.Array
    action: jax.Array
    reward: jax.Array
    next_observation: jax.Array
    discount: jax.Array  # 0 at termination, 1 otherwise (also at horizon truncation)


class EnvCarry(NamedTuple):
    """Training-env state carried across steps: the Brax state plus episode counters.

    ``first_state``, when set, is the env's state from its initial reset, where it
    returns after every episode; ``None``: every episode starts from a fresh reset.
    """

    state: object
    episode_step: jax.Array
    episode_return: jax.Array
    first_state: object = None


class StepOutput(NamedTuple):
    """What one auto-resetting step yields besides the next carry."""

    transition: Transition
    finished: jax.Array  # an episode ended (terminated or hit the horizon)
    finished_return: jax.Array  # its undiscounted return when ``finished``
