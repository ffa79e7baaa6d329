"""The results store: landscape results as small HDF5 files inside the run directory.

This module holds what every kind of result shares: the block format (attributes of
provenance, atomic writes, one-line errors on reading), scale folder names and
results stored as one block per row. Each experiment kind's own layout, reader and
loader live in a module of this package (``purd``, ``interpolation``, ``rejection``,
``surface``, ``line``), which the kind's registration names (``conf/commands.py``).
Layout under ``<run>/landscape/``::

    purd/<perturb>/scale_<scale>/step_<checkpoint:09d>/seed_<seed:03d>.h5
    interpolate/<perturb>/scale_<scale>/<pair>.h5      (PURDs along the path)
    interpolate/plain/<pair>.h5                        (plain returns only)
    reject/<criterion>/step_<checkpoint:09d>/seed_<seed:03d>/repeat_<r:03d>.h5
    surface/<perturb>/scale_<scale>/<anchors>_grid<grid>[_span<span>[_<directions>]]/row_<i:03d>.h5
    surface/plain/<anchors>_grid<grid>[_span<span>[_<directions>]]/row_<i:03d>.h5
    surface/.../directions.h5                          (the plane's two directions)
    line/<perturb>/scale_<scale>/<anchor>_points<n>_span<span>[_<directions>]/row_<i>.h5
    line/plain/...                                     (one block per point)
    select_<criterion>_<seed0|all_seeds>.csv           (landscape select's table)

Each file is one *block* of a result with the provenance (perturbation, scale,
samples, checkpoint step, seed, package versions, time, ...) in its attributes. PURD
blocks hold one seed, ``(1, num_samples)``; readers stack them into the package-wide
convention ``(num_seeds, num_samples)``. An interpolation block holds one pair of
checkpoints, ``(num_samples, num_points)``; a rejection block one repeat's trace; a
surface block one grid row, ``(num_samples, grid)``, stacked by readers into
``(num_samples, grid, grid)``.

Why one file per seed: every file is written under a temporary name and renamed into
place, so a file that exists is complete, a killed job loses at most the block it was
computing, a re-run skips the blocks that exist, and two jobs writing into the same run
directory at once (a SLURM array) never write the same file or share one, so nothing
is lost. Nothing appends to a shared file. Reading needs numpy and h5py alone.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from return_landscapes._xla import effective_xla_flags
from return_landscapes.errors import LandscapeError
from return_landscapes.provenance import (
    atomic_write,
    hdf5_attribute,
    plain_attribute,
    run_provenance,
)

logger = logging.getLogger(__name__)

RESULT_FORMAT = "return-landscapes/result"
RESULT_FORMAT_VERSION = 1
LANDSCAPE_DIR = "landscape"


class Result(NamedTuple):
    """A stored block: its datasets (numpy) and attributes (plain Python values)."""

    arrays: dict[str, np.ndarray]
    attrs: dict[str, Any]


def provenance() -> dict[str, Any]:
    """Attributes every result carries: format, time, provenance (versions, source
    commit, dirty flag and its source, devices, command line, as JSON text where
    they are not plain values; ``""`` where unknown), XLA flags."""
    return {
        "format": RESULT_FORMAT,
        "format_version": RESULT_FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        **run_provenance(),
        "xla_flags": effective_xla_flags(),
    }


def write_result(
    path: Path, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, Any]
) -> None:
    """Write one block atomically: a temporary file renamed onto ``path``."""

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w", locking=False) as f:
            for name, value in {**provenance(), **attrs}.items():
                f.attrs[name] = hdf5_attribute(value)
            for name, array in arrays.items():
                f.create_dataset(name, data=np.asarray(array))

    atomic_write(Path(path), write)


def read_result(path: Path) -> Result:
    """Read one block; one-line errors for a missing, damaged or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise LandscapeError(f"{path} is missing: compute it first")
    try:
        with h5py.File(path, "r", locking=False) as f:
            attrs = {name: plain_attribute(value) for name, value in f.attrs.items()}
            arrays = {name: f[name][()] for name in f}
    except (OSError, KeyError, ValueError) as err:
        raise LandscapeError(
            f"{path} is corrupt or truncated ({str(err).splitlines()[0][:80]}): "
            "delete it and re-run the command that wrote it"
        ) from None
    if attrs.get("format") != RESULT_FORMAT:
        raise LandscapeError(f"{path} is not a return-landscapes result file")
    version = attrs.get("format_version")
    if version != RESULT_FORMAT_VERSION:
        raise LandscapeError(
            f"{path} has result format version {version}, this return-landscapes "
            f"reads version {RESULT_FORMAT_VERSION}: install the version that wrote it"
        )
    missing = [
        name for name in REQUIRED.get(attrs.get("kind"), ()) if name not in arrays
    ]
    if missing:
        raise LandscapeError(
            f"{path} lacks {', '.join(missing)}: it is damaged; delete it and re-run "
            "the command that wrote it"
        )
    return Result(arrays, attrs)


