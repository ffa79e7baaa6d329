"""PPO as pure functions: ``init``, ``update``, ``make_batch`` and ``minibatch_step``.

Clipped-ratio PPO with GAE for continuous actions (Schulman et al., 2017). By default
it is the paper's own PPO, cleanrl's continuous-action PPO (cleanrl PR 313) adapted to
Brax: separate tanh-MLP policy and value networks with cleanrl's orthogonal
``layer_init``, a Gaussian policy whose mean is the policy MLP's output and whose log
std is a state-independent parameter (``actor_logstd``, starting at 0), env actions the
sample clipped to [-1, 1] (log-probabilities of the unclipped sample), raw
observations, Adam (eps 1e-5) behind global-norm clipping. The Brax-style PPO of runs
trained before these options is one option each away (``PPOConfig``): a Gaussian on
pre-tanh actions with a state-dependent softplus std (``policy=tanh_gaussian``), a
running observation normalizer, Adam eps 1e-8 and LeCun init.

One *iteration* collects ``unroll`` steps from ``num_envs`` parallel envs, computes
GAE, then runs ``epochs`` passes of ``minibatches`` minibatch steps.
``minibatch_step`` is the single step a ``ppo`` PURD perturbation applies, with the
learning rate as an argument.
"""

from __future__ import annotations

import math
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
from return_landscapes.conf import Init, PPOConfig, PPOPolicy

LOG_STD_FLOOR = 1e-3
POLICY_OUTPUT_GAIN = 0.01  # cleanrl's layer_init(std=0.01) on the policy mean
VALUE_OUTPUT_GAIN = 1.0  # cleanrl's layer_init(std=1.0) on the value output


def _dense_inits(init: str, output_gain: float):
    """``(hidden, output)`` kernel initializers of a tanh MLP."""
    if Init(init) is Init.orthogonal:
        return (
            nn.initializers.orthogonal(math.sqrt(2.0)),
            nn.initializers.orthogonal(output_gain),
        )
    return nn.initializers.lecun_normal(), nn.initializers.lecun_normal()


def tanh_mlp(x, hidden_sizes, output_size: int, init: str, output_gain: float):
    """tanh layers and a linear output, in the calling module's scope (so the
    layers are its ``Dense_0``, ``Dense_1``, ...). Biases start at zero."""
    hidden, output = _dense_inits(init, output_gain)
    for width in hidden_sizes:
        x = nn.tanh(nn.Dense(width, kernel_init=hidden)(x))
    return nn.Dense(output_size, kernel_init=output)(x)


class TanhMLP(nn.Module):
    """tanh multilayer perceptron with a linear output layer.

    ``init_scheme``: ``lecun`` (flax's default) or ``orthogonal``, gain sqrt(2) on the
    hidden layers and ``output_gain`` on the output layer (cleanrl's layer_init).
    """

    hidden_sizes: tuple[int, ...]
    output_size: int
    init_scheme: str = "lecun"
    output_gain: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return tanh_mlp(
            x, self.hidden_sizes, self.output_size, self.init_scheme, self.output_gain
        )


class GaussianPolicyNet(nn.Module):
    """A tanh MLP's mean and a state-independent log std parameter, ``actor_logstd``,
    starting at 0 (cleanrl's continuous-action actor)."""

    hidden_sizes: tuple[int, ...]
    action_size: int
    init_scheme: str = "orthogonal"

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean = tanh_mlp(
            x, self.hidden_sizes, self.action_size, self.init_scheme, POLICY_OUTPUT_GAIN
        )
        log_std = self.param("actor_logstd", nn.initializers.zeros, (self.action_size,))
        return mean, jnp.broadcast_to(log_std, mean.shape)


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
    """Everything PPO learns or adapts, for one seed.

    ``normalizer`` stays at its initial zeros, unused, when observations are not
    normalized (``normalize_observations=false``), so both settings share one
    structure.
    """

    policy_params: dict
    value_params: dict
    opt_state: optax.OptState
    normalizer: Normalizer


