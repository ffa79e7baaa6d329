"""What the landscape experiments share: the run they read and the jitted stages.

PURD, interpolation and rejection all read a trained run, choose checkpoints and seeds
of it, restore agents, and send batches of parameter sets through the one evaluation
hot path (``landscape/evaluate.py``). This module holds those pieces once:

* ``open_run``, ``chosen_checkpoints``, ``chosen_seeds``, ``check_finite``: checked
  input, one-line errors;
* ``Engine`` / ``get_engine``: the agent, the perturbation stage and the two episode
  stages (perturbed samples, plain policies) of one run x perturbation x episode
  setup, compiled once per process and shape;
* ``is_finished``: whether a stored result may be skipped.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from return_landscapes import checkpoint as ckpt
from return_landscapes import store
from return_landscapes.conf import is_atari
from return_landscapes.envs.brax import has_start_state_noise, make_env
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.evaluate import (
    EvaluationSetup,
    make_episode_stage,
    plan_chunks,
    run_chunks,
)
from return_landscapes.landscape.perturb import (
    CheckpointSource,
    Perturbation,
    make_perturb_stage,
)
from return_landscapes.replay import ReplayBuffer
from return_landscapes.train import (
    Trainer,
    get_trainer,
    restore_replay_rows,
    restore_without_replay_rows,
    run_identity,
)

# ---------------------------------------------------------------- checked input


def open_run(run: str | None, option: str = "run") -> tuple[Path, Any]:
    """The run directory and its training config; one-line errors if it is not one."""
    from return_landscapes.run import load_run_config

    if not run:
        raise LandscapeError(
            f"{option}= is required: pass the out= directory of a 'landscape train' run"
        )
    run_dir = Path(run)
    ckpt.read_manifest(run_dir)
    return run_dir, load_run_config(run_dir)


def chosen_checkpoints(requested: list[int] | None, run_dir: Path) -> list[int]:
    """The requested checkpoint steps (all by default), checked against the run."""
    have = ckpt.completed_checkpoints(run_dir)
    if not have:
        raise LandscapeError(f"{run_dir} has no checkpoint yet: train it first")
    if requested is None:
        return have
    missing = [s for s in requested if s not in have]
    if missing:
        raise LandscapeError(
            f"{run_dir} has no checkpoint at step(s) {missing} (it has: "
            f"{', '.join(map(str, have))}): pick some of those"
        )
    return sorted(set(requested))


def chosen_seeds(requested: list[int] | None, num_seeds: int) -> list[int]:
    """The requested seed indices (all by default), checked against the run."""
    if requested is None:
        return list(range(num_seeds))
    bad = [s for s in requested if not 0 <= s < num_seeds]
    if bad:
        raise LandscapeError(
            f"seed(s) {bad} not in this run: it has seeds 0 to {num_seeds - 1}"
        )
    return sorted(set(requested))


def check_episode_options(
    scale: float, horizon: int | None, gamma: float, chunk: int | None
) -> None:
    """Raise a one-line error for a bad scale, horizon, discount or chunk size."""
    if not math.isfinite(scale) or scale < 0:
        raise LandscapeError(f"scale={scale} must be a finite number >= 0")
    if chunk is not None and chunk <= 0:
        raise LandscapeError(f"chunk={chunk} must be at least 1 (or unset)")
    if horizon is not None and horizon <= 0:
        raise LandscapeError(f"horizon={horizon} must be at least 1 (or unset)")
    if not 0 <= gamma <= 1:
        raise LandscapeError(f"gamma={gamma} must lie in [0, 1]")


def check_perturbation_fits(perturbation: Perturbation, run_cfg) -> None:
    """Refuse ``init_state`` on an env without start-state noise, and action noise
    on Atari (discrete actions)."""
    if perturbation.action_noise and is_atari(run_cfg.env):
        raise LandscapeError(
            f"perturb={perturbation.name} needs continuous actions and {run_cfg.env} "
            "has discrete ones: choose ppo or param_noise"
        )
    if perturbation.start_state_noise and not has_start_state_noise(run_cfg.env):
        raise LandscapeError(
            f"env '{run_cfg.env}' has no start-state noise option, so perturb="
            "init_state cannot apply: choose another perturbation"
        )


def check_perturbation_off_checkpoints(perturbation: Perturbation, run_cfg) -> None:
    """Refuse a perturbation that cannot start from a point between checkpoints.

    On Atari the ``ppo`` perturbation steps envpool on the host from a checkpoint's
    policy; paths and surfaces evaluate mixed parameter sets inside one program.
    """
    if is_atari(run_cfg.env) and perturbation.needs_env_states:
        raise LandscapeError(
            f"perturb={perturbation.name} steps Atari envs on the host from a "
            "checkpoint, not from points between checkpoints: use "
            "perturb=param_noise for PURDs off the checkpoints, or samples=0"
        )


class EpisodeOptions(NamedTuple):
    """How Atari evaluation episodes act and start (defaults: deterministic)."""

    sampled_actions: bool = False  # sample actions instead of the greedy ones
    per_sample_env_seeds: bool = False  # each sample its own no-op start


def episode_options(cfg, run_cfg) -> EpisodeOptions:
    """The Atari episode options of a command's config; refused on other envs."""
    options = EpisodeOptions(cfg.sampled_actions, cfg.per_sample_env_seeds)
    if any(options) and not is_atari(run_cfg.env):
        raise LandscapeError(
            "sampled_actions and per_sample_env_seeds apply to Atari runs only: for "
            f"{run_cfg.env} use perturb=action_noise or perturb=init_state"
        )
    return options


