"""``landscape purd``: post-update return distributions of a run's checkpoints.

For every chosen checkpoint and seed: restore the seed's agent (and its replay buffer
as of the checkpoint step when the perturbation needs it), draw ``samples``
perturbations, evaluate each perturbed policy for one episode through the hot path
(``landscape/evaluate.py``), evaluate the unperturbed policy once, and store the
seed's block (``store.py``). Finished blocks are skipped unless ``overwrite=true``.
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
from return_landscapes.conf import Algo, PurdConfig, resolve
from return_landscapes.envs.brax import has_start_state_noise, make_env
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.evaluate import (
    ChunkPlan,
    EvaluationSetup,
    make_episode_stage,
    plan_chunks,
    run_chunks,
)
from return_landscapes.landscape.perturb import (
    MINIBATCH_SIZE,
    CheckpointSource,
    Perturbation,
    get_perturbation,
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


def purd(config: PurdConfig | dict | None = None, **overrides) -> Path:
    """Compute and store PURDs for checkpoints x seeds of one run.

    Args:
      config: a ``PurdConfig`` (or a mapping of its keys).
      **overrides: ``PurdConfig`` keys, e.g. ``run="runs/h", perturb="td3",
        scale=3e-4, samples=1000``.

    Returns:
      The folder holding this perturbation and scale's results.

    Raises:
      LandscapeError: bad input; nothing stored is changed.
    """
    cfg = resolve(PurdConfig, config, **overrides)
    job = plan_job(cfg)
    out = store.purd_dir(job.run_dir, job.perturbation.name, cfg.scale)
    todo = [(step, seeds) for step, seeds in job.todo.items() if seeds]
    done = sum(len(job.seeds) - len(seeds) for seeds in job.todo.values())
    print(
        f"purd {job.perturbation.name} scale={cfg.scale!r} samples={cfg.samples} on "
        f"{len(job.checkpoints)} checkpoint(s) x {len(job.seeds)} seed(s): "
        f"writing {out}",
        file=sys.stderr,
    )
    if done:
        print(f"skipping {done} finished seed block(s)", file=sys.stderr)
    if not todo:
        return out
    engine = get_engine(job)
    bar = tqdm(
        total=cfg.samples * sum(len(seeds) for _, seeds in todo),
        unit="sample",
        disable=not cfg.progress,
        dynamic_ncols=True,
        file=sys.stderr,
    )
    with bar:
        for step, seeds in todo:
            _checkpoint_purds(job, engine, step, seeds, bar)
    return out


# ------------------------------------------------------------------------ the job


class PurdJob(NamedTuple):
    """A checked PURD request: what to compute and what is already stored."""

    cfg: PurdConfig
    run_dir: Path
    run_cfg: Any
    manifest: dict
    perturbation: Perturbation
    checkpoints: list[int]
    seeds: list[int]
    horizon: int
    todo: dict[int, list[int]]  # checkpoint -> seeds still to compute


def plan_job(cfg: PurdConfig) -> PurdJob:
    """Check the request against the run; find the blocks still to compute."""
    from return_landscapes.run import load_run_config

    if not cfg.run:
        raise LandscapeError(
            "run= is required: pass the out= directory of a 'landscape train' run"
        )
    run_dir = Path(cfg.run)
    manifest = ckpt.read_manifest(run_dir)
    run_cfg = load_run_config(run_dir)
    algo = Algo(run_cfg.algo).value
    perturbation = get_perturbation(cfg.perturb or algo, algo)
    _check_numbers(cfg)
    checkpoints = _chosen_checkpoints(cfg, run_dir)
    seeds = _chosen_seeds(cfg, run_cfg.seeds)
    horizon = cfg.horizon or run_cfg.horizon
    if perturbation.start_state_noise and not has_start_state_noise(run_cfg.env):
        raise LandscapeError(
            f"env '{run_cfg.env}' has no start-state noise option, so perturb="
            "init_state cannot apply: choose another perturbation"
        )
    job = PurdJob(
        cfg, run_dir, run_cfg, manifest, perturbation, checkpoints, seeds, horizon, {}
    )
    for step in checkpoints:
        job.todo[step] = [s for s in seeds if not _finished(job, step, s)]
    return job


def _check_numbers(cfg: PurdConfig) -> None:
    if cfg.samples <= 0:
        raise LandscapeError(f"samples={cfg.samples} must be at least 1")
    if not math.isfinite(cfg.scale) or cfg.scale < 0:
        raise LandscapeError(f"scale={cfg.scale} must be a finite number >= 0")
    if cfg.chunk is not None and cfg.chunk <= 0:
        raise LandscapeError(f"chunk={cfg.chunk} must be at least 1 (or unset)")
    if cfg.horizon is not None and cfg.horizon <= 0:
        raise LandscapeError(f"horizon={cfg.horizon} must be at least 1 (or unset)")
    if not 0 <= cfg.gamma <= 1:
        raise LandscapeError(f"gamma={cfg.gamma} must lie in [0, 1]")


def _chosen_checkpoints(cfg: PurdConfig, run_dir: Path) -> list[int]:
    have = ckpt.completed_checkpoints(run_dir)
    if not have:
        raise LandscapeError(f"{run_dir} has no checkpoint yet: train it first")
    if cfg.checkpoints is None:
        return have
    missing = [s for s in cfg.checkpoints if s not in have]
    if missing:
        raise LandscapeError(
            f"{run_dir} has no checkpoint at step(s) {missing} (it has: "
            f"{', '.join(map(str, have))}): pick some of those"
        )
    return sorted(set(cfg.checkpoints))


def _chosen_seeds(cfg: PurdConfig, num_seeds: int) -> list[int]:
    if cfg.seeds is None:
        return list(range(num_seeds))
    bad = [s for s in cfg.seeds if not 0 <= s < num_seeds]
    if bad:
        raise LandscapeError(
            f"seed(s) {bad} not in this run: it has seeds 0 to {num_seeds - 1}"
        )
    return sorted(set(cfg.seeds))


def _settings(job: PurdJob) -> dict[str, Any]:
    """The settings a stored block must match to count as finished."""
    settings = {
        "samples": job.cfg.samples,
        "horizon": job.horizon,
        "gamma": job.cfg.gamma,
        "sample_seed": job.cfg.seed,
    }
    if job.perturbation.needs_replay:
        settings["minibatch_size"] = MINIBATCH_SIZE
    return settings


def _finished(job: PurdJob, step: int, seed: int) -> bool:
    path = store.purd_path(
        job.run_dir, job.perturbation.name, job.cfg.scale, step, seed
    )
    if job.cfg.overwrite or not path.is_file():
        return False
    stored = store.read_result(path).attrs
    differ = {k: stored.get(k) for k, v in _settings(job).items() if stored.get(k) != v}
    if differ:
        shown = ", ".join(f"{k}={v}" for k, v in differ.items())
        raise LandscapeError(
            f"{path} was computed with {shown}: pass overwrite=true to replace it, or "
            "use those settings"
        )
    return True


# --------------------------------------------------------------------- the engine


class PurdEngine(NamedTuple):
    """The agent and the jitted stages of one run x perturbation x episode setup."""

    trainer: Trainer
    perturb_stage: Any
    sample_stage: Any  # evaluation of perturbed samples
    plain_stage: Any  # evaluation of unperturbed policies (no noise of any kind)
    plans: dict  # (name, total, chunk) -> ChunkPlan, compiled once per shape


_ENGINES: dict[str, PurdEngine] = {}


def get_engine(job: PurdJob) -> PurdEngine:
    """Build (or reuse, within this process) the jitted stages for ``job``."""
    perturbation = job.perturbation
    start_noise = job.cfg.scale if perturbation.start_state_noise else None
    key = json.dumps(
        [
            run_identity(job.run_cfg),
            perturbation.name,
            job.horizon,
            job.cfg.gamma,
            start_noise,
        ],
        sort_keys=True,
    )
    if key not in _ENGINES:
        _ENGINES[key] = _make_engine(job, start_noise)
    return _ENGINES[key]


def evaluation_env(run_cfg, start_noise: float | None = None):
    """The env of evaluation episodes: a fixed start state unless ``start_noise``."""
    if start_noise is None:
        start_noise = 0.0 if has_start_state_noise(run_cfg.env) else None
    return make_env(run_cfg.env, run_cfg.backend, start_noise)


def policy_apply(agent):
    """``policy_apply(params, observation)`` of the agent's deterministic policy."""
    return lambda params, observation: agent.policy(params, True)(observation, None)


