"""What the landscape code uses of an agent, as typed protocols.

Every agent (TD3, SAC, PPO, Atari PPO) is a ``NamedTuple`` of pure functions; these
protocols name the parts other layers rely on, so a new algorithm knows what to
implement and a type checker can verify it:

* ``ActorAgent``: reading and replacing the actor's parameters and building a policy
  from them; all that evaluation, paths and surfaces need;
* ``ActorUpdate``: one actor step with the state's own optimizer moments (the ``td3``
  and ``sac`` perturbations);
* ``OnPolicyUpdate``: fresh experience, a batch and one minibatch step (the ``ppo``
  perturbation).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax

from return_landscapes.types import Policy, Transition


@runtime_checkable
class ActorAgent(Protocol):
    """An agent whose actor can be read, replaced and run."""

    def actor_params(self, state: Any) -> Any:
        """The actor's parameters (what the landscape moves) of an agent state."""
        ...

    def with_actor_params(self, state: Any, actor_params: Any) -> Any:
        """``state`` with the actor's parameters replaced."""
        ...

    def policy(self, actor_params: Any, deterministic: bool = True) -> Policy:
        """``policy(observation, key) -> action`` for these actor parameters."""
        ...


@runtime_checkable
class ActorUpdate(ActorAgent, Protocol):
    """An agent that takes one actor step on a replay minibatch."""

    def actor_update(
        self, state: Any, batch: Transition, key: jax.Array, learning_rate: Any
    ) -> Any:
        """One actor step with the state's Adam moments at ``learning_rate``."""
        ...


@runtime_checkable
class OnPolicyUpdate(ActorAgent, Protocol):
    """An agent that learns from fresh experience in minibatch steps."""

    minibatch_size: int

    def rollout(self, state: Any, env_carry: Any, key: jax.Array) -> tuple:
        """``(env_carry, rollout, episodes)``: experience from the parallel envs."""
        ...

    def make_batch(self, state: Any, rollout: Any) -> Any:
        """The training batch of a rollout (advantages, targets), flattened."""
        ...

    def minibatch_step(
        self, state: Any, batch: Any, learning_rate: Any, max_grad_norm: Any = None
    ) -> tuple:
        """``(state, metrics)`` after one optimizer step on one minibatch
        (``max_grad_norm``: another gradient clip than training's)."""
        ...
