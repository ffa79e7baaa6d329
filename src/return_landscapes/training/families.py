"""Env families, registered once: how runs on Brax envs, Atari games, MuJoCo tasks
and Gymnasium envs are built, trained and evaluated, and what their episodes allow.

A run's env name chooses its family (``atari:Breakout-v5``, ``mujoco:Hopper-v5``,
``gym:Pendulum-v1``; a bare name is a Brax env). The trainers (``trainers.py``),
the landscape engine's evaluation env and start-state noise, and the checks of what
a perturbation can do to an episode ask the family, not the name. Each family's
modules are imported when first used (envpool only for envpool's families).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from return_landscapes.constants import ATARI_PREFIX, GYM_PREFIX, MUJOCO_PREFIX


@dataclasses.dataclass(frozen=True)
class EnvFamily:
    """One family of envs.

    Attributes:
      name: the family's name.
      prefix: what the env names of the family start with (``""``: any other name).
      summary: what the family is, for messages.
      parts: ``parts(cfg, env)``: the env, agent and restore template of a run
        (``env`` replaces the named env: a Brax env object, or ``None``).
      trainer: ``trainer(cfg, parts)``: the run's trainer around its parts.
      evaluation_env: ``evaluation_env(run_cfg, start_noise)``: the env of
        evaluation episodes, whose starts carry ``start_noise`` times the run's
        training start-state noise (``None``: the fixed start state).
      start_noise: ``start_noise(env)``: the env's own training start-state noise
        (``None``: it has none).
      discrete_actions: its actions are discrete (no action noise).
      per_step_noise: its episodes can redraw the policy's weights at every step.
      start_noise_scales: the multiples of its start-state noise its episodes
        can have (``None``: any).
    """

    name: str
    prefix: str
    summary: str
    parts: Callable[[Any, Any], Any]
    trainer: Callable[[Any, Any], Any]
    evaluation_env: Callable[[Any, float | None], Any]
    start_noise: Callable[[str], float | None]
    discrete_actions: bool = False
    per_step_noise: bool = True
    start_noise_scales: tuple[float, ...] | None = None

    def check_start_noise(self, scale: float) -> None:
        """One-line error if episodes of this family cannot start with ``scale``
        times the training start-state noise (before anything is computed)."""
        if self.start_noise_scales is None or scale in self.start_noise_scales:
            return
        from return_landscapes.errors import LandscapeError

        raise LandscapeError(
            f"scale={scale}: {self.summary} has no start-state noise width, only its "
            "own reset distribution; init_state on it takes scale=1 (each sample "
            "its own reset seed)"
        )


FAMILIES: dict[str, EnvFamily] = {}


def register_family(family: EnvFamily) -> EnvFamily:
    """Add an env family to the registry."""
    FAMILIES[family.name] = family
    return family


def family_of(env: str) -> EnvFamily:
    """The family of env ``env``: the longest prefix it starts with."""
    fitting = [f for f in FAMILIES.values() if str(env).startswith(f.prefix)]
    return max(fitting, key=lambda f: len(f.prefix))


def training_start_noise(run_cfg) -> float | None:
    """The start-state noise the run trained with (``None``: the env has none)."""
    if run_cfg.reset_noise_scale is not None:
        return float(run_cfg.reset_noise_scale)
    return family_of(run_cfg.env).start_noise(run_cfg.env)


def has_start_noise(env: str) -> bool:
    """Whether env ``env`` has a start-state noise option."""
    return family_of(env).start_noise(env) is not None


# -------------------------------------------------------------------------- Brax


def _brax_parts(cfg, env=None):
    from return_landscapes.conf import is_imported
    from return_landscapes.envs.brax import make_env
    from return_landscapes.training.brax import off_policy_parts, ppo_parts
    from return_landscapes.training.schedule import is_on_policy

    if env is None:
        env = make_env(cfg.env, cfg.backend, cfg.reset_noise_scale)
    if is_imported(cfg):
        from return_landscapes.training.imported import imported_parts

        return imported_parts(cfg, env)
    return ppo_parts(cfg, env) if is_on_policy(cfg) else off_policy_parts(cfg, env)


def _brax_trainer(cfg, parts):
    from return_landscapes.training.brax import (
        make_off_policy_trainer,
        make_ppo_trainer,
    )
    from return_landscapes.training.schedule import is_on_policy

    if is_on_policy(cfg):
        return make_ppo_trainer(cfg, parts)
    return make_off_policy_trainer(cfg, parts)


def _brax_evaluation_env(run_cfg, start_noise):
    from return_landscapes.envs.brax import has_start_state_noise, make_env

    width = None
    if has_start_state_noise(run_cfg.env):
        width = (
            0.0 if start_noise is None else start_noise * training_start_noise(run_cfg)
        )
    return make_env(run_cfg.env, run_cfg.backend, width)


def _brax_start_noise(env):
    from return_landscapes.envs.brax import default_start_noise

    return default_start_noise(env)


register_family(
    EnvFamily(
        "brax",
        "",
        "a Brax env",
        _brax_parts,
        _brax_trainer,
        _brax_evaluation_env,
        _brax_start_noise,
    )
)

# ------------------------------------------------------------------------- Atari


def _atari_parts(cfg, env=None):
    from return_landscapes.training.atari import atari_parts

    del env
    return atari_parts(cfg)


def _atari_trainer(cfg, parts):
    from return_landscapes.training.atari import make_atari_trainer

    return make_atari_trainer(cfg, parts)


def _atari_evaluation_env(run_cfg, start_noise):
    from return_landscapes.envs.atari import make_atari_env

    del start_noise
    return make_atari_env(run_cfg.env, run_cfg.atari)


register_family(
    EnvFamily(
        "atari",
        ATARI_PREFIX,
        "an Atari game stepped by envpool on the host",
        _atari_parts,
        _atari_trainer,
        _atari_evaluation_env,
        lambda env: None,
        discrete_actions=True,
        per_step_noise=False,
    )
)

# ------------------------------------------------------------------------ MuJoCo


def _host_parts(cfg, env=None):
    """TD3, SAC or PPO on a host-stepped env, or an imported policy evaluated
    there."""
    from return_landscapes.conf import is_imported
    from return_landscapes.training.schedule import is_on_policy

    if is_imported(cfg):
        from return_landscapes.training.imported import imported_parts

        return imported_parts(cfg, env or family_of(cfg.env).evaluation_env(cfg, None))
    if is_on_policy(cfg):
        from return_landscapes.training.host_ppo import host_ppo_parts

        return host_ppo_parts(cfg)
    from return_landscapes.training.mujoco import mujoco_parts

    return mujoco_parts(cfg)


def _mujoco_trainer(cfg, parts):
    from return_landscapes.training.schedule import is_on_policy

    if is_on_policy(cfg):
        from return_landscapes.training.host_ppo import make_host_ppo_trainer

        return make_host_ppo_trainer(cfg, parts)
    from return_landscapes.training.mujoco import make_mujoco_trainer

    return make_mujoco_trainer(cfg, parts)


def _mujoco_evaluation_env(run_cfg, start_noise):
    from return_landscapes.envs.mujoco import make_mujoco_env

    noise = 0.0 if start_noise is None else start_noise
    return make_mujoco_env(run_cfg.env, noise * training_start_noise(run_cfg))


def _mujoco_start_noise(env):
    from return_landscapes.envs.mujoco import default_start_noise

    return default_start_noise(env)


register_family(
    EnvFamily(
        "mujoco",
        MUJOCO_PREFIX,
        "a Gymnasium MuJoCo task stepped by envpool on the host",
        _host_parts,
        _mujoco_trainer,
        _mujoco_evaluation_env,
        _mujoco_start_noise,
    )
)

# --------------------------------------------------------------------- Gymnasium


def _gym_evaluation_env(run_cfg, start_noise):
    from return_landscapes.envs.gym import make_gym_env

    if start_noise is not None:
        FAMILIES["gym"].check_start_noise(start_noise)
    return make_gym_env(
        run_cfg.env,
        run_cfg.gym.kwargs,
        run_cfg.gym.reset_seed,
        seeded_starts=bool(start_noise),
    )


register_family(
    EnvFamily(
        "gym",
        GYM_PREFIX,
        "a Gymnasium env stepped on the host",
        _host_parts,
        _mujoco_trainer,
        _gym_evaluation_env,
        lambda env: 1.0,  # its own reset distribution, in units of itself
        start_noise_scales=(0.0, 1.0),
    )
)
