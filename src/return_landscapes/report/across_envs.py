"""Statistics across envs for a report of runs on several envs: ``aggregate.csv``.

One row per statistic; ``statistic`` says which:

* ``iqm``: the interquartile mean across envs of a per-seed PURD statistic
  (``metric``: ``mean``, ``ltp``, ``cvar``, or ``mean_relative`` and
  ``cvar_relative``, the mean and CVaR divided by the seed's unperturbed return)
  of the PURDs of one ``algo``, ``perturb`` and ``scale`` at ``checkpoint`` (a step
  that two or more envs share, or ``last``: each run's last PURD checkpoint);
* ``probability_of_improvement``: P(``criterion`` rejection improves on ``baseline``
  (``none``) rejection) across envs, ``metric`` ``cvar`` (CVaR gained from the root
  to the last kept parameters) or ``ltp`` (left-tail probability shed), over the
  repeats of every root (checkpoint, seed) that has both criteria with the same
  settings; ``checkpoint`` is empty.

``estimate``, ``ci_low`` and ``ci_high`` are rliable's point estimate and
``confidence`` percentile stratified-bootstrap interval (``reps`` resamples, seed
``bootstrap_seed``); ``n_envs`` and ``envs`` the envs in the score matrix;
``n_runs`` its runs per env (seeds, or repeats of ``criterion``),
``n_runs_baseline`` those of ``baseline``; ``left_out`` the scores not used
(non-finite, flat policies, an env with fewer than 2, or beyond the common count).
Runs of one env and algorithm count as more runs of that env.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from return_landscapes.conf import ReportConfig
from return_landscapes.landscape.stats.aggregate import (
    MIN_ENVS,
    ScoreMatrix,
    improvement_interval,
    iqm_interval,
    paired_matrices,
    rejection_gain,
    relative_to,
    score_matrix,
)
from return_landscapes.landscape.stats.table import write_csv
from return_landscapes.report.data import RunData
from return_landscapes.report.html import Section, table

AGGREGATE_CSV = "aggregate.csv"
METRICS = ("mean", "ltp", "cvar", "mean_relative", "cvar_relative")
REJECTION_METRICS = ("cvar", "ltp")
BASELINE = "none"
# settings a criterion's repeats and the baseline's must share to be compared
PAIRED_SETTINGS = (
    "perturbation",
    "scale",
    "alpha",
    "threshold",
    "bins",
    "samples",
    "max_steps",
    "check_interval",
)
COLUMNS = (
    "statistic",
    "metric",
    "algo",
    "perturb",
    "scale",
    "checkpoint",
    "criterion",
    "baseline",
    "estimate",
    "ci_low",
    "ci_high",
    "confidence",
    "n_envs",
    "envs",
    "n_runs",
    "n_runs_baseline",
    "left_out",
    "reps",
    "bootstrap_seed",
)

Scores = dict[tuple, dict[str, list[float]]]  # group -> env -> one score per run


def envs_of(runs: Iterable[RunData]) -> list[str]:
    """The distinct envs of ``runs``, sorted."""
    return sorted({run.manifest["env"] for run in runs})


def seed_scores(row: dict) -> dict[str, float]:
    """The scores of ``METRICS`` of one stats row; NaN for a flat policy."""
    if row.get("flat"):
        return dict.fromkeys(METRICS, math.nan)
    unperturbed = row["unperturbed_return"]
    return {
        "mean": row["mean"],
        "ltp": row["ltp"],
        "cvar": row["cvar"],
        "mean_relative": float(relative_to(row["mean"], unperturbed)),
        "cvar_relative": float(relative_to(row["cvar"], unperturbed)),
    }


def purd_scores(runs: Iterable[RunData]) -> dict[tuple, dict[str, list[dict]]]:
    """``{(algo, perturb, scale, checkpoint): {env: [seed_scores per seed]}}``,
    ``checkpoint`` a step or ``last`` (each run's last PURD checkpoint)."""
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for run in runs:
        rows = sorted(
            run.stats,
            key=lambda r: (r["perturb"], r["scale"], r["checkpoint"], r["seed"]),
        )
        last: dict[tuple, int] = {}
        for row in rows:
            key = (row["perturb"], row["scale"])
            last[key] = max(last.get(key, row["checkpoint"]), row["checkpoint"])
        for row in rows:
            base = (row["algo"], row["perturb"], row["scale"])
            scores = seed_scores(row)
            steps = [row["checkpoint"]]
            if row["checkpoint"] == last[row["perturb"], row["scale"]]:
                steps.append("last")
            for step in steps:
                groups.setdefault((*base, step), {}).setdefault(row["env"], [])
                groups[(*base, step)][row["env"]].append(scores)
    return groups


def rejection_scores(runs: Iterable[RunData]) -> dict[tuple, tuple[Scores, Scores]]:
    """``{(algo, criterion, perturb, scale): (criterion's, baseline's)}``, each
    ``{metric: {env: [rejection_gain per repeat]}}``, over the roots that have both
    with the same ``PAIRED_SETTINGS``."""
    found: dict[tuple, tuple[Scores, Scores]] = {}
    for run in runs:
        env, algo = run.manifest["env"], run.manifest["algo"]
        for root in run.rejections:
            baseline = root.repeats.get(BASELINE)
            for criterion, repeats in root.repeats.items():
                if criterion == BASELINE or not baseline:
                    continue
                settings = _settings(repeats[0])
                paired = [r for r in baseline if _settings(r) == settings]
                if not paired:
                    continue
                key = (algo, criterion, settings[0], settings[1])
                x, y = found.setdefault(key, ({}, {}))
                for metric in REJECTION_METRICS:
                    x.setdefault(metric, {}).setdefault(env, []).extend(
                        rejection_gain(r.arrays, metric) for r in repeats
                    )
                    y.setdefault(metric, {}).setdefault(env, []).extend(
                        rejection_gain(r.arrays, metric) for r in paired
                    )
    return found


def _settings(result) -> tuple:
    return tuple(result.attrs.get(name) for name in PAIRED_SETTINGS)


def _step_order(key: tuple) -> tuple:
    algo, perturb, scale, step = key
    return (algo, perturb, scale, step == "last", 0 if step == "last" else step)


def iqm_rows(runs: list[RunData], cfg: ReportConfig) -> tuple[list[dict], list[str]]:
    """The ``iqm`` rows of ``aggregate.csv``, and a line per group of two or more
    envs that had too few finite scores for an aggregate."""
    rows, undefined = [], []
    groups = purd_scores(runs)
    for key in sorted(groups, key=_step_order):
        per_env = groups[key]
        if len(per_env) < MIN_ENVS:
            continue
        algo, perturb, scale, step = key
        for metric in METRICS:
            matrix = score_matrix(
                {e: [s[metric] for s in v] for e, v in per_env.items()}
            )
            where = {"algo": algo, "perturb": perturb, "scale": scale}
            where["checkpoint"] = step
            if not matrix.defined:
                undefined.append(_undefined_line("IQM", metric, where))
                continue
            interval = iqm_interval(
                matrix.scores, cfg.aggregate_reps, cfg.aggregate_seed, cfg.confidence
            )
            rows.append(_row(cfg, "iqm", metric, where, interval, matrix, None))
    return rows, undefined


def improvement_rows(
    runs: list[RunData], cfg: ReportConfig
) -> tuple[list[dict], list[str]]:
    """The ``probability_of_improvement`` rows of ``aggregate.csv``, and a line per
    comparison of two or more envs with too few finite scores."""
    rows, undefined = [], []
    found = rejection_scores(runs)
    for key in sorted(found):
        algo, criterion, perturb, scale = key
        x, y = found[key]
        if len(set(x[REJECTION_METRICS[0]]) & set(y[REJECTION_METRICS[0]])) < MIN_ENVS:
            continue
        where = {"algo": algo, "perturb": perturb, "scale": scale}
        where |= {"criterion": criterion, "baseline": BASELINE}
        for metric in REJECTION_METRICS:
            matrices = matrix_x, matrix_y = paired_matrices(x[metric], y[metric])
            if not matrix_x.defined:
                undefined.append(_undefined_line("P(improvement)", metric, where))
                continue
            interval = improvement_interval(
                matrix_x.scores,
                matrix_y.scores,
                cfg.aggregate_reps,
                cfg.aggregate_seed,
                cfg.confidence,
            )
            statistic = "probability_of_improvement"
            rows.append(_row(cfg, statistic, metric, where, interval, *matrices))
    return rows, undefined


def _row(cfg, statistic, metric, where, interval, matrix: ScoreMatrix, baseline):
    left_out = matrix.left_out + (baseline.left_out if baseline else 0)
    return {
        "statistic": statistic,
        "metric": metric,
        "checkpoint": "",
        "criterion": "",
        "baseline": "",
        **where,
        "estimate": interval.estimate,
        "ci_low": interval.low,
        "ci_high": interval.high,
        "confidence": cfg.confidence,
        "n_envs": len(matrix.envs),
        "envs": ";".join(matrix.envs),
        "n_runs": matrix.scores.shape[0],
        "n_runs_baseline": baseline.scores.shape[0] if baseline else "",
        "left_out": left_out,
        "reps": cfg.aggregate_reps,
        "bootstrap_seed": cfg.aggregate_seed,
    }


def _undefined_line(name: str, metric: str, where: dict) -> str:
    place = ", ".join(f"{k}={v}" for k, v in where.items() if k != "baseline")
    return (
        f"{name} of {metric} ({place}): fewer than {MIN_ENVS} envs with 2 finite "
        "scores or more; not defined"
    )


def aggregate_rows(runs: list[RunData], cfg: ReportConfig) -> tuple[list, list]:
    """Every row of ``aggregate.csv`` (IQM rows first), and a line for each
    statistic that is not defined. Only finite numbers reach a row."""
    iqm, undefined_iqm = iqm_rows(runs, cfg)
    improvement, undefined_improvement = improvement_rows(runs, cfg)
    rows, undefined = [], [*undefined_iqm, *undefined_improvement]
    for row in [*iqm, *improvement]:
        if np.isfinite([row["estimate"], row["ci_low"], row["ci_high"]]).all():
            rows.append(row)
        else:  # finite scores give finite estimates; kept as a guard all the same
            undefined.append(f"{row['statistic']} of {row['metric']}: not finite")
    return rows, undefined


def aggregate_section(runs: list[RunData], cfg: ReportConfig, out: Path) -> Section:
    """The report's section across envs; writes ``<out>/aggregate.csv`` if any
    statistic is defined."""
    section = Section(
        "Across envs",
        f"Interquartile mean (IQM) across envs of each per-seed PURD statistic, and "
        f"the probability that a rejection criterion improves on none, with "
        f"{cfg.confidence:.0%} stratified-bootstrap intervals (rliable; "
        f"{cfg.aggregate_reps} resamples of the runs within each env, seed "
        f"{cfg.aggregate_seed}). Every row is in {AGGREGATE_CSV}.",
    )
    envs = envs_of(runs)
    if len(envs) < MIN_ENVS:
        section.intro = (
            f"Statistics across envs are not defined for runs of one env "
            f"({', '.join(envs)}): report runs of two envs or more for them."
        )
        return section
    if not cfg.aggregate:
        section.missing.append("aggregate=false: no statistics across envs")
        return section
    rows, section.missing = aggregate_rows(runs, cfg)
    if not rows:
        section.missing.append(
            "no PURD statistic or rejection comparison of two envs or more"
        )
        return section
    write_aggregate(out / AGGREGATE_CSV, rows)
    columns = ["statistic", "metric", "algo", "perturb", "scale", "checkpoint"]
    section.table = table(
        [*columns, "criterion", "estimate [CI]", "envs", "runs per env"],
        [_cells(row) for row in rows],
        text_columns=3,
    )
    return section


def _cells(row: dict) -> list[object]:
    digits = 3 if row["metric"] == "ltp" or row["statistic"] != "iqm" else 1
    if row["metric"].endswith("_relative"):
        digits = 3
    runs = row["n_runs"]
    if row["n_runs_baseline"] != "":
        runs = f"{runs} vs {row['n_runs_baseline']}"
    step = row["checkpoint"]
    return [
        "IQM" if row["statistic"] == "iqm" else "P(improvement)",
        row["metric"],
        row["algo"],
        row["perturb"],
        f"{row['scale']:g}",
        f"{step:,}" if isinstance(step, int) else step,
        f"{row['criterion']} > {row['baseline']}" if row["criterion"] else "",
        f"{row['estimate']:.{digits}f} [{row['ci_low']:.{digits}f}, "
        f"{row['ci_high']:.{digits}f}]",
        row["envs"].replace(";", ", "),
        runs,
    ]


def write_aggregate(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` as ``aggregate.csv``, columns ``COLUMNS``."""
    write_csv(path, rows, COLUMNS)