def _make_engine(job: PurdJob, start_noise: float | None) -> PurdEngine:
    trainer = get_trainer(job.run_cfg)
    apply = policy_apply(trainer.agent)
    plain = EvaluationSetup(
        evaluation_env(job.run_cfg), apply, job.horizon, job.cfg.gamma
    )
    sample = plain
    if job.perturbation.start_state_noise:
        sample = plain._replace(env=evaluation_env(job.run_cfg, start_noise))
    if job.perturbation.action_noise:
        sample = sample._replace(action_noise=True)
    return PurdEngine(
        trainer,
        make_perturb_stage(job.perturbation, trainer.agent),
        make_episode_stage(sample),
        make_episode_stage(plain),
        {},
    )


def _plan(engine: PurdEngine, name: str, stages, shared, rows, total, chunk, bar=None):
    key = (name, total, chunk)
    if key not in engine.plans:
        if bar is not None:
            bar.set_postfix_str("compiling", refresh=True)
        engine.plans[key] = plan_chunks(stages, shared, rows, total, chunk)
    return engine.plans[key]


# ---------------------------------------------------------------------- computing


def sample_keys(sample_seed: int, seed: int, step: int, samples: int) -> jax.Array:
    """``(samples,)`` keys of one seed's PURD at ``step``: key ``j`` is sample ``j``'s.

    Keys depend on (sample seed, seed, step, j) only: not on the chunk size, the
    number of samples or the perturbation, so scales share their random draws.
    """
    base = _block_key(sample_seed, seed, step)
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(
        jax.random.fold_in(base, 0), jnp.arange(samples, dtype=jnp.uint32)
    )


