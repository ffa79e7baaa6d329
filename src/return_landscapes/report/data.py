"""What a report shows, read from run directories: plain numpy, no drawing.

``load_run`` gathers one run's learning curve (``metrics.jsonl``), statistics rows
and, for every registered experiment kind (``conf/commands.py``), the items its
report figures draw (``report_items`` of the kind's store module: PURD groups,
paths, rejection roots, surfaces, lines) and its unfinished results; and lists what
is missing so the report can say so (with the command that computes it).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from return_landscapes import rundir as ckpt
from return_landscapes.conf.commands import experiment_kinds
from return_landscapes.conf.quoting import command_option
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.stats.table import stats_rows
from return_landscapes.store.purd import PurdGroup
from return_landscapes.store.rejection import RejectionRoot


class LearningCurve(NamedTuple):
    """Evaluation returns: ``steps`` ``(num_evals,)``, ``returns`` ``(num_evals,
    num_seeds)`` (mean undiscounted return of each seed's evaluation episodes)."""

    steps: np.ndarray
    returns: np.ndarray


class RunData(NamedTuple):
    """Everything a report draws from one run directory.

    ``results`` and ``unfinished`` hold, per experiment kind (its command name), the
    items its figures draw and the folders of results with rows still to compute.
    """

    run_dir: Path
    name: str
    manifest: dict[str, Any]
    curve: LearningCurve | None
    stats: list[dict]  # rows of stats_table.COLUMNS
    results: dict[str, list]
    unfinished: dict[str, list[Path]]

    @property
    def label(self) -> str:
        """``name (env, algo)``, for legends and headings."""
        return f"{self.name} ({self.manifest['env']}, {self.manifest['algo']})"

    @property
    def imported(self) -> bool:
        """A run of ``landscape import``: a policy without training records."""
        return "imported" in self.manifest

    @property
    def purds(self) -> list[PurdGroup]:
        """The run's PURDs, one group per perturbation and scale."""
        return self.results.get("purd", [])

    @property
    def rejections(self) -> list[RejectionRoot]:
        """The run's rejection traces, one group per root."""
        return self.results.get("reject", [])


def load_run(
    run_dir: Path, threshold: float = 0.5, bins: int = 100, alpha: float = 0.1
) -> RunData:
    """Read what is stored in ``run_dir`` (one-line errors for a bad directory)."""
    run_dir = Path(run_dir)
    manifest = ckpt.read_manifest(run_dir)
    results, unfinished = {}, {}
    for kind in experiment_kinds():
        items = importlib.import_module(kind.results).report_items(run_dir)
        results[kind.name], unfinished[kind.name] = items
    return RunData(
        run_dir,
        run_dir.resolve().name,
        manifest,
        learning_curve(run_dir),
        stats_rows(run_dir, threshold, bins, alpha),
        results,
        unfinished,
    )


def learning_curve(run_dir: Path) -> LearningCurve | None:
    """The evaluation records of ``metrics.jsonl``, or ``None`` if it has none."""
    path = Path(run_dir) / ckpt.METRICS
    if not path.is_file():
        return None
    steps, returns = [], []
    for number, line in enumerate(_text_lines(path), start=1):
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


def _text_lines(path: Path) -> list[str]:
    """The lines of the text file ``path``; one-line error naming the first line
    whose bytes are not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        number = data.count(b"\n", 0, err.start) + 1
        raise LandscapeError(
            f"{path} line {number} is not UTF-8 text: the file is damaged; delete "
            "that line (training logs are append-only records)"
        ) from None


def missing_pieces(run: RunData) -> list[str]:
    """What the run lacks for a full report, each with the command that adds it.

    An imported run (a policy only: no curve, one checkpoint, nothing to train on)
    is asked only for the kinds that apply to it; an optional kind (no ``hint``),
    only for its unfinished results.
    """
    where = command_option("run", run.run_dir)
    trained = not run.imported
    lacking = []
    if trained and run.curve is None:
        lacking.append(
            "no evaluation records in metrics.jsonl (train with eval_episodes > 0)"
        )
    for kind in experiment_kinds():
        section = kind.report
        asked = section.hint is not None and (trained or section.for_imported)
        if asked and not run.results[kind.name]:
            lacking.append(section.hint.format(run=where))
    missing = [f"{run.name}: {line}" for line in lacking]
    return missing + unfinished_results(run)


def unfinished_results(run: RunData) -> list[str]:
    """A line for each result of the run with rows still to compute."""
    return [
        f"{run.name}: {kind} {folder.name} is unfinished: re-run the "
        f"'landscape {kind}' command that started it"
        for kind, folders in run.unfinished.items()
        for folder in folders
    ]
