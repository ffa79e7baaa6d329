"""PPO for Atari as pure functions: a Nature-CNN actor-critic on stacked frames.

The algorithm and its defaults follow cleanrl's ``ppo_atari_envpool``: a shared Nature
CNN torso (Mnih et al., 2015) with a categorical policy head and a value head,
orthogonal initialization, one *iteration* of ``unroll_length`` steps from each of
``num_envs`` envs, GAE, ``epochs`` passes of ``num_minibatches`` minibatch steps with
normalized advantages, clipped ratio and clipped value loss, Adam (eps 1e-5) behind
global-norm clipping with the learning rate outside the Adam moments (annealed
linearly in training; ``scale`` in a ``ppo`` perturbation).

The env loop and the loop over minibatch steps live on the host (``train_atari.py``);
everything here is jit-able and works for one seed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from return_landscapes.agents.common import (
    adam_step,
    flatten_time_and_envs,
    gae_advantages,
)
from return_landscapes.conf import AtariConfig


class NatureCNN(nn.Module):
    """Nature-CNN torso, then a policy head (logits) and a value head."""

    num_actions: int

    @nn.compact
    def __call__(self, observation: jax.Array) -> tuple[jax.Array, jax.Array]:
        # envpool frames are (stack, 84, 84) uint8; flax convolves channels-last.
        x = jnp.moveaxis(observation, -3, -1).astype(jnp.float32) / 255.0
        relu_init = nn.initializers.orthogonal(np.sqrt(2))
        zeros = nn.initializers.zeros
        for features, kernel, stride in ((32, 8, 4), (64, 4, 2), (64, 3, 1)):
            x = nn.Conv(
                features,
                (kernel, kernel),
                (stride, stride),
                padding="VALID",
                kernel_init=relu_init,
                bias_init=zeros,
            )(x)
            x = nn.relu(x)
        x = x.reshape(*x.shape[:-3], -1)
        x = nn.relu(nn.Dense(512, kernel_init=relu_init, bias_init=zeros)(x))
        logits = nn.Dense(
            self.num_actions,
            kernel_init=nn.initializers.orthogonal(0.01),
            bias_init=zeros,
        )(x)
        value = nn.Dense(
            1, kernel_init=nn.initializers.orthogonal(1.0), bias_init=zeros
        )(x)
        return logits, value[..., 0]


@flax.struct.dataclass
class AtariPPOState:
    """What PPO learns for one seed: network parameters and the Adam state."""

    params: dict
    opt_state: optax.OptState


class AtariRollout(NamedTuple):
    """``unroll_length`` steps of ``num_envs`` envs; fields ``(unroll, num_envs, ...)``.

    ``done[t]`` says that ``observation[t]`` starts a new life or game (the step before
    ended one), as cleanrl records it.
    """

    observation: jax.Array  # uint8 frames
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array  # clipped training reward
    done: jax.Array


class AtariBatch(NamedTuple):
    """Training samples, flattened: fields ``(n, ...)``."""

    observation: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    advantage: jax.Array
    value_target: jax.Array


class AtariPPOAgent(NamedTuple):
    """The pure functions of Atari PPO (see the module docstring)."""

    network: NatureCNN
    init: Any  # init(key) -> AtariPPOState
    act: Any  # act(params, observation, key) -> (action, log_prob, value)
    value: Any  # value(params, observation) -> value
    make_batch: Any  # make_batch(rollout, next_value, next_done) -> AtariBatch
    minibatch_step: Any  # minibatch_step(state, batch, lr, ...) -> (state, metrics)
    fresh_opt_state: Any  # fresh_opt_state(params) -> a new optimizer state
    minibatch_orders: Any  # minibatch_orders(key) -> (epochs, minibatches, size)
    minibatch_size: int
    actor_params: Any
    policy: Any  # policy(actor_params, deterministic) -> policy(obs, key) -> action

    @staticmethod
    def with_actor_params(state: AtariPPOState, actor_params) -> AtariPPOState:
        """``state`` with the network parameters ``actor_params``."""
        return state.replace(params=actor_params)


def make_atari_ppo(
    cfg: AtariConfig, observation_shape: tuple[int, ...], num_actions: int
) -> AtariPPOAgent:
    """Build the Atari PPO functions for frames of ``observation_shape``."""
    network = NatureCNN(num_actions)

    def clipped_adam(max_grad_norm: float) -> optax.GradientTransformation:
        return optax.chain(
            optax.clip_by_global_norm(max_grad_norm),
            optax.scale_by_adam(eps=cfg.adam_eps),
        )

    optimizer = clipped_adam(cfg.max_grad_norm)
    batch_size = cfg.num_envs * cfg.unroll_length
    minibatch_size = batch_size // cfg.num_minibatches

    def init(key: jax.Array) -> AtariPPOState:
        params = network.init(key, jnp.zeros((1, *observation_shape), jnp.uint8))
        return AtariPPOState(params, optimizer.init(params))

    def act(params, observation, key):
        logits, value = network.apply(params, observation)
        action = jax.random.categorical(key, logits)
        log_prob = jnp.take_along_axis(
            jax.nn.log_softmax(logits), action[..., None], axis=-1
        )[..., 0]
        return action, log_prob, value

    def value(params, observation):
        return network.apply(params, observation)[1]

    def actor_params(state: AtariPPOState):
        return state.params

    def policy(params, deterministic: bool = True):
        def choose(observation, key):
            logits, _ = network.apply(params, observation)
            if deterministic:
                return jnp.argmax(logits, axis=-1)
            return jax.random.categorical(key, logits)

        return choose

    def make_batch(data: AtariRollout, next_value, next_done) -> AtariBatch:
        """cleanrl's GAE: bootstrap from the value after the unroll, cut at dones."""
        next_values = jnp.concatenate([data.value[1:], next_value[None]])
        next_nonterminal = 1.0 - jnp.concatenate(
            [data.done[1:], next_done[None]]
        ).astype(jnp.float32)
        deltas = data.reward + cfg.gamma * next_values * next_nonterminal - data.value

        advantages = gae_advantages(deltas, next_nonterminal, cfg.gamma, cfg.gae_lambda)
        flat = flatten_time_and_envs

        return AtariBatch(
            flat(data.observation),
            flat(data.action),
            flat(data.log_prob),
            flat(data.value),
            flat(advantages),
            flat(advantages + data.value),
        )

    def loss(params, batch: AtariBatch):
        logits, values = network.apply(params, batch.observation)
        log_probs = jax.nn.log_softmax(logits)
        log_prob = jnp.take_along_axis(log_probs, batch.action[:, None], axis=-1)[:, 0]
        ratio = jnp.exp(log_prob - batch.log_prob)
        advantage = (batch.advantage - batch.advantage.mean()) / (
            batch.advantage.std() + 1e-8
        )
        clipped = jnp.clip(ratio, 1 - cfg.clip, 1 + cfg.clip)
        policy_loss = -jnp.mean(jnp.minimum(ratio * advantage, clipped * advantage))
        squared = (values - batch.value_target) ** 2
        if cfg.clip_value_loss:
            clipped_values = batch.value + jnp.clip(
                values - batch.value, -cfg.clip, cfg.clip
            )
            squared = jnp.maximum(squared, (clipped_values - batch.value_target) ** 2)
        value_loss = 0.5 * jnp.mean(squared)
        entropy = -jnp.mean(jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1))
        total = policy_loss + cfg.value_cost * value_loss - cfg.entropy_cost * entropy
        return total, {
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "entropy": entropy,
        }

    def minibatch_step(
        state: AtariPPOState,
        batch: AtariBatch,
        learning_rate,
        max_grad_norm=None,
        grad_scale: float = 1.0,
    ):
        """One Adam step on one minibatch, learning rate as an argument.

        ``max_grad_norm`` replaces the configured clip (``inf``: no clipping) and
        ``grad_scale`` multiplies the gradient before it; the state is the same.
        """
        grads, metrics = jax.grad(loss, has_aux=True)(state.params, batch)
        grads = jax.tree.map(lambda g: grad_scale * g, grads)
        adam = optimizer if max_grad_norm is None else clipped_adam(max_grad_norm)
        params, opt_state = adam_step(
            adam, grads, state.opt_state, state.params, learning_rate
        )
        return AtariPPOState(params, opt_state), metrics

    def minibatch_orders(key: jax.Array) -> jax.Array:
        """Row indices ``(epochs, num_minibatches, minibatch_size)``: each epoch a
        fresh shuffle of the batch cut into minibatches."""
        orders = jax.vmap(lambda k: jax.random.permutation(k, batch_size))(
            jax.random.split(key, cfg.epochs)
        )
        return orders.reshape(cfg.epochs, cfg.num_minibatches, minibatch_size)

    return AtariPPOAgent(
        network,
        init,
        act,
        value,
        make_batch,
        minibatch_step,
        optimizer.init,
        minibatch_orders,
        minibatch_size,
        actor_params,
        policy,
    )
