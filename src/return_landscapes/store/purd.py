"""PURD results: one block per seed and checkpoint,
``purd/<perturb>/scale_<scale>/step_<checkpoint:09d>/seed_<seed:03d>.h5``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from return_landscapes.errors import LandscapeError
from return_landscapes.provenance import matching_files, note_ignored
from return_landscapes.store import (
    LANDSCAPE_DIR,
    kind_folder,
    read_result,
)

KIND = "purd"  # the blocks' kind and the folder under <run>/landscape/


def purd_dir(run_dir: Path, perturb: str, scale: float) -> Path:
    """The folder of one perturbation and scale."""
    return kind_folder(run_dir, KIND, perturb, scale)


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
    root = Path(run_dir) / LANDSCAPE_DIR / KIND
    found: dict[PurdKey, dict[int, Path]] = {}
    pattern = r"([^/]+)/scale_([0-9.e+-]+)/step_(\d+)/seed_(\d+)\.h5"
    for match in matching_files(root, "*/scale_*/step_*/seed_*.h5", pattern):
        perturb, scale, step, seed = match.groups()
        try:
            key = PurdKey(perturb, float(scale), int(step))
        except ValueError:
            note_ignored(root / match.string)
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


class PurdGroup(NamedTuple):
    """The PURDs of one perturbation and scale: ``{checkpoint: PurdResult}``."""

    perturb: str
    scale: float
    results: dict[int, PurdResult]


def purd_groups(run_dir: Path) -> list[PurdGroup]:
    """Every stored PURD, grouped by perturbation and scale, checkpoints in order."""
    groups: dict[tuple[str, float], dict[int, PurdResult]] = {}
    for key in stored_purds(run_dir):
        result = load_purd_result(run_dir, key.checkpoint, key.perturb, key.scale)
        groups.setdefault((key.perturb, key.scale), {})[key.checkpoint] = result
    return [
        PurdGroup(perturb, scale, dict(sorted(results.items())))
        for (perturb, scale), results in sorted(groups.items())
    ]


def report_items(run_dir: Path) -> tuple[list[PurdGroup], list[Path]]:
    """The report's PURD figures of a run: one per perturbation and scale (PURD
    blocks are complete one by one: nothing is unfinished)."""
    return purd_groups(run_dir), []
