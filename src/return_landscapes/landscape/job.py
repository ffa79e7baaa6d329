"""The skeleton every landscape command stands on: a checked job and its plumbing.

A command (``purd``, ``interpolate``, ``reject``, ``surface``, ``line``) is

1. ``open_job(cfg, ...)``: the run, the perturbation, the episode options, checked
   once; the command adds its own checks and the list of what is still to compute;
2. ``announce(...)``: one line of what it computes, and what it skips as finished;
3. ``make_engine(job)``: the run's agent and compiled stages (``hotpath/engine.py``);
4. for each block of work: compute, then ``write_result(path, arrays, attrs,
   summary)`` with ``result_attrs(job, kind, ...)`` and ``common_settings(job,
   ...)``, the settings a re-run compares with (``checks.is_finished``), and the
   experiment's ``Summary`` (its wandb row).

Everything else a command holds is its science: which parameter sets to build and
how to store them.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from return_landscapes import logs, store
from return_landscapes.conf import Algo, TrainConfig, is_atari, is_imported
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.checks import (
    EpisodeOptions,
    check_episode_options,
    check_perturbation_fits,
    episode_options,
    open_run,
    option_settings,
)
from return_landscapes.landscape.hotpath.engine import Engine, get_engine
from return_landscapes.landscape.perturb import (
    Perturbation,
    get_perturbation,
)
from return_landscapes.landscape.summary import Summary, log_result
from return_landscapes.provenance import check_writable
from return_landscapes.training.families import family_of
from return_landscapes.training.schedule import learning_rate_at

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class LandscapeJob:
    """A checked request on one run: what every landscape command knows.

    Attributes:
      cfg: the command's resolved config.
      run_dir: the run directory.
      run_cfg: the run's training config.
      perturbation: the perturbation samples are drawn from.
      horizon: the evaluation episodes' horizon.
      options: the (Atari) episode options.

    ``scale_at(step)`` is the perturbation's size at a checkpoint, ``scale`` the one
    size of a command that perturbs points between checkpoints, and
    ``scale_source`` where it comes from: ``given`` (``scale=``), ``run`` (the run's
    own learning rate) or ``default`` (the noise's default).
    """

    cfg: Any
    run_dir: Path
    run_cfg: TrainConfig
    perturbation: Perturbation
    horizon: int
    options: EpisodeOptions

    @property
    def algo(self) -> str:
        """The run's algorithm name (``td3``, ``sac``, ``ppo``)."""
        return Algo(self.run_cfg.algo).value

    @property
    def scale_source(self) -> str:
        """``given``, ``run`` (the run's learning rate) or ``default``."""
        if self.cfg.scale is not None:
            return "given"
        return "run" if self.perturbation.learning_rate else "default"

    def scale_at(self, step: int) -> float:
        """The perturbation's size at checkpoint ``step``."""
        source = self.scale_source
        if source == "given":
            return float(self.cfg.scale)
        if source == "run":
            return learning_rate_at(self.run_cfg, step)
        return float(self.perturbation.default_scale)

    @property
    def scale(self) -> float:
        """The perturbation's size wherever it applies (it must not vary; a
        command with ``samples=0`` applies none and records the size at step 0)."""
        perturbs = getattr(self.cfg, "samples", 1) > 0
        if perturbs and self.scale_source == "run" and _annealed(self.run_cfg):
            raise LandscapeError(
                f"{self.run_dir} anneals its learning rate, so a "
                f"{self.perturbation.name} update off the checkpoints has no run "
                "learning rate: pass scale="
            )
        return self.scale_at(0)

    def base(self) -> dict[str, Any]:
        """The shared fields, to build a command's job from this one."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(LandscapeJob)}


def open_job(cfg, perturb: str | None, check_fits: bool = True) -> LandscapeJob:
    """Open ``cfg.run`` and check what every command checks, in one place.

    Args:
      cfg: a landscape command's config (``run``, ``scale``, ``horizon``,
        ``gamma``, ``chunk``; Atari episode options if it has them).
      perturb: the perturbation's name; ``None`` for the run's own algorithm.
      check_fits: refuse a perturbation the run's env cannot apply.
    """
    run_dir, run_cfg = open_run(cfg.run)
    check_writable(
        run_dir / store.LANDSCAPE_DIR,
        "results go into the run's landscape/ folder: make it writable, or copy the "
        "run to where you may write",
    )
    # an imported run's algorithm has no update to offer: check_perturbation_fits
    # names what applies instead
    algo = None if is_imported(run_cfg) else Algo(run_cfg.algo).value
    perturbation = get_perturbation(perturb or default_perturbation(run_cfg), algo)
    if getattr(cfg, "original_quirks", False):
        perturbation = get_perturbation(original_variant(perturbation, run_cfg), algo)
    check_episode_options(cfg.scale, cfg.horizon, cfg.gamma, cfg.chunk)
    if cfg.scale is None and not (
        perturbation.learning_rate or perturbation.default_scale is not None
    ):
        raise LandscapeError(
            f"perturb={perturbation.name} has no default size: pass scale="
        )
    if check_fits:
        check_perturbation_fits(perturbation, run_cfg)
    if getattr(perturbation.episode, "moves_start", False):
        scale = perturbation.default_scale if cfg.scale is None else cfg.scale
        family_of(run_cfg.env).check_start_noise(scale)
    options = EpisodeOptions()
    if hasattr(cfg, "sampled_actions"):
        options = episode_options(cfg, run_cfg)
    horizon = cfg.horizon or run_cfg.horizon
    return LandscapeJob(cfg, run_dir, run_cfg, perturbation, horizon, options)


IMPORTED_DEFAULT_PERTURBATION = "param_noise"


def default_perturbation(run_cfg: TrainConfig) -> str:
    """``perturb=`` when none is given: the run's own update, or ``param_noise``
    for an imported run (a policy without optimizer state or replay)."""
    if is_imported(run_cfg):
        return IMPORTED_DEFAULT_PERTURBATION
    return Algo(run_cfg.algo).value


ATARI_ORIGINAL_SCORING = "original"  # Atari ppo_original: the paper's code's score


def original_variant(perturbation: Perturbation, run_cfg: TrainConfig) -> str:
    """The kind that reproduces the paper's code for ``perturbation``
    (``original_quirks=true``); a one-line error if there is none."""
    if perturbation.reproduces_original:
        return perturbation.name
    if perturbation.original is not None:
        return perturbation.original
    if is_atari(run_cfg.env):
        raise LandscapeError(
            f"original_quirks=true on Atari applies to perturb=ppo (the paper's "
            f"update and scoring), not to perturb={perturbation.name}: drop "
            "original_quirks, or use perturb=ppo"
        )
    raise LandscapeError(
        f"original_quirks=true changes nothing for perturb={perturbation.name}: the "
        "paper's code has no accident there (it applies to sac and ppo updates); "
        "drop original_quirks"
    )


def _annealed(run_cfg: TrainConfig) -> bool:
    return is_atari(run_cfg.env) and bool(run_cfg.atari.anneal_lr)


def common_settings(job: LandscapeJob, perturbed: bool = True) -> dict[str, Any]:
    """The settings every stored result records and a re-run must match.

    ``samples``, ``horizon``, ``gamma``, ``sample_seed``, the Atari episode options;
    when ``perturbed``, the perturbation's own (``Perturbation.settings``: the
    minibatch of an update that reads the replay, Atari's whole-iteration ``ppo``,
    the episode effect's, the rollouts per policy); ``scoring`` by Atari's
    ``ppo_original`` (the paper's score, also of the unperturbed policy). Results
    stored before a setting existed lack it, so a re-run refuses to take them for
    new ones.
    """
    settings = {
        "samples": job.cfg.samples,
        "horizon": job.horizon,
        "gamma": job.cfg.gamma,
        "sample_seed": job.cfg.sample_seed,
        **option_settings(job.options, job.run_cfg),
    }
    if perturbed:
        settings.update(job.perturbation.settings(job.run_cfg))
    if is_atari(job.run_cfg.env) and job.perturbation.reproduces_original:
        settings["scoring"] = ATARI_ORIGINAL_SCORING
    return settings


def result_attrs(job: LandscapeJob, kind: str, **extra) -> dict[str, Any]:
    """The attributes that open every stored result: kind, run, env, algorithm,
    backend, then ``extra``."""
    return {
        "kind": kind,
        "run": str(job.run_dir.resolve()),
        "env": job.run_cfg.env,
        "algo": job.algo,
        "backend": job.run_cfg.backend,
        **extra,
    }


def scale_text(job: LandscapeJob) -> str:
    """``scale=0.0003`` and, unless given, where it comes from (for log lines)."""
    source = job.scale_source
    if source == "run" and _annealed(job.run_cfg):
        return "the run's annealed learning rate at each checkpoint"
    where = {"given": "", "run": " (the run's learning rate)", "default": " (default)"}
    return f"scale={job.scale!r}{where[source]}"


def announce(header: str, finished: int, unit: str) -> None:
    """Log what a command computes and how many finished ``unit``s it skips."""
    logger.info(header)
    if finished:
        logger.info("skipping %d finished %s", finished, unit)


def make_engine(job: LandscapeJob) -> Engine:
    """The job's engine: its run, perturbation, horizon, discount, start-state
    noise (``init_state``) and episode options."""
    episode = job.perturbation.episode
    start_noise = episode.start_noise(job.scale) if episode.moves_start else None
    return get_engine(
        job.run_cfg,
        job.perturbation,
        job.horizon,
        job.cfg.gamma,
        start_noise,
        job.options,
    )


def write_result(path: Path, arrays: dict, attrs: dict, summary: Summary) -> None:
    """Store one block of a result atomically and mirror its ``summary`` row
    (wandb)."""
    store.write_result(path, arrays, attrs)
    log_result(arrays, attrs, summary)


def progress_bar(total: int, enabled: bool | None, what: str, unit: str = "sample"):
    """The progress display of a long landscape computation: a bar on a terminal,
    plain log lines in a file (``logs.progress_bar``)."""
    return logs.progress_bar(total, enabled, unit, what)
