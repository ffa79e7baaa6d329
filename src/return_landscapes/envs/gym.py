"""Any registered Gymnasium env with a Box action space, stepped on the host.

``env=gym:<id>`` names an env ``gymnasium.make(id, **kwargs)`` builds (classic
control, Gymnasium's MuJoCo tasks, robotics, a custom env registered as
``my_package:MyEnv-v0``); ``gym.kwargs`` are passed to ``make``. Observations must be
one flat Box; they are cast to float32 for the networks.

Actions are the toolkit's: in [-1, 1] per dimension, as every agent and noise
produces them, rescaled by the env to its Box bounds (``low + (a + 1) / 2 *
(high - low)``, skipped when the bounds are already [-1, 1]); an imported actor
gives normalised actions accordingly (``agents/mlp_actor.py``).

Episodes end when the env terminates or truncates (its own ``TimeLimit``
included) or at the run's horizon, whichever comes first. Every evaluation episode
of a fixed start resets with one seed shared by every sample (``gym.reset_seed``);
with start-state noise (``init_state``, the trainer's evaluations) each sample
resets with its own seed, drawn from its episode key, so a sample's start does not
depend on the chunk it runs in. The envs of a batch are stepped one after another
in this process (``GymBatch``), with envpool's interface so the MuJoCo trainer and
episode stage serve both.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import numpy as np

from return_landscapes.constants import GYM_PREFIX
from return_landscapes.envs.host import (
    HostEpisodes,
    episode_env_seeds,
    host_episode_stage,
)
from return_landscapes.errors import LandscapeError


def env_id(env: str) -> str:
    """The Gymnasium id of ``gym:<id>``."""
    return str(env).removeprefix(GYM_PREFIX)


def frozen_kwargs(kwargs) -> tuple:
    """``gym.kwargs`` as a sorted tuple of pairs (hashable; lists as tuples)."""

    def freeze(value):
        if isinstance(value, list | tuple):
            return tuple(freeze(v) for v in value)
        if isinstance(value, dict):
            return tuple(sorted((k, freeze(v)) for k, v in value.items()))
        return value

    return tuple(sorted((str(k), freeze(v)) for k, v in dict(kwargs or {}).items()))


def _make(env: str, kwargs: tuple):
    """One Gymnasium env; one-line error for an id or kwargs it does not take."""
    import gymnasium

    try:
        return gymnasium.make(env_id(env), **dict(kwargs))
    except Exception as err:  # gymnasium raises many kinds (NameNotFound, TypeError)
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise LandscapeError(
            f"env={env}: Gymnasium cannot make '{env_id(env)}' ({text}): pass a "
            "registered id (gym:Pendulum-v1, gym:Hopper-v5, gym:my_package:MyEnv-v0) "
            "and kwargs its constructor takes (gym.kwargs)"
        ) from None


@functools.cache
def _spaces(env: str, kwargs: tuple) -> tuple[int, int, tuple, tuple]:
    """Observation size, action size and action bounds; one line for spaces the
    toolkit cannot act in."""
    import gymnasium

    made = _make(env, kwargs)
    try:
        observation, action = made.observation_space, made.action_space
    finally:
        made.close()
    if not isinstance(action, gymnasium.spaces.Box) or len(action.shape) != 1:
        raise LandscapeError(
            f"env={env} has actions {action}: the toolkit acts in one flat Box of "
            "continuous actions (discrete games: atari:<Game>-v5)"
        )
    if not isinstance(observation, gymnasium.spaces.Box) or len(observation.shape) != 1:
        raise LandscapeError(
            f"env={env} has observations {observation}: the toolkit's networks read "
            "one flat Box (image or dict observations: wrap the env to flatten them "
            "and register the wrapped env)"
        )
    low, high = np.asarray(action.low, np.float64), np.asarray(action.high, np.float64)
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise LandscapeError(
            f"env={env} has unbounded actions ({low} to {high}): the toolkit's actions "
            "in [-1, 1] are rescaled to finite bounds"
        )
    return observation.shape[0], action.shape[0], tuple(low), tuple(high)


class GymEnv(NamedTuple):
    """A Gymnasium env as the landscape code sees it (sizes, bounds, starts)."""

    name: str  # gym:<id>
    kwargs: tuple  # gymnasium.make's keyword arguments, as frozen_kwargs
    observation_size: int
    action_size: int
    low: tuple
    high: tuple
    reset_seed: int  # the reset seed of a fixed start
    seeded_starts: bool  # every episode resets with its own seed

    @property
    def reset_noise(self) -> float:
        """1 with start-state noise (each episode its own seed), 0 without."""
        return 1.0 if self.seeded_starts else 0.0

    def episode_stage(self, setup) -> HostEpisodes:
        """The host stage that evaluates K parameter sets on this env."""
        return host_episode_stage(self, setup)

    def episode_pool(self, keys: jax.Array, horizon: int):
        """The envs of one chunk of episodes, reset; and their first observations."""
        count = keys.shape[0]
        pool = _episode_batch(self, count, horizon)
        if self.seeded_starts:
            seeds = episode_env_seeds(keys)
        else:
            seeds = [self.reset_seed] * count
        observation, _ = pool.reset(seeds=seeds)
        return pool, observation

    def training_pool(self, env_seeds: list[int], horizon: int) -> GymBatch:
        """Training envs, one per seed; the first reset uses these seeds."""
        pool = GymBatch(self, len(env_seeds), horizon)
        pool.next_seeds = list(env_seeds)
        return pool


@functools.cache
def _episode_batch(env: GymEnv, count: int, horizon: int) -> GymBatch:
    return GymBatch(env, count, horizon)


def make_gym_env(
    env: str, kwargs=None, reset_seed: int = 0, seeded_starts: bool = False
) -> GymEnv:
    """The ``GymEnv`` of ``gym:<id>``; one-line error for an id Gymnasium cannot
    make or spaces the toolkit cannot use."""
    frozen = frozen_kwargs(kwargs)
    observation_size, action_size, low, high = _spaces(env, frozen)
    return GymEnv(
        env,
        frozen,
        observation_size,
        action_size,
        low,
        high,
        int(reset_seed),
        bool(seeded_starts),
    )


class GymBatch:
    """``count`` Gymnasium envs behind envpool's interface, stepped in turn.

    ``reset()`` resets every env (``reset(ids)`` those listed) with the seeds of
    ``next_seeds`` if set (then cleared), else continuing each env's own random
    stream; ``step(actions)`` takes the toolkit's actions in [-1, 1]. An env whose
    episode has ended is not stepped again until it is reset: it repeats its last
    observation with reward 0 and its end flags. Episodes are truncated at
    ``horizon`` steps.
    """

    def __init__(self, env: GymEnv, count: int, horizon: int):
        self.envs = [_make(env.name, env.kwargs) for _ in range(count)]
        self.horizon = int(horizon)
        low, high = np.asarray(env.low), np.asarray(env.high)
        unit = np.array_equal(low, -np.ones_like(low)) and np.array_equal(
            high, np.ones_like(high)
        )
        self.low, self.width = (None, None) if unit else (low, high - low)
        self.next_seeds: list[int] | None = None
        size = env.observation_size
        self.observation = np.zeros((count, size), np.float64)
        self.steps = np.zeros(count, np.int64)
        self.ended = np.zeros(count, bool)
        self.terminated = np.zeros(count, bool)
        self.truncated = np.zeros(count, bool)

    def reset(self, env_id=None, seeds: list[int] | None = None):
        """Reset envs ``env_id`` (all if None); returns their observations and
        ``{"env_id": ids}``."""
        ids = np.arange(len(self.envs)) if env_id is None else np.asarray(env_id)
        if seeds is None and self.next_seeds is not None:
            seeds = [self.next_seeds[i] for i in ids]
            self.next_seeds = None
        for row, i in enumerate(ids):
            seed = None if seeds is None else int(seeds[row])
            observation, _ = self.envs[i].reset(seed=seed)
            self.observation[i] = np.asarray(observation, np.float64).reshape(-1)
        self.steps[ids] = 0
        self.ended[ids] = False
        self.terminated[ids] = False
        self.truncated[ids] = False
        return self.observation[ids].copy(), {"env_id": ids}

    def step(self, actions: np.ndarray):
        """Step every env whose episode runs; see the class doc."""
        actions = np.asarray(actions, np.float64)
        if self.low is not None:
            actions = self.low + (actions + 1.0) * 0.5 * self.width
        reward = np.zeros(len(self.envs), np.float64)
        for i in np.flatnonzero(~self.ended):
            observation, r, terminated, truncated, _ = self.envs[i].step(actions[i])
            self.observation[i] = np.asarray(observation, np.float64).reshape(-1)
            reward[i] = float(r)
            self.steps[i] += 1
            self.terminated[i] = bool(terminated)
            self.truncated[i] = bool(truncated) or self.steps[i] >= self.horizon
        self.ended = self.terminated | self.truncated
        info: dict[str, Any] = {"env_id": np.arange(len(self.envs))}
        return (
            self.observation.copy(),
            reward,
            self.terminated.copy(),
            self.truncated.copy(),
            info,
        )
