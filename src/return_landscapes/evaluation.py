"""The hot path: evaluate a batch of K parameter sets, one episode each.

Every landscape experiment builds a batch of actor parameter sets and hands it here.
One jitted function runs the K episodes: the envs step together (``vmap``) inside a
``while_loop`` over time that stops as soon as every episode has ended or the horizon
is reached; the policy forward pass is vmapped over the K distinct parameter sets. On
a GPU all K step together; on the CPU a group of 8 at a time (``group_batches``), so
that a sample's numbers do not depend on the chunk size. The batch goes through the
chunk pipeline (``pipeline.py``): chunks sized to the memory budget, split over
devices.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.constants import DEFAULT_GAMMA, DEFAULT_HORIZON
from return_landscapes.pipeline import group_batches, plan_chunks, run_chunks
from return_landscapes.types import EpisodeStats, PolicyApply

PARAM_NOISE_TAG = 1  # folded into a step's noise key for its parameter noise


def noisy_parameters(params, key: jax.Array, std):
    """``params`` plus Gaussian noise of std ``std`` on every weight, a key per leaf.

    Observation-normalizer statistics (a ``normalizer`` entry) are not weights and
    stay as they are.
    """
    paths, treedef = jax.tree_util.tree_flatten_with_path(params)
    keys = jax.random.split(key, len(paths))
    noisy = [
        leaf
        if "normalizer" in jax.tree_util.keystr(path)
        else leaf + std * jax.random.normal(k, leaf.shape, leaf.dtype)
        for (path, leaf), k in zip(paths, keys, strict=True)
    ]
    return jax.tree.unflatten(treedef, noisy)


class EvaluationSetup(NamedTuple):
    """What an evaluation episode is: env, policy, horizon, discount, noise.

    ``action_noise`` (static) adds Gaussian noise of std ``action_noise_std`` (a call
    argument) to every action before clipping to [-1, 1]; ``param_noise`` (static)
    adds Gaussian noise of that std to every weight of the policy afresh at every
    step (``noisy_parameters``; the paper's ``parameter`` noise). ``policy_factory``,
    ``sampled_actions`` and ``per_sample_env_seeds`` serve envs that step on the host
    (Atari): the agent's ``policy(params, deterministic)``, whether actions are
    sampled instead of greedy, and whether every sample draws its own env seed;
    ``original_scoring`` scores Atari episodes as the paper's code did
    (``envs/atari.py``).
    """

    env: Any
    policy_apply: PolicyApply
    horizon: int = DEFAULT_HORIZON
    gamma: float = DEFAULT_GAMMA
    action_noise: bool = False
    param_noise: bool = False
    policy_factory: Any = None
    sampled_actions: bool = False
    per_sample_env_seeds: bool = False
    original_scoring: bool = False


def sample_action(
    setup: EvaluationSetup, params, observation, noise_key, t, noise_std
) -> jax.Array:
    """One sample's action at step ``t`` of its episode, with the setup's noise.

    Per-step parameter noise (``setup.param_noise``) is drawn from
    ``fold_in(fold_in(noise_key, t), PARAM_NOISE_TAG)``, action noise
    (``setup.action_noise``, clipped to [-1, 1]) from ``fold_in(noise_key, t)``;
    both of std ``noise_std``. Brax episodes vmap it over K samples; envs that step
    on the host call it, jitted, at every step.
    """
    step_key = jax.random.fold_in(noise_key, t)
    if setup.param_noise:
        params = noisy_parameters(
            params, jax.random.fold_in(step_key, PARAM_NOISE_TAG), noise_std
        )
    action = setup.policy_apply(params, observation)
    if setup.action_noise:
        noise = jax.random.normal(step_key, action.shape)
        action = jnp.clip(action + noise_std * noise, -1.0, 1.0)
    return action


def episodes(
    setup: EvaluationSetup,
    params,
    episode_keys: jax.Array,
    action_noise_std: jax.Array | float = 0.0,
) -> EpisodeStats:
    """One episode per parameter set; pure, to be jitted by the caller.

    Args:
      setup: the evaluation episode definition.
      params: actor parameters with a leading batch axis ``(K, ...)``.
      episode_keys: ``(K,)`` keys: start state and action noise of each episode.
      action_noise_std: std of the action noise when ``setup.action_noise``, of the
        per-step parameter noise when ``setup.param_noise``.

    Returns:
      ``EpisodeStats`` with fields shaped ``(K,)``.
    """
    env = setup.env
    reset_keys, noise_keys = jax.vmap(jax.random.split, out_axes=1)(episode_keys)
    states = jax.vmap(env.reset)(reset_keys)
    count = episode_keys.shape[0]
    act = jax.vmap(
        functools.partial(sample_action, setup), in_axes=(0, 0, 0, None, None)
    )

    def step(carry):
        t, states, alive, total, discounted, discount, length = carry
        actions = act(params, states.obs, noise_keys, t, action_noise_std)
        states = jax.vmap(env.step)(states, actions)
        reward = jnp.where(alive, states.reward, 0.0)
        return (
            t + 1,
            states,
            alive & (states.done == 0),
            total + reward,
            discounted + discount * reward,
            discount * setup.gamma,
            length + alive.astype(jnp.int32),
        )

    def running(carry):
        t, alive = carry[0], carry[2]
        return (t < setup.horizon) & jnp.any(alive)

    zeros = jnp.zeros((count,), jnp.float32)
    init = (
        jnp.zeros((), jnp.int32),
        states,
        jnp.ones((count,), bool),
        zeros,
        zeros,
        jnp.ones((count,), jnp.float32),
        jnp.zeros((count,), jnp.int32),
    )
    _, _, _, total, discounted, _, length = jax.lax.while_loop(running, step, init)
    return EpisodeStats(total, discounted, length)


def make_episode_stage(setup: EvaluationSetup):
    """The evaluation stage: ``stage(noise_std, (params, keys)) -> stats``.

    Jitted for envs written in JAX (Brax); an env that steps on the host supplies its
    own ``HostStage`` through ``env.episode_stage(setup)``.
    """
    if hasattr(setup.env, "episode_stage"):
        return setup.env.episode_stage(setup)

    def stage(action_noise_std, batch):
        return group_batches(
            lambda params, keys: episodes(setup, params, keys, action_noise_std),
            *batch,
        )

    return jax.jit(stage)


def evaluate_parameter_sets(
    setup: EvaluationSetup,
    params,
    episode_keys: jax.Array,
    action_noise_std: float = 0.0,
    chunk: int | None = None,
) -> EpisodeStats:
    """Evaluate K parameter sets, one episode each, in chunks; numpy ``(K,)`` fields.

    Args:
      setup: the evaluation episode definition.
      params: actor parameters stacked on a leading axis ``(K, ...)``.
      episode_keys: ``(K,)`` keys, one per episode.
      action_noise_std: std of the action noise when ``setup.action_noise``.
      chunk: parameter sets per compiled call; ``None`` fits the memory budget.
    """
    stage = make_episode_stage(setup)
    noise = jnp.asarray(action_noise_std, jnp.float32)
    rows = (params, episode_keys)
    total = episode_keys.shape[0]
    plan = plan_chunks((stage,), (noise,), rows, total, chunk)
    return EpisodeStats(*run_chunks(plan, (noise,), rows))


def seed_episodes(setup: EvaluationSetup, params, keys: jax.Array) -> EpisodeStats:
    """Episodes of each seed's policy: ``params`` stacked over seeds, ``keys``
    shaped ``(num_seeds, episodes)`` (+ the key shape); numpy fields
    ``(num_seeds, episodes)``. For trainers whose envs step on the host."""
    seeds, count = keys.shape[:2]
    repeated = jax.tree.map(lambda x: np.repeat(np.asarray(x), count, axis=0), params)
    stats = evaluate_parameter_sets(setup, repeated, keys.reshape(-1, *keys.shape[2:]))
    return EpisodeStats(*(np.reshape(x, (seeds, count)) for x in stats))
