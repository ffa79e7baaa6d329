"""Intervals over the independent unit of an experiment, and verdicts read from them.

The values a study collects are rarely independent of each other: the checkpoints of
one training seed share its history, the interpolation paths of seeds ``s`` and
``s + 1`` share their endpoints, and the repeats of one rejection root share its start.
A bootstrap that resamples such values as if each were independent gives intervals
that are too narrow. Here every value carries its **unit** (a seed, a seed pair, a
rejection root), and the bootstrap resamples whole units with all their values:

* ``unit_interval``: any statistic of values grouped in units, one group or two
  (e.g. cross-seed minus same-seed paths, where seed ``s`` carries its same-seed
  paths and the cross-seed paths of the pair ``(s, s + 1)``); a percentile bootstrap
  over units (the cluster bootstrap);
* ``mean_over_units``: the mean over units of each unit's mean, with a BCa interval
  over units (``scipy.stats.bootstrap``): the mean over seeds of a per-policy
  statistic weighs every seed the same;
* ``paired_difference``: per unit, the mean of ``first - second`` (e.g. a root's
  held-out CVaR under ``cvar`` minus under ``none``, paired by repeat), and
  ``mean_over_units`` of it;
* ``spread_ratio``: the ratio of two PURDs' standard deviations, larger over smaller,
  with a two-sample percentile bootstrap over each PURD's samples (its draws are
  independent given the policy), at a chosen confidence (Bonferroni over the pairs
  tested);
* ``verdict``: ``"reproduces"`` only when the interval excludes no effect in the
  claimed direction, ``"not established at this scale"`` otherwise.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from return_landscapes.landscape.stats import _scipy_stats

DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 10_000
CV_FLOOR = 0.01
"""PURDs whose standard deviation is below this fraction of their |mean| barely move:
a spread ratio against one of them measures that PURD's floor, not a difference in
neighbourhoods, so such pairs are left out of spread comparisons."""
REPRODUCES = "reproduces"
NOT_ESTABLISHED = "not established at this scale"


class Estimate(NamedTuple):
    """A point estimate, its interval, and the number of independent units behind
    it (``low`` and ``high`` are NaN with fewer than two units)."""

    estimate: float
    low: float
    high: float
    units: int

    def text(self, digits: int = 3) -> str:
        """``value [low, high] (n=units)``, or ``value (n=units)`` without interval."""
        value = f"{self.estimate:.{digits}f}"
        if np.isnan(self.low):
            return f"{value} (n={self.units})"
        return (
            f"{value} [{self.low:.{digits}f}, {self.high:.{digits}f}] (n={self.units})"
        )


def _groups(values, units) -> tuple[list[np.ndarray], list]:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    units = list(units)
    if len(units) != values.size:
        raise ValueError(f"{values.size} values but {len(units)} unit labels")
    keep = ~np.isnan(values)
    labels = sorted({u for u, k in zip(units, keep, strict=True) if k}, key=str)
    index = {label: i for i, label in enumerate(labels)}
    groups: list[list[float]] = [[] for _ in labels]
    for value, unit, k in zip(values, units, keep, strict=True):
        if k:
            groups[index[unit]].append(value)
    return [np.array(g) for g in groups], labels


def unit_interval(
    values: Sequence,
    units: Sequence,
    statistic: Callable[..., float] = np.mean,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """A statistic of values grouped by unit, with a percentile bootstrap over units.

    Args:
      values: one array of values, or a tuple of arrays (groups) for a statistic of
        several groups; NaN values are left out.
      units: the unit of every value (same shape as ``values``: a tuple of label
        lists for a tuple of groups). A resample draws units with replacement, and
        a drawn unit brings all its values in every group.
      statistic: of the values (one array per group).
      confidence: the interval's coverage.
      resamples: bootstrap resamples of the units.
      seed: seed of the resampling (tables are reproducible).

    Returns:
      The statistic of all values, its interval, and the number of units.
    """
    several = isinstance(values, tuple)
    value_sets = values if several else (values,)
    unit_sets = units if several else (units,)
    grouped = [_groups(v, u) for v, u in zip(value_sets, unit_sets, strict=True)]
    labels = sorted({label for _, ls in grouped for label in ls}, key=str)
    by_unit = [
        [dict(zip(ls, gs, strict=True)).get(label, np.empty(0)) for label in labels]
        for gs, ls in grouped
    ]
    whole = [np.concatenate(g) if g else np.empty(0) for g in by_unit]
    estimate = float(statistic(*whole))
    if len(labels) < 2:
        return Estimate(estimate, float("nan"), float("nan"), len(labels))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(labels), size=(resamples, len(labels)))
    stats = np.empty(resamples)
    for row, drawn in enumerate(draws):
        parts = [np.concatenate([g[i] for i in drawn]) for g in by_unit]
        stats[row] = statistic(*parts) if all(p.size for p in parts) else np.nan
    stats = stats[~np.isnan(stats)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return Estimate(estimate, float(low), float(high), len(labels))


def mean_over_units(
    values: Sequence,
    units: Sequence,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """The mean over units of each unit's mean value, with a BCa bootstrap interval
    over units (``scipy.stats.bootstrap``, ``method="BCa"``). NaN values are left
    out; a unit left with none is dropped."""
    groups, _ = _groups(values, units)
    means = np.array([g.mean() for g in groups])
    return _interval_of_mean(means, confidence, resamples, seed)


def paired_difference(
    first: Sequence,
    second: Sequence,
    units: Sequence,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """``mean_over_units`` of ``first - second``, paired element by element (e.g. the
    held-out CVaR of a rejection repeat under ``cvar`` and under ``none``, paired by
    repeat, with the root as unit)."""
    first = np.asarray(first, dtype=np.float64).reshape(-1)
    second = np.asarray(second, dtype=np.float64).reshape(-1)
    if first.shape != second.shape:
        raise ValueError(f"unpaired values: {first.size} against {second.size}")
    return mean_over_units(first - second, units, confidence, resamples, seed)


def _interval_of_mean(
    means: np.ndarray, confidence: float, resamples: int, seed: int
) -> Estimate:
    n = means.size
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    estimate = float(means.mean())
    if n < 2:
        return Estimate(estimate, float("nan"), float("nan"), n)
    if means.min() == means.max():
        return Estimate(estimate, estimate, estimate, n)
    with warnings.catch_warnings():  # BCa warns of a degenerate distribution
        warnings.simplefilter("ignore")
        result = _scipy_stats().bootstrap(
            (means,),
            np.mean,
            confidence_level=confidence,
            n_resamples=resamples,
            method="BCa",
            rng=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):  # BCa undefined: percentile
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(result.bootstrap_distribution, [tail, 100 - tail])
    return Estimate(estimate, float(low), float(high), n)


def coefficient_of_variation(samples) -> float:
    """``std / |mean|`` of one PURD's samples (infinite where the mean is 0)."""
    samples = np.asarray(samples, dtype=np.float64)
    mean = abs(samples.mean())
    return float(samples.std() / mean) if mean > 0 else float("inf")


