"""SAC as pure functions: ``init``, ``act``, ``update`` and ``actor_update``.

Tanh-Gaussian actor, twin critics with Polyak-averaged targets, and a learned
temperature, as the paper's code (jaxrl's SAC) by default: separate mean and log-std
heads, log-std squashed into [-10, 2], target entropy ``-action_size / 2``, and the
temperature loss ``temperature * (entropy - target)``; each has an option giving the
behaviour of runs saved before it (``rundir.LEGACY_OPTIONS``).

``actor_update`` is the single actor step that training applies each update and that
a ``sac`` PURD perturbation applies once: the same entropy-regularised loss at the
state's temperature, the same Adam moments, the learning rate as an argument.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import optax

from return_landscapes.agents.common import OffPolicyAgent, adam_step, soft_update
from return_landscapes.conf import (
    Heads,
    Init,
    LogStdBound,
    SACConfig,
    TemperatureLoss,
)
from return_landscapes.networks import (
    GaussianActor,
    TwinCritic,
    squashed_gaussian_sample,
)
from return_landscapes.types import Transition


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


def sample_action(
    actor: nn.Module, actor_params, observation, key, tanh_epsilon: float = 0.0
):
    """A squashed Gaussian action and its log-probability."""
    mean, log_std = actor.apply(actor_params, observation)
    return squashed_gaussian_sample(mean, log_std, key, tanh_epsilon)


def sac_critic_loss(
    actor: nn.Module,
    critic: nn.Module,
    gamma: float,
    tanh_epsilon: float,
    critic_params,
    state: SACState,
    batch: Transition,
    key: jax.Array,
):
    """SAC's critic loss and mean Q: both critics regress on the soft clipped
    double-Q target of a sampled next action (``(loss, mean_q)``)."""
    next_action, next_log_prob = sample_action(
        actor, state.actor_params, batch.next_observation, key, tanh_epsilon
    )
    next_q = critic.apply(
        state.target_critic_params, batch.next_observation, next_action
    ).min(axis=0)
    temperature = jnp.exp(state.log_temperature)
    soft_value = next_q - temperature * next_log_prob
    target = batch.reward + gamma * batch.discount * soft_value
    q = critic.apply(critic_params, batch.observation, batch.action)
    loss = jnp.mean(jnp.sum((q - jax.lax.stop_gradient(target)) ** 2, axis=0))
    return loss, jnp.mean(q)


def sac_actor_loss(
    actor: nn.Module,
    critic: nn.Module,
    tanh_epsilon: float,
    actor_params,
    state: SACState,
    batch: Transition,
    key: jax.Array,
):
    """SAC's actor loss ``mean(temperature * log_prob - min Q)``, and the log-probs."""
    action, log_prob = sample_action(
        actor, actor_params, batch.observation, key, tanh_epsilon
    )
    q = critic.apply(state.critic_params, batch.observation, action).min(axis=0)
    temperature = jnp.exp(state.log_temperature)
    return jnp.mean(temperature * log_prob - q), log_prob


def sac_temperature_loss(log_temperature, log_prob, target_entropy: float):
    """The paper's code's temperature loss ``temperature * (entropy - target)``,
    ``temperature = exp(log_temperature)`` and ``entropy = -mean(log_prob)`` held
    fixed: its gradient in the log temperature is ``temperature * (entropy -
    target)``."""
    entropy_gap = jax.lax.stop_gradient(-jnp.mean(log_prob) - target_entropy)
    return jnp.exp(log_temperature) * entropy_gap


def sac_log_temperature_loss(log_temperature, log_prob, target_entropy: float):
    """The temperature loss ``-mean(log_temperature * (log_prob + target_entropy))``
    (the log-probs held fixed; ``sac.temperature_loss=log_temperature``): its
    gradient in the log temperature is ``entropy - target``."""
    entropy_gap = jax.lax.stop_gradient(log_prob + target_entropy)
    return -jnp.mean(log_temperature * entropy_gap)


def sac_target_entropy(cfg: SACConfig, action_size: int) -> float:
    """The entropy target: ``cfg.target_entropy``, or when null
    ``-cfg.target_entropy_scale * action_size``."""
    if cfg.target_entropy is not None:
        return float(cfg.target_entropy)
    return -float(cfg.target_entropy_scale) * float(action_size)


def make_sac_actor(cfg: SACConfig, action_size: int) -> GaussianActor:
    """The configured actor network (heads, log-std bound, kernel init)."""
    return GaussianActor(
        tuple(cfg.hidden_sizes),
        action_size,
        Init(cfg.init).value,
        log_std_min=float(cfg.log_std_min),
        separate_heads=Heads(cfg.heads) is Heads.separate,
        clip_log_std=LogStdBound(cfg.log_std_bound) is LogStdBound.clip,
    )


def make_sac(cfg: SACConfig, observation_size: int, action_size: int) -> OffPolicyAgent:
    """Build the SAC functions for one env's observation and action sizes."""
    actor = make_sac_actor(cfg, action_size)
    critic = TwinCritic(tuple(cfg.hidden_sizes), Init(cfg.init).value)
    adam = optax.scale_by_adam()
    target_entropy = sac_target_entropy(cfg, action_size)
    temperature_loss = (
        sac_temperature_loss
        if TemperatureLoss(cfg.temperature_loss) is TemperatureLoss.temperature
        else sac_log_temperature_loss
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

    tanh_epsilon = float(cfg.tanh_epsilon)

    def act(state: SACState, observation: jax.Array, key: jax.Array) -> jax.Array:
        return sample_action(actor, state.actor_params, observation, key, tanh_epsilon)[
            0
        ]

    critic_loss = functools.partial(
        sac_critic_loss, actor, critic, cfg.gamma, tanh_epsilon
    )
    actor_loss = functools.partial(sac_actor_loss, actor, critic, tanh_epsilon)

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
        grad = jax.grad(temperature_loss)(
            state.log_temperature, log_prob, target_entropy
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
