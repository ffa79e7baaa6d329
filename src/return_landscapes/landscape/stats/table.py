"""``landscape stats``: one row of PURD statistics per seed x checkpoint x perturbation.

Writes ``<run>/landscape/stats.csv`` (the columns of ``COLUMNS``; an empty ``ltp``
cell is an undefined LTP: the PURD's mode is 0 or negative; ``flat`` names a policy
whose landscape is flat, e.g. one that falls within a few steps)
and ``<run>/landscape/stats_summary.csv`` (per checkpoint x perturbation x scale: the
mean over seeds of each statistic with its bootstrap confidence interval), and prints
the summary.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import sys
from pathlib import Path

import numpy as np

from return_landscapes import provenance, store
from return_landscapes import rundir as ckpt
from return_landscapes.conf import StatsConfig, resolve
from return_landscapes.conf.quoting import command_option
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.stats import (
    STATISTICS,
    bootstrap_ci,
    purd_statistics,
)
from return_landscapes.landscape.stats.flat import MIN_EPISODE_STEPS, flat_reason
from return_landscapes.store import purd as purd_store

COLUMNS = (
    "run",
    "env",
    "algo",
    "seed",
    "checkpoint",
    "perturb",
    "scale",
    "samples",
    *STATISTICS,
    "unperturbed_return",
    "unperturbed_length",
    "flat",
)
SUMMARY_STATISTICS = (*STATISTICS, "unperturbed_return")
KEY_COLUMNS = ("run", "env", "algo", "checkpoint", "perturb", "scale", "samples")

logger = logging.getLogger(__name__)


def stats_rows(
    run_dir: Path,
    threshold: float = 0.5,
    bins: int = 100,
    alpha: float = 0.1,
    min_episode_steps: int = MIN_EPISODE_STEPS,
) -> list[dict]:
    """Per-seed statistics of every PURD stored in ``run_dir`` (rows of ``COLUMNS``);
    ``flat`` says why a policy's landscape is flat (``flat.flat_reason``: it falls
    before ``min_episode_steps``, or its PURD has no spread), else it is empty."""
    manifest = ckpt.read_manifest(run_dir)
    rows = []
    for key, seeds in purd_store.stored_purds(run_dir).items():
        result = purd_store.load_purd_result(
            run_dir, key.checkpoint, key.perturb, key.scale, sorted(seeds)
        )
        returns = result.arrays["undiscounted_return"]
        horizon = int(result.attrs["horizon"])
        for row_index, seed in enumerate(result.seeds):
            length = float(result.arrays["unperturbed_length"][row_index])
            flat = flat_reason(length, horizon, returns[row_index], min_episode_steps)
            rows.append(
                {
                    "run": Path(run_dir).resolve().name,
                    "env": manifest["env"],
                    "algo": manifest["algo"],
                    "seed": int(seed),
                    "checkpoint": key.checkpoint,
                    "perturb": key.perturb,
                    "scale": key.scale,
                    "samples": returns.shape[1],
                    **purd_statistics(returns[row_index], threshold, bins, alpha),
                    "unperturbed_return": float(
                        result.arrays["unperturbed_return"][row_index]
                    ),
                    "unperturbed_length": length,
                    "flat": flat or "",
                }
            )
    return rows


def heaviest_left_tail(
    run_dir: Path,
    perturb: str,
    scale: float,
    threshold: float = 0.5,
    bins: int = 100,
    from_step: int = 0,
    min_episode_steps: int = MIN_EPISODE_STEPS,
) -> dict:
    """The stats row (seed x checkpoint) with the heaviest left tail of a stored PURD.

    The heaviest tail: the largest LTP, then the lowest CVaR relative to the mean
    (``cvar / mean``), then the later checkpoint, then the lower seed. Only
    checkpoints at or after ``from_step`` count, and never a flat policy (``flat``)
    or one whose LTP is undefined. A natural root for a rejection run or a surface:
    a policy one update away from a fall.

    Raises:
      LandscapeError: no such PURD is stored, or every candidate is flat.
    """
    rows = [
        row
        for row in stats_rows(
            run_dir, threshold, bins, min_episode_steps=min_episode_steps
        )
        if row["perturb"] == perturb
        and row["scale"] == float(scale)
        and row["checkpoint"] >= from_step
    ]
    if not rows:
        raise LandscapeError(
            f"{run_dir} has no PURD perturb={perturb} scale={scale} from step "
            f"{from_step} on: first run: landscape purd "
            f"{command_option('run', run_dir)} perturb={perturb} scale={scale}"
        )
    live = [r for r in rows if not r["flat"] and not math.isnan(r["ltp"])]
    if not live:
        raise LandscapeError(
            f"every PURD perturb={perturb} of {run_dir} from step {from_step} on "
            "is of a flat policy or has an undefined LTP (mode <= 0): train longer "
            "(steps=) or choose later checkpoints"
        )
    return max(live, key=_tail_weight)


def _tail_weight(row: dict) -> tuple:
    relative_cvar = row["cvar"] / row["mean"] if row["mean"] > 0 else math.inf
    return (row["ltp"], -relative_cvar, row["checkpoint"], -row["seed"])


def summary_rows(
    rows: list[dict], confidence: float = 0.95, resamples: int = 10_000
) -> list[dict]:
    """Across seeds: each statistic's mean and bootstrap CI (``<stat>_low/_high``).

    Flat policies (``flat``) are counted in ``flat_seeds`` and left out of the
    statistics; an undefined LTP drops out of its mean. NaN: no value to average.
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in KEY_COLUMNS), []).append(row)
    summary = []
    for key, members in groups.items():
        entry = dict(zip(KEY_COLUMNS, key, strict=True))
        entry["seeds"] = len(members)
        live = [m for m in members if not m.get("flat")]  # flat: not analysed
        entry["flat_seeds"] = len(members) - len(live)
        for name in SUMMARY_STATISTICS:
            values = np.array([m[name] for m in live], dtype=np.float64)
            low, high = bootstrap_ci(values, np.mean, confidence, resamples)
            defined = values[~np.isnan(values)]  # an undefined LTP drops out
            entry[name] = float(defined.mean()) if defined.size else math.nan
            entry[f"{name}_low"] = low
            entry[f"{name}_high"] = high
        summary.append(entry)
    return summary


