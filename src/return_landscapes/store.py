"""The results store: landscape results as small HDF5 files inside the run directory.

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
is lost. Nothing appends to a shared file.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from return_landscapes._xla import effective_xla_flags
from return_landscapes.direction_files import DIRECTIONS_FILE, read_directions
from return_landscapes.errors import LandscapeError
from return_landscapes.provenance import (
    atomic_write,
    hdf5_attribute,
    matching_files,
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


# ---------------------------------------------------------------------------- PURD


def scale_name(scale: float) -> str:
    """The folder name of a scale: ``scale_`` and the shortest exact decimal."""
    return f"scale_{float(scale)!r}"


def purd_dir(run_dir: Path, perturb: str, scale: float) -> Path:
    """The folder of one perturbation and scale."""
    return Path(run_dir) / LANDSCAPE_DIR / "purd" / perturb / scale_name(scale)


def purd_path(run_dir: Path, perturb: str, scale: float, checkpoint: int, seed: int):
    """The file of one seed's PURD at one checkpoint."""
    return (
        purd_dir(run_dir, perturb, scale)
        / f"step_{checkpoint:09d}"
        / f"seed_{seed:03d}.h5"
    )


class PurdKey(NamedTuple):
    """What identifies a PURD result inside a run."""

    perturb: str
    scale: float
    checkpoint: int


def stored_purds(run_dir: Path) -> dict[PurdKey, dict[int, Path]]:
    """Every PURD block file of a run: ``{(perturb, scale, checkpoint): {seed: path}}``.

    Temporary files of interrupted writes (names starting with ``.``) are ignored.
    """
    root = Path(run_dir) / LANDSCAPE_DIR / "purd"
    found: dict[PurdKey, dict[int, Path]] = {}
    pattern = r"([^/]+)/scale_([0-9.e+-]+)/step_(\d+)/seed_(\d+)\.h5"
    for match in matching_files(root, "*/scale_*/step_*/seed_*.h5", pattern):
        perturb, scale, step, seed = match.groups()
        try:
            key = PurdKey(perturb, float(scale), int(step))
        except ValueError:
            logger.warning("ignored %s: not a name this tool writes", match.string)
            continue
        found.setdefault(key, {})[int(seed)] = root / match.string
    return dict(sorted(found.items()))


class PurdResult(NamedTuple):
    """A PURD stacked over seeds.

    Attributes:
      seeds: the seed indices, in the run's order, ``(num_seeds,)``.
      arrays: ``undiscounted_return``, ``discounted_return``, ``length`` shaped
        ``(num_seeds, num_samples)``; ``unperturbed_return``,
        ``unperturbed_discounted_return``, ``unperturbed_length`` shaped
        ``(num_seeds,)``.
      attrs: the first block's attributes (provenance shared by every seed).
    """

    seeds: np.ndarray
    arrays: dict[str, np.ndarray]
    attrs: dict[str, Any]


def load_purd_result(
    run_dir: Path,
    checkpoint: int,
    perturb: str,
    scale: float,
    seeds: list[int] | None = None,
) -> PurdResult:
    """Stack the stored blocks of one PURD (every stored seed, or ``seeds``)."""
    stored = stored_purds(run_dir).get(PurdKey(perturb, float(scale), checkpoint), {})
    wanted = sorted(stored) if seeds is None else list(seeds)
    missing = [s for s in wanted if s not in stored]
    if not wanted or missing:
        have = _describe_stored(run_dir)
        what = f"seed(s) {missing}" if missing else "no seed"
        raise LandscapeError(
            f"{run_dir} has {what} for the PURD perturb={perturb} scale={scale} "
            f"checkpoint={checkpoint} (stored: {have}): run 'landscape purd' first"
        )
    blocks = [read_result(stored[s]) for s in wanted]
    sizes = {b.attrs["samples"] for b in blocks}
    if len(sizes) > 1:
        raise LandscapeError(
            f"the seeds of perturb={perturb} scale={scale} checkpoint={checkpoint} "
            f"hold different sample counts {sorted(sizes)}: re-run 'landscape purd' "
            "with overwrite=true"
        )
    arrays = {
        name: np.concatenate([b.arrays[name] for b in blocks])
        for name in blocks[0].arrays
        if name != "seeds"
    }
    return PurdResult(np.asarray(wanted), arrays, blocks[0].attrs)


def _describe_stored(run_dir: Path) -> str:
    keys = list(stored_purds(run_dir))
    if not keys:
        return "none"
    shown = [f"{k.perturb}/{k.scale!r}/{k.checkpoint}" for k in keys[:6]]
    return ", ".join(shown) + (" ..." if len(keys) > 6 else "")


