"""TD3 as pure functions: ``init``, ``act``, ``update`` and ``actor_update``.

The losses are module-level functions of the networks, parameters and a batch, so
they can be checked by value on hand-made batches.

``actor_update`` is the single actor step that training applies every
``policy_delay`` updates and that a ``td3`` PURD perturbation applies once: the same
deterministic policy-gradient loss through the first critic, the same Adam moments,
with the learning rate as an argument.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import optax

from return_landscapes.agents.common import (
    OffPolicyAgent,
    adam_step,
    soft_update,
)
from return_landscapes.conf import ActorObjective, Init, TD3Config
from return_landscapes.networks import DeterministicActor, TwinCritic
from return_landscapes.types import Transition


@flax.struct.dataclass
class TD3State:
    """Everything TD3 learns or adapts, for one seed."""

    actor_params: dict
    critic_params: dict
    target_actor_params: dict
    target_critic_params: dict
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState


def td3_critic_loss(
    actor: nn.Module,
    critic: nn.Module,
    cfg: TD3Config,
    critic_params,
    state: TD3State,
    batch: Transition,
    key: jax.Array,
):
    """TD3's critic loss and mean Q: both critics regress on the clipped double-Q
    target of the target actor's smoothed next action (``(loss, mean_q)``)."""
    next_action = actor.apply(state.target_actor_params, batch.next_observation)
    noise = jnp.clip(
        cfg.target_noise * jax.random.normal(key, next_action.shape),
        -cfg.target_noise_clip,
        cfg.target_noise_clip,
    )
    next_action = jnp.clip(next_action + noise, -1.0, 1.0)
    next_q = critic.apply(
        state.target_critic_params, batch.next_observation, next_action
    ).min(axis=0)
    target = batch.reward + cfg.gamma * batch.discount * next_q
    q = critic.apply(critic_params, batch.observation, batch.action)
    loss = jnp.mean(jnp.sum((q - jax.lax.stop_gradient(target)) ** 2, axis=0))
    return loss, jnp.mean(q)


def td3_actor_loss(
    actor: nn.Module,
    critic: nn.Module,
    objective: ActorObjective,
    actor_params,
    critic_params,
    batch: Transition,
):
    """TD3's actor loss: minus the mean Q of the actor's actions, Q the smaller of
    the twin critics (``min_q``, the paper's code) or the first (``first_q``)."""
    action = actor.apply(actor_params, batch.observation)
    q = critic.apply(critic_params, batch.observation, action)
    if ActorObjective(objective) is ActorObjective.min_q:
        return -jnp.mean(jnp.minimum(q[0], q[1]))
    return -jnp.mean(q[0])


def make_td3(cfg: TD3Config, observation_size: int, action_size: int) -> OffPolicyAgent:
    """Build the TD3 functions for one env's observation and action sizes."""
    scheme = Init(cfg.init).value
    actor = DeterministicActor(tuple(cfg.hidden_sizes), action_size, scheme)
    critic = TwinCritic(tuple(cfg.hidden_sizes), scheme)
    adam = optax.scale_by_adam()

    def init(key: jax.Array) -> TD3State:
        actor_key, critic_key = jax.random.split(key)
        observation = jnp.zeros((1, observation_size))
        actor_params = actor.init(actor_key, observation)
        critic_params = critic.init(
            critic_key, observation, jnp.zeros((1, action_size))
        )
        return TD3State(
            actor_params=actor_params,
            critic_params=critic_params,
            target_actor_params=actor_params,
            target_critic_params=critic_params,
            actor_opt_state=adam.init(actor_params),
            critic_opt_state=adam.init(critic_params),
        )

    def act(state: TD3State, observation: jax.Array, key: jax.Array) -> jax.Array:
        action = actor.apply(state.actor_params, observation)
        noise = cfg.exploration_noise * jax.random.normal(key, action.shape)
        return jnp.clip(action + noise, -1.0, 1.0)

    critic_loss = functools.partial(td3_critic_loss, actor, critic, cfg)
    actor_loss = functools.partial(td3_actor_loss, actor, critic, cfg.actor_objective)

    def actor_update(
        state: TD3State, batch: Transition, key: jax.Array, learning_rate
    ) -> TD3State:
        """One actor step with the state's Adam moments; critics stay as they are."""
        del key  # the TD3 actor loss is deterministic given the batch
        grads = jax.grad(actor_loss)(state.actor_params, state.critic_params, batch)
        params, opt_state = adam_step(
            adam, grads, state.actor_opt_state, state.actor_params, learning_rate
        )
        return state.replace(actor_params=params, actor_opt_state=opt_state)

    def delayed_actor_and_targets(state: TD3State, batch: Transition) -> TD3State:
        state = actor_update(state, batch, None, cfg.actor_lr)
        return state.replace(
            target_actor_params=soft_update(
                state.target_actor_params, state.actor_params, cfg.tau
            ),
            target_critic_params=soft_update(
                state.target_critic_params, state.critic_params, cfg.tau
            ),
        )

    def update(state: TD3State, batch: Transition, key: jax.Array, update_index):
        """Critic step every call; actor and target step every ``policy_delay`` calls.

        ``update_index`` counts updates from 0 and is the same for every seed, so the
        delayed branch stays a real conditional under ``vmap`` over seeds.
        """
        (loss, mean_q), grads = jax.value_and_grad(critic_loss, has_aux=True)(
            state.critic_params, state, batch, key
        )
        params, opt_state = adam_step(
            adam, grads, state.critic_opt_state, state.critic_params, cfg.critic_lr
        )
        state = state.replace(critic_params=params, critic_opt_state=opt_state)
        state = jax.lax.cond(
            update_index % cfg.policy_delay == cfg.policy_delay - 1,
            delayed_actor_and_targets,
            lambda state, batch: state,
            state,
            batch,
        )
        return state, {"critic_loss": loss, "mean_q": mean_q}

    return OffPolicyAgent(
        actor=actor,
        init=init,
        act=act,
        update=update,
        actor_update=actor_update,
        actor_params=lambda state: state.actor_params,
    )
