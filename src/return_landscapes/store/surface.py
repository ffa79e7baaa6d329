"""Surface results: one block per grid row,
``surface/<perturb>/scale_<scale>/<anchors>_grid<grid>[_span<span>[_<kind>]]/row_<i:03d>.h5``
and the plane's ``directions.h5``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from return_landscapes.direction_files import directions_info
from return_landscapes.errors import LandscapeError
from return_landscapes.store import (
    directions_suffix,
    finished_row_folders,
    kind_folder,
    read_row_blocks,
    row_path,
    stored_row_folders,
)

logger = logging.getLogger(__name__)

KIND = "surface"  # the blocks' kind and the folder under <run>/landscape/


def surface_name(
    anchors: list[tuple[int, int]], grid: int, span: float, directions: str = "random"
) -> str:
    """The folder name of one surface: its anchors, grid size and, for a plane
    through one checkpoint, its span and (unless ``random``) its kind of directions.

    ``anchors`` are ``(seed, checkpoint)`` pairs: one for the plane of two directions
    through a checkpoint, three for the plane through three checkpoints.
    """
    parts = "__".join(f"s{seed:03d}_c{step:09d}" for seed, step in anchors)
    name = f"{parts}_grid{grid:03d}"
    if len(anchors) != 1:
        return name
    return f"{name}_span{float(span)!r}" + directions_suffix(directions)


def surface_dir(
    run_dir: Path,
    anchors: list[tuple[int, int]],
    grid: int,
    span: float,
    perturb: str | None,
    scale: float,
    directions: str = "random",
) -> Path:
    """The folder of one surface's row blocks (``plain`` without a perturbation)."""
    folder = kind_folder(run_dir, KIND, perturb, scale)
    return folder / surface_name(anchors, grid, span, directions)


def surface_row_path(folder: Path, row: int) -> Path:
    """The file of one row of a surface: the grid points at ``x[row]``."""
    return row_path(folder, row)


def stored_surfaces(run_dir: Path) -> list[Path]:
    """Every surface folder of a run holding at least one row block."""
    return stored_row_folders(run_dir, KIND)


def report_items(run_dir: Path) -> tuple[list[SurfaceResult], list[Path]]:
    """Every finished surface of a run, and the folders of unfinished ones."""
    return finished_row_folders(stored_surfaces(run_dir), "grid", read_surface)


class SurfaceResult(NamedTuple):
    """A 2-D return surface.

    The policy at grid point ``(i, j)`` is ``w0 * P + x[i] * Q + y[j] * R``: for the
    random plane ``P`` is the checkpoint, ``Q``, ``R`` the directions and ``w0 = 1``;
    for the plane through three checkpoints ``P``, ``Q``, ``R`` are the checkpoints and
    ``w0 = 1 - x[i] - y[j]``, so they sit at ``(0, 0)``, ``(1, 0)`` and ``(0, 1)``.

    Attributes:
      x: the first coordinate of the grid, ``(grid,)``.
      y: the second coordinate, ``(grid,)``.
      plain_return: the unperturbed return at every point, ``(grid, grid)``
        indexed ``[i, j]``.
      returns: undiscounted PURD returns, ``(num_samples, grid, grid)`` (no samples
        for a plain surface).
      anchors: the ``(seed, checkpoint)`` pairs the plane goes through.
      arrays: every array stacked the same way (discounted returns, lengths too).
      attrs: provenance of the surface (plane, perturbation, settings, versions).
      directions: how the plane's directions were made (``directions.h5``'s
        attributes, and ``trajectory``/``trajectory_steps`` of a PCA plane);
        ``None`` for a plane through three checkpoints or one stored without them.
    """

    x: np.ndarray
    y: np.ndarray
    plain_return: np.ndarray
    returns: np.ndarray
    anchors: list[tuple[int, int]]
    arrays: dict[str, np.ndarray]
    attrs: dict[str, Any]
    directions: dict[str, Any] | None = None


ROW_ARRAYS = ("plain_return", "plain_discounted_return", "plain_length")


def read_surface(folder: Path) -> SurfaceResult:
    """Stack a surface's row blocks; one-line errors if rows are missing or damaged."""
    blocks, first = read_row_blocks(Path(folder), KIND, "grid")
    arrays = {}
    for name in blocks[0].arrays:
        if name in ("x", "y"):
            continue
        stacked = np.stack([b.arrays[name] for b in blocks])
        # PURD rows are (samples, grid_y): stack on the x axis, samples first
        arrays[name] = stacked if name in ROW_ARRAYS else stacked.swapaxes(0, 1)
    anchors = [tuple(a) for a in json.loads(first["anchors"])]
    return SurfaceResult(
        blocks[0].arrays["x"],
        blocks[0].arrays["y"],
        arrays["plain_return"],
        arrays["undiscounted_return"],
        anchors,
        arrays,
        first,
        directions_info(Path(folder)),
    )


def load_surface(
    run_dir,
    checkpoint: int | None = None,
    seed: int = 0,
    perturb: str | None = None,
    scale: float = 3e-4,
    grid: int = 21,
    span: float = 1.0,
    through: list[int] | None = None,
    directions: str = "random",
) -> SurfaceResult:
    """One stored 2-D return surface (``landscape surface``).

    Args:
      run_dir: the run directory.
      checkpoint: the checkpoint step the random plane goes through.
      seed: the training seed of that checkpoint.
      perturb: the perturbation of the PURDs at the grid points, or ``None`` for a
        surface computed with ``samples=0`` (plain returns only).
      scale: the perturbation scale.
      grid: points per side.
      span: the random plane's half-width, in units of the normalized directions.
      through: ``[seed1, checkpoint1, seed2, checkpoint2, seed3, checkpoint3]`` for
        the plane through three checkpoints (then ``checkpoint``, ``span`` and
        ``directions`` are not used).
      directions: the kind of directions of a plane through one checkpoint
        (``random``, ``update``, ``pca`` or ``file``).

    Returns:
      ``SurfaceResult``: ``plain_return`` ``(grid, grid)``, ``returns``
      ``(num_samples, grid, grid)``.
    """
    if through is not None:
        anchors = [(through[i], through[i + 1]) for i in range(0, len(through), 2)]
    else:
        if checkpoint is None:
            raise LandscapeError(
                "load_surface needs checkpoint= (random plane) or through= (three "
                "checkpoints)"
            )
        anchors = [(seed, checkpoint)]
    folder = surface_dir(Path(run_dir), anchors, grid, span, perturb, scale, directions)
    if not folder.is_dir():
        raise LandscapeError(
            f"no surface stored for {surface_name(anchors, grid, span, directions)} "
            f"perturb={perturb} scale={scale} in {run_dir}: run 'landscape surface' "
            "first"
        )
    return read_surface(folder)