def load_purd(
    run_dir, checkpoint: int, perturb: str, scale: float, seeds: list[int] | None = None
) -> np.ndarray:
    """Undiscounted returns of a PURD, shaped ``(num_seeds, num_samples)``.

    Args:
      run_dir: the run directory (the ``out=`` of ``landscape train``).
      checkpoint: the checkpoint step.
      perturb: the perturbation name, e.g. ``"td3"``.
      scale: the perturbation scale, e.g. ``3e-4``.
      seeds: seed indices to load; by default every seed stored, in the run's order.

    Raises:
      LandscapeError: the result is not stored, or a file is damaged.
    """
    result = load_purd_result(Path(run_dir), checkpoint, perturb, scale, seeds)
    return result.arrays["undiscounted_return"]


# ------------------------------------------------------------------- interpolation


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
    root = Path(run_dir) / LANDSCAPE_DIR / "interpolate"
    return root / "plain" if perturb is None else root / perturb / scale_name(scale)


def interpolation_path(
    first: Endpoint, second: Endpoint, perturb: str | None, scale: float
) -> Path:
    """The file of one path, stored in the first endpoint's run."""
    folder = interpolation_dir(first.run_dir, perturb, scale)
    return folder / f"{pair_name(first, second)}.h5"


def stored_interpolations(run_dir: Path) -> list[Path]:
    """Every interpolation file of a run (temporary files left out)."""
    root = Path(run_dir) / LANDSCAPE_DIR / "interpolate"
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
    if result.attrs.get("kind") != "interpolation":
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


# ----------------------------------------------------------------------- rejection


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
        / "reject"
        / criterion
        / f"step_{checkpoint:09d}"
        / f"seed_{seed:03d}"
        / f"repeat_{repeat:03d}.h5"
    )


def stored_rejections(run_dir: Path) -> list[Path]:
    """Every rejection trace file of a run (temporary files left out)."""
    root = Path(run_dir) / LANDSCAPE_DIR / "reject"
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


# ------------------------------------------------------------------------- surfaces


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
    return f"{name}_span{float(span)!r}" + _directions_suffix(directions)


def _directions_suffix(directions: str) -> str:
    return "" if directions == "random" else f"_{directions}"


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
    root = Path(run_dir) / LANDSCAPE_DIR / "surface"
    folder = root / "plain" if perturb is None else root / perturb / scale_name(scale)
    return folder / surface_name(anchors, grid, span, directions)


def surface_row_path(folder: Path, row: int) -> Path:
    """The file of one row of a surface: the grid points at ``x[row]``."""
    return Path(folder) / f"row_{row:03d}.h5"


def stored_surfaces(run_dir: Path) -> list[Path]:
    """Every surface folder of a run holding at least one row block."""
    root = Path(run_dir) / LANDSCAPE_DIR / "surface"
    folders = {p.parent for p in root.glob("**/row_*.h5")}
    return sorted(folders)


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


SURFACE_ROW_ARRAYS = ("plain_return", "plain_discounted_return", "plain_length")


def read_surface(folder: Path) -> SurfaceResult:
    """Stack a surface's row blocks; one-line errors if rows are missing or damaged."""
    blocks, first = _row_blocks(Path(folder), "surface", "grid")
    arrays = {}
    for name in blocks[0].arrays:
        if name in ("x", "y"):
            continue
        stacked = np.stack([b.arrays[name] for b in blocks])
        # PURD rows are (samples, grid_y): stack on the x axis, samples first
        arrays[name] = stacked if name in SURFACE_ROW_ARRAYS else stacked.swapaxes(0, 1)
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


def _row_blocks(folder: Path, kind: str, size: str) -> tuple[list[Result], dict]:
    """The row blocks of a surface or line, all present, and the first's attrs."""
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


def directions_info(folder: Path) -> dict[str, Any] | None:
    """How a surface's or line's directions were made: ``directions.h5``'s
    attributes and small arrays (not the directions), or ``None`` without one."""
    path = Path(folder) / DIRECTIONS_FILE
    if not path.is_file():
        return None
    directions = read_directions(path)
    info = dict(directions.attrs)
    for name in ("explained_variance",):
        if isinstance(info.get(name), str) and info[name]:
            info[name] = json.loads(info[name])
    return {**info, **directions.arrays}


# ---------------------------------------------------------------------------- lines


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
    root = Path(run_dir) / LANDSCAPE_DIR / "line"
    folder = root / "plain" if perturb is None else root / perturb / scale_name(scale)
    seed, step = anchor
    name = f"s{seed:03d}_c{step:09d}_points{points:03d}_span{float(span)!r}"
    return folder / (name + _directions_suffix(directions))


def stored_lines(run_dir: Path) -> list[Path]:
    """Every line folder of a run holding at least one point block."""
    root = Path(run_dir) / LANDSCAPE_DIR / "line"
    return sorted({p.parent for p in root.glob("**/row_*.h5")})


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
    blocks, first = _row_blocks(Path(folder), "line", "points")
    arrays = {}
    for name in blocks[0].arrays:
        if name in ("x", "y"):
            continue
        stacked = np.stack([b.arrays[name] for b in blocks])  # (points, ..., 1)
        if name in SURFACE_ROW_ARRAYS:
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
