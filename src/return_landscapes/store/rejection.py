"""Rejection results: one trace per repeat,
``reject/<criterion>/step_<checkpoint:09d>/seed_<seed:03d>/repeat_<r:03d>.h5``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

from return_landscapes.errors import LandscapeError
from return_landscapes.store import (
    LANDSCAPE_DIR,
    Result,
    read_result,
)

logger = logging.getLogger(__name__)

KIND = "rejection"  # the blocks' kind
FOLDER = "reject"  # the folder under <run>/landscape/ (the command's name)


def criterion_name(criterion: str, alpha: float, threshold: float) -> str:
    """The folder of a criterion with its level: ``cvar_alpha_0.1``, ``none``."""
    if criterion == "cvar":
        return f"cvar_alpha_{float(alpha)!r}"
    if criterion == "ltp":
        return f"ltp_threshold_{float(threshold)!r}"
    return criterion


def rejection_path(
    run_dir: Path, criterion: str, checkpoint: int, seed: int, repeat: int
) -> Path:
    """The file of one repeat of a rejection run (``criterion`` as a folder name)."""
    return (
        Path(run_dir)
        / LANDSCAPE_DIR
        / FOLDER
        / criterion
        / f"step_{checkpoint:09d}"
        / f"seed_{seed:03d}"
        / f"repeat_{repeat:03d}.h5"
    )


def stored_rejections(run_dir: Path) -> list[Path]:
    """Every rejection trace file of a run (temporary files left out)."""
    root = Path(run_dir) / LANDSCAPE_DIR / FOLDER
    return sorted(
        p
        for p in root.glob("*/step_*/seed_*/repeat_*.h5")
        if not p.name.startswith(".")
    )


def load_rejection(
    run_dir,
    checkpoint: int,
    seed: int = 0,
    criterion: str = "cvar",
    alpha: float = 0.1,
    threshold: float = 0.5,
) -> list[Result]:
    """Every stored repeat of one rejection experiment, in repeat order.

    Each ``Result`` holds one repeat's trace (``arrays``: ``proposed_updates``,
    ``accepted``, ``mean``, ``ltp``, ``cvar``, ``purd_returns`` shaped ``(checks,
    num_samples)``, ...; row 0 is the root checkpoint) and its provenance.
    """
    name = criterion_name(criterion, alpha, threshold)
    folder = rejection_path(run_dir, name, checkpoint, seed, 0).parent
    paths = sorted(folder.glob("repeat_*.h5"))
    if not paths:
        raise LandscapeError(
            f"no {name} rejection stored for checkpoint {checkpoint} seed {seed} in "
            f"{run_dir}: run 'landscape reject' first"
        )
    return [read_result(p) for p in paths]


class RejectionRoot(NamedTuple):
    """The repeats of every criterion run from one root (checkpoint, seed)."""

    checkpoint: int
    seed: int
    repeats: dict[str, list[Result]]  # criterion folder name -> repeats


def rejection_roots(run_dir: Path) -> list[RejectionRoot]:
    """Every stored rejection trace, grouped by root (checkpoint, seed)."""
    roots: dict[tuple[int, int], dict[str, list[Result]]] = {}
    for path in stored_rejections(run_dir):
        result = read_result(path)
        root = (int(result.attrs["checkpoint"]), int(result.attrs["seed"]))
        criterion = path.parents[2].name
        roots.setdefault(root, {}).setdefault(criterion, []).append(result)
    return [
        RejectionRoot(checkpoint, seed, dict(sorted(repeats.items())))
        for (checkpoint, seed), repeats in sorted(roots.items())
    ]


def report_items(run_dir: Path) -> tuple[list[RejectionRoot], list[Path]]:
    """The report's rejection figures of a run: one per root (a repeat is one
    block: nothing is unfinished)."""
    return rejection_roots(run_dir), []
