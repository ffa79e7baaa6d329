"""``landscape purd``: post-update return distributions of a run's checkpoints.

For every chosen checkpoint and seed: restore the seed's agent (and its replay buffer
as of the checkpoint step when the perturbation needs it), draw ``samples``
perturbations, evaluate each perturbed policy for one episode through the hot path
(``evaluation.py``), evaluate the unperturbed policy once, and store the seed's block
(``store/purd.py``). Finished blocks are skipped unless ``overwrite=true``.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.conf import PurdConfig, as_plain_dict, resolve
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.checks import (
    check_finite_returns,
    check_stored_finite,
    chosen_checkpoints,
    chosen_seeds,
    is_finished,
)
from return_landscapes.landscape.hotpath.engine import (
    Engine,
    perturbed_returns,
    plain_returns,
    seed_source,
)
from return_landscapes.landscape.hotpath.keys import plain_key, sample_keys
from return_landscapes.landscape.job import (
    LandscapeJob,
    announce,
    common_settings,
    make_engine,
    open_job,
    progress_bar,
    result_attrs,
    scale_text,
    write_result,
)
from return_landscapes.landscape.stats import purd_statistics
from return_landscapes.landscape.stats.flat import MIN_EPISODE_STEPS, flat_reason
from return_landscapes.landscape.summary import Summary
from return_landscapes.store import purd as purd_store
from return_landscapes.tracking import require_wandb, tracking
from return_landscapes.training.state import (
    restore_replay_rows,
    restore_without_replay_rows,
)

logger = logging.getLogger(__name__)


def _purd_headline(arrays) -> dict[str, float]:
    stats = purd_statistics(np.asarray(arrays["undiscounted_return"])[0])
    return {**stats, "unperturbed_return": float(arrays["unperturbed_return"][0])}


PURD_SUMMARY = Summary(("perturbation", "scale", "checkpoint", "seed"), _purd_headline)
"""A PURD block's wandb row: its identity, its statistics and unperturbed return."""


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
    out = purd_store.purd_dir(
        job.run_dir, job.perturbation.name, job.scale_at(job.checkpoints[0])
    )
    todo = [(step, seeds) for step, seeds in job.todo.items() if seeds]
    announce(
        f"purd {job.perturbation.name} at {scale_text(job)}, {cfg.samples} samples on "
        f"{len(job.checkpoints)} checkpoint(s) x {len(job.seeds)} seed(s): "
        f"writing {out}",
        sum(len(job.seeds) - len(seeds) for seeds in job.todo.values()),
        "seed block(s)",
    )
    _note_zero_steps(job)
    if not todo:
        return out
    engine = make_engine(job)
    bar = progress_bar(cfg.samples * sum(len(s) for _, s in todo), cfg.progress, "purd")
    with bar, tracking(cfg, job.run_dir, "purd", as_plain_dict(cfg)):
        for step, seeds in todo:
            _checkpoint_purds(job, engine, step, seeds, bar)
    return out


# ------------------------------------------------------------------------ the job


@dataclasses.dataclass
class PurdJob(LandscapeJob):
    """A checked PURD request: what to compute and what is already stored."""

    checkpoints: list[int]
    seeds: list[int]
    todo: dict[int, list[int]]  # checkpoint -> seeds still to compute


def plan_job(cfg: PurdConfig) -> PurdJob:
    """Check the request against the run; find the blocks still to compute."""
    base = open_job(cfg, cfg.perturb)
    if cfg.samples <= 0:
        raise LandscapeError(f"samples={cfg.samples} must be at least 1")
    if cfg.min_episode_steps < 0:
        raise LandscapeError(
            f"min_episode_steps={cfg.min_episode_steps} must be 0 (compute every "
            "PURD) or more"
        )
    checkpoints = chosen_checkpoints(cfg.checkpoints, base.run_dir)
    seeds = chosen_seeds(cfg.seeds, base.run_cfg.seeds)
    job = PurdJob(**base.base(), checkpoints=checkpoints, seeds=seeds, todo={})
    for step in checkpoints:
        job.todo[step] = [s for s in seeds if not _finished(job, step, s)]
    check_stored_finite(job.run_dir, job.todo, job.perturbation.needs_replay)
    return job


def _note_zero_steps(job: PurdJob) -> None:
    """Say so when the run's own learning rate is 0 at a checkpoint (an annealed
    rate at the end of the run): that PURD repeats the unperturbed policy."""
    if job.scale_source != "run":
        return
    zero = [step for step in job.checkpoints if job.scale_at(step) == 0]
    if zero:
        logger.warning(
            "note: the run's learning rate is 0 at checkpoint(s) %s (annealed to "
            "the end), so their %s PURDs repeat the unperturbed return: pass scale= "
            "for a step of another size",
            zero,
            job.perturbation.name,
        )


def _finished(job: PurdJob, step: int, seed: int) -> bool:
    path = purd_store.purd_path(
        job.run_dir, job.perturbation.name, job.scale_at(step), step, seed
    )
    return is_finished(path, common_settings(job), job.cfg.overwrite)


