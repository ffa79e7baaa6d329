"""``landscape select``: which checkpoint to ship, judged by its neighbourhood.

Every checkpoint's stored PURD gives its mean, CVaR and LTP with bootstrap intervals:
over the PURD's samples for one seed (its draws are independent given the policy),
over seeds across seeds (a seed is the independent unit; each seed's statistic
counts once). Checkpoints are ranked by the criterion (``rank_checkpoints``, a pure
function of the returns). The statistics that chose a checkpoint are biased in its
favour (the best of several noisy estimates), so the chosen and the best-mean
checkpoints are then measured again on fresh draws (``confirm_*`` columns), and the
choice is said to hold only if it still scores at least as well there.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from pathlib import Path

import numpy as np

from return_landscapes.conf import PurdConfig, SelectConfig, SelectCriterion, resolve
from return_landscapes.conf.quoting import command_option
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.checks import (
    chosen_checkpoints,
    chosen_seeds,
    open_run,
)
from return_landscapes.landscape.experiments.purd import fresh_purds
from return_landscapes.landscape.job import default_perturbation
from return_landscapes.landscape.stats import (
    cvar,
    left_tail_probability,
    purd_statistics,
)
from return_landscapes.landscape.stats.flat import MIN_EPISODE_STEPS, flat_reason
from return_landscapes.landscape.stats.table import check_table_path
from return_landscapes.landscape.stats.units import (
    mean_over_units,
    unit_interval,
)
from return_landscapes.provenance import atomic_write_text
from return_landscapes.store import purd as purd_store
from return_landscapes.store import selection as selection_store

logger = logging.getLogger(__name__)

RANKED = ("mean", "cvar", "ltp")
COLUMNS = (
    "rank",
    "checkpoint",
    "seeds",
    "samples",
    *(f"{name}{end}" for name in RANKED for end in ("", "_low", "_high")),
    "eligible",
    "chosen",
    "best_mean",
    "most_robust",
    *(f"confirm_{name}" for name in RANKED),
)
HIGHER_IS_BETTER = {"mean": True, "cvar": True, "ltp": False}


def select(config: SelectConfig | dict | None = None, **overrides) -> Path:
    """Rank a run's checkpoints by their PURDs, confirm on fresh draws, write a CSV.

    Args:
      config: a ``SelectConfig`` (or a mapping of its keys).
      **overrides: its keys, e.g. ``run="runs/h", criterion="cvar"``.

    Returns:
      The CSV file of the ranked table.

    Raises:
      LandscapeError: bad input; nothing stored is changed.
    """
    cfg = resolve(SelectConfig, config, **overrides)
    _check(cfg)
    run_dir, run_cfg = open_run(cfg.run)
    group = _purd_group(run_dir, run_cfg, cfg)
    seeds = _seeds(group, run_cfg, cfg)
    samples = next(iter(group.results.values())).arrays["undiscounted_return"].shape[1]
    purds = {  # a checkpoint without a stored PURD (every seed flat): no live seed
        step: _live_returns(group.results[step], seeds)
        if step in group.results
        else np.empty((0, samples))
        for step in chosen_checkpoints(None, run_dir)
    }
    out = _output_path(cfg, run_dir)
    check_table_path(out, COLUMNS, "landscape select")
    rows = rank_checkpoints(purds, len(seeds), cfg)
    attrs = next(iter(group.results.values())).attrs
    confirm = _confirm(cfg, group, attrs, rows, seeds)
    for row in rows:
        row.update(confirm.get(row["checkpoint"], {}))
    _write_csv(out, rows)
    print(format_table(rows, cfg, group, seeds))
    for line in verdict_lines(rows, cfg, confirm):
        print(line)
    logger.info("wrote %s", out)
    return out


# ---------------------------------------------------------------------- checking


def _check(cfg: SelectConfig) -> None:
    if cfg.run is None:
        raise LandscapeError("run= is required: the run whose checkpoints to rank")
    floored = SelectCriterion(cfg.criterion) is SelectCriterion.floored_mean
    if floored and cfg.cvar_floor is None:
        raise LandscapeError(
            "criterion=floored_mean needs cvar_floor=<return>: the CVaR a checkpoint "
            "must reach to be chosen"
        )
    if cfg.cvar_floor is not None and not math.isfinite(cfg.cvar_floor):
        raise LandscapeError(f"cvar_floor={cfg.cvar_floor} must be a finite return")
    if cfg.confirm_samples is not None and cfg.confirm_samples < 0:
        raise LandscapeError(
            f"confirm_samples={cfg.confirm_samples} must be 0 (no confirmation) or more"
        )
    if cfg.out is not None and not str(cfg.out).endswith(".csv"):
        raise LandscapeError(f"out={cfg.out} must name a .csv file")


def _purd_group(run_dir: Path, run_cfg, cfg: SelectConfig) -> purd_store.PurdGroup:
    groups = purd_store.purd_groups(run_dir)
    if not groups:
        raise LandscapeError(
            f"{run_dir} has no stored PURD to rank its checkpoints by: first run "
            f"landscape purd {command_option('run', run_dir)}"
        )
    named = [g for g in groups if cfg.perturb in (None, g.perturb)]
    if cfg.perturb is None and len({g.perturb for g in groups}) > 1:
        own = default_perturbation(run_cfg)
        named = [g for g in groups if g.perturb == own]
    named = [g for g in named if cfg.scale is None or g.scale == float(cfg.scale)]
    stored = ", ".join(f"perturb={g.perturb} scale={g.scale!r}" for g in groups)
    if len(named) != 1:
        what = "none" if not named else "several"
        raise LandscapeError(
            f"{what} of the stored PURDs of {run_dir} match (stored: {stored}): pass "
            "perturb= and scale= to pick one"
        )
    return named[0]


def _seeds(group: purd_store.PurdGroup, run_cfg, cfg: SelectConfig) -> list[int]:
    stored = sorted({int(s) for r in group.results.values() for s in r.seeds})
    if cfg.seed_index is None:
        return stored
    chosen_seeds([cfg.seed_index], run_cfg.seeds)
    if cfg.seed_index not in stored:
        raise LandscapeError(
            f"seed_index={cfg.seed_index} has no stored PURD (seeds with one: "
            f"{stored}): choose one of them, or run landscape purd for that seed"
        )
    return [cfg.seed_index]


def _live_returns(result: purd_store.PurdResult, seeds: list[int]) -> np.ndarray:
    """The PURD returns ``(live seeds, samples)`` of the wanted seeds that are stored
    and not flat (a policy that falls, or a PURD without spread)."""
    horizon = int(result.attrs["horizon"])
    rows = []
    for row, seed in enumerate(result.seeds.tolist()):
        length = float(result.arrays["unperturbed_length"][row])
        values = result.arrays["undiscounted_return"][row]
        flat = flat_reason(length, horizon, values, MIN_EPISODE_STEPS)
        if seed in seeds and not flat:
            rows.append(values)
    samples = result.arrays["undiscounted_return"].shape[1]
    return np.array(rows).reshape(len(rows), samples)


def _output_path(cfg: SelectConfig, run_dir: Path) -> Path:
    if cfg.out is not None:
        return Path(cfg.out)
    criterion = SelectCriterion(cfg.criterion).value
    return selection_store.selection_path(run_dir, criterion, cfg.seed_index)


# ---------------------------------------------------------------------- ranking


def _statistic(name: str, cfg: SelectConfig):
    if name == "mean":
        return np.mean
    if name == "cvar":
        return lambda values: cvar(values, cfg.alpha)
    return lambda values: left_tail_probability(values, cfg.threshold, cfg.bins)


def checkpoint_statistics(live: np.ndarray, cfg) -> dict:
    """Mean, CVaR and LTP of one checkpoint with their intervals.

    Args:
      live: ``(seeds, samples)`` PURD returns of the checkpoint's analysed seeds.
      cfg: ``alpha``, ``threshold``, ``bins``, ``confidence``, ``resamples``.

    One seed: a percentile bootstrap over its samples. Several: each seed's
    statistic, their mean and a BCa interval over seeds (an undefined LTP drops).
    """
    row: dict = {"seeds": int(live.shape[0]), "samples": int(live.shape[1])}
    for name in RANKED:
        if live.shape[0] == 0:
            estimate = (math.nan, math.nan, math.nan)
        elif live.shape[0] == 1:
            found = unit_interval(
                live[0],
                range(live.shape[1]),
                _statistic(name, cfg),
                cfg.confidence,
                cfg.resamples,
            )
            estimate = (found.estimate, found.low, found.high)
        else:
            per_seed = [_statistic(name, cfg)(values) for values in live]
            found = mean_over_units(
                per_seed, range(len(per_seed)), cfg.confidence, cfg.resamples
            )
            estimate = (found.estimate, found.low, found.high)
        row[name], row[f"{name}_low"], row[f"{name}_high"] = estimate
    return row


def rank_checkpoints(purds: dict[int, np.ndarray], seeds: int, cfg) -> list[dict]:
    """Rows of ``COLUMNS`` (without ``confirm_*``), best first by ``cfg.criterion``.

    Args:
      purds: per checkpoint, the returns ``(live seeds, samples)`` of its seeds
        with a PURD that are not flat.
      seeds: how many seeds are ranked (a checkpoint with fewer live ones has a
        seed whose policy falls, or no PURD).
      cfg: ``criterion``, ``cvar_floor`` and what ``checkpoint_statistics`` reads.

    ``eligible``: every seed of the checkpoint is live, its statistic is defined,
    and with ``floored_mean`` its CVaR reaches ``cfg.cvar_floor``; the chosen
    checkpoint is the best eligible one. ``best_mean``: the highest mean;
    ``most_robust``: the highest CVaR.
    """
    criterion = SelectCriterion(cfg.criterion)
    rows = []
    for step, returns in sorted(purds.items()):
        row = {"checkpoint": int(step), **checkpoint_statistics(returns, cfg)}
        row["eligible"] = row["seeds"] == seeds and _eligible(row, criterion, cfg)
        rows.append(row)
    key = _ranked_statistic(cfg)
    sign = 1.0 if HIGHER_IS_BETTER[key] else -1.0

    def order(row):  # eligible first, then best value first, then earlier
        value = row[key]
        return (not row["eligible"], -sign * value if row["eligible"] else 0.0)

    rows.sort(key=lambda r: (*order(r), r["checkpoint"]))
    analysed = [r for r in rows if not math.isnan(r["mean"])]
    best_mean = max(analysed, key=lambda r: r["mean"], default=None)
    robust = max(
        (r for r in analysed if not math.isnan(r["cvar"])),
        key=lambda r: r["cvar"],
        default=None,
    )
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
        row["chosen"] = rank == 1 and row["eligible"]
        row["best_mean"] = row is best_mean
        row["most_robust"] = row is robust
    return rows


def _eligible(row: dict, criterion: SelectCriterion, cfg) -> bool:
    if math.isnan(row["mean"]):
        return False
    if criterion is SelectCriterion.floored_mean:
        return row["cvar"] >= cfg.cvar_floor
    return not math.isnan(row[criterion.value])


# ----------------------------------------------------------------- confirmation


def _confirm(cfg, group, attrs, rows, seeds) -> dict[int, dict]:
    """Fresh PURDs of the chosen and best-mean checkpoints: ``{step: confirm_*}``."""
    samples = (
        int(attrs["samples"]) if cfg.confirm_samples is None else cfg.confirm_samples
    )
    picked = sorted({r["checkpoint"] for r in rows if r["chosen"] or r["best_mean"]})
    if samples == 0 or not picked:
        return {}
    sample_seed = (
        int(attrs.get("sample_seed", 0)) + 1
        if cfg.confirm_seed is None
        else cfg.confirm_seed
    )
    options = {
        key: attrs[key]
        for key in ("sampled_actions", "per_sample_env_seeds")
        if key in attrs
    }
    purd_cfg = PurdConfig(
        run=cfg.run,
        perturb=group.perturb,
        scale=group.scale,
        samples=samples,
        sample_seed=sample_seed,
        horizon=int(attrs["horizon"]),
        gamma=float(attrs["gamma"]),
        chunk=cfg.chunk,
        progress=cfg.progress,
        **options,
    )
    logger.info(
        "confirming checkpoint(s) %s on %d fresh draws (sample_seed=%d)",
        picked,
        samples,
        sample_seed,
    )
    fresh = fresh_purds(purd_cfg, picked, seeds)
    out = {}
    for step, returns in fresh.items():
        per_seed = [
            purd_statistics(v, cfg.threshold, cfg.bins, cfg.alpha) for v in returns
        ]
        out[step] = {
            f"confirm_{name}": _mean_defined([s[name] for s in per_seed])
            for name in RANKED
        }
    return out


def _mean_defined(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


# ------------------------------------------------------------------------ output


def _write_csv(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k, "")) for k in COLUMNS})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, buffer.getvalue())


def _cell(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def _interval_text(row: dict, name: str, digits: int) -> str:
    value, low, high = row[name], row[f"{name}_low"], row[f"{name}_high"]
    if math.isnan(value):
        return "undefined"
    if math.isnan(low):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def format_table(rows: list[dict], cfg, group, seeds: list[int]) -> str:
    """The console table: one line per checkpoint, best first."""
    who = (
        f"seed {seeds[0]}"
        if cfg.seed_index is not None
        else f"{len(seeds)} seed(s) with a PURD"
    )
    lines = [
        f"checkpoints of {who} by {SelectCriterion(cfg.criterion).value} "
        f"(perturb={group.perturb} scale={group.scale:g}; "
        f"{cfg.confidence:.0%} intervals)",
        f"{'rank':>4} {'checkpoint':>11} {'mean':>26} {'CVaR':>26} {'LTP':>22}  marks",
    ]
    for row in rows:
        marks = [
            label
            for key, label in (
                ("chosen", "chosen"),
                ("best_mean", "best mean"),
                ("most_robust", "most robust"),
            )
            if row[key]
        ]
        if not row["eligible"]:
            marks.append("not eligible")
        mean, tail = _interval_text(row, "mean", 1), _interval_text(row, "cvar", 1)
        lines.append(
            f"{row['rank']:>4} {row['checkpoint']:>11,} {mean:>26} {tail:>26} "
            f"{_interval_text(row, 'ltp', 3):>22}  {', '.join(marks)}"
        )
    return "\n".join(lines)


def verdict_lines(rows: list[dict], cfg, confirm: dict[int, dict]) -> list[str]:
    """What the table says: the choice, whether the best-mean checkpoint is the most
    robust, and whether the choice holds on fresh draws."""
    chosen = next((r for r in rows if r["chosen"]), None)
    best = next((r for r in rows if r["best_mean"]), None)
    robust = next((r for r in rows if r["most_robust"]), None)
    lines = (
        [f"chosen: checkpoint {chosen['checkpoint']:,}"]
        if chosen is not None
        else ["no checkpoint is eligible: none can be chosen by this criterion"]
    )
    if best is not None and robust is not None and best is not robust:
        lines.append(
            f"the best-mean checkpoint ({best['checkpoint']:,}) is not the most "
            f"robust ({robust['checkpoint']:,} has the highest CVaR)"
        )
    if chosen is None or chosen["checkpoint"] not in confirm:
        return lines
    key = _ranked_statistic(cfg)
    fresh = confirm[chosen["checkpoint"]][f"confirm_{key}"]
    lines.append(
        f"on fresh draws the chosen checkpoint's {key} is {fresh:.4g} (selected "
        f"estimate {chosen[key]:.4g})"
    )
    if best is None or best is chosen:
        return lines
    theirs = confirm[best["checkpoint"]][f"confirm_{key}"]
    better = fresh >= theirs if HIGHER_IS_BETTER[key] else fresh <= theirs
    holds = "holds" if better else "does not hold"
    lines.append(
        f"on fresh draws the choice {holds}: {key} {fresh:.4g} at "
        f"{chosen['checkpoint']:,} against {theirs:.4g} at the best-mean "
        f"{best['checkpoint']:,}"
    )
    return lines


def _ranked_statistic(cfg) -> str:
    """The statistic a criterion ranks by (``floored_mean``: the mean)."""
    criterion = SelectCriterion(cfg.criterion)
    return "mean" if criterion is SelectCriterion.floored_mean else criterion.value
