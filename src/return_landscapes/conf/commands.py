"""Every ``landscape`` command, declared once: the registry the rest is derived from.

A ``Command`` names its config class, its help text and the Python function behind
it; an ``ExperimentKind`` (a landscape experiment: PURD, path, surface, line,
rejection) adds where its results are stored and read (a ``store`` module) and its
section of the report. From these declarations come the command line's usage text
and command table (``cli.py``), the Hydra schemas (``cli.register_configs``), the
old option names ``resolve`` accepts, the package's public names
(``return_landscapes.__init__``), the report's sections and what it lists as missing
(``report/``).

Functions and modules are named as ``"module:attribute"`` text and imported on
first use, as console-script entry points are: the table imports no JAX, and a
command's module is loaded only when it runs.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

from return_landscapes.conf.demo import DemoConfig
from return_landscapes.conf.landscape import (
    InterpolateConfig,
    LineConfig,
    PurdConfig,
    RejectConfig,
    SelectConfig,
    SurfaceConfig,
)
from return_landscapes.conf.report import ReportConfig, StatsConfig
from return_landscapes.conf.train import ImportConfig, TrainConfig


@dataclasses.dataclass(frozen=True)
class Command:
    """One ``landscape`` command.

    Attributes:
      name: the command (``landscape <name>``).
      config: its typed config class (options, defaults, docstrings, ranges).
      summary: what it does, for ``landscape --help`` (lines of up to 62 columns).
      example: a command line that runs it.
      function: ``"module:name"`` of the Python function the command runs with
        the resolved config.
      public: whether that function is a public name of the package root.
      loaders: ``"module:name"`` of public functions that read its results.
      renamed: old option names still accepted (old -> new), with a note.
      checks: ``"module:name"`` of a function that, given the resolved config,
        makes every check the command makes before it computes or writes (one
        ``LandscapeError``); a sweep runs it on every member before the first
        member runs. Empty: the config's ranges are the only checks.
    """

    name: str
    config: type
    summary: str
    example: str
    function: str
    public: bool = True
    loaders: tuple[str, ...] = ()
    renamed: Mapping[str, str] = dataclasses.field(default_factory=dict)
    checks: str = ""


@dataclasses.dataclass(frozen=True)
class ReportSection:
    """An experiment kind's section of ``landscape report``: one figure per item.

    Attributes:
      title: the section's heading.
      intro: what its figures show.
      figure: ``"module:name"`` of ``figure(run, item, cfg) -> ReportFigure``, drawn
        for each item the kind's store module lists (``report_items``).
      absent: what the page says when no run has an item.
      hint: what a run without any item lacks and the command that adds it
        (``{run}`` is the ``run=`` option); ``None``: the kind is optional.
      for_imported: whether a run of ``landscape import`` is asked for it.
    """

    title: str
    intro: str
    figure: str
    absent: str
    hint: str | None = None
    for_imported: bool = True


@dataclasses.dataclass(frozen=True)
class ExperimentKind(Command):
    """A landscape experiment: a command whose results live under
    ``<run>/landscape/<name>/``.

    Attributes:
      results: the ``store`` module of its results (their paths, readers and
        ``report_items``), readable with numpy and h5py alone.
      report: its section of the report.
    """

    results: str = ""
    report: ReportSection | None = None


def attribute(reference: str) -> Any:
    """The object a ``"module:name"`` reference names (the module is imported)."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


COMMANDS: dict[str, Command] = {}
"""Every command by name, in the order ``landscape --help`` lists them."""


def register(command: Command) -> Command:
    """Add a command to the registry (a name declared twice is a mistake)."""
    if command.name in COMMANDS:
        raise ValueError(f"command {command.name!r} is registered twice")
    COMMANDS[command.name] = command
    return command


def experiment_kinds() -> list[ExperimentKind]:
    """The registered landscape experiments, in registry order."""
    return [c for c in COMMANDS.values() if isinstance(c, ExperimentKind)]


def command_of(schema: type) -> Command | None:
    """The command configured by ``schema``, if any."""
    return next((c for c in COMMANDS.values() if c.config is schema), None)


LANDSCAPE = "return_landscapes.landscape.experiments"
FIGURES = "return_landscapes.report.figures"

