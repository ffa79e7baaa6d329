"""``landscape stats`` and ``landscape report``: statistics and figures of stored
results."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

from return_landscapes.conf.ranges import (
    FRACTION,
    Range,
)


class FigureFormat(Enum):
    """File format of the report's figures."""

    png = "png"
    svg = "svg"
    pdf = "pdf"


@dataclass
class StatsConfig:
    """``landscape stats``: a table of PURD statistics, written to ``stats.csv``.

    ``threshold`` and ``bins`` define LTP (mode from a ``bins``-bin histogram);
    ``alpha`` the CVaR level; ``confidence`` and ``resamples`` the bootstrap intervals
    across seeds. ``out`` defaults to ``<run>/landscape/stats.csv``.
    """

    RANGES: ClassVar[dict[str, Range]] = {"threshold": FRACTION}

    run: str | None = None
    """Run directory whose stored PURDs to summarize; required."""
    threshold: float = 0.5
    """LTP counts returns below ``threshold x mode``."""
    bins: int = 100
    """Histogram bins of the mode that LTP uses."""
    alpha: float = 0.1
    """CVaR level: the mean of the worst ``alpha`` fraction of returns."""
    confidence: float = 0.95
    """Level of the bootstrap confidence intervals across seeds."""
    resamples: int = 10_000
    """Bootstrap resamples of the confidence intervals."""
    out: str | None = None
    """CSV file of the table; null: ``<run>/landscape/stats.csv``."""


@dataclass
class ReportConfig:
    """``landscape report``: an HTML page with figures, the PNGs and the stats CSV.

    ``runs`` lists run directories; ``out`` is the report folder (``index.html``, one
    file per figure in ``format``, ``stats.csv`` and ``stats_summary.csv``).
    ``threshold``, ``bins`` and ``alpha`` define LTP and CVaR as for ``landscape
    stats``; ``confidence`` and ``resamples`` the bootstrap intervals across seeds;
    ``max_seeds`` how many seeds a PURD histogram figure shows; ``surface_3d`` adds a
    3-D view to each return surface. Runs of two or more envs also get statistics
    across envs (``aggregate``: IQM and probability of improvement with
    stratified-bootstrap intervals, written to ``aggregate.csv``; needs the
    ``rliable`` extra).
    """

    RANGES: ClassVar[dict[str, Range]] = {"threshold": FRACTION}

    runs: list[str] = field(default_factory=list)
    """Run directories to report on."""
    out: str = "report"
    """Folder of ``index.html``, the PNGs and the stats CSVs."""
    threshold: float = 0.5
    """LTP counts returns below ``threshold x mode``."""
    bins: int = 100
    """Histogram bins of the mode that LTP uses."""
    alpha: float = 0.1
    """CVaR level: the mean of the worst ``alpha`` fraction of returns."""
    confidence: float = 0.95
    """Level of the bootstrap confidence intervals across seeds."""
    resamples: int = 10_000
    """Bootstrap resamples of the confidence intervals."""
    max_seeds: int = 4
    """Seeds (columns) a PURD histogram figure shows."""
    surface_3d: bool = False
    """Add a 3-D view to every return surface figure."""
    format: FigureFormat = FigureFormat.png
    """Figure files: png, svg or pdf (the page shows pdf figures as PNG, linked)."""
    aggregate: bool = True
    """Runs of two or more envs: IQM and P(improvement) across envs (rliable)."""
    aggregate_reps: int = 2_000
    """Stratified-bootstrap resamples of each interval across envs."""
    aggregate_seed: int = 0
    """Seed of those resamples (0 to 2**32 - 1), so aggregate.csv is reproducible."""
