"""What a report shows, read from run directories: plain numpy, no drawing.

``load_run`` gathers one run's learning curve (``metrics.jsonl``), PURDs, statistics
rows, interpolation paths, rejection traces, surfaces and lines, each as stored, and
lists what is missing so the report can say so (with the command that computes it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from return_landscapes import rundir as ckpt
from return_landscapes import store
from return_landscapes.conf.quoting import command_option
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.stats_table import stats_rows


class LearningCurve(NamedTuple):
    """Evaluation returns: ``steps`` ``(num_evals,)``, ``returns`` ``(num_evals,
    num_seeds)`` (mean undiscounted return of each seed's evaluation episodes)."""

    steps: np.ndarray
    returns: np.ndarray


class PurdGroup(NamedTuple):
    """The PURDs of one perturbation and scale: ``{checkpoint: PurdResult}``."""

    perturb: str
    scale: float
    results: dict[int, store.PurdResult]


class RejectionRoot(NamedTuple):
    """The repeats of every criterion run from one root (checkpoint, seed)."""

    checkpoint: int
    seed: int
    repeats: dict[str, list[store.Result]]  # criterion folder name -> repeats


class RunData(NamedTuple):
    """Everything a report draws from one run directory."""

    run_dir: Path
    name: str
    manifest: dict[str, Any]
    curve: LearningCurve | None
    purds: list[PurdGroup]
    stats: list[dict]  # rows of stats_table.COLUMNS
    interpolations: list[store.InterpolationResult]
    rejections: list[RejectionRoot]
    surfaces: list[store.SurfaceResult]
    unfinished_surfaces: list[Path]  # surface folders with rows still missing
    lines: list[store.LineResult]
    unfinished_lines: list[Path]  # line folders with points still missing

    @property
    def label(self) -> str:
        """``name (env, algo)``, for legends and headings."""
        return f"{self.name} ({self.manifest['env']}, {self.manifest['algo']})"

    @property
    def imported(self) -> bool:
        """A run of ``landscape import``: a policy without training records."""
        return "imported" in self.manifest


def load_run(
    run_dir: Path, threshold: float = 0.5, bins: int = 100, alpha: float = 0.1
) -> RunData:
    """Read what is stored in ``run_dir`` (one-line errors for a bad directory)."""
    run_dir = Path(run_dir)
    manifest = ckpt.read_manifest(run_dir)
    return RunData(
        run_dir,
        run_dir.resolve().name,
        manifest,
        learning_curve(run_dir),
        purd_groups(run_dir),
        stats_rows(run_dir, threshold, bins, alpha),
        [store.read_interpolation(p) for p in store.stored_interpolations(run_dir)],
        rejection_roots(run_dir),
        *surfaces(run_dir),
        *lines(run_dir),
    )


def learning_curve(run_dir: Path) -> LearningCurve | None:
    """The evaluation records of ``metrics.jsonl``, or ``None`` if it has none."""
    path = Path(run_dir) / ckpt.METRICS
    if not path.is_file():
        return None
    steps, returns = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise LandscapeError(
                f"{path} line {number} is not JSON: the file is damaged; delete that "
                "line (training logs are append-only records)"
            ) from None
        if record.get("kind") == "eval":
            steps.append(record["step"])
            returns.append([np.nan if r is None else r for r in record["return"]])
    if not steps:
        return None
    return LearningCurve(np.asarray(steps), np.asarray(returns, dtype=np.float64))


def purd_groups(run_dir: Path) -> list[PurdGroup]:
    """Every stored PURD, grouped by perturbation and scale, checkpoints in order."""
    groups: dict[tuple[str, float], dict[int, store.PurdResult]] = {}
    for key in store.stored_purds(run_dir):
        result = store.load_purd_result(run_dir, key.checkpoint, key.perturb, key.scale)
        groups.setdefault((key.perturb, key.scale), {})[key.checkpoint] = result
    return [
        PurdGroup(perturb, scale, dict(sorted(results.items())))
        for (perturb, scale), results in sorted(groups.items())
    ]


def rejection_roots(run_dir: Path) -> list[RejectionRoot]:
    """Every stored rejection trace, grouped by root (checkpoint, seed)."""
    roots: dict[tuple[int, int], dict[str, list[store.Result]]] = {}
    for path in store.stored_rejections(run_dir):
        result = store.read_result(path)
        root = (int(result.attrs["checkpoint"]), int(result.attrs["seed"]))
        criterion = path.parents[2].name
        roots.setdefault(root, {}).setdefault(criterion, []).append(result)
    return [
        RejectionRoot(checkpoint, seed, dict(sorted(repeats.items())))
        for (checkpoint, seed), repeats in sorted(roots.items())
    ]


def surfaces(run_dir: Path) -> tuple[list[store.SurfaceResult], list[Path]]:
    """Every finished surface of a run, and the folders of unfinished ones."""
    return _finished(store.stored_surfaces(run_dir), "grid", store.read_surface)


def lines(run_dir: Path) -> tuple[list[store.LineResult], list[Path]]:
    """Every finished line of a run (``landscape line``), and the folders of
    unfinished ones."""
    return _finished(store.stored_lines(run_dir), "points", store.read_line)


def _finished(folders: list[Path], size: str, read) -> tuple[list, list[Path]]:
    """``read`` of each folder holding all its ``size`` row blocks; the others."""
    finished, unfinished = [], []
    for folder in folders:
        rows = sorted(folder.glob("row_*.h5"))
        first = store.read_result(rows[0]).attrs
        if len(rows) < first[size]:
            unfinished.append(folder)
        else:
            finished.append(read(folder))
    return finished, unfinished


def missing_pieces(run: RunData) -> list[str]:
    """What the run lacks for a full report, each with the command that adds it.

    An imported run (a policy only: no curve, one checkpoint, nothing to train on)
    is asked for PURDs and surfaces alone. Lines are optional: only unfinished ones
    are listed.
    """
    where = command_option("run", run.run_dir)
    trained = not run.imported
    lacking = {
        "no evaluation records in metrics.jsonl (train with eval_episodes > 0)": (
            trained and run.curve is None
        ),
        f"no PURD: landscape purd {where}": not run.purds,
        f"no interpolation path: landscape interpolate {where} pairs=same_seed "
        "(and pairs=cross_seed)": trained and not run.interpolations,
        f"no rejection trace: landscape reject {where} checkpoint=<step> "
        "criterion=cvar (and criterion=none)": trained and not run.rejections,
        f"no return surface: landscape surface {where} checkpoint=<step> "
        "seed_index=0": not run.surfaces,
    }
    missing = [f"{run.name}: {line}" for line, absent in lacking.items() if absent]
    return missing + unfinished_surfaces(run) + unfinished_lines(run)


def unfinished_surfaces(run: RunData) -> list[str]:
    """A line for each surface of the run with rows still to compute."""
    return [
        f"{run.name}: surface {folder.name} is unfinished: re-run the "
        "'landscape surface' command that started it"
        for folder in run.unfinished_surfaces
    ]


def unfinished_lines(run: RunData) -> list[str]:
    """A line for each return line of the run with points still to compute."""
    return [
        f"{run.name}: line {folder.name} is unfinished: re-run the "
        "'landscape line' command that started it"
        for folder in run.unfinished_lines
    ]
