"""``landscape surface``: returns on a 2-D grid in a plane of parameter space.

The plane goes through one checkpoint along two directions (``directions=``), or
through three checkpoints (``through=``); ``grid x grid`` points, one stored block
per row. The grid machinery (the plane, its stages, computing and writing rows) is
shared with ``landscape line`` in ``landscape/grid/plane.py``; the stored form is
``store/surface.py``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from return_landscapes.conf import SurfaceConfig, resolve
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.checks import chosen_checkpoints, chosen_seeds
from return_landscapes.landscape.grid.directions import kind_of
from return_landscapes.landscape.grid.plane import (
    ANCHORS_AT,
    CHECKPOINT_PLANE,
    DIRECTIONS_PLANE,
    GridJob,
    GridShape,
    check_odd,
    check_perturbed,
    computed,
    grid_job,
    one_anchor,
    open_grid_job,
    run_job,
)
from return_landscapes.landscape.job import announce
from return_landscapes.landscape.stats.flat import flat_reason, is_noise
from return_landscapes.store import surface as surface_store
from return_landscapes.tracking import require_wandb

logger = logging.getLogger(__name__)

THROUGH_HINT = (
    ", or pass through=[seed1,checkpoint1,seed2,checkpoint2,seed3,checkpoint3]"
)


def surface(config: SurfaceConfig | dict | None = None, **overrides) -> Path:
    """Compute and store a 2-D return surface.

    Args:
      config: a ``SurfaceConfig`` (or a mapping of its keys).
      **overrides: its keys, e.g. ``run="runs/h", checkpoint=150000, grid=21``.

    Returns:
      The folder holding the surface's row blocks (read it with ``load_surface``).

    Raises:
      LandscapeError: bad input; nothing stored is changed.
    """
    cfg = resolve(SurfaceConfig, config, **overrides)
    require_wandb(cfg)
    job = plan_surface(cfg)
    announce(
        f"surface {cfg.grid}x{cfg.grid} through {_describe(job)}, {computed(job)}: "
        f"writing {job.folder}",
        cfg.grid - len(job.todo),
        "row(s)",
    )
    if job.todo:
        run_job(job)
        warn_if_flat(job)
    return job.folder


def plan_surface(cfg: SurfaceConfig) -> GridJob:
    """Check the request against the run; list the rows still to compute."""
    base = open_grid_job(cfg)
    kind, anchors = _anchors(cfg, base.run_dir, base.run_cfg)
    _check_grid(cfg, kind)
    if kind == CHECKPOINT_PLANE and kind_of(cfg) != "random":
        raise LandscapeError(
            f"directions={kind_of(cfg)} and through= both given: a plane through "
            "three checkpoints has no directions to choose; drop one of them"
        )
    perturb_name = check_perturbed(base, cfg)
    folder = surface_store.surface_dir(
        base.run_dir,
        anchors,
        cfg.grid,
        cfg.span,
        perturb_name,
        base.scale,
        kind_of(cfg),
    )
    shape = GridShape(surface_store.KIND, "grid", cfg.grid, cfg.grid)
    return grid_job(base, perturb_name, kind, anchors, folder, shape)


def warn_if_flat(job: GridJob) -> None:
    """One warning line per anchor whose policy falls early, and one when every
    return of the surface is the same up to float noise."""
    result = surface_store.read_surface(job.folder)
    positions = [(0.0, 0.0)] if job.kind == DIRECTIONS_PLANE else ANCHORS_AT
    lengths = result.arrays["plain_length"]
    for (seed, step), (x, y) in zip(job.anchors, positions, strict=False):
        i, j = np.abs(result.x - x).argmin(), np.abs(result.y - y).argmin()
        reason = flat_reason(float(lengths[i, j]), job.horizon)
        if reason:
            logger.warning(
                "warning: seed %d at checkpoint %d: %s; choose a checkpoint whose "
                "episode lasts",
                seed,
                step,
                reason,
            )
    if is_noise(result.plain_return):
        logger.warning(
            "warning: every plain return of the surface equals %.6g up to float "
            "noise: it is flat",
            float(np.mean(result.plain_return)),
        )


def _anchors(cfg: SurfaceConfig, run_dir, run_cfg) -> tuple[str, list]:
    if cfg.through is None:
        anchor = one_anchor(cfg, run_dir, run_cfg, "plane", THROUGH_HINT)
        return DIRECTIONS_PLANE, [anchor]
    if cfg.checkpoint is not None:
        raise LandscapeError(
            "checkpoint= and through= both given: pass checkpoint= (random plane "
            "through one checkpoint) or through= (plane through three), not both"
        )
    if len(cfg.through) != 6:
        raise LandscapeError(
            f"through={list(cfg.through)} must be [seed1,checkpoint1,seed2,"
            "checkpoint2,seed3,checkpoint3]"
        )
    anchors = [(cfg.through[i], cfg.through[i + 1]) for i in (0, 2, 4)]
    for seed, step in anchors:
        chosen_seeds([seed], run_cfg.seeds)
        chosen_checkpoints([step], run_dir)
    if len(set(anchors)) < 3:
        raise LandscapeError(
            f"through={list(cfg.through)} repeats a checkpoint: a plane needs three "
            "different (seed, checkpoint) pairs"
        )
    return CHECKPOINT_PLANE, anchors


def _check_grid(cfg: SurfaceConfig, kind: str) -> None:
    if kind == DIRECTIONS_PLANE:
        check_odd(cfg.grid, "grid", cfg.span)
    elif cfg.grid < 2:
        raise LandscapeError(
            f"grid={cfg.grid} must be at least 2 for a plane through three checkpoints"
        )


def _describe(job: GridJob) -> str:
    names = [f"seed {s} checkpoint {c}" for s, c in job.anchors]
    if job.kind == DIRECTIONS_PLANE:
        return f"{names[0]} ({kind_of(job.cfg)} directions, span {job.cfg.span})"
    return ", ".join(names)
