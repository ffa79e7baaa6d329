"""``landscape purd``: post-update return distributions of a run's checkpoints.

For every chosen checkpoint and seed: restore the seed's agent (and its replay buffer
as of the checkpoint step when the perturbation needs it), draw ``samples``
perturbations, evaluate each perturbed policy for one episode through the hot path
(``landscape/evaluate.py``), evaluate the unperturbed policy once, and store the
seed's block (``store.py``). Finished blocks are skipped unless ``overwrite=true``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes import store
from return_landscapes.conf import Algo, PurdConfig, as_plain_dict, resolve
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.engine import (
    Engine,
    check_episode_options,
    check_finite,
    check_perturbation_fits,
    chosen_checkpoints,
    chosen_seeds,
    episode_options,
    get_engine,
    is_finished,
    open_run,
    option_settings,
    perturbed_returns,
    plain_returns,
    progress_bar,
    seed_source,
)
from return_landscapes.landscape.perturb import (
    MINIBATCH_SIZE,
    Perturbation,
    get_perturbation,
)
from return_landscapes.tracking import log_result, require_wandb, tracking
from return_landscapes.train import restore_replay_rows, restore_without_replay_rows


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
    require_wandb(cfg)
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
    engine = get_engine(
        job.run_cfg,
        job.perturbation,
        job.horizon,
        cfg.gamma,
        cfg.scale,
        episode_options(cfg, job.run_cfg),
    )
    bar = progress_bar(cfg.samples * sum(len(s) for _, s in todo), cfg.progress)
    with bar, tracking(cfg, job.run_dir, "purd", as_plain_dict(cfg)):
        for step, seeds in todo:
            _checkpoint_purds(job, engine, step, seeds, bar)
    return out


# ------------------------------------------------------------------------ the job


class PurdJob(NamedTuple):
    """A checked PURD request: what to compute and what is already stored."""

    cfg: PurdConfig
    run_dir: Path
    run_cfg: Any
    perturbation: Perturbation
    checkpoints: list[int]
    seeds: list[int]
    horizon: int
    todo: dict[int, list[int]]  # checkpoint -> seeds still to compute


def plan_job(cfg: PurdConfig) -> PurdJob:
    """Check the request against the run; find the blocks still to compute."""
    run_dir, run_cfg = open_run(cfg.run)
    algo = Algo(run_cfg.algo).value
    perturbation = get_perturbation(cfg.perturb or algo, algo)
    if cfg.samples <= 0:
        raise LandscapeError(f"samples={cfg.samples} must be at least 1")
    check_episode_options(cfg.scale, cfg.horizon, cfg.gamma, cfg.chunk)
    checkpoints = chosen_checkpoints(cfg.checkpoints, run_dir)
    seeds = chosen_seeds(cfg.seeds, run_cfg.seeds)
    check_perturbation_fits(perturbation, run_cfg)
    episode_options(cfg, run_cfg)
    horizon = cfg.horizon or run_cfg.horizon
    job = PurdJob(cfg, run_dir, run_cfg, perturbation, checkpoints, seeds, horizon, {})
    for step in checkpoints:
        job.todo[step] = [s for s in seeds if not _finished(job, step, s)]
    return job


def _settings(job: PurdJob) -> dict[str, Any]:
    """The settings a stored block must match to count as finished."""
    settings = {
        "samples": job.cfg.samples,
        "horizon": job.horizon,
        "gamma": job.cfg.gamma,
        "sample_seed": job.cfg.seed,
        **option_settings(episode_options(job.cfg, job.run_cfg), job.run_cfg),
    }
    if job.perturbation.needs_replay:
        settings["minibatch_size"] = MINIBATCH_SIZE
    return settings


def _finished(job: PurdJob, step: int, seed: int) -> bool:
    path = store.purd_path(
        job.run_dir, job.perturbation.name, job.cfg.scale, step, seed
    )
    return is_finished(path, _settings(job), job.cfg.overwrite)


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


def _checkpoint_purds(job: PurdJob, engine: Engine, step, seeds, bar) -> None:
    cfg, agent = job.cfg, engine.trainer.agent
    state = restore_without_replay_rows(engine.trainer, job.run_cfg, job.run_dir, step)
    agent_states = jax.tree.map(lambda x: jnp.asarray(x[np.array(seeds)]), state.agent)
    check_finite(agent.actor_params(agent_states), job.run_dir, step, seeds)
    unperturbed = _unperturbed(job, engine, agent_states, step, seeds)
    rows = None
    if job.perturbation.needs_replay:
        rows = restore_replay_rows(
            engine.trainer, job.run_cfg, job.run_dir, step, seeds
        )
    for i, seed in enumerate(seeds):
        agent_state = jax.tree.map(lambda x, i=i: x[i], agent_states)
        source = seed_source(job.perturbation, agent_state, state, rows, i, seed)
        keys = sample_keys(cfg.seed, seed, step, cfg.samples)
        bar.set_postfix(checkpoint=step, seed=seed)
        stats = perturbed_returns(engine, source, cfg.scale, keys, cfg.chunk, bar)
        _write_block(
            job, step, seed, stats, jax.tree.map(lambda x, i=i: x[i], unperturbed)
        )


def _unperturbed(job: PurdJob, engine: Engine, agent_states, step, seeds):
    """One plain episode per seed: ``EpisodeStats`` with fields ``(len(seeds),)``."""
    params = engine.trainer.agent.actor_params(agent_states)
    keys = jnp.stack(
        [jax.random.fold_in(_block_key(job.cfg.seed, s, step), 1) for s in seeds]
    )
    return plain_returns(engine, params, keys)


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
    log_result(arrays, attrs)
