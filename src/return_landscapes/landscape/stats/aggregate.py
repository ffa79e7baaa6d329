"""Statistics across envs, as rliable defines them (Agarwal et al., 2021).

A score matrix is ``(num_runs, num_envs)``, rliable's ``(num_runs, num_tasks)``:
column ``m`` holds one score per run of env ``m`` (a seed's PURD statistic, or a
rejection repeat's change). On it:

* **IQM**: the interquartile mean of all scores, ``rliable.metrics.aggregate_iqm``
  (a 25 % trimmed mean over runs and envs together);
* **P(X > Y)**: the probability of improvement of X over Y, the mean over envs of
  the Mann-Whitney ``U / (n_x n_y)`` (ties count one half),
  ``rliable.metrics.probability_of_improvement``;
* **intervals**: percentile stratified bootstrap, runs resampled within each env
  (``rliable.library.get_interval_estimates``, ``task_bootstrap=False``).

rliable 1.2.0 draws the bootstrap resamples from numpy's global random state
(``np.random.choice``), whatever ``random_state`` it is given: ``seeded`` sets that
state from ``seed`` for the call and restores it after, so a table is reproducible
and the caller's random state is left as it was.

rliable is an optional extra (``pip install 'return-landscapes[rliable]'``); nothing
here imports it until an interval is computed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping
from typing import NamedTuple

import numpy as np

from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.stats import kept_rows

DEFAULT_REPS = 2_000
DEFAULT_SEED = 0
MIN_RUNS = 2  # fewer runs per env: a bootstrap over runs has nothing to resample
MIN_ENVS = 2  # fewer envs: no aggregate across envs
RLIABLE_EXTRA = "pip install 'return-landscapes[rliable]'"


class ScoreMatrix(NamedTuple):
    """Scores ``(num_runs, num_envs)``, the envs of its columns, and how many scores
    were left out (non-finite, beyond the common run count, or of an env with fewer
    than ``MIN_RUNS`` finite scores)."""

    scores: np.ndarray
    envs: tuple[str, ...]
    left_out: int

    @property
    def defined(self) -> bool:
        """Whether an aggregate across envs exists: ``MIN_ENVS`` envs or more."""
        return len(self.envs) >= MIN_ENVS


class Interval(NamedTuple):
    """A point estimate and its bootstrap confidence interval."""

    estimate: float
    low: float
    high: float


def require_rliable(hint: str = "") -> None:
    """Raise a one-line ``LandscapeError`` if rliable cannot be imported."""
    try:
        import rliable.library
        import rliable.metrics  # noqa: F401
    except Exception as err:  # arch under pandas 3 fails with a TypeError
        reason = "is not installed" if isinstance(err, ImportError) else "fails"
        raise LandscapeError(
            f"statistics across envs need the rliable package, which {reason} "
            f"({type(err).__name__}: {err}): {RLIABLE_EXTRA}{hint}"
        ) from None


def score_matrix(
    per_env: Mapping[str, np.ndarray], envs: Collection[str] | None = None
) -> ScoreMatrix:
    """The score matrix of each env's scores, envs in name order.

    Non-finite scores are dropped; an env with fewer than ``MIN_RUNS`` finite scores
    (or not in ``envs``, where given) is left out; every other env keeps its first
    ``n`` finite scores, ``n`` the smallest such count, since rliable needs as many
    runs in every env.

    Args:
      per_env: ``{env: scores (num_runs_of_env,)}`` in run order.
      envs: the only envs that may be kept; ``None``: any.
    """
    finite, left_out = {}, 0
    for env in sorted(per_env):
        values = np.asarray(per_env[env], dtype=np.float64).reshape(-1)
        kept = values[np.isfinite(values)]
        left_out += values.size - kept.size
        if kept.size >= MIN_RUNS and (envs is None or env in envs):
            finite[env] = kept
        else:
            left_out += kept.size
    if not finite:
        return ScoreMatrix(np.zeros((0, 0)), (), left_out)
    runs = min(v.size for v in finite.values())
    left_out += sum(v.size - runs for v in finite.values())
    scores = np.stack([v[:runs] for v in finite.values()], axis=1)
    return ScoreMatrix(scores, tuple(finite), left_out)


def paired_matrices(
    per_env_x: Mapping[str, np.ndarray], per_env_y: Mapping[str, np.ndarray]
) -> tuple[ScoreMatrix, ScoreMatrix]:
    """``score_matrix`` of X and of Y over the same envs: those where both have
    ``MIN_RUNS`` finite scores or more (the runs of X and Y may differ in number)."""

    def enough(values) -> bool:
        return int(np.isfinite(np.asarray(values, np.float64)).sum()) >= MIN_RUNS

    both = {
        env
        for env in per_env_x
        if env in per_env_y and enough(per_env_x[env]) and enough(per_env_y[env])
    }
    return score_matrix(per_env_x, both), score_matrix(per_env_y, both)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """numpy's global random state seeded with ``seed``, restored on exit."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def iqm_interval(
    scores: np.ndarray,
    reps: int = DEFAULT_REPS,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
) -> Interval:
    """IQM of ``scores`` ``(num_runs, num_envs)`` with its stratified-bootstrap CI."""
    from rliable import library, metrics

    def iqm(x):
        return np.array([metrics.aggregate_iqm(x)])

    with seeded(seed):
        point, interval = library.get_interval_estimates(
            {"x": np.asarray(scores, np.float64)},
            iqm,
            reps=reps,
            confidence_interval_size=confidence,
        )
    return _interval(point["x"], interval["x"])