def spread_ratio(
    first,
    second,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Estimate | None:
    """The larger PURD standard deviation over the smaller, with a percentile
    bootstrap that resamples each PURD's samples on their own.

    Which PURD is on top is fixed by the point estimate, before resampling. Returns
    ``None`` where either PURD barely moves (coefficient of variation below
    ``CV_FLOOR``). ``units`` is the smaller of the two sample counts.
    """
    first = np.asarray(first, dtype=np.float64).reshape(-1)
    second = np.asarray(second, dtype=np.float64).reshape(-1)
    if min(coefficient_of_variation(first), coefficient_of_variation(second)) < (
        CV_FLOOR
    ):
        return None
    top, bottom = (first, second) if first.std() >= second.std() else (second, first)
    rng = np.random.default_rng(seed)
    top_draws = top[rng.integers(0, top.size, size=(resamples, top.size))]
    bottom_draws = bottom[rng.integers(0, bottom.size, size=(resamples, bottom.size))]
    ratios = top_draws.std(axis=1) / np.maximum(bottom_draws.std(axis=1), 1e-300)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    units = min(first.size, second.size)
    return Estimate(float(top.std() / bottom.std()), float(low), float(high), units)


def verdict(interval: Estimate, no_effect: float = 0.0, above: bool = True) -> str:
    """``REPRODUCES`` when the interval lies wholly on the claimed side of
    ``no_effect`` (above it, or below with ``above=False``), else
    ``NOT_ESTABLISHED``; an interval that could not be computed establishes
    nothing."""
    side = interval.low > no_effect if above else interval.high < no_effect
    return REPRODUCES if bool(side) else NOT_ESTABLISHED