def option_settings(options: EpisodeOptions, run_cfg) -> dict[str, bool]:
    """The episode options a stored Atari result records (none for Brax runs)."""
    return options._asdict() if is_atari(run_cfg.env) else {}


def check_finite(actor_params, run_dir, step: int, seeds: list[int]) -> None:
    """Refuse actor parameters holding NaN or infinity (leading axis: ``seeds``)."""
    for leaf in jax.tree.leaves(actor_params):
        finite = np.isfinite(np.asarray(leaf)).reshape(len(seeds), -1).all(axis=1)
        if not finite.all():
            bad = [s for s, ok in zip(seeds, finite, strict=True) if not ok]
            raise LandscapeError(
                f"{run_dir} checkpoint {step} has non-finite actor parameters for "
                f"seed(s) {bad}: the run diverged there; choose other seeds or steps"
            )


def is_finished(path: Path, settings: dict[str, Any], overwrite: bool) -> bool:
    """Whether the result at ``path`` exists and may be skipped.

    A stored result computed with other ``settings`` is an error (naming them), never
    silently mixed with new ones or replaced without ``overwrite=true``.
    """
    if overwrite or not path.is_file():
        return False
    stored = store.read_result(path).attrs
    differ = {k: stored.get(k) for k, v in settings.items() if stored.get(k) != v}
    if differ:
        shown = ", ".join(f"{k}={v}" for k, v in differ.items())
        raise LandscapeError(
            f"{path} was computed with {shown}: pass overwrite=true to replace it, or "
            "use those settings"
        )
    return True


def progress_bar(total: int, enabled: bool, unit: str = "sample"):
    """The progress bar of a long landscape computation (on stderr)."""
    return tqdm(
        total=total,
        unit=unit,
        disable=not enabled,
        dynamic_ncols=True,
        file=sys.stderr,
    )


# ------------------------------------------------------------------- the engine


class Engine(NamedTuple):
    """The agent and the jitted stages of one run x perturbation x episode setup."""

    trainer: Trainer
    perturbation: Perturbation
    perturb_stage: Any  # (source, scale), sample keys -> (params, episode keys)
    sample_stage: Any  # evaluation of perturbed samples
    plain_stage: Any  # evaluation of unperturbed policies (no noise of any kind)
    plans: dict  # (name, total, chunk) -> ChunkPlan, compiled once per shape


_ENGINES: dict[str, Engine] = {}


def get_engine(
    run_cfg,
    perturbation: Perturbation,
    horizon: int,
    gamma: float,
    scale: float,
    options: EpisodeOptions | None = None,
) -> Engine:
    """Build (or reuse, within this process) the jitted stages of one setup."""
    options = options or EpisodeOptions()
    start_noise = scale if perturbation.start_state_noise else None
    key = json.dumps(
        [
            run_identity(run_cfg),
            perturbation.name,
            horizon,
            gamma,
            start_noise,
            options,
        ],
        sort_keys=True,
    )
    if key not in _ENGINES:
        _ENGINES[key] = _make_engine(
            run_cfg, perturbation, horizon, gamma, start_noise, options
        )
    return _ENGINES[key]


def evaluation_env(run_cfg, start_noise: float | None = None):
    """The env of evaluation episodes: a fixed start state unless ``start_noise``."""
    if is_atari(run_cfg.env):
        from return_landscapes.envs.atari import make_atari_env

        return make_atari_env(run_cfg.env, run_cfg.atari)
    if start_noise is None:
        start_noise = 0.0 if has_start_state_noise(run_cfg.env) else None
    return make_env(run_cfg.env, run_cfg.backend, start_noise)


def policy_apply(agent):
    """``policy_apply(params, observation)`` of the agent's deterministic policy."""
    return lambda params, observation: agent.policy(params, True)(observation, None)


def _make_engine(
    run_cfg, perturbation, horizon, gamma, start_noise, options: EpisodeOptions
) -> Engine:
    trainer = get_trainer(run_cfg)
    apply = policy_apply(trainer.agent)
    plain = EvaluationSetup(
        evaluation_env(run_cfg),
        apply,
        horizon,
        gamma,
        policy_factory=trainer.agent.policy,
        sampled_actions=options.sampled_actions,
        per_sample_env_seeds=options.per_sample_env_seeds,
    )
    sample = plain
    if perturbation.start_state_noise:
        sample = plain._replace(env=evaluation_env(run_cfg, start_noise))
    if perturbation.action_noise:
        sample = sample._replace(action_noise=True)
    if is_atari(run_cfg.env) and perturbation.needs_env_states:
        from return_landscapes.landscape.perturb_atari import AtariPPOPerturbation

        perturb_stage = AtariPPOPerturbation(plain.env, trainer.agent)
    else:
        perturb_stage = make_perturb_stage(perturbation, trainer.agent)
    return Engine(
        trainer,
        perturbation,
        perturb_stage,
        make_episode_stage(sample),
        make_episode_stage(plain),
        {},
    )