def improvement_interval(
    scores_x: np.ndarray,
    scores_y: np.ndarray,
    reps: int = DEFAULT_REPS,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
) -> Interval:
    """P(X > Y) of ``scores_x`` ``(num_runs_x, num_envs)`` over ``scores_y``
    ``(num_runs_y, num_envs)`` with its stratified-bootstrap CI (X and Y resampled
    independently)."""
    from rliable import library, metrics

    def improvement(x, y):
        return np.array([metrics.probability_of_improvement(x, y)])

    with seeded(seed):
        point, interval = library.get_interval_estimates(
            {"x": [np.asarray(scores_x, np.float64), np.asarray(scores_y, np.float64)]},
            improvement,
            reps=reps,
            confidence_interval_size=confidence,
        )
    return _interval(point["x"], interval["x"])


def _interval(point, interval) -> Interval:
    low, high = np.asarray(interval, np.float64).reshape(2)
    return Interval(float(np.asarray(point).reshape(-1)[0]), float(low), float(high))


def relative_to(values, unperturbed) -> np.ndarray:
    """``values / unperturbed``, NaN (no score) where ``unperturbed <= 0``: a return
    as a fraction of the unperturbed policy's return."""
    values = np.asarray(values, np.float64)
    unperturbed = np.asarray(unperturbed, np.float64)
    positive = unperturbed > 0
    safe = np.where(positive, unperturbed, 1.0)
    return np.where(positive, values / safe, np.nan)


def rejection_gain(trace: Mapping[str, np.ndarray], metric: str) -> float:
    """How much a rejection repeat improved ``metric`` from its root (row 0) to the
    parameters kept after its last check: CVaR gained (``cvar``), or left-tail
    probability shed (``ltp``: root LTP minus final LTP). NaN where an LTP is
    undefined (mode <= 0; traces store it as 0) or a value is not finite."""
    last = int(kept_rows(np.asarray(trace["accepted"], bool))[-1])
    values = np.asarray(trace[metric], np.float64)
    if metric == "ltp":
        values = np.where(np.asarray(trace["mode"]) > 0, values, np.nan)
        return float(values[0] - values[last])
    if metric == "cvar":
        return float(values[last] - values[0])
    raise ValueError(f"metric={metric!r}: choose cvar or ltp")
