"""Atari games from envpool behind the toolkit's env and evaluation interfaces.

``env=atari:Breakout-v5`` names any game envpool ships. Frames follow envpool's v5
preprocessing: 84x84 grey, 4 stacked frames, frame skip 4, no sticky actions.

Training pools add cleanrl's choices (episodic life, clipped rewards, up to 30 no-op
starts drawn by the pool's own seeded generator). Landscape pools, for evaluation
episodes and for the fresh experience of a ``ppo`` perturbation, are built with a
single envpool no-op, which makes the emulator deterministic: a pool can then be reset
and reused, and every episode's randomness comes from its key alone. Their no-op
starts are taken explicitly: the first ``n`` actions of an episode are NOOP, ``n``
drawn from the episode's key (or from ``eval_env_seed`` for all samples at once).

Envs step on the host, so the evaluation of K parameter sets is a ``HostStage``: K
envs in one envpool batch, the policy forward jitted over the K parameter sets (see
``weight_set_batch``), one step at a time until every episode has ended or reached
the horizon.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.conf import ATARI_PREFIX, AtariConfig, is_atari
from return_landscapes.envs.optional import import_envpool
from return_landscapes.errors import LandscapeError
from return_landscapes.pipeline import GROUP, HostStage
from return_landscapes.types import EpisodeStats, episode_stats_shapes

FRAME_SKIP = 4
NOOP = 0  # action 0 is NOOP in every game's minimal action set
NEEDS_ENVPOOL = "env=atari:<Game>-v5 (Atari games)"
ORIGINAL_STEPS = 10_001  # the paper's Atari score: steps until ``count > 10,000``


def weight_set_batch() -> int | None:
    """How many parameter sets one forward call vmaps over (``lax.map``'s batch).

    Groups of ``GROUP`` on accelerators, where a convolution vmapped over weight sets
    is one grouped convolution; one at a time on the CPU, where XLA stalls on such
    convolutions (JAX 0.10.2). Either way every sample's program is the same whatever
    the chunk size, because chunks are whole groups.
    """
    return None if jax.default_backend() == "cpu" else GROUP


@functools.cache
def game_names() -> list[str]:
    """Every Atari game envpool ships, as ``atari:<Game>-v5`` names."""
    envpool = import_envpool(NEEDS_ENVPOOL)
    return sorted(
        ATARI_PREFIX + name
        for name in envpool.list_all_envs()
        if name.endswith("-v5") and _is_atari_task(name)
    )


def _is_atari_task(name: str) -> bool:
    registration = import_envpool(NEEDS_ENVPOOL).registration
    spec = registration.registry.specs.get(name)
    return spec is not None and "atari" in str(spec[0]).lower()


def task_id(env: str) -> str:
    """The envpool task of ``atari:<Game>-v5``; one-line error for an unknown game."""
    if not is_atari(env) or env not in game_names():
        shown = ", ".join(name.removeprefix(ATARI_PREFIX) for name in game_names())
        raise LandscapeError(
            f"unknown Atari game '{env}': use atari:<Game>-v5 with one of {shown}"
        )
    return env.removeprefix(ATARI_PREFIX)


def _make_pool(task: str, num_envs: int, **options):
    return import_envpool(NEEDS_ENVPOOL).make(
        task,
        env_type="gymnasium",
        num_envs=num_envs,
        batch_size=num_envs,
        repeat_action_probability=0.0,
        **options,
    )


def training_pool(env: str, cfg: AtariConfig, env_seeds: list[int]):
    """A pool of ``len(env_seeds)`` training envs, one seed each (cleanrl's setup)."""
    return _make_pool(
        task_id(env),
        len(env_seeds),
        env_seed=[int(s) for s in env_seeds],
        noop_max=cfg.noop_max,
        episodic_life=cfg.episodic_life,
        reward_clip=cfg.reward_clip,
        num_threads=cfg.num_threads,
    )


def landscape_pool(
    env: str, num_envs: int, max_steps: int, training_like: bool, cfg: AtariConfig
):
    """A deterministic, reusable pool (one envpool no-op), cached per shape.

    ``training_like`` pools clip rewards and end an episode at each life lost, as in
    training (the ``ppo`` perturbation's experience); the others play the full game
    with raw rewards (evaluation episodes).
    """
    return _cached_pool(
        task_id(env),
        num_envs,
        max_steps,
        training_like and cfg.episodic_life,
        training_like and cfg.reward_clip,
        cfg.num_threads,
    )


@functools.cache
def _cached_pool(
    task: str,
    num_envs: int,
    max_steps: int,
    episodic_life: bool,
    reward_clip: bool,
    num_threads: int,
):
    return _make_pool(
        task,
        num_envs,
        noop_max=1,
        episodic_life=episodic_life,
        reward_clip=reward_clip,
        max_episode_steps=max_steps,
        num_threads=num_threads,
    )


class AtariEnv(NamedTuple):
    """An Atari game as the landscape code sees it (shapes and settings)."""

    name: str  # atari:<Game>-v5
    observation_shape: tuple[int, ...]
    num_actions: int
    cfg: AtariConfig

    @property
    def observation_size(self) -> int:
        return math.prod(self.observation_shape)

    @property
    def action_size(self) -> int:
        return self.num_actions

    def episode_stage(self, setup) -> AtariEpisodes:
        """The host stage that evaluates K parameter sets on this game."""
        return AtariEpisodes(self, setup)


def make_atari_env(env: str, cfg: AtariConfig) -> AtariEnv:
    """The ``AtariEnv`` of ``env``; one-line error for an unknown game."""
    observation_shape, num_actions = _spaces(task_id(env))
    return AtariEnv(env, observation_shape, num_actions, cfg)


@functools.cache
def _spaces(task: str) -> tuple[tuple[int, ...], int]:
    spec = import_envpool(NEEDS_ENVPOOL).make_spec(task)
    return (
        tuple(spec.observation_space.shape),
        int(spec.action_space.n),
    )


def noop_counts(keys: jax.Array, noop_max: int) -> np.ndarray:
    """No-op steps before each episode's first policy action, from its key."""
    draw = jax.vmap(lambda k: jax.random.randint(k, (), 0, max(noop_max, 1)))
    return np.asarray(draw(jax.vmap(jax.random.fold_in, (0, None))(keys, 7)))


def shared_noop_count(cfg: AtariConfig) -> int:
    """The no-op count every sample shares when env seeds are not per sample."""
    key = jax.random.PRNGKey(cfg.eval_env_seed)
    return int(noop_counts(key[None], cfg.noop_max)[0])


class AtariEpisodes(HostStage):
    """Evaluation of K parameter sets, one Atari episode each (see the module doc).

    Greedy actions by default; ``setup.sampled_actions`` samples from the policy with
    the episode's key. No-op starts: one count shared by all samples (from
    ``eval_env_seed``), or per sample with ``setup.per_sample_env_seeds``.
    """

    def __init__(self, env: AtariEnv, setup):
        self.env = env
        self.setup = setup
        deterministic = not setup.sampled_actions
        policy = setup.policy_factory

        def choose(params, observation, key, t, noops):
            def one(p, o, k):
                return policy(p, deterministic)(o, jax.random.fold_in(k, t))

            actions = jax.lax.map(
                lambda x: one(*x),
                (params, observation, key),
                batch_size=weight_set_batch(),
            )
            return jnp.where(t < noops, NOOP, actions)

        self.choose = jax.jit(choose)

    def output_shape(self, shared, rows):
        return episode_stats_shapes(jax.tree.leaves(rows)[0].shape[0])

    def bytes_per_row(self, shared, rows) -> int:
        return 4 * self.env.observation_size  # frames of one env, host and device

    def __call__(self, shared, rows) -> EpisodeStats:
        del shared  # action noise does not apply to discrete actions
        if self.setup.original_scoring:
            return self.original_scores(*rows)
        params, keys = rows
        count = keys.shape[0]
        cfg, horizon, gamma = self.env.cfg, self.setup.horizon, self.setup.gamma
        if self.setup.per_sample_env_seeds:
            noops = noop_counts(keys, cfg.noop_max)
        else:
            noops = np.full(count, shared_noop_count(cfg))
        pool = landscape_pool(
            self.env.name, count, horizon + cfg.noop_max + 1, False, cfg
        )
        observation, _ = pool.reset()
        alive = np.ones(count, bool)
        total = np.zeros(count, np.float32)
        discounted = np.zeros(count, np.float32)
        discount = np.ones(count, np.float32)
        length = np.zeros(count, np.int32)
        noops_device = jnp.asarray(noops)
        t = 0
        while alive.any():
            actions = self.choose(params, observation, keys, t, noops_device)
            observation, reward, terminated, truncated, _ = pool.step(
                np.asarray(actions)
            )
            counted = alive & (t >= noops)
            reward = np.where(counted, reward, 0.0).astype(np.float32)
            total += reward
            discounted += discount * reward
            discount = np.where(counted, discount * np.float32(gamma), discount)
            length += counted
            alive &= ~(terminated | truncated) & (length < horizon)
            t += 1
        return EpisodeStats(total, discounted, length)

    def original_scores(self, params, keys) -> EpisodeStats:
        """The paper's code's Atari score: ``ORIGINAL_STEPS`` steps (or the
        horizon, if shorter) of an env with episodic life and clipped rewards, no
        no-op start, auto-resetting across lives and games, summing
        ``reward * (1 - done)``.

        The paper's loop also stopped early on a step where every env of its batch
        of 100 ended at once; that depends on which samples share a batch (and
        almost never happens), so every sample here plays all the steps.
        """
        count = keys.shape[0]
        cfg, gamma = self.env.cfg, np.float32(self.setup.gamma)
        steps = min(ORIGINAL_STEPS, self.setup.horizon)
        pool = _cached_pool(
            task_id(self.env.name),
            count,
            10 * ORIGINAL_STEPS,
            True,
            True,
            cfg.num_threads,
        )
        observation, _ = pool.reset()
        total = np.zeros(count, np.float32)
        discounted = np.zeros(count, np.float32)
        discount = np.float32(1.0)
        no_noops = jnp.zeros(count, jnp.int32)
        for t in range(steps):
            actions = self.choose(params, observation, keys, t, no_noops)
            observation, reward, terminated, truncated, _ = pool.step(
                np.asarray(actions)
            )
            counted = (reward * ~(terminated | truncated)).astype(np.float32)
            total += counted
            discounted += discount * counted
            discount *= gamma
        return EpisodeStats(total, discounted, np.full(count, steps, np.int32))


def env_seed_list(base_seed: int, seed_index: int, num_envs: int, step: int):
    """The envpool seeds of one training seed's envs, from (seed, step) alone."""
    key = jax.random.fold_in(
        jax.random.fold_in(jax.random.PRNGKey(base_seed), seed_index), step
    )
    draws = jax.random.randint(key, (num_envs,), 0, np.iinfo(np.int32).max)
    return [int(d) for d in np.asarray(draws)]


def frames(steps: int) -> int:
    """Atari frames of ``steps`` agent steps (frame skip 4)."""
    return steps * FRAME_SKIP
