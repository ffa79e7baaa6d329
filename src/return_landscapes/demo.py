"""``landscape demo``: the whole pipeline, small: train, PURD, paths, rejection, a
return surface, report.

Every stage is the public command of the same name with small settings
(``DemoConfig``), so the demo shows exactly what a user would run, and each stage
skips what a previous demo in the same ``out`` already finished.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from return_landscapes import provenance
from return_landscapes import rundir as ckpt
from return_landscapes.conf import Algo, DemoConfig, resolve
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.experiments.interpolate import interpolate
from return_landscapes.landscape.experiments.purd import purd
from return_landscapes.landscape.experiments.reject import reject
from return_landscapes.landscape.experiments.surface import surface
from return_landscapes.landscape.stats import cvar_change, heldout_cvars
from return_landscapes.landscape.stats.table import heaviest_left_tail
from return_landscapes.report.build import report
from return_landscapes.store import rejection as rejection_store
from return_landscapes.training.loop import train
from return_landscapes.training.schedule import learning_rate_at

logger = logging.getLogger(__name__)

STAGES = 6
TIMINGS = "timings.json"


def demo(config: DemoConfig | dict | None = None, **overrides) -> Path:
    """Run the demo; return the report's ``index.html``.

    Args:
      config: a ``DemoConfig`` (or a mapping of its keys).
      **overrides: its keys, e.g. ``out="demo", steps=50_000``.

    Raises:
      LandscapeError: bad input.
    """
    cfg = resolve(DemoConfig, config, **overrides)
    _check(cfg)
    out = Path(cfg.out)
    algo = Algo(cfg.algo).value
    run_dir, report_dir = out / f"{cfg.env}-{algo}", out / "report"
    timings: dict[str, float] = {}
    start = time.perf_counter()

    with _stage(1, f"train {cfg.seeds} seeds of {algo} on {cfg.env}", timings):
        train(_train_config(cfg, run_dir), resume=True)
    with _stage(2, f"PURDs of {cfg.samples} {algo} samples", timings):
        purd(
            run=str(run_dir),
            scale=cfg.scale,
            samples=cfg.samples,
            min_episode_steps=cfg.min_episode_steps,
            progress=cfg.progress,
        )
    with _stage(3, "same-seed and cross-seed interpolation paths", timings):
        for pairs in ("same_seed", "cross_seed"):
            interpolate(
                run=str(run_dir),
                pairs=pairs,
                points=cfg.points,
                samples=cfg.path_samples,
                progress=cfg.progress,
            )
    root = _root(cfg, run_dir, algo)
    with _stage(4, "post-update rejection, cvar vs none", timings):
        if root is not None:
            _reject(cfg, run_dir, algo, root)
    what = f"{cfg.surface_grid}x{cfg.surface_grid} return surface"
    if cfg.surface_samples:
        what += f", {cfg.surface_samples} {algo} samples per point"
    with _stage(5, what, timings):
        if root is not None:
            surface(
                run=str(run_dir),
                checkpoint=root["checkpoint"],
                seed_index=root["seed"],
                grid=cfg.surface_grid,
                samples=cfg.surface_samples,
                scale=cfg.scale,
                progress=cfg.progress,
            )
    with _stage(6, "report", timings):
        index = report(runs=[str(run_dir)], out=str(report_dir))
    timings["total"] = time.perf_counter() - start
    provenance.atomic_write_text(out / TIMINGS, json.dumps(timings, indent=1) + "\n")
    logger.info(
        "demo done in %.0f s: open %s (run directory: %s)",
        timings["total"],
        index,
        run_dir,
    )
    return index


def _check(cfg: DemoConfig) -> None:
    if cfg.seeds < 2:
        raise LandscapeError(
            f"seeds={cfg.seeds}: the demo needs at least 2 seeds for cross-seed paths"
        )
    if cfg.checkpoints is None and cfg.num_checkpoints < 2:
        raise LandscapeError(
            f"num_checkpoints={cfg.num_checkpoints}: the demo needs at least 2 for "
            "same-seed paths"
        )
    if cfg.checkpoints is not None:
        _check_checkpoints(list(cfg.checkpoints), cfg.steps)
    if cfg.surface_grid < 3 or cfg.surface_grid % 2 == 0:
        raise LandscapeError(
            f"surface_grid={cfg.surface_grid} must be odd and at least 3 (the root "
            "checkpoint is the centre point)"
        )
    if cfg.surface_samples < 0:
        raise LandscapeError(
            f"surface_samples={cfg.surface_samples} must be 0 (plain returns) or more"
        )
    if cfg.hidden_sizes is not None and (
        not cfg.hidden_sizes or min(cfg.hidden_sizes) < 1
    ):
        raise LandscapeError(
            f"hidden_sizes={list(cfg.hidden_sizes)} must list at least one layer "
            "width, each at least 1 (null: the algorithm's own)"
        )
    if cfg.min_episode_steps < 0:
        raise LandscapeError(
            f"min_episode_steps={cfg.min_episode_steps} must be 0 (analyse every "
            "policy) or more"
        )
    for name in ("samples", "reject_samples", "reject_steps", "repeats", "steps"):
        if getattr(cfg, name) < 1:
            raise LandscapeError(f"{name}={getattr(cfg, name)} must be at least 1")
    out = Path(cfg.out)
    if (out / ckpt.MANIFEST).is_file():
        raise LandscapeError(
            f"out={out} is a run directory; the demo writes <out>/<env>-<algo> and "
            "<out>/report: choose a new folder"
        )


def _check_checkpoints(checkpoints: list[int], steps: int) -> None:
    if len(set(checkpoints)) < 2:
        raise LandscapeError(
            f"checkpoints={checkpoints}: the demo needs at least 2 for same-seed paths"
        )
    outside = [c for c in checkpoints if not 0 < c <= steps]
    if outside:
        raise LandscapeError(
            f"checkpoints {outside} lie outside (0, steps={steps}]: pass other "
            "checkpoints=[...], or checkpoints=null for num_checkpoints evenly spaced"
        )


def _train_config(cfg: DemoConfig, run_dir: Path) -> dict:
    algo = Algo(cfg.algo).value
    config = {
        "env": cfg.env,
        "algo": algo,
        "seeds": cfg.seeds,
        "steps": cfg.steps,
        **_schedule(cfg),
        "eval_interval": _eval_interval(cfg.steps),
        "progress": cfg.progress,
        "out": str(run_dir),
    }
    agent = {}
    if algo != "ppo":
        agent["random_start_steps"] = cfg.random_start_steps
    if cfg.hidden_sizes is not None:
        agent["hidden_sizes"] = list(cfg.hidden_sizes)
    if agent:
        config[algo] = agent
    return config


def _schedule(cfg: DemoConfig) -> dict:
    if cfg.checkpoints is None:
        return {"num_checkpoints": cfg.num_checkpoints}
    return {"checkpoints": sorted(set(cfg.checkpoints))}


def _eval_interval(steps: int) -> int:
    """About ten evaluations; whole training blocks (1000 steps) when that allows,
    so every block has one length and compiles once."""
    interval = max(steps // 10, 1)
    return interval // 1000 * 1000 if interval >= 1000 else interval


def _root(cfg: DemoConfig, run_dir: Path, algo: str) -> dict | None:
    """The seed and checkpoint with the heaviest left tail (never a flat policy):
    rejection's and the surface's; ``None`` (and a warning) when every policy is
    flat."""
    scale = cfg.scale
    if scale is None:  # the PURDs took the run's own learning rate
        scale = learning_rate_at(ckpt.load_run_config(run_dir), 0)
    try:
        root = heaviest_left_tail(
            run_dir,
            algo,
            scale,
            from_step=cfg.random_start_steps,
            min_episode_steps=cfg.min_episode_steps,
        )
    except LandscapeError as err:
        logger.warning(
            "warning: %s; rejection and the surface are skipped: no policy has a "
            "landscape to show",
            err,
        )
        return None
    logger.info(
        "root: seed %d at checkpoint %d, the heaviest left tail (LTP %.3f, CVaR "
        "%.1f against a mean of %.1f)",
        root["seed"],
        root["checkpoint"],
        root["ltp"],
        root["cvar"],
        root["mean"],
    )
    return root


def _reject(cfg: DemoConfig, run_dir: Path, algo: str, root: dict) -> None:
    if algo == "ppo":
        logger.info("rejection continues off-policy training: skipped for ppo")
        return
    traces = {}
    for criterion in ("cvar", "none"):
        reject(
            run=str(run_dir),
            checkpoint=root["checkpoint"],
            seed_index=root["seed"],
            criterion=criterion,
            max_steps=cfg.reject_steps,
            samples=cfg.reject_samples,
            repeats=cfg.repeats,
            progress=cfg.progress,
        )
        repeats = rejection_store.load_rejection(
            run_dir, root["checkpoint"], root["seed"], criterion
        )
        traces[criterion] = [r.arrays for r in repeats]
    heldout = {c: heldout_cvars(t) for c, t in traces.items()}
    difference = heldout["cvar"] - heldout["none"]  # paired by repeat
    (start, kept), (_, plain) = cvar_change(traces["cvar"]), cvar_change(traces["none"])
    logger.info(
        "rejection: CVaR %.1f at the root; after %d proposed updates, the final "
        "policies' held-out CVaR (draws no check used) is %.1f under cvar and %.1f "
        "under none (cvar - none %+.1f, paired by repeat, mean over %d repeats); "
        "the estimates each criterion kept, which selection biases upward: cvar "
        "%.1f, none %.1f",
        start,
        cfg.reject_steps,
        heldout["cvar"].mean(),
        heldout["none"].mean(),
        difference.mean(),
        cfg.repeats,
        kept,
        plain,
    )


class _stage:
    """Logs ``[k/6] what`` on entry and the time taken on exit."""

    def __init__(self, number: int, what: str, timings: dict[str, float]):
        self.number, self.what, self.timings = number, what, timings

    def __enter__(self):
        logger.info("[%d/%d] %s", self.number, STAGES, self.what)
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        seconds = time.perf_counter() - self.start
        self.timings[self.what] = seconds
        if exc[0] is None:
            logger.info("[%d/%d] done in %.0f s", self.number, STAGES, seconds)
        return False