# The arrays every result of a kind holds (a file without them is damaged).
REQUIRED = {
    "purd": (
        "undiscounted_return",
        "discounted_return",
        "length",
        "unperturbed_return",
        "unperturbed_length",
    ),
}


def scale_name(scale: float) -> str:
    """The folder name of a scale: ``scale_`` and the shortest exact decimal."""
    return f"scale_{float(scale)!r}"


def kind_folder(run_dir: Path, kind: str, perturb: str | None, scale: float) -> Path:
    """``<run>/landscape/<kind>/<perturb>/scale_<scale>``, or ``.../<kind>/plain``
    for a result without a perturbation (plain returns only)."""
    root = Path(run_dir) / LANDSCAPE_DIR / kind
    return root / "plain" if perturb is None else root / perturb / scale_name(scale)


def directions_suffix(directions: str) -> str:
    """The folder-name suffix of a kind of directions (none for ``random``)."""
    return "" if directions == "random" else f"_{directions}"


# --------------------------------------------------------------- row-block results


def row_path(folder: Path, row: int) -> Path:
    """The file of row ``row`` of a result stored as one block per row."""
    return Path(folder) / f"row_{row:03d}.h5"


def stored_row_folders(run_dir: Path, kind: str) -> list[Path]:
    """Every folder of a kind's row-block results holding at least one row."""
    root = Path(run_dir) / LANDSCAPE_DIR / kind
    return sorted({p.parent for p in root.glob("**/row_*.h5")})


def finished_row_folders(folders: list[Path], size: str, read) -> tuple[list, list]:
    """``read`` of each folder holding all its ``size`` row blocks, and the folders
    of the others (rows still to compute)."""
    finished, unfinished = [], []
    for folder in folders:
        rows = sorted(folder.glob("row_*.h5"))
        first = read_result(rows[0]).attrs
        if len(rows) < first[size]:
            unfinished.append(folder)
        else:
            finished.append(read(folder))
    return finished, unfinished


def read_row_blocks(folder: Path, kind: str, size: str) -> tuple[list[Result], dict]:
    """The row blocks of a result, all present, and the first's attrs."""
    command = f"landscape {kind}"
    paths = sorted(p for p in folder.glob("row_*.h5") if not p.name.startswith("."))
    if not paths:
        raise LandscapeError(f"{folder} holds no {kind} rows: compute it first")
    blocks = [read_result(p) for p in paths]
    first = blocks[0].attrs
    if first.get("kind") != kind:
        raise LandscapeError(f"{folder} is not a {kind} result")
    rows = [b.attrs["row"] for b in blocks]
    if rows != list(range(first[size])):
        missing = sorted(set(range(first[size])) - set(rows))
        raise LandscapeError(
            f"{folder} misses rows {missing} of {first[size]}: re-run "
            f"'{command}' with the same options to finish it"
        )
    return blocks, first