# ---------------------------------------------------------------------- computing


def _checkpoint_purds(job: PurdJob, engine: Engine, step, seeds, bar) -> None:
    for seed, stats, unperturbed in _seed_purds(job, engine, step, seeds, bar):
        _write_block(job, step, seed, stats, unperturbed)


def _seed_purds(job: PurdJob, engine: Engine, step, seeds, bar):
    """Yield ``(seed, EpisodeStats of the samples, the unperturbed episode's)`` for
    every seed at one checkpoint that is not skipped as flat."""
    cfg = job.cfg
    state = restore_without_replay_rows(engine.parts, job.run_cfg, job.run_dir, step)
    agent_states = jax.tree.map(lambda x: jnp.asarray(x[np.array(seeds)]), state.agent)
    unperturbed = _unperturbed(job, engine, agent_states, step, seeds)
    rows = None
    if job.perturbation.needs_replay:
        rows = restore_replay_rows(engine.parts, job.run_cfg, job.run_dir, step, seeds)
    for i, seed in enumerate(seeds):
        length = int(unperturbed.length[i])
        if _skipped(job, step, seed, length):
            bar.update(cfg.samples)
            continue
        agent_state = jax.tree.map(lambda x, i=i: x[i], agent_states)
        source = seed_source(job.perturbation, agent_state, state, rows, i, seed)
        keys = sample_keys(cfg.sample_seed, seed, step, cfg.samples)
        bar.set_postfix(checkpoint=step, seed=seed)
        scale = job.scale_at(step)
        stats = perturbed_returns(engine, source, scale, keys, cfg.chunk, bar)
        _warn_flat(job, step, seed, length, stats.undiscounted_return)
        check_finite_returns(stats.undiscounted_return, step, seed)
        yield seed, stats, jax.tree.map(lambda x, i=i: x[i], unperturbed)


def fresh_purds(cfg: PurdConfig, steps: list[int], seeds: list[int]) -> dict:
    """PURDs computed and not stored: ``{step: returns (len(seeds), samples)}``.

    For draws that no stored result used (``cfg.sample_seed`` another seed than the
    stored PURD's), e.g. to confirm a choice made from stored PURDs on fresh ones.
    ``cfg.min_episode_steps`` is ignored: every seed is computed.

    Raises:
      LandscapeError: bad input, or a checkpoint with non-finite state.
    """
    base = open_job(cfg, cfg.perturb)
    steps = chosen_checkpoints(steps, base.run_dir)
    seeds = chosen_seeds(seeds, base.run_cfg.seeds)
    job = PurdJob(**base.base(), checkpoints=steps, seeds=seeds, todo={})
    job.cfg = dataclasses.replace(cfg, min_episode_steps=0)
    check_stored_finite(
        job.run_dir, dict.fromkeys(steps, seeds), job.perturbation.needs_replay
    )
    engine = make_engine(job)
    out = {}
    total = cfg.samples * len(steps) * len(seeds)
    with progress_bar(total, cfg.progress, "purd") as bar:
        for step in steps:
            found = _seed_purds(job, engine, step, seeds, bar)
            out[step] = np.stack([s.undiscounted_return for _, s, _ in found])
    return out


def _skipped(job: PurdJob, step: int, seed: int, length: int) -> bool:
    """Skip (and say so) a seed whose unperturbed episode is shorter than
    ``min_episode_steps``."""
    wanted = min(job.cfg.min_episode_steps, job.horizon)
    if length >= wanted:
        return False
    logger.warning(
        "warning: seed %d at checkpoint %d: policy falls at step %d: its landscape "
        "is flat; skipped (min_episode_steps=%d)",
        seed,
        step,
        length,
        job.cfg.min_episode_steps,
    )
    return True


def _warn_flat(job: PurdJob, step: int, seed: int, length: int, returns) -> None:
    minimum = job.cfg.min_episode_steps or MIN_EPISODE_STEPS
    reason = flat_reason(length, job.horizon, returns, minimum)
    if reason:
        logger.warning("warning: seed %d at checkpoint %d: %s", seed, step, reason)


def _unperturbed(job: PurdJob, engine: Engine, agent_states, step, seeds):
    """One plain episode per seed: ``EpisodeStats`` with fields ``(len(seeds),)``."""
    params = engine.agent.actor_params(agent_states)
    keys = jnp.stack([plain_key(job.cfg.sample_seed, s, step) for s in seeds])
    return plain_returns(engine, params, keys)


def _write_block(job: PurdJob, step: int, seed: int, stats, unperturbed) -> None:
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
    attrs = result_attrs(
        job,
        "purd",
        perturbation=job.perturbation.name,
        scale=job.scale_at(step),
        scale_source=job.scale_source,
        checkpoint=step,
        seed=seed,
        **common_settings(job),
    )
    path = purd_store.purd_path(
        job.run_dir, job.perturbation.name, job.scale_at(step), step, seed
    )
    write_result(path, arrays, attrs, PURD_SUMMARY)
