"""PPO as pure functions: ``init``, ``update``, ``make_batch`` and ``minibatch_step``.

Clipped-ratio PPO with GAE for continuous actions (Schulman et al., 2017), shaped like
Brax's PPO that the paper trained with: a Gaussian policy on pre-tanh actions (env
action ``tanh(u)``), separate tanh-MLP policy and value networks, running observation
normalization, Adam behind global-norm clipping. One *iteration* collects ``unroll``
steps from ``num_envs`` parallel envs, computes GAE, then runs ``epochs`` passes of
``minibatches`` minibatch steps. ``minibatch_step`` is the single step a ``ppo`` PURD
perturbation applies, with the learning rate as an argument.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import optax

from return_landscapes.agents.common import (
    adam_step,
    flatten_time_and_envs,
    gae_advantages,
)
from return_landscapes.conf import PPOConfig

LOG_STD_FLOOR = 1e-3


class TanhMLP(nn.Module):
    """tanh multilayer perceptron with a linear output layer."""

    hidden_sizes: tuple[int, ...]
    output_size: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden_sizes:
            x = nn.tanh(nn.Dense(width)(x))
        return nn.Dense(self.output_size)(x)


@flax.struct.dataclass
class Normalizer:
    """Running mean and variance of observations (Chan et al.'s parallel update)."""

    count: jax.Array
    mean: jax.Array
    sum_squares: jax.Array  # sum of squared deviations from the mean

    def apply(self, observation: jax.Array) -> jax.Array:
        variance = self.sum_squares / jnp.maximum(self.count, 1.0)
        return (observation - self.mean) / jnp.sqrt(variance + 1e-8)


def normalizer_init(size: int) -> Normalizer:
    return Normalizer(jnp.zeros(()), jnp.zeros(size), jnp.zeros(size))


def normalizer_update(normalizer: Normalizer, observations: jax.Array) -> Normalizer:
    """Merge a batch ``(..., size)`` of observations into the running statistics."""
    batch = observations.reshape(-1, observations.shape[-1])
    count = jnp.asarray(batch.shape[0], jnp.float32)
    mean = batch.mean(axis=0)
    sum_squares = ((batch - mean) ** 2).sum(axis=0)
    total = normalizer.count + count
    delta = mean - normalizer.mean
    return Normalizer(
        total,
        normalizer.mean + delta * count / total,
        normalizer.sum_squares
        + sum_squares
        + delta**2 * normalizer.count * count / total,
    )


@flax.struct.dataclass
class PPOState:
    """Everything PPO learns or adapts, for one seed."""

    policy_params: dict
    value_params: dict
    opt_state: optax.OptState
    normalizer: Normalizer


class Rollout(NamedTuple):
    """``unroll`` steps of ``num_envs`` envs; fields ``(unroll, num_envs, ...)``."""

    observation: jax.Array
    raw_action: jax.Array  # pre-tanh action u
    log_prob: jax.Array
    reward: jax.Array
    next_observation: jax.Array
    discount: jax.Array  # 0 at termination
    finished: jax.Array  # the episode ended here (terminated or truncated)


class Batch(NamedTuple):
    """Training samples, flattened: fields ``(n, ...)``."""

    observation: jax.Array
    raw_action: jax.Array
    log_prob: jax.Array
    advantage: jax.Array
    value_target: jax.Array


class PPOAgent(NamedTuple):
    """The pure functions of PPO for one env (see the module docstring)."""

    init: Any
    # rollout(state, env_carry, key) -> (env_carry, Rollout, episodes): bound to an
    # env by training.acting.with_rollout; None until then
    rollout: Any
    update: Any  # update(state, rollout, key) -> (state, metrics)
    minibatch_step: Any  # minibatch_step(state, batch, lr) -> (state, metrics)
    make_batch: Any  # make_batch(state, rollout) -> Batch (GAE, flattened)
    minibatch_size: int
    actor_params: Any
    policy: Any  # policy(actor_params, deterministic) -> policy(obs, key) -> action
    # distribution(policy_params, normalizer, obs) -> (mean, std) of the raw action
    distribution: Any
    unroll_length: int

    @staticmethod
    def with_actor_params(state: PPOState, actor_params) -> PPOState:
        """``state`` with the policy and normalizer of ``actor_params`` (the inverse
        of ``actor_params``)."""
        return state.replace(
            policy_params=actor_params["policy"], normalizer=actor_params["normalizer"]
        )


def gaussian_log_prob(mean, std, value):
    return jnp.sum(
        -0.5 * ((value - mean) / std) ** 2 - jnp.log(std) - 0.5 * jnp.log(2 * jnp.pi),
        axis=-1,
    )


def make_ppo(cfg: PPOConfig, observation_size: int, action_size: int) -> PPOAgent:
    """Build the PPO functions for one env's observation and action sizes.

    ``rollout`` is left ``None``: stepping envs is the trainer's part
    (``training.acting.with_rollout`` binds it to an env).
    """
    policy_net = TanhMLP(tuple(cfg.hidden_sizes), 2 * action_size)
    value_net = TanhMLP(tuple(cfg.hidden_sizes), 1)
    optimizer = optax.chain(
        optax.clip_by_global_norm(cfg.max_grad_norm), optax.scale_by_adam()
    )

    def init(key: jax.Array) -> PPOState:
        policy_key, value_key = jax.random.split(key)
        observation = jnp.zeros((1, observation_size))
        params = {
            "policy": policy_net.init(policy_key, observation),
            "value": value_net.init(value_key, observation),
        }
        return PPOState(
            params["policy"],
            params["value"],
            optimizer.init(params),
            normalizer_init(observation_size),
        )

    def distribution(policy_params, normalizer, observation):
        out = policy_net.apply(policy_params, normalizer.apply(observation))
        mean, raw_scale = jnp.split(out, 2, axis=-1)
        return mean, jax.nn.softplus(raw_scale) + LOG_STD_FLOOR

    def actor_params(state: PPOState):
        return {"policy": state.policy_params, "normalizer": state.normalizer}

    def policy(params, deterministic: bool = True):
        def act(observation, key):
            mean, std = distribution(
                params["policy"], params["normalizer"], observation
            )
            if deterministic:
                return jnp.tanh(mean)
            return jnp.tanh(mean + std * jax.random.normal(key, mean.shape))

        return act

    def make_batch(state: PPOState, data: Rollout) -> Batch:
        """GAE over the unroll (cut at episode ends), flattened to ``(n, ...)``."""

        def value(observation):
            normalized = state.normalizer.apply(observation)
            return value_net.apply(state.value_params, normalized)[..., 0]

        values, next_values = value(data.observation), value(data.next_observation)
        deltas = data.reward + cfg.gamma * data.discount * next_values - values
        continues = 1.0 - data.finished.astype(jnp.float32)

        advantages = gae_advantages(deltas, continues, cfg.gamma, cfg.gae_lambda)
        flat = flatten_time_and_envs

        return Batch(
            flat(data.observation),
            flat(data.raw_action),
            flat(data.log_prob),
            flat(advantages),
            flat(advantages + values),
        )

    def loss(params, normalizer, batch: Batch):
        mean, std = distribution(params["policy"], normalizer, batch.observation)
        log_prob = gaussian_log_prob(mean, std, batch.raw_action)
        ratio = jnp.exp(log_prob - batch.log_prob)
        advantage = (batch.advantage - batch.advantage.mean()) / (
            batch.advantage.std() + 1e-8
        )
        clipped = jnp.clip(ratio, 1 - cfg.clip, 1 + cfg.clip)
        policy_loss = -jnp.mean(jnp.minimum(ratio * advantage, clipped * advantage))
        values = value_net.apply(params["value"], normalizer.apply(batch.observation))
        value_loss = 0.5 * jnp.mean((values[..., 0] - batch.value_target) ** 2)
        entropy = jnp.mean(
            jnp.sum(jnp.log(std) + 0.5 * jnp.log(2 * jnp.pi * jnp.e), -1)
        )
        total = policy_loss + cfg.value_cost * value_loss - cfg.entropy_cost * entropy
        return total, {"policy_loss": policy_loss, "value_loss": value_loss}

    def minibatch_step(state: PPOState, batch: Batch, learning_rate):
        """One Adam step on one minibatch, learning rate as an argument."""
        params = {"policy": state.policy_params, "value": state.value_params}
        grads, metrics = jax.grad(loss, has_aux=True)(params, state.normalizer, batch)
        params, opt_state = adam_step(
            optimizer, grads, state.opt_state, params, learning_rate
        )
        state = state.replace(
            policy_params=params["policy"],
            value_params=params["value"],
            opt_state=opt_state,
        )
        return state, metrics

    def update(state: PPOState, data: Rollout, key: jax.Array):
        """Normalizer update, GAE, then ``epochs`` x ``minibatches`` steps."""
        state = state.replace(
            normalizer=normalizer_update(state.normalizer, data.observation)
        )
        batch = make_batch(state, data)
        size = batch.advantage.shape[0] // cfg.num_minibatches

        def epoch(state, epoch_key):
            order = jax.random.permutation(epoch_key, batch.advantage.shape[0])
            shuffled = jax.tree.map(
                lambda x: x[order].reshape(cfg.num_minibatches, size, *x.shape[1:]),
                batch,
            )

            def minibatch(state, minibatch):
                return minibatch_step(state, minibatch, cfg.learning_rate)

            return jax.lax.scan(minibatch, state, shuffled)

        state, metrics = jax.lax.scan(epoch, state, jax.random.split(key, cfg.epochs))
        return state, jax.tree.map(jnp.mean, metrics)

    minibatch_size = cfg.num_envs * cfg.unroll_length // cfg.num_minibatches
    return PPOAgent(
        init,
        None,
        update,
        minibatch_step,
        make_batch,
        minibatch_size,
        actor_params,
        policy,
        distribution,
        cfg.unroll_length,
    )