def write_csv(path: Path, rows: list[dict], columns) -> None:
    """Write ``rows`` as CSV with ``columns``, atomically; NaN (undefined) as an
    empty cell."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: _cell(v) for k, v in row.items()} for row in rows])
    provenance.atomic_write_text(Path(path), buffer.getvalue())


def summary_columns() -> list[str]:
    columns = [*KEY_COLUMNS, "seeds", "flat_seeds"]
    for name in SUMMARY_STATISTICS:
        columns += [name, f"{name}_low", f"{name}_high"]
    return columns


def summary_path_of(path: Path) -> Path:
    return Path(path).with_name(Path(path).stem + "_summary.csv")


def write_tables(path: Path, rows: list[dict], summary: list[dict]) -> Path:
    """Write the per-seed ``rows`` to ``path`` and the ``summary`` beside it as
    ``<stem>_summary.csv``; returns the summary's path."""
    write_csv(path, rows, COLUMNS)
    summary_path = summary_path_of(path)
    write_csv(summary_path, summary, summary_columns())
    return summary_path


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet evaluates these


def _cell(value):
    """A CSV cell: NaN as empty; text that a spreadsheet would read as a formula
    (a run folder named ``=HYPERLINK(...)``) behind a quote, as OWASP advises."""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def check_table_path(path: Path, columns, command: str = "landscape stats") -> None:
    """Refuse to overwrite anything but a table ``command`` wrote (same header)."""
    if path.is_dir():
        raise LandscapeError(f"out={path} is a folder: give the path of a .csv file")
    if not path.exists():
        return
    with open(path, errors="replace") as file:
        header = file.readline().rstrip("\n")
    if header != ",".join(columns):
        raise LandscapeError(
            f"{path} exists and is not a table written by '{command}': choose "
            "another out= (nothing was written)"
        )


