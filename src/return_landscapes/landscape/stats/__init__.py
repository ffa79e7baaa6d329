"""Statistics of post-update return distributions (plain numpy / scipy).

The definitions are those of the paper (Rahn et al., 2023):

* **mode**: the centre of the tallest bin of a ``bins``-bin histogram (100 by default);
* **LTP** (left-tail probability): the fraction of samples below ``threshold x mode``
  (threshold 0.5 by default); undefined (NaN) where the mode is 0 or negative, since
  ``threshold x mode`` then lies at or above the mode;
* **CVaR_alpha**: ``q_alpha + mean(min(R - q_alpha, 0)) / alpha``, the mean of the
  worst ``alpha`` fraction of returns (alpha 0.1 by default), with ``q_alpha`` numpy's
  default (linearly interpolated) ``alpha`` quantile.

Arrays of returns follow the package convention ``(num_seeds, num_samples)``; the
per-distribution functions take one row ``(num_samples,)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEFAULT_BINS = 100
DEFAULT_THRESHOLD = 0.5
DEFAULT_ALPHA = 0.1
STATISTICS = ("mean", "std", "median", "skew", "mode", "ltp", "cvar")


def _samples(returns) -> np.ndarray:
    values = np.asarray(returns, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("no returns: a distribution needs at least one sample")
    return values


def histogram_mode(returns, bins: int = DEFAULT_BINS) -> float:
    """Centre of the tallest of ``bins`` equal-width bins spanning the samples.

    Ties go to the leftmost bin. If every sample is equal, that value is the mode;
    samples too close together for ``bins`` distinct bins give their midpoint.
    """
    values = _samples(returns)
    low, high = values.min(), values.max()
    if low == high:
        return float(low)
    if not (high - low) / bins > 4 * np.spacing(max(abs(low), abs(high))):
        return float((low + high) / 2)
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    tallest = int(np.argmax(counts))
    return float((edges[tallest] + edges[tallest + 1]) / 2)


def left_tail_probability(
    returns, threshold: float = DEFAULT_THRESHOLD, bins: int = DEFAULT_BINS
) -> float:
    """Fraction of samples strictly below ``threshold x mode``; NaN (undefined)
    where the mode is ``<= 0``: a left tail measured against such a mode is none."""
    values = _samples(returns)
    mode = histogram_mode(values, bins)
    if not mode > 0:
        return float("nan")
    return float(np.mean(values < threshold * mode))


def ltp_text(ltp: float, digits: int = 3) -> str:
    """An LTP for people: the number, or ``undefined`` (mode <= 0)."""
    return "undefined" if np.isnan(ltp) else f"{ltp:.{digits}f}"


def cvar(returns, alpha: float = DEFAULT_ALPHA) -> float:
    """Conditional value at risk: ``q_alpha + mean(min(R - q_alpha, 0)) / alpha``."""
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha={alpha} must lie in (0, 1]")
    values = _samples(returns)
    quantile = np.quantile(values, alpha)
    return float(quantile + np.mean(np.minimum(values - quantile, 0.0)) / alpha)


def purd_statistics(
    returns,
    threshold: float = DEFAULT_THRESHOLD,
    bins: int = DEFAULT_BINS,
    alpha: float = DEFAULT_ALPHA,
) -> dict[str, float]:
    """Every statistic of ``STATISTICS`` for one distribution ``(num_samples,)``.

    ``skew`` is the sample skewness (Fisher-Pearson, biased), 0 for a constant sample;
    ``ltp`` is NaN where the mode is ``<= 0`` (undefined).
    """
    values = _samples(returns)
    if not np.isfinite(values).all():  # unavailable, never a number such as LTP 0
        return dict.fromkeys(STATISTICS, float("nan"))
    constant = values.min() == values.max()
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "median": float(np.median(values)),
        "skew": 0.0 if constant else float(_scipy_stats().skew(values)),
        "mode": histogram_mode(values, bins),
        "ltp": left_tail_probability(values, threshold, bins),
        "cvar": cvar(values, alpha),
    }


def point_statistics(
    returns,
    threshold: float = DEFAULT_THRESHOLD,
    bins: int = DEFAULT_BINS,
    alpha: float = DEFAULT_ALPHA,
) -> dict[str, np.ndarray]:
    """``purd_statistics`` of every point of a grid of PURDs.

    Args:
      returns: ``(num_samples, *points)``, e.g. a surface's ``(samples, grid, grid)``.

    Returns:
      Each statistic of ``STATISTICS`` as an array shaped ``points``.
    """
    values = np.asarray(returns, dtype=np.float64)
    shape = values.shape[1:]
    columns = values.reshape(values.shape[0], -1).T
    rows = [purd_statistics(column, threshold, bins, alpha) for column in columns]
    return {
        name: np.array([row[name] for row in rows]).reshape(shape)
        for name in STATISTICS
    }


def bootstrap_ci(
    per_seed_values,
    statistic: Callable[[np.ndarray], float] = np.mean,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of independent values.

    Each value must be its own independent unit (one per seed); values that share
    a unit (checkpoints of one seed, repeats of one root) need
    ``units.mean_over_units`` or ``units.unit_interval`` instead.

    Args:
      per_seed_values: one value per seed, ``(num_seeds,)``.
      statistic: the aggregate whose interval is wanted (the mean by default).
      confidence: the interval's coverage.
      resamples: bootstrap resamples of the seeds (with replacement).
      seed: seed of the resampling, so tables are reproducible.

    Returns:
      ``(low, high)``; ``(nan, nan)`` with fewer than two seeds.
    """
    values = np.asarray(per_seed_values, dtype=np.float64).reshape(-1)
    values = values[~np.isnan(values)]
    if values.size < 2:
        return float("nan"), float("nan")
    if values.min() == values.max():
        return float(values[0]), float(values[0])
    result = _scipy_stats().bootstrap(
        (values,),
        statistic,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        vectorized=False,
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def kept_rows(accepted: np.ndarray) -> np.ndarray:
    """For each check of a rejection trace, the row of the parameters kept after it."""
    rows = np.arange(len(accepted))
    return np.maximum.accumulate(np.where(accepted, rows, 0))


def cvar_change(traces: list[dict[str, np.ndarray]]) -> tuple[float, float]:
    """Mean over repeats of the CVaR at the root and of the last kept parameters."""
    start = np.mean([t["cvar"][0] for t in traces])
    end = np.mean([t["cvar"][kept_rows(t["accepted"])][-1] for t in traces])
    return float(start), float(end)


def heldout_cvars(traces: list[dict[str, np.ndarray]]) -> np.ndarray | None:
    """Each repeat's held-out CVaR of its final policy (``None`` if a trace has no
    held-out PURD: written before it was recorded)."""
    if not all("heldout_cvar" in t for t in traces):
        return None
    return np.array([float(t["heldout_cvar"]) for t in traces])


def _scipy_stats():
    """``scipy.stats``, imported on first use: this package's ``flat`` rules are
    read by ``return_landscapes.plot``, which loads no scipy."""
    import scipy.stats

    return scipy.stats
