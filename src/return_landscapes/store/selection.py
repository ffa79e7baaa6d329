"""The tables of ``landscape select``: ``<run>/landscape/select_<criterion>_*.csv``.

A selection is a derived table, not a computed block: ``landscape select`` rewrites it
from the stored PURDs (and its fresh confirming draws) each time it runs.
"""

from __future__ import annotations

import csv
from pathlib import Path

from return_landscapes.errors import LandscapeError
from return_landscapes.store import LANDSCAPE_DIR

PREFIX = "select_"


def selection_path(run_dir: Path, criterion: str, seed_index: int | None) -> Path:
    """Where ``landscape select`` writes its table by default."""
    seeds = "all_seeds" if seed_index is None else f"seed{seed_index}"
    return Path(run_dir) / LANDSCAPE_DIR / f"{PREFIX}{criterion}_{seeds}.csv"


def stored_selections(run_dir: Path) -> list[Path]:
    """The selection tables of a run, by name."""
    return sorted((Path(run_dir) / LANDSCAPE_DIR).glob(f"{PREFIX}*.csv"))


def load_selection(path) -> list[dict[str, str]]:
    """The rows of a table written by ``landscape select``, best first, as text
    (an empty cell: undefined).

    Raises:
      LandscapeError: the file is missing or is not such a table.
    """
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise LandscapeError(
            f"cannot read the selection table {path} ({err}): run landscape select "
            "again"
        ) from None
    if rows and not {"rank", "checkpoint", "chosen"} <= set(rows[0]):
        raise LandscapeError(
            f"{path} is not a table of landscape select (no rank, checkpoint and "
            "chosen columns): run landscape select again"
        )
    return rows