def check_statistic_options(
    bins: int, alpha: float, confidence: float, resamples: int
) -> None:
    """One-line errors for statistics options out of range."""
    if bins < 1:
        raise LandscapeError(f"bins={bins} must be at least 1")
    if not 0 < alpha <= 1:
        raise LandscapeError(f"alpha={alpha} must lie in (0, 1]")
    if not 0 < confidence < 1:
        raise LandscapeError(f"confidence={confidence} must lie in (0, 1)")
    if resamples < 1:
        raise LandscapeError(f"resamples={resamples} must be at least 1")


def format_summary(summary: list[dict], confidence: float) -> str:
    """A fixed-width table: one line per checkpoint x perturbation x scale."""

    def cell(entry, name, digits):
        value, low, high = entry[name], entry[f"{name}_low"], entry[f"{name}_high"]
        if math.isnan(value):
            return "undefined"
        if math.isnan(low):
            return f"{value:.{digits}f}"
        return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    header = (
        f"{'checkpoint':>10} {'perturb':>12} {'scale':>8} {'seeds':>5} "
        f"{'samples':>7} {'mean':>26} {'ltp':>20} {'cvar':>26} {'unperturbed':>26}"
    )
    lines = [header]
    for e in summary:
        lines.append(
            f"{e['checkpoint']:>10} {e['perturb']:>12} {e['scale']:>8.2g} "
            f"{e['seeds']:>5} {e['samples']:>7} {cell(e, 'mean', 1):>26} "
            f"{cell(e, 'ltp', 3):>20} {cell(e, 'cvar', 1):>26} "
            f"{cell(e, 'unperturbed_return', 1):>26}"
        )
    lines.append(
        f"means over seeds with {confidence:.0%} bootstrap intervals across seeds"
    )
    return "\n".join(lines)


def stats(config: StatsConfig | dict | None = None, **overrides) -> Path:
    """Tabulate a run's PURD statistics; write the CSV files; log the summary.

    Returns:
      The path of ``stats.csv``.
    """
    out, summary_path, table = tabulate(config, **overrides)
    logger.info(table)
    logger.info("wrote %s and %s", out, summary_path)
    return out


def tabulate(
    config: StatsConfig | dict | None = None, **overrides
) -> tuple[Path, Path, str]:
    """Write ``stats.csv`` and its summary; their paths and the summary as text."""
    cfg = resolve(StatsConfig, config, **overrides)
    _check(cfg)
    run_dir = Path(cfg.run)
    rows = stats_rows(run_dir, cfg.threshold, cfg.bins, cfg.alpha)
    if not rows:
        raise LandscapeError(
            f"{run_dir} has no PURD results yet: first run: landscape purd "
            f"{command_option('run', run_dir)}"
        )
    out = output_path(cfg)
    summary = summary_rows(rows, cfg.confidence, cfg.resamples)
    summary_path = write_tables(out, rows, summary)
    return out, summary_path, format_summary(summary, cfg.confidence)


def print_stats(config: StatsConfig | dict | None = None, **overrides) -> Path:
    """``landscape stats``: write the tables, print the summary on stdout (the
    command's output) and where it wrote them on stderr; returns ``stats.csv``."""
    out, summary_path, table = tabulate(config, **overrides)
    print(table)
    print(f"wrote {out} and {summary_path}", file=sys.stderr)
    return out


def _check(cfg: StatsConfig) -> None:
    if not cfg.run:
        raise LandscapeError(
            "run= is required: pass the out= directory of a 'landscape train' run"
        )
    check_statistic_options(cfg.bins, cfg.alpha, cfg.confidence, cfg.resamples)
    out = output_path(cfg)
    check_table_path(out, COLUMNS)
    check_table_path(summary_path_of(out), summary_columns())
    provenance.check_writable(out.parent, "choose an out= you may write to")


def output_path(cfg: StatsConfig) -> Path:
    """``out=``, or ``<run>/landscape/stats.csv``."""
    return (
        Path(cfg.out) if cfg.out else Path(cfg.run) / store.LANDSCAPE_DIR / "stats.csv"
    )
