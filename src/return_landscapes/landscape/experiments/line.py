"""``landscape line``: returns, and PURDs, along one direction through a checkpoint.

Point ``i`` is the agent ``theta + x[i] d`` for ``x`` in ``[-span, span]`` (``points``
odd, so ``x = 0`` is the checkpoint bit for bit), ``d`` the first direction of
``directions=`` (random, the run's update, PC1, or a file's ``x``). It is the grid
machinery (``landscape/grid/plane.py``) on a grid of ``points`` rows of one point
along one axis: the same stages, keys (common random numbers: the middle point's
samples are the checkpoint PURD's), chunks and storage (``store/line.py``), one
block per point, the directions beside them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from return_landscapes.conf import LineConfig, resolve
from return_landscapes.landscape.grid.directions import kind_of
from return_landscapes.landscape.grid.plane import (
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
from return_landscapes.store import line as line_store
from return_landscapes.tracking import require_wandb

logger = logging.getLogger(__name__)


def line(config: LineConfig | dict | None = None, **overrides) -> Path:
    """Compute and store returns along one direction through a checkpoint.

    Args:
      config: a ``LineConfig`` (or a mapping of its keys).
      **overrides: its keys, e.g. ``run="runs/h", checkpoint=150000,
        directions="update", points=21, span=0.5``.

    Returns:
      The folder holding the line's point blocks (read it with ``load_line``).

    Raises:
      LandscapeError: bad input; nothing stored is changed.
    """
    cfg = resolve(LineConfig, config, **overrides)
    require_wandb(cfg)
    job = plan_line(cfg)
    seed, step = job.anchors[0]
    announce(
        f"line of {cfg.points} points through seed {seed} checkpoint {step} "
        f"({kind_of(cfg)} direction, span {cfg.span}), {computed(job)}: writing "
        f"{job.folder}",
        cfg.points - len(job.todo),
        "point(s)",
    )
    if job.todo:
        run_job(job)
        warn_if_flat(job)
    return job.folder


def plan_line(cfg: LineConfig) -> GridJob:
    """Check the request against the run; list the points still to compute."""
    base = open_grid_job(cfg)
    anchor = one_anchor(cfg, base.run_dir, base.run_cfg, "line")
    check_odd(cfg.points, "points", cfg.span)
    perturb_name = check_perturbed(base, cfg)
    folder = line_store.line_dir(
        base.run_dir,
        anchor,
        cfg.points,
        cfg.span,
        perturb_name,
        base.scale,
        kind_of(cfg),
    )
    shape = GridShape(line_store.KIND, "points", cfg.points, 1, axes=1)
    return grid_job(base, perturb_name, DIRECTIONS_PLANE, [anchor], folder, shape)


def warn_if_flat(job: GridJob) -> None:
    """A warning when the checkpoint's policy falls early, or when every return
    along the line is the same up to float noise."""
    result = line_store.read_line(job.folder)
    middle = len(result.x) // 2
    reason = flat_reason(float(result.arrays["plain_length"][middle]), job.horizon)
    if reason:
        seed, step = job.anchors[0]
        logger.warning(
            "warning: seed %d at checkpoint %d: %s; choose a checkpoint whose "
            "episode lasts",
            seed,
            step,
            reason,
        )
    if is_noise(result.plain_return):
        logger.warning(
            "warning: every plain return of the line equals %.6g up to float "
            "noise: it is flat",
            float(result.plain_return.mean()),
        )
