"""Line results: one block per point,
``line/<perturb>/scale_<scale>/<anchor>_points<n>_span<span>[_<kind>]/row_<i:03d>.h5``
and the line's ``directions.h5``."""

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
    stored_row_folders,
)

logger = logging.getLogger(__name__)

KIND = "line"  # the blocks' kind and the folder under <run>/landscape/
ROW_ARRAYS = ("plain_return", "plain_discounted_return", "plain_length")


def line_dir(
    run_dir: Path,
    anchor: tuple[int, int],
    points: int,
    span: float,
    perturb: str | None,
    scale: float,
    directions: str = "random",
) -> Path:
    """The folder of one line's point blocks (``plain`` without a perturbation)."""
    folder = kind_folder(run_dir, KIND, perturb, scale)
    seed, step = anchor
    name = f"s{seed:03d}_c{step:09d}_points{points:03d}_span{float(span)!r}"
    return folder / (name + directions_suffix(directions))


def stored_lines(run_dir: Path) -> list[Path]:
    """Every line folder of a run holding at least one point block."""
    return stored_row_folders(run_dir, KIND)


def report_items(run_dir: Path) -> tuple[list[LineResult], list[Path]]:
    """Every finished line of a run, and the folders of unfinished ones."""
    return finished_row_folders(stored_lines(run_dir), "points", read_line)


class LineResult(NamedTuple):
    """Returns along one direction through a checkpoint: the policy at point ``i``
    is ``theta + x[i] * d``.

    Attributes:
      x: the coordinates along the direction, ``(points,)``, in ``[-span, span]``.
      plain_return: the unperturbed return at every point, ``(points,)``.
      returns: undiscounted PURD returns, ``(num_samples, points)`` (no samples for
        a plain line).
      anchor: the ``(seed, checkpoint)`` the line goes through (at ``x = 0``).
      arrays: every array stacked the same way (discounted returns, lengths too).
      attrs: provenance of the line (directions, perturbation, settings, versions).
      directions: how the direction was made (``directions.h5``'s attributes).
    """

    x: np.ndarray
    plain_return: np.ndarray
    returns: np.ndarray
    anchor: tuple[int, int]
    arrays: dict[str, np.ndarray]
    attrs: dict[str, Any]
    directions: dict[str, Any] | None = None


def read_line(folder: Path) -> LineResult:
    """Stack a line's point blocks; one-line errors if points are missing."""
    blocks, first = read_row_blocks(Path(folder), KIND, "points")
    arrays = {}
    for name in blocks[0].arrays:
        if name in ("x", "y"):
            continue
        stacked = np.stack([b.arrays[name] for b in blocks])  # (points, ..., 1)
        if name in ROW_ARRAYS:
            arrays[name] = stacked[:, 0]
        else:
            arrays[name] = stacked[:, :, 0].T  # (samples, points)
    x = np.concatenate([b.arrays["x"] for b in blocks])
    return LineResult(
        x,
        arrays["plain_return"],
        arrays["undiscounted_return"],
        tuple(json.loads(first["anchors"])[0]),
        arrays,
        first,
        directions_info(Path(folder)),
    )


def load_line(
    run_dir,
    checkpoint: int,
    seed: int = 0,
    perturb: str | None = None,
    scale: float = 3e-4,
    points: int = 21,
    span: float = 1.0,
    directions: str = "random",
) -> LineResult:
    """One stored line of returns through a checkpoint (``landscape line``).

    Args:
      run_dir: the run directory.
      checkpoint: the checkpoint step the line goes through.
      seed: the training seed of that checkpoint.
      perturb: the perturbation of the PURDs at the points, or ``None`` for a line
        computed with ``samples=0``.
      scale: the perturbation scale.
      points: points along the line.
      span: the line covers ``[-span, span]``.
      directions: ``random``, ``update``, ``pca`` or ``file``.

    Returns:
      ``LineResult``: ``plain_return`` ``(points,)``, ``returns``
      ``(num_samples, points)``.
    """
    folder = line_dir(
        Path(run_dir), (seed, checkpoint), points, span, perturb, scale, directions
    )
    if not folder.is_dir():
        raise LandscapeError(
            f"no line stored for seed {seed} checkpoint {checkpoint} points={points} "
            f"span={span} directions={directions} perturb={perturb} scale={scale} in "
            f"{run_dir}: run 'landscape line' first"
        )
    return read_line(folder)