def _block_key(sample_seed: int, seed: int, step: int) -> jax.Array:
    key = jax.random.fold_in(jax.random.PRNGKey(sample_seed), seed)
    return jax.random.fold_in(key, step)


def _checkpoint_purds(job: PurdJob, engine: PurdEngine, step, seeds, bar) -> None:
    cfg, agent = job.cfg, engine.trainer.agent
    state = restore_without_replay_rows(engine.trainer, job.run_cfg, job.run_dir, step)
    agent_states = jax.tree.map(lambda x: jnp.asarray(x[np.array(seeds)]), state.agent)
    _check_finite(agent.actor_params(agent_states), job.run_dir, step, seeds)
    unperturbed = _unperturbed(job, engine, agent_states, step, seeds)
    rows = None
    if job.perturbation.needs_replay:
        rows = restore_replay_rows(
            engine.trainer, job.run_cfg, job.run_dir, step, seeds
        )
    for i, seed in enumerate(seeds):
        source = CheckpointSource(jax.tree.map(lambda x, i=i: x[i], agent_states))
        if job.perturbation.needs_env_states:
            source = source._replace(
                env=jax.tree.map(lambda x, s=seed: jnp.asarray(x[s]), state.env)
            )
        if rows is not None:
            source = source._replace(
                replay=ReplayBuffer(
                    jax.tree.map(lambda x, i=i: jnp.asarray(x[i]), rows),
                    jnp.asarray(state.replay.position[seed]),
                    jnp.asarray(state.replay.size[seed]),
                )
            )
        keys = sample_keys(cfg.seed, seed, step, cfg.samples)
        noise = jnp.asarray(cfg.scale if job.perturbation.action_noise else 0.0)
        shared = ((source, jnp.asarray(cfg.scale, jnp.float32)), noise)
        stages = (engine.perturb_stage, engine.sample_stage)
        plan = _plan(
            engine, "samples", stages, shared, keys, cfg.samples, cfg.chunk, bar
        )
        bar.set_postfix(checkpoint=step, seed=seed)
        stats = run_chunks(plan, shared, keys, on_chunk=bar.update)
        _write_block(
            job, step, seed, stats, jax.tree.map(lambda x, i=i: x[i], unperturbed)
        )


def _check_finite(actor_params, run_dir, step, seeds) -> None:
    for leaf in jax.tree.leaves(actor_params):
        finite = np.isfinite(np.asarray(leaf)).reshape(len(seeds), -1).all(axis=1)
        if not finite.all():
            bad = [s for s, ok in zip(seeds, finite, strict=True) if not ok]
            raise LandscapeError(
                f"{run_dir} checkpoint {step} has non-finite actor parameters for "
                f"seed(s) {bad}: the run diverged there; choose other seeds or steps"
            )


def _unperturbed(job: PurdJob, engine: PurdEngine, agent_states, step, seeds):
    """One plain episode per seed: ``EpisodeStats`` with fields ``(len(seeds),)``."""
    params = engine.trainer.agent.actor_params(agent_states)
    keys = jnp.stack(
        [jax.random.fold_in(_block_key(job.cfg.seed, s, step), 1) for s in seeds]
    )
    zero = jnp.zeros((), jnp.float32)
    plan: ChunkPlan = _plan(
        engine,
        "plain",
        (engine.plain_stage,),
        (zero,),
        (params, keys),
        len(seeds),
        None,
    )
    return run_chunks(plan, (zero,), (params, keys))


def _write_block(job: PurdJob, step: int, seed: int, stats, unperturbed) -> None:
    cfg = job.cfg
    arrays = {
        "seeds": np.array([seed], np.int32),
        "undiscounted_return": stats.undiscounted_return[None],
        "discounted_return": stats.discounted_return[None],
        "length": stats.length[None],
        "unperturbed_return": np.asarray(unperturbed.undiscounted_return)[None],
        "unperturbed_discounted_return": np.asarray(unperturbed.discounted_return)[
            None
        ],
        "unperturbed_length": np.asarray(unperturbed.length)[None],
    }
    attrs = {
        "kind": "purd",
        "run": str(job.run_dir.resolve()),
        "env": job.run_cfg.env,
        "algo": Algo(job.run_cfg.algo).value,
        "backend": job.run_cfg.backend,
        "perturbation": job.perturbation.name,
        "scale": float(cfg.scale),
        "checkpoint": step,
        "seed": seed,
        **_settings(job),
    }
    path = store.purd_path(job.run_dir, job.perturbation.name, cfg.scale, step, seed)
    store.write_result(path, arrays, attrs)