register(
    Command(
        "demo",
        DemoConfig,
        "the whole pipeline, small: train, PURD, paths, rejection, report",
        "landscape demo     (writes demo/hopper-td3 and demo/report)",
        "return_landscapes.demo:demo",
        public=False,
    )
)
register(
    Command(
        "train",
        TrainConfig,
        "train TD3, SAC or PPO agents, many seeds vmapped, with checkpoints",
        "landscape train env=hopper algo=td3 seeds=4 steps=200000 out=runs/h",
        "return_landscapes.training.loop:train",
        checks="return_landscapes.training.validate:validate",
    )
)
register(
    Command(
        "import",
        ImportConfig,
        "a run directory from a brax.training PPO or SAC parameter file",
        "landscape import source=brax_ppo params=policy.pkl env=hopper",
        "return_landscapes.training.imported:import_policy",
    )
)
register(
    ExperimentKind(
        "purd",
        PurdConfig,
        "post-update return distributions of a run's checkpoints",
        "landscape purd run=runs/h perturb=td3 scale=3e-4 samples=1000",
        f"{LANDSCAPE}.purd:purd",
        checks=f"{LANDSCAPE}.purd:plan_job",
        loaders=("return_landscapes.store.purd:load_purd",),
        renamed={"seed": "sample_seed"},
        results="return_landscapes.store.purd",
        report=ReportSection(
            "Post-update return distributions",
            "Histograms of the returns after one random update, one row per "
            "checkpoint, one column per seed; lines mark the mode, the LTP "
            "threshold, the CVaR and the unperturbed policy's return.",
            f"{FIGURES}:purd_figure",
            "no PURD in any run",
            "no PURD: landscape purd {run}",
        ),
    )
)
register(
    ExperimentKind(
        "interpolate",
        InterpolateConfig,
        "returns and PURDs along straight paths between checkpoints",
        "landscape interpolate run=runs/h pairs=cross_seed points=100",
        f"{LANDSCAPE}.interpolate:interpolate",
        checks=f"{LANDSCAPE}.interpolate:plan_interpolation",
        loaders=("return_landscapes.store.interpolation:load_interpolation",),
        renamed={"seed": "sample_seed"},
        results="return_landscapes.store.interpolation",
        report=ReportSection(
            "Interpolation paths",
            "Return along the straight line a*theta1 + (1-a)*theta2 between two "
            "checkpoints: between checkpoints of one seed (same-seed) and of two "
            "seeds (cross-seed). Thin lines: pairs; thick: their mean.",
            f"{FIGURES}:interpolation_figure",
            "no interpolation path in any run",
            "no interpolation path: landscape interpolate {run} pairs=same_seed "
            "(and pairs=cross_seed)",
            for_imported=False,
        ),
    )
)
register(
    ExperimentKind(
        "reject",
        RejectConfig,
        "post-update CVaR rejection (Algorithm 1) from a checkpoint",
        "landscape reject run=runs/h checkpoint=150000 criterion=cvar",
        f"{LANDSCAPE}.reject:reject",
        checks=f"{LANDSCAPE}.reject:plan_rejection",
        loaders=("return_landscapes.store.rejection:load_rejection",),
        renamed={"seed": "seed_index"},
        results="return_landscapes.store.rejection",
        report=ReportSection(
            "Post-update rejection",
            "Training continued from a checkpoint; after each check the update is "
            "kept or undone by the criterion (none: always kept). Curves show the "
            "kept parameters' PURD estimates, which the criterion selected (biased "
            "upward); the legend compares the final policies on held-out draws no "
            "check used.",
            f"{FIGURES}:rejection_figure",
            "no rejection trace in any run",
            "no rejection trace: landscape reject {run} checkpoint=<step> "
            "criterion=cvar (and criterion=none)",
            for_imported=False,
        ),
    )
)
register(
    ExperimentKind(
        "surface",
        SurfaceConfig,
        "returns (or PURDs) on a 2-D grid in a plane through one checkpoint\n"
        "(directions=random|update|pca|file) or three (through=[...])",
        "landscape surface run=runs/h checkpoint=150000 seed_index=0 grid=21",
        f"{LANDSCAPE}.surface:surface",
        checks=f"{LANDSCAPE}.surface:plan_surface",
        loaders=("return_landscapes.store.surface:load_surface",),
        renamed={"seed": "seed_index"},
        results="return_landscapes.store.surface",
        report=ReportSection(
            "Return surfaces",
            "Returns on a grid in a plane of parameter space: through a checkpoint "
            "(at the centre) along two directions, random, the update direction and "
            "a random one, the first two principal components of the training "
            "trajectory, or read from a file, the axes naming each and its "
            "normalization; or through three checkpoints (at three corners). Stars "
            "mark the checkpoints; a PCA plane shows the training trajectory, an "
            "update plane an arrow along the update; where PURDs were sampled, the "
            "LTP map is beside the mean.",
            f"{FIGURES}:surface_figure",
            "no return surface in any run",
            "no return surface: landscape surface {run} checkpoint=<step> seed_index=0",
        ),
    )
)
register(
    ExperimentKind(
        "line",
        LineConfig,
        "returns (or PURDs) along one direction through a checkpoint",
        "landscape line run=runs/h checkpoint=150000 directions=update",
        f"{LANDSCAPE}.line:line",
        checks=f"{LANDSCAPE}.line:plan_line",
        loaders=("return_landscapes.store.line:load_line",),
        renamed={"seed": "seed_index"},
        results="return_landscapes.store.line",
        report=ReportSection(
            "Return lines",
            "Returns along one direction through a checkpoint (at x = 0, dotted): "
            "the plain return and, where PURDs were sampled, their mean, CVaR and "
            "LTP at each point. The x axis names the direction and its "
            "normalization.",
            f"{FIGURES}:line_figure",
            "No run has a finished return line: 'landscape line run=<run> "
            "checkpoint=<step>' computes returns along one direction.",
        ),
    )
)
register(
    Command(
        "stats",
        StatsConfig,
        "mean, std, median, skew, mode, LTP, CVaR per seed x checkpoint;\n"
        "writes <run>/landscape/stats.csv",
        "landscape stats run=runs/h",
        "return_landscapes.landscape.stats.table:print_stats",
        public=False,
    )
)
register(
    Command(
        "select",
        SelectConfig,
        "rank a run's checkpoints by their PURDs (mean, CVaR, LTP or\n"
        "mean above a CVaR floor), confirmed on fresh draws",
        "landscape select run=runs/h criterion=cvar",
        f"{LANDSCAPE}.select:select",
        loaders=("return_landscapes.store.selection:load_selection",),
    )
)
register(
    Command(
        "report",
        ReportConfig,
        "an HTML page with figures (png, svg or pdf) and the statistics as CSV",
        "landscape report runs=[runs/h] out=report",
        "return_landscapes.report.build:report",
    )
)

SCHEMAS: dict[str, type] = {name: c.config for name, c in COMMANDS.items()}
"""Each command's config class (its Hydra schema)."""
