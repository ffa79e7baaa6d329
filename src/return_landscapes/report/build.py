"""``landscape report``: one HTML page, the figures as PNG, SVG or PDF files
(``format=``) and the statistics as CSV.

Each figure is drawn only when its data exists in the runs; what is missing is named
on the page with the command that computes it.
"""

from __future__ import annotations

import datetime
import io
import logging
from html import escape as html_escape
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure as MplFigure

from return_landscapes import plot, provenance
from return_landscapes import rundir as ckpt
from return_landscapes.conf import ReportConfig, resolve
from return_landscapes.conf.commands import ExperimentKind, attribute, experiment_kinds
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.stats.aggregate import MIN_ENVS, require_rliable
from return_landscapes.landscape.stats.table import (
    check_statistic_options,
    summary_rows,
    write_tables,
)
from return_landscapes.report import figures
from return_landscapes.report.across_envs import aggregate_section
from return_landscapes.report.data import RunData, load_run, missing_pieces
from return_landscapes.report.html import Figure, Section, page, table
from return_landscapes.store import selection as selection_store

logger = logging.getLogger(__name__)

INDEX = "index.html"


def report(config: ReportConfig | dict | None = None, **overrides) -> Path:
    """Build the report of one or more runs.

    Args:
      config: a ``ReportConfig`` (or a mapping of its keys).
      **overrides: its keys, e.g. ``runs=["runs/h"], out="report"``.

    Returns:
      The path of ``index.html``.

    Raises:
      LandscapeError: bad input; no run directory is changed.
    """
    cfg = resolve(ReportConfig, config, **overrides)
    _check(cfg)
    runs = [load_run(Path(r), cfg.threshold, cfg.bins, cfg.alpha) for r in cfg.runs]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    logger.info("report of %d run(s): writing %s", len(runs), out)
    builder = _Builder(cfg, runs, out)
    sections = [
        builder.learning_section(),
        builder.stats_section(),
        builder.scatter_section(),
        selection_section(runs),
        aggregate_section(runs, cfg, out),
        *(builder.kind_section(kind) for kind in experiment_kinds()),
    ]
    missing = [line for run in runs for line in missing_pieces(run)]
    if missing:
        sections.append(Section("What this report lacks", missing=missing))
    meta = [
        f"Generated {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} by "
        f"return-landscapes {package_version()}.",
        f"LTP: fraction of samples below {cfg.threshold:g} x mode (mode: centre of "
        f"the tallest of {cfg.bins} histogram bins); CVaR: mean of the worst "
        f"{cfg.alpha:g} fraction; intervals: {cfg.confidence:.0%} percentile "
        "bootstrap across seeds.",
    ]
    index = out / INDEX
    text = page("Return landscapes report", meta, _runs_table(runs), sections)
    provenance.atomic_write_text(index, text)
    for line in missing:
        logger.info("missing: %s", line)
    logger.info("wrote %s and %d figure(s)", index, len(builder.written))
    return index


def _check(cfg: ReportConfig) -> None:
    if not cfg.runs:
        raise LandscapeError(
            "runs= is required: pass run directories, e.g. runs=[runs/hopper-td3]"
        )
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise LandscapeError(f"out={out} is a file: choose a folder for the report")
    if (out / ckpt.MANIFEST).is_file():
        raise LandscapeError(
            f"out={out} is a run directory: choose another folder for the report"
        )
    if cfg.max_seeds < 1:
        raise LandscapeError(f"max_seeds={cfg.max_seeds} must be at least 1")
    check_statistic_options(cfg.bins, cfg.alpha, cfg.confidence, cfg.resamples)
    _check_aggregate(cfg)
    provenance.check_writable(out, "choose an out= you may write to")


def _check_aggregate(cfg: ReportConfig) -> None:
    """Statistics across envs: their options, and rliable where runs span envs."""
    if cfg.aggregate_reps < 1:
        raise LandscapeError(f"aggregate_reps={cfg.aggregate_reps} must be at least 1")
    if not 0 <= cfg.aggregate_seed < 2**32:
        raise LandscapeError(
            f"aggregate_seed={cfg.aggregate_seed} must lie in [0, 2**32 - 1]"
        )
    manifests = [ckpt.read_manifest(Path(run)) for run in cfg.runs]
    if cfg.aggregate and len({m["env"] for m in manifests}) >= MIN_ENVS:
        require_rliable(" (runs of several envs), or pass aggregate=false")


