"""Interpolation results: one file per path,
``interpolate/<perturb>/scale_<scale>/<pair>.h5`` (``interpolate/plain/`` without
samples)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from return_landscapes.errors import LandscapeError
from return_landscapes.store import (
    LANDSCAPE_DIR,
    kind_folder,
    read_result,
)

logger = logging.getLogger(__name__)

KIND = "interpolation"  # the blocks' kind
FOLDER = "interpolate"  # the folder under <run>/landscape/ (the command's name)


class Endpoint(NamedTuple):
    """One end of an interpolation path: a seed's checkpoint in a run."""

    run_dir: Path
    seed: int
    checkpoint: int


def pair_name(first: Endpoint, second: Endpoint) -> str:
    """The file stem of a pair: seeds and steps, and the other run when it differs."""

    def part(end: Endpoint) -> str:
        return f"s{end.seed:03d}_c{end.checkpoint:09d}"

    name = f"{part(first)}__{part(second)}"
    if Path(first.run_dir).resolve() != Path(second.run_dir).resolve():
        digest = hashlib.sha1(str(Path(second.run_dir).resolve()).encode()).hexdigest()
        name = f"{part(first)}__run-{digest[:8]}_{part(second)}"
    return name


def interpolation_dir(run_dir: Path, perturb: str | None, scale: float) -> Path:
    """The folder of one perturbation and scale's paths (``plain`` without one)."""
    return kind_folder(run_dir, FOLDER, perturb, scale)


def interpolation_path(
    first: Endpoint, second: Endpoint, perturb: str | None, scale: float
) -> Path:
    """The file of one path, stored in the first endpoint's run."""
    folder = interpolation_dir(first.run_dir, perturb, scale)
    return folder / f"{pair_name(first, second)}.h5"


def stored_interpolations(run_dir: Path) -> list[Path]:
    """Every interpolation file of a run (temporary files left out)."""
    root = Path(run_dir) / LANDSCAPE_DIR / FOLDER
    return sorted(p for p in root.glob("**/*.h5") if not p.name.startswith("."))


class InterpolationResult(NamedTuple):
    """One interpolation path.

    Attributes:
      alpha: the points ``a`` in [0, 1], ``(num_points,)``; the policy at ``a`` is
        ``a * theta1 + (1 - a) * theta2``.
      returns: undiscounted PURD returns ``(num_samples, num_points)`` (no rows when
        ``samples=0``).
      plain_return: the unperturbed policy's return at each point, ``(num_points,)``.
      arrays: every stored array (discounted returns, lengths as well).
      attrs: provenance: endpoints, perturbation, scale, settings, versions.
    """

    alpha: np.ndarray
    returns: np.ndarray
    plain_return: np.ndarray
    arrays: dict[str, np.ndarray]
    attrs: dict[str, Any]


def read_interpolation(path: Path) -> InterpolationResult:
    """Read one interpolation file (one-line errors if missing or damaged)."""
    result = read_result(path)
    if result.attrs.get("kind") != KIND:
        raise LandscapeError(f"{path} is not an interpolation result")
    a = result.arrays
    return InterpolationResult(
        a["alpha"], a["undiscounted_return"], a["plain_return"], a, result.attrs
    )


def load_interpolation(
    run_dir,
    pair: tuple[int, int, int, int],
    perturb: str | None = "param_noise",
    scale: float = 3e-4,
    other_run=None,
) -> InterpolationResult:
    """One stored interpolation path between two checkpoints.

    Args:
      run_dir: the run holding the first endpoint (where the result is stored).
      pair: ``(seed1, checkpoint1, seed2, checkpoint2)``; ``theta1`` is at ``a=1``.
      perturb: the perturbation of the PURDs along the path, or ``None`` for a path
        computed with ``samples=0`` (plain returns only).
      scale: the perturbation scale.
      other_run: the run of the second endpoint, if another.

    Returns:
      ``InterpolationResult``: ``returns`` shaped ``(num_samples, num_points)``.
    """
    seed1, checkpoint1, seed2, checkpoint2 = pair
    first = Endpoint(Path(run_dir), seed1, checkpoint1)
    second = Endpoint(Path(other_run or run_dir), seed2, checkpoint2)
    path = interpolation_path(first, second, perturb, scale)
    if not path.is_file():
        raise LandscapeError(
            f"no interpolation stored for pair {list(pair)} perturb={perturb} "
            f"scale={scale} in {run_dir}: run 'landscape interpolate' first"
        )
    return read_interpolation(path)


class PathGroup(NamedTuple):
    """The paths of one run under one perturbation and scale (``plain``: none)."""

    perturb: str
    scale: float
    paths: list[InterpolationResult]


def report_items(run_dir: Path) -> tuple[list[PathGroup], list[Path]]:
    """The report's path figures of a run: one per perturbation and scale (a path
    is one block: nothing is unfinished)."""
    groups: dict[tuple, list[InterpolationResult]] = {}
    for path in map(read_interpolation, stored_interpolations(run_dir)):
        key = (path.attrs["perturbation"] or "plain", path.attrs["scale"])
        groups.setdefault(key, []).append(path)
    return [PathGroup(*key, paths) for key, paths in sorted(groups.items())], []
