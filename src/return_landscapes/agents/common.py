"""Pieces shared by the off-policy agents: the agent interface, Adam steps, targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from return_landscapes.networks import make_policy


class OffPolicyAgent(NamedTuple):
    """The pure functions of an off-policy agent (TD3, SAC) for one env.

    Attributes:
      actor: the actor network module.
      init: ``init(key) -> state``.
      act: ``act(state, observation, key) -> action``, the exploratory training action.
      update: ``update(state, batch, key, update_index) -> (state, metrics)``, one full
        training update; ``update_index`` counts updates from 0.
      actor_update: ``actor_update(state, batch, key, learning_rate) -> state``, one
        actor step with the state's own Adam moments and frozen critics.
      actor_params: ``actor_params(state) -> params`` of the actor.
    """

    actor: nn.Module
    init: Callable[[jax.Array], Any]
    act: Callable[..., jax.Array]
    update: Callable[..., tuple[Any, dict]]
    actor_update: Callable[..., Any]
    actor_params: Callable[[Any], Any]

    def policy(self, actor_params, deterministic: bool = True):
        """``policy(observation, key) -> action`` for these actor parameters."""
        return make_policy(self.actor, actor_params, deterministic)

    @staticmethod
    def with_actor_params(state, actor_params):
        """``state`` with its actor's parameters replaced (the inverse of
        ``actor_params``)."""
        return state.replace(actor_params=actor_params)


def adam_step(adam: optax.GradientTransformation, grads, opt_state, params, lr):
    """Apply Adam-scaled ``grads`` with learning rate ``lr`` (a float or an array).

    The learning rate multiplies outside the Adam moments, so one restored Adam state
    serves both training and a perturbation step at another learning rate.
    """
    updates, opt_state = adam.update(grads, opt_state, params)
    params = jax.tree.map(lambda p, u: p - lr * u, params, updates)
    return params, opt_state


def soft_update(target, online, tau: float):
    """Polyak averaging: ``target <- (1 - tau) * target + tau * online``."""
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def gae_advantages(deltas, continues, gamma: float, gae_lambda: float):
    """Generalized advantage estimates over the leading (time) axis.

    ``advantage[t] = delta[t] + gamma * lambda * continue[t] * advantage[t + 1]``,
    with ``continues`` 0 where an episode is cut after step ``t``.
    """

    def backward(advantage, inputs):
        delta, keep = inputs
        advantage = delta + gamma * gae_lambda * keep * advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(deltas[0]), (deltas, continues), reverse=True
    )
    return advantages


def flatten_time_and_envs(x):
    """``(unroll, envs, ...)`` -> ``(unroll * envs, ...)``."""
    return x.reshape(-1, *x.shape[2:])


class ParamsAsState:
    """The agent-state half of ``ActorAgent`` for a policy without training state:
    the state is the actor's parameters themselves (imported policies, plain
    ``apply`` functions)."""

    def actor_params(self, state):
        return state

    def with_actor_params(self, state, actor_params):
        del state
        return actor_params