class Rollout(NamedTuple):
    """``unroll`` steps of ``num_envs`` envs; fields ``(unroll, num_envs, ...)``."""

    observation: jax.Array
    raw_action: jax.Array  # the Gaussian sample u (env action tanh(u) or clip(u))
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
    env_action: Any  # env_action(raw_action) -> the action the env takes, in [-1, 1]
    # log_prob(policy_params, normalizer, obs, raw_action) -> log-density of the raw
    # action (the Gaussian sample, before tanh or clipping)
    log_prob: Any

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
    hidden = tuple(cfg.hidden_sizes)
    init_scheme = Init(cfg.init).value
    clipped = PPOPolicy(cfg.policy) is PPOPolicy.clipped_gaussian
    if clipped:
        policy_net = GaussianPolicyNet(hidden, action_size, init_scheme)
    else:
        policy_net = TanhMLP(hidden, 2 * action_size, init_scheme, POLICY_OUTPUT_GAIN)
    value_net = TanhMLP(hidden, 1, init_scheme, VALUE_OUTPUT_GAIN)

    def clipped_adam(max_grad_norm: float) -> optax.GradientTransformation:
        return optax.chain(
            optax.clip_by_global_norm(max_grad_norm),
            optax.scale_by_adam(eps=cfg.adam_eps),
        )

    optimizer = clipped_adam(cfg.max_grad_norm)

    def normalize(normalizer: Normalizer, observation):
        if cfg.normalize_observations:
            return normalizer.apply(observation)
        return observation

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
        out = policy_net.apply(policy_params, normalize(normalizer, observation))
        if clipped:
            mean, log_std = out
            return mean, jnp.exp(log_std)
        mean, raw_scale = jnp.split(out, 2, axis=-1)
        return mean, jax.nn.softplus(raw_scale) + LOG_STD_FLOOR

    def env_action(raw_action):
        return jnp.clip(raw_action, -1.0, 1.0) if clipped else jnp.tanh(raw_action)

    def log_prob(policy_params, normalizer, observation, raw_action):
        mean, std = distribution(policy_params, normalizer, observation)
        return gaussian_log_prob(mean, std, raw_action)

    def actor_params(state: PPOState):
        return {"policy": state.policy_params, "normalizer": state.normalizer}

    def policy(params, deterministic: bool = True):
        def act(observation, key):
            mean, std = distribution(
                params["policy"], params["normalizer"], observation
            )
            if deterministic:
                return env_action(mean)
            return env_action(mean + std * jax.random.normal(key, mean.shape))

        return act

    def make_batch(state: PPOState, data: Rollout) -> Batch:
        """GAE over the unroll (cut at episode ends), flattened to ``(n, ...)``.

        A step that ends an episode at the horizon bootstraps from the true next
        observation's value when ``bootstrap_truncation``; otherwise it counts as done
        like a termination (cleanrl: ``nextnonterminal = 1 - done``).
        """

        def value(observation):
            normalized = normalize(state.normalizer, observation)
            return value_net.apply(state.value_params, normalized)[..., 0]

        values, next_values = value(data.observation), value(data.next_observation)
        continues = 1.0 - data.finished.astype(jnp.float32)
        discount = data.discount if cfg.bootstrap_truncation else continues
        deltas = data.reward + cfg.gamma * discount * next_values - values

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
        new_log_prob = gaussian_log_prob(mean, std, batch.raw_action)
        ratio = jnp.exp(new_log_prob - batch.log_prob)
        advantage = (batch.advantage - batch.advantage.mean()) / (
            batch.advantage.std(ddof=cfg.advantage_ddof) + 1e-8
        )
        clipped = jnp.clip(ratio, 1 - cfg.clip, 1 + cfg.clip)
        policy_loss = -jnp.mean(jnp.minimum(ratio * advantage, clipped * advantage))
        values = value_net.apply(
            params["value"], normalize(normalizer, batch.observation)
        )
        value_loss = 0.5 * jnp.mean((values[..., 0] - batch.value_target) ** 2)
        entropy = jnp.mean(
            jnp.sum(jnp.log(std) + 0.5 * jnp.log(2 * jnp.pi * jnp.e), -1)
        )
        total = policy_loss + cfg.value_cost * value_loss - cfg.entropy_cost * entropy
        return total, {"policy_loss": policy_loss, "value_loss": value_loss}

    def minibatch_step(
        state: PPOState, batch: Batch, learning_rate, max_grad_norm=None
    ):
        """One Adam step on one minibatch, learning rate as an argument;
        ``max_grad_norm`` replaces the configured clip (the state is the same)."""
        params = {"policy": state.policy_params, "value": state.value_params}
        grads, metrics = jax.grad(loss, has_aux=True)(params, state.normalizer, batch)
        adam = optimizer if max_grad_norm is None else clipped_adam(max_grad_norm)
        params, opt_state = adam_step(
            adam, grads, state.opt_state, params, learning_rate
        )
        state = state.replace(
            policy_params=params["policy"],
            value_params=params["value"],
            opt_state=opt_state,
        )
        return state, metrics

    def update(state: PPOState, data: Rollout, key: jax.Array):
        """Normalizer update (if normalizing), GAE, then ``epochs`` x
        ``minibatches`` steps."""
        if cfg.normalize_observations:
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
        env_action,
        log_prob,
    )
