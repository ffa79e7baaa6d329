"""Checks of a training config: one-line errors before anything is built or written."""

from __future__ import annotations

import itertools

from return_landscapes.conf import (
    Algo,
    Autoreset,
    TrainConfig,
    is_atari,
    is_gym,
    is_host_env,
    is_imported,
    is_mujoco,
)
from return_landscapes.conf.ranges import range_problem
from return_landscapes.errors import LandscapeError
from return_landscapes.training.schedule import (
    agent_config,
    checkpoint_steps,
    is_on_policy,
)


def validate(cfg: TrainConfig) -> None:
    """Check sizes and schedules; raise a one-line ``LandscapeError`` if wrong."""
    problem = range_problem(cfg)  # a config built in Python skips ``resolve``
    if problem:
        raise LandscapeError(problem)
    if is_imported(cfg):
        raise LandscapeError(
            "imported= is written by 'landscape import', not an option of train: "
            "drop it"
        )
    check_env_fits_algo(cfg)
    hyper = agent_config(cfg)
    name = "atari" if is_atari(cfg.env) else Algo(cfg.algo).value
    positive = {
        "seeds": cfg.seeds,
        "steps": cfg.steps,
        "block": cfg.block,
        "horizon": cfg.horizon,
        "eval_interval": cfg.eval_interval,
    }
    if is_on_policy(cfg):
        positive.update(
            {
                f"{name}.num_envs": hyper.num_envs,
                f"{name}.unroll_length": hyper.unroll_length,
                f"{name}.num_minibatches": hyper.num_minibatches,
                f"{name}.epochs": hyper.epochs,
            }
        )
    else:
        positive.update(
            {
                f"{name}.batch_size": hyper.batch_size,
                f"{name}.replay_capacity": hyper.replay_capacity,
            }
        )
    for key, value in positive.items():
        if value <= 0:
            raise LandscapeError(f"{key}={value} must be at least 1")
    if cfg.eval_episodes < 0:
        raise LandscapeError(
            f"eval_episodes={cfg.eval_episodes} is negative: use 0 to turn "
            "evaluation off, or more"
        )
    if cfg.checkpoints is not None and cfg.num_checkpoints is not None:
        raise LandscapeError(
            "checkpoints and num_checkpoints are both set: give the list of steps or "
            "the count of evenly spaced checkpoints, not both"
        )
    if cfg.num_checkpoints is not None and cfg.num_checkpoints <= 0:
        raise LandscapeError(
            f"num_checkpoints={cfg.num_checkpoints} must be at least 1 (or unset)"
        )
    for step in cfg.checkpoints or []:
        if not 0 < step <= cfg.steps:
            raise LandscapeError(
                f"checkpoint step {step} is outside the budget steps={cfg.steps}: "
                "use steps between 1 and the budget, or raise steps"
            )
    if is_on_policy(cfg):
        batch = hyper.num_envs * hyper.unroll_length
        if batch % hyper.num_minibatches:
            raise LandscapeError(
                f"{name}.num_envs x {name}.unroll_length = {batch} does not split "
                f"into {name}.num_minibatches={hyper.num_minibatches}: choose a "
                "divisor"
            )
        return
    _validate_replay(cfg, hyper)


def check_env_fits_algo(cfg: TrainConfig) -> None:
    """Atari games train with PPO only; PPO on MuJoCo tasks and Gymnasium envs
    restarts episodes fresh; unknown games and tasks are named with the choices;
    ``backend`` is Brax's alone."""
    if is_host_env(cfg.env) and cfg.backend != TrainConfig.backend:
        raise LandscapeError(
            f"backend={cfg.backend} chooses Brax's physics, and {cfg.env} is stepped "
            "on the host by its own simulator: drop backend="
        )
    if is_gym(cfg.env):
        from return_landscapes.envs.gym import make_gym_env

        if cfg.reset_noise_scale is not None:
            raise LandscapeError(
                f"reset_noise_scale applies to Brax envs and mujoco: tasks; {cfg.env} "
                "resets as its constructor says: pass it in gym.kwargs if the env "
                "takes one"
            )
        make_gym_env(cfg.env, cfg.gym.kwargs)
        _check_host_ppo(cfg)
        return
    if is_mujoco(cfg.env):
        from return_landscapes.envs.mujoco import task_id

        task_id(cfg.env)
        _check_host_ppo(cfg)
        return
    if not is_atari(cfg.env):
        return
    from return_landscapes.envs.atari import task_id

    task_id(cfg.env)
    if Algo(cfg.algo) is not Algo.ppo:
        raise LandscapeError(
            f"algo={Algo(cfg.algo).value} does not apply to {cfg.env} (discrete "
            "actions): use algo=ppo, the one algorithm for Atari games"
        )


def _check_host_ppo(cfg: TrainConfig) -> None:
    """PPO on a host-stepped env restarts finished episodes fresh: its simulator
    cannot return an env to its first state."""
    if Algo(cfg.algo) is not Algo.ppo:
        return
    if Autoreset(cfg.ppo.autoreset) is Autoreset.first_state:
        raise LandscapeError(
            f"ppo.autoreset=first_state returns each env to its own first state, "
            f"which {cfg.env}'s simulator cannot restore: drop ppo.autoreset (fresh "
            "on host-stepped envs)"
        )


def _validate_replay(cfg: TrainConfig, hyper) -> None:
    if hyper.random_start_steps < 0:
        raise LandscapeError("random_start_steps must be 0 or more")
    steps = [0, *checkpoint_steps(cfg)]
    widest = max(b - a for a, b in itertools.pairwise(steps))
    if widest > hyper.replay_capacity:
        raise LandscapeError(
            f"checkpoints lie up to {widest} steps apart but the replay buffer holds "
            f"{hyper.replay_capacity}: add checkpoints or raise replay_capacity"
        )
