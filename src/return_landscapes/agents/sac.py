"""SAC as pure functions: ``init``, ``act``, ``update`` and ``actor_update``.

Tanh-Gaussian actor, twin critics with Polyak-averaged targets, and a learned
temperature. ``actor_update`` is the single actor step that training applies each
update and that a ``sac`` PURD perturbation applies once: the same entropy-regularised
loss at the state's temperature, the same Adam moments, the learning rate as an
argument.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import optax

from return_landscapes.agents.common import OffPolicyAgent, adam_step, soft_update
from return_landscapes.conf import SACConfig
from return_landscapes.envs.brax import Transition
from return_landscapes.networks import (
    GaussianActor,
    TwinCritic,
    squashed_gaussian_sample,
)


@flax.struct.dataclass
class SACState:
    """Everything SAC learns or adapts, for one seed."""

    actor_params: dict
    critic_params: dict
    target_critic_params: dict
    log_temperature: jax.Array
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState
    temperature_opt_state: optax.OptState


def make_sac(cfg: SACConfig, observation_size: int, action_size: int) -> OffPolicyAgent:
    """Build the SAC functions for one env's observation and action sizes."""
    actor = GaussianActor(tuple(cfg.hidden_sizes), action_size)
    critic = TwinCritic(tuple(cfg.hidden_sizes))
    adam = optax.scale_by_adam()
    target_entropy = (
        -float(action_size) if cfg.target_entropy is None else cfg.target_entropy
    )

    def init(key: jax.Array) -> SACState:
        actor_key, critic_key = jax.random.split(key)
        observation = jnp.zeros((1, observation_size))
        actor_params = actor.init(actor_key, observation)
        critic_params = critic.init(
            critic_key, observation, jnp.zeros((1, action_size))
        )
        log_temperature = jnp.log(jnp.asarray(cfg.initial_temperature, jnp.float32))
        return SACState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=critic_params,
            log_temperature=log_temperature,
            actor_opt_state=adam.init(actor_params),
            critic_opt_state=adam.init(critic_params),
            temperature_opt_state=adam.init(log_temperature),
        )

    def sample_action(actor_params, observation, key):
        mean, log_std = actor.apply(actor_params, observation)
        return squashed_gaussian_sample(mean, log_std, key)

    def act(state: SACState, observation: jax.Array, key: jax.Array) -> jax.Array:
        return sample_action(state.actor_params, observation, key)[0]

    def critic_loss(critic_params, state: SACState, batch: Transition, key):
        next_action, next_log_prob = sample_action(
            state.actor_params, batch.next_observation, key
        )
        next_q = critic.apply(
            state.target_critic_params, batch.next_observation, next_action
        ).min(axis=0)
        temperature = jnp.exp(state.log_temperature)
        soft_value = next_q - temperature * next_log_prob
        target = batch.reward + cfg.gamma * batch.discount * soft_value
        q = critic.apply(critic_params, batch.observation, batch.action)
        loss = jnp.mean(jnp.sum((q - jax.lax.stop_gradient(target)) ** 2, axis=0))
        return loss, jnp.mean(q)

    def actor_loss(actor_params, state: SACState, batch: Transition, key):
        action, log_prob = sample_action(actor_params, batch.observation, key)
        q = critic.apply(state.critic_params, batch.observation, action).min(axis=0)
        temperature = jnp.exp(state.log_temperature)
        return jnp.mean(temperature * log_prob - q), log_prob

    def actor_step(state: SACState, batch: Transition, key: jax.Array, learning_rate):
        grads, log_prob = jax.grad(actor_loss, has_aux=True)(
            state.actor_params, state, batch, key
        )
        params, opt_state = adam_step(
            adam, grads, state.actor_opt_state, state.actor_params, learning_rate
        )
        return state.replace(actor_params=params, actor_opt_state=opt_state), log_prob

    def actor_update(
        state: SACState, batch: Transition, key: jax.Array, learning_rate
    ) -> SACState:
        """One actor step with the state's Adam moments; critics, temperature stay."""
        return actor_step(state, batch, key, learning_rate)[0]

    def temperature_step(state: SACState, log_prob: jax.Array) -> SACState:
        entropy_gap = jax.lax.stop_gradient(log_prob + target_entropy)
        grad = jax.grad(lambda log_t: -jnp.mean(log_t * entropy_gap))(
            state.log_temperature
        )
        log_temperature, opt_state = adam_step(
            adam,
            grad,
            state.temperature_opt_state,
            state.log_temperature,
            cfg.temperature_lr,
        )
        return state.replace(
            log_temperature=log_temperature, temperature_opt_state=opt_state
        )

    def update(state: SACState, batch: Transition, key: jax.Array, update_index):
        """Critic, actor, temperature and target steps on one minibatch."""
        del update_index  # SAC updates every part on every call
        critic_key, actor_key = jax.random.split(key)
        (loss, mean_q), grads = jax.value_and_grad(critic_loss, has_aux=True)(
            state.critic_params, state, batch, critic_key
        )
        params, opt_state = adam_step(
            adam, grads, state.critic_opt_state, state.critic_params, cfg.critic_lr
        )
        state = state.replace(critic_params=params, critic_opt_state=opt_state)
        state, log_prob = actor_step(state, batch, actor_key, cfg.actor_lr)
        state = temperature_step(state, log_prob)
        state = state.replace(
            target_critic_params=soft_update(
                state.target_critic_params, state.critic_params, cfg.tau
            )
        )
        metrics = {
            "critic_loss": loss,
            "mean_q": mean_q,
            "temperature": jnp.exp(state.log_temperature),
        }
        return state, metrics

    return OffPolicyAgent(
        actor=actor,
        init=init,
        act=act,
        update=update,
        actor_update=actor_update,
        actor_params=lambda state: state.actor_params,
    )