def compiled_plan(engine: Engine, name, stages, shared, rows, total, chunk, bar=None):
    """``plan_chunks`` for these stages, compiled once per (name, total, chunk)."""
    key = (name, total, chunk)
    if key not in engine.plans:
        if bar is not None:
            bar.set_postfix_str("compiling", refresh=True)
        engine.plans[key] = plan_chunks(stages, shared, rows, total, chunk)
    return engine.plans[key]


def sample_shared(engine: Engine, source: CheckpointSource, scale: float):
    """The per-call arguments of the perturb-then-evaluate pipeline."""
    noise = jnp.asarray(scale if engine.perturbation.action_noise else 0.0)
    return ((source, jnp.asarray(scale, jnp.float32)), noise)


def perturbed_returns(
    engine: Engine,
    source: CheckpointSource,
    scale: float,
    keys: jax.Array,
    chunk: int | None = None,
    bar=None,
):
    """Perturb ``source`` once per key and run one episode each: numpy ``(K,)``."""
    shared = sample_shared(engine, source, scale)
    stages = (engine.perturb_stage, engine.sample_stage)
    total = keys.shape[0]
    plan = compiled_plan(engine, "samples", stages, shared, keys, total, chunk, bar)
    on_chunk = bar.update if bar is not None else None
    return run_chunks(plan, shared, keys, on_chunk=on_chunk)


def plain_returns(engine: Engine, params, keys: jax.Array, chunk: int | None = None):
    """One noise-free episode per parameter set (leading axis ``K``): numpy ``(K,)``."""
    zero = jnp.zeros((), jnp.float32)
    rows = (params, keys)
    total = keys.shape[0]
    plan = compiled_plan(
        engine, "plain", (engine.plain_stage,), (zero,), rows, total, chunk
    )
    return run_chunks(plan, (zero,), rows)


def run_by_group(plan, shared_for, rows, groups: np.ndarray, on_chunk=None):
    """Run ``rows`` through ``plan``, one call per group, merged back in row order.

    Rows of a group share their ``shared`` argument (``shared_for(group)``): points
    of a path or a surface that take what cannot be mixed from different
    checkpoints. The calls share one compiled program; a row's numbers do not depend
    on which rows share its call.
    """
    total = groups.shape[0]
    parts = []
    for group in np.unique(groups):
        mask = groups == group
        part = jax.tree.map(lambda x, m=mask: np.asarray(x)[m], rows)
        parts.append((mask, run_chunks(plan, shared_for(int(group)), part, on_chunk)))
    merged = []
    for field in range(len(parts[0][1])):
        values = np.empty(total, parts[0][1][field].dtype)
        for mask, stats in parts:
            values[mask] = stats[field]
        merged.append(values)
    return type(parts[0][1])(*merged)


def checkpoint_source(
    trainer: Trainer,
    run_cfg,
    run_dir: Path,
    seed: int,
    step: int,
    perturbation: Perturbation | None,
) -> CheckpointSource:
    """One seed's checkpoint as a ``CheckpointSource``, its actor checked finite.

    ``perturbation`` says what the source must hold (replay rows, env states);
    ``None`` for plain returns only.
    """
    state = restore_without_replay_rows(trainer, run_cfg, run_dir, step)
    agent_state = jax.tree.map(lambda x: x[seed], state.agent)
    params = trainer.agent.actor_params(agent_state)
    check_finite(jax.tree.map(lambda x: x[None], params), run_dir, step, [seed])
    rows = None
    if perturbation is None:
        perturbation = Perturbation("plain", "", None)
    elif perturbation.needs_replay:
        rows = restore_replay_rows(trainer, run_cfg, run_dir, step, [seed])
    agent_state = jax.tree.map(jnp.asarray, agent_state)
    return seed_source(perturbation, agent_state, state, rows, 0, seed)


def seed_source(
    perturbation: Perturbation, agent_state, state, rows, index: int, seed: int
) -> CheckpointSource:
    """One seed's ``CheckpointSource`` from a restored (numpy) training state.

    Args:
      perturbation: what the source must hold (replay rows, env states).
      agent_state: the seed's agent state (no seed axis).
      state: the restored training state of every seed (replay rows left out).
      rows: replay rows of the chosen seeds, or ``None`` if not needed.
      index: the seed's position in ``rows``.
      seed: the seed's index in the run.
    """
    source = CheckpointSource(agent_state)
    if perturbation.needs_env_states:
        source = source._replace(
            env=jax.tree.map(lambda x: jnp.asarray(x[seed]), state.env)
        )
    if perturbation.needs_replay:
        source = source._replace(
            replay=ReplayBuffer(
                jax.tree.map(lambda x: jnp.asarray(x[index]), rows),
                jnp.asarray(state.replay.position[seed]),
                jnp.asarray(state.replay.size[seed]),
            )
        )
    return source