def _runs_table(runs: list[RunData]) -> str:
    rows = [
        [
            run.name,
            run.manifest["env"],
            run.manifest["algo"],
            run.manifest["num_seeds"],
            f"{run.manifest['steps']:,}",
            ", ".join(f"{s:,}" for s in ckpt.completed_checkpoints(run.run_dir)),
            str(run.run_dir),
        ]
        for run in runs
    ]
    columns = ["run", "env", "algo", "seeds", "steps", "checkpoints", "directory"]
    return table(columns, rows, text_columns=3)


IMAGE_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def _figure_bytes(figure: MplFigure, kind: str) -> bytes:
    buffer = io.BytesIO()
    plot.save_figure(figure, buffer, kind)
    return buffer.getvalue()


def _slug(*parts) -> str:
    text = "_".join(str(p) for p in parts)
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text)


class _Builder:
    """Draws each section's figures, saves them as PNG and keeps their bytes."""

    def __init__(self, cfg: ReportConfig, runs: list[RunData], out: Path):
        self.cfg, self.runs, self.out = cfg, runs, out
        self.written: list[Path] = []
        names = [r.name for r in runs]
        self.names = {
            id(r): r.name if names.count(r.name) == 1 else f"{i}-{r.name}"
            for i, r in enumerate(runs)
        }

    def save(self, figure: MplFigure, filename: str, caption: str) -> Figure:
        """Write ``figure`` in ``cfg.format`` (``filename``'s suffix replaced); the
        page inlines it (a PDF as a PNG preview that links to the PDF)."""
        kind = self.cfg.format.value
        filename = str(Path(filename).with_suffix(f".{kind}"))
        data = _figure_bytes(figure, kind)
        provenance.atomic_write(self.out / filename, lambda tmp: tmp.write_bytes(data))
        self.written.append(self.out / filename)
        if kind == "pdf":  # browsers do not show a PDF in <img>
            return Figure(_figure_bytes(figure, "png"), filename, caption)
        return Figure(data, filename, caption, mime=IMAGE_TYPES[kind])

    def learning_section(self) -> Section:
        section = Section(
            "Learning curves",
            "Evaluation return of the deterministic policy during training.",
        )
        if any(r.curve is not None for r in self.runs):
            fig = figures.learning_curves(self.runs, self.cfg.confidence)
            section.figures.append(
                self.save(fig, "learning_curves.png", "Learning curves")
            )
        else:
            section.missing.append("no run has evaluation records")
        return section

    def stats_section(self) -> Section:
        rows = [row for run in self.runs for row in run.stats]
        section = Section(
            "PURD statistics",
            "Per checkpoint, perturbation and scale: the mean over seeds of each "
            "statistic with its bootstrap interval across seeds. Every seed's row is "
            "in stats.csv, these means in stats_summary.csv.",
        )
        if not rows:
            section.missing.append("no PURD in any run")
            return section
        section.notes = flat_notes(self.runs)
        for line in section.notes:
            logger.warning("warning: %s", line)
        summary = summary_rows(rows, self.cfg.confidence, self.cfg.resamples)
        write_tables(self.out / "stats.csv", rows, summary)
        section.table = table(
            [
                "run",
                "checkpoint",
                "perturb",
                "scale",
                "seeds",
                "samples",
                "mean",
                "LTP",
                "CVaR",
                "unperturbed return",
            ],
            [_summary_cells(e) for e in summary],
            text_columns=1,
        )
        return section

    def scatter_section(self) -> Section:
        section = Section(
            "Mean vs left-tail probability",
            "Each point is one seed at one checkpoint: policies with the same mean "
            "can differ widely in how often one update makes them fail.",
        )
        groups = sorted({(g.perturb, g.scale) for r in self.runs for g in r.purds})
        for perturb, scale in groups:
            fig = figures.mean_vs_ltp(self.runs, perturb, scale)
            section.figures.append(
                self.save(
                    fig,
                    f"{_slug('mean_vs_ltp', perturb, scale)}.png",
                    f"PURD mean vs LTP, perturb={perturb}, scale={scale:g}",
                )
            )
        if not section.figures:
            section.missing.append("no PURD in any run")
        return section

    def kind_section(self, kind: ExperimentKind) -> Section:
        """An experiment kind's section: its figure for each item of each run (a
        PURD group, a path group, a rejection root, a surface, a line)."""
        declared = kind.report
        section = Section(declared.title, declared.intro)
        figure = attribute(declared.figure)
        for run in self.runs:
            for item in run.results[kind.name]:
                drawn = figure(run, item, self.cfg)
                prefix, *parts = drawn.name
                name = _slug(prefix, self.names[id(run)], *parts)
                section.figures.append(
                    self.save(drawn.figure, f"{name}.png", drawn.caption)
                )
        if section.figures:
            return section
        if declared.hint is None:  # optional: say how to add one
            section.intro = declared.absent
        else:
            section.missing.append(declared.absent)
        return section


