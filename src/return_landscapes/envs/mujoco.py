"""Gymnasium's MuJoCo tasks (v5), stepped by envpool, behind the toolkit's interfaces.

``env=mujoco:Hopper-v5`` names a Gymnasium MuJoCo v5 task envpool ships (Hopper,
Walker2d, HalfCheetah, Ant, Humanoid, ...; not Pusher and Reacher, whose start-state
noise has per-part options). The task is Gymnasium's: the same model
file, frame skip, reward, observation and termination (``terminate_when_unhealthy``),
truncated at the horizon. Observations come as float64 and are cast to float32 for
the networks; actions go back as float64.

Envs step on the host in C++ threads, so the evaluation of K parameter sets is a
host stage (``envs/host.py``): K envs in one envpool batch, the policy forward jitted
over the K parameter sets, one step at a time until every episode has ended or
reached the horizon. Evaluation episodes start
from the task's initial state exactly (reset noise 0) unless the episode env has
start-state noise (``init_state``, or the trainer's evaluations); then each sample's
envpool seed comes from its episode key, so a sample's start does not depend on the
chunk it runs in.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import numpy as np

from return_landscapes.constants import MUJOCO_PREFIX
from return_landscapes.envs.host import (
    HostEpisodes,
    episode_env_seeds,
    host_episode_stage,
    in_env_order,
)
from return_landscapes.envs.optional import import_envpool
from return_landscapes.errors import LandscapeError

GYM_SPEC_MODULE = "envpool.mujoco.gym"  # envpool's Gymnasium MuJoCo tasks
NEEDS_ENVPOOL = "env=mujoco:<Task>-v5 (Gymnasium's MuJoCo tasks)"


@functools.cache
def task_names() -> list[str]:
    """Every Gymnasium MuJoCo v5 task envpool ships, as ``mujoco:<Task>-v5`` names."""
    envpool = import_envpool(NEEDS_ENVPOOL)
    specs = envpool.registration.registry.specs
    return sorted(
        MUJOCO_PREFIX + name
        for name in envpool.list_all_envs()
        if name.endswith("-v5")
        and specs[name][0] == GYM_SPEC_MODULE
        and _has_start_noise_option(name)
    )


def _has_start_noise_option(task: str) -> bool:
    """Whether the task's start-state noise is one ``reset_noise_scale`` (Pusher
    and Reacher have per-part options instead and are left out)."""
    return "reset_noise_scale" in _spec(task).config._fields


def task_id(env: str) -> str:
    """The envpool task of ``mujoco:<Task>-v5``; one-line error for an unknown one."""
    if env not in task_names():
        shown = ", ".join(name.removeprefix(MUJOCO_PREFIX) for name in task_names())
        raise LandscapeError(
            f"unknown MuJoCo task '{env}': use mujoco:<Task>-v5 with one of {shown}"
        )
    return env.removeprefix(MUJOCO_PREFIX)


@functools.cache
def _spec(task: str):
    return import_envpool(NEEDS_ENVPOOL).make_spec(task)


def default_start_noise(env: str) -> float:
    """The task's own start-state noise (Gymnasium's ``reset_noise_scale``)."""
    return float(_spec(task_id(env)).config.reset_noise_scale)


def make_pool(
    task: str,
    num_envs: int,
    reset_noise: float,
    max_steps: int,
    env_seeds: list[int] | None = None,
):
    """An envpool batch of ``num_envs`` envs of ``task``, one seed each if given."""
    envpool = import_envpool(NEEDS_ENVPOOL)
    options = {"env_seed": [int(s) for s in env_seeds]} if env_seeds else {}
    return envpool.make(
        task,
        env_type="gymnasium",
        num_envs=num_envs,
        batch_size=num_envs,
        reset_noise_scale=float(reset_noise),
        max_episode_steps=int(max_steps),
        **options,
    )


@functools.cache
def _fixed_start_pool(task: str, num_envs: int, max_steps: int):
    """A reusable pool whose every episode starts at the task's initial state."""
    return make_pool(task, num_envs, 0.0, max_steps)


class MujocoEnv(NamedTuple):
    """A MuJoCo task as the landscape code sees it (sizes and start noise)."""

    name: str  # mujoco:<Task>-v5
    observation_size: int
    action_size: int
    reset_noise: float  # start-state noise of its episodes (0: a fixed start)

    @property
    def task(self) -> str:
        return self.name.removeprefix(MUJOCO_PREFIX)

    def episode_stage(self, setup) -> HostEpisodes:
        """The host stage that evaluates K parameter sets on this task (one per
        setup in a process, so its jitted policy step compiles once)."""
        return host_episode_stage(self, setup)

    def episode_pool(self, keys: jax.Array, horizon: int):
        """The envs of one chunk of episodes, reset: a fixed start, or one envpool
        seed per episode key. Returns ``(pool, first observations)``."""
        count = keys.shape[0]
        if self.reset_noise == 0:
            pool = _fixed_start_pool(self.task, count, horizon)
        else:
            seeds = episode_env_seeds(keys)
            pool = make_pool(self.task, count, self.reset_noise, horizon, seeds)
        observation, info = pool.reset()
        (observation,) = in_env_order((observation,), info)
        return pool, observation

    def training_pool(self, env_seeds: list[int], horizon: int):
        """Training envs, one per seed with these envpool seeds, truncated at
        ``horizon``."""
        return make_pool(
            self.task, len(env_seeds), self.reset_noise, horizon, env_seeds
        )


def make_mujoco_env(env: str, reset_noise: float | None = None) -> MujocoEnv:
    """The ``MujocoEnv`` of ``env``: start noise ``reset_noise`` (``None``: the
    task's own); one-line error for an unknown task."""
    spec = _spec(task_id(env))
    noise = default_start_noise(env) if reset_noise is None else float(reset_noise)
    return MujocoEnv(
        env,
        int(np.prod(spec.observation_space.shape)),
        int(np.prod(spec.action_space.shape)),
        noise,
    )


def training_env_seed(base_seed: int, seed_index: int, step: int) -> int:
    """The envpool seed of one training seed's env from ``step`` on."""
    key = jax.random.fold_in(
        jax.random.fold_in(jax.random.PRNGKey(base_seed), seed_index), step
    )
    return int(jax.random.randint(key, (), 0, np.iinfo(np.int32).max))
