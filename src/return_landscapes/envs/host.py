"""Episodes of envs that step on the host (MuJoCo tasks in envpool, Gymnasium envs),
as one stage of the landscape pipeline.

An env of this kind gives ``episode_pool(keys, horizon)``: a batch of envs with
envpool's interface (``step(actions) -> (observation, reward, terminated,
truncated, info)``, ``info["env_id"]`` naming each row's env) and the first
observations of one chunk of episodes. ``HostEpisodes`` then runs the policy
forward of K parameter sets, jitted, one step at a time until every episode has
ended or reached the horizon.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from return_landscapes.pipeline import HostStage, group_map
from return_landscapes.types import EpisodeStats, episode_stats_shapes

ENV_SEED_TAG = 11  # folded into an episode key for its env's seed


def episode_env_seeds(keys: jax.Array) -> list[int]:
    """One env seed per episode key (the episode's start state), so a sample's
    start does not depend on the chunk it runs in."""
    draw = jax.vmap(
        lambda k: jax.random.randint(
            jax.random.fold_in(k, ENV_SEED_TAG), (), 0, np.iinfo(np.int32).max
        )
    )
    return [int(s) for s in np.asarray(draw(keys))]


def in_env_order(outputs: tuple, info) -> tuple:
    """A batch's outputs sorted by env id (already so in sync mode; checked)."""
    ids = np.asarray(info["env_id"])
    if np.array_equal(ids, np.arange(ids.size)):
        return outputs
    order = np.argsort(ids)
    return tuple(x[order] for x in outputs)


@functools.cache
def host_episode_stage(env, setup) -> HostEpisodes:
    """The stage of ``env`` and ``setup`` (one per pair in a process, so its jitted
    policy step compiles once)."""
    return HostEpisodes(env, setup)


class HostEpisodes(HostStage):
    """Evaluation of K parameter sets, one host-stepped episode each.

    Deterministic actions (``setup.policy_apply``) with the setup's action noise or
    per-step parameter noise (``evaluation.sample_action``). Records the
    undiscounted return, the discounted return and the length, as Brax episodes do.
    """

    def __init__(self, env, setup):
        from return_landscapes.evaluation import sample_action

        self.env = env
        self.setup = setup

        def choose(params, observation, noise_keys, t, noise_std):
            def one(p, o, k):
                return sample_action(setup, p, o, k, t, noise_std)

            return group_map(one, params, observation, noise_keys)

        self.choose = jax.jit(choose)

    def output_shape(self, shared, rows):
        return episode_stats_shapes(jax.tree.leaves(rows)[0].shape[0])

    def bytes_per_row(self, shared, rows) -> int:
        # the observation on host and device, and the env's MuJoCo data (~100 kB)
        return 8 * self.env.observation_size + 100_000

    def __call__(self, shared, rows) -> EpisodeStats:
        params, keys = rows
        count = keys.shape[0]
        noise_keys = jax.vmap(jax.random.split)(keys)[:, 1]
        pool, observation = self.env.episode_pool(keys, self.setup.horizon)
        gamma = np.float32(self.setup.gamma)
        alive = np.ones(count, bool)
        total = np.zeros(count, np.float32)
        discounted = np.zeros(count, np.float32)
        discount = np.float32(1.0)
        length = np.zeros(count, np.int32)
        t = 0
        while t < self.setup.horizon and alive.any():
            actions = self.choose(
                params, observation.astype(np.float32), noise_keys, t, shared
            )
            *outputs, info = pool.step(np.asarray(actions, np.float64))
            observation, reward, terminated, truncated = in_env_order(outputs, info)
            reward = np.where(alive, reward, 0.0).astype(np.float32)
            total += reward
            discounted += discount * reward
            discount *= gamma
            length += alive
            alive &= ~(terminated | truncated)
            t += 1
        return EpisodeStats(total, discounted, length)