SELECTION_COLUMNS = ("rank", "checkpoint", "seeds", "mean", "cvar", "ltp")


def selection_section(runs: list[RunData]) -> Section:
    """The tables of ``landscape select`` found in the runs (optional: the intro
    says how to make one where none is stored)."""
    section = Section(
        "Checkpoint selection",
        "Checkpoints ranked by a criterion of their PURDs (landscape select), with "
        "bootstrap intervals; confirm_* columns: the chosen and the best-mean "
        "checkpoints measured again on fresh draws that made no choice.",
    )
    tables = []
    for run in runs:
        for path in selection_store.stored_selections(run.run_dir):
            rows = selection_store.load_selection(path)
            confirm = [c for c in rows[0] if c.startswith("confirm_")] if rows else []
            columns = [*SELECTION_COLUMNS, "marks", *confirm]
            cells = [
                [
                    *(r[c] for c in SELECTION_COLUMNS),
                    _marks(r),
                    *(r[c] for c in confirm),
                ]
                for r in rows
            ]
            tables.append(f"<p>{html_escape(run.name)}: {html_escape(path.name)}</p>")
            tables.append(table(columns, cells, text_columns=0))
    if not tables:
        section.intro = (
            "No selection table: landscape select run=<run> criterion=cvar ranks a "
            "run's checkpoints by their PURDs and confirms the choice on fresh draws."
        )
    section.table = "".join(tables)
    return section


def _marks(row: dict) -> str:
    marks = [
        label
        for key, label in (
            ("chosen", "chosen"),
            ("best_mean", "best mean"),
            ("most_robust", "most robust"),
        )
        if row.get(key) == "True"
    ]
    if row.get("eligible") == "False":
        marks.append("not eligible")
    return ", ".join(marks)


def flat_notes(runs: list[RunData]) -> list[str]:
    """One line per seed x checkpoint whose PURD is of a flat policy."""
    return [
        f"{run.label}, seed {row['seed']} at checkpoint {row['checkpoint']:,} "
        f"({row['perturb']}): {row['flat']}; not analysed"
        for run in runs
        for row in run.stats
        if row.get("flat")
    ]


def _summary_cells(entry: dict) -> list[object]:
    def interval(name, digits):
        value, low, high = entry[name], entry[f"{name}_low"], entry[f"{name}_high"]
        if np.isnan(value):
            return "undefined"
        if np.isnan(low):
            return f"{value:.{digits}f}"
        return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    return [
        entry["run"],
        f"{entry['checkpoint']:,}",
        entry["perturb"],
        f"{entry['scale']:g}",
        entry["seeds"],
        entry["samples"],
        interval("mean", 1),
        interval("ltp", 3) + _flat_count(entry),
        interval("cvar", 1),
        interval("unperturbed_return", 1),
    ]


def _flat_count(entry: dict) -> str:
    flat = entry.get("flat_seeds", 0)
    return f" ({flat} flat)" if flat else ""


def package_version() -> str:
    """This package's installed version."""
    return provenance.package_versions().get("return-landscapes") or ""
