"""Exact tests of the PURD statistics on hand-made arrays."""

import numpy as np
import pytest

from return_landscapes.landscape.stats import (
    bootstrap_ci,
    cvar,
    histogram_mode,
    left_tail_probability,
    purd_statistics,
)

pytestmark = pytest.mark.unit


def test_mode_is_the_centre_of_the_tallest_bin():
    # Two bins over [1, 3]: [1, 2) holds 1, [2, 3] holds 2, 2, 3 -> centre 2.5.
    assert histogram_mode([1.0, 2.0, 2.0, 3.0], bins=2) == 2.5
    # 100 bins over [0, 99] (width 0.99): the doubled 42 sits in bin 42.
    values = np.concatenate([np.arange(100.0), [42.0, 42.0]])
    assert histogram_mode(values) == pytest.approx(0.99 * 42.5, abs=1e-12)


def test_mode_ties_go_left_and_a_constant_sample_is_its_own_mode():
    assert histogram_mode([0.0, 1.0], bins=2) == 0.25
    assert histogram_mode([7.5] * 10) == 7.5
    # too close for 100 distinct bins: their midpoint, not numpy's error
    assert histogram_mode([1.0, 1.0 + 2e-16 * 4]) == 1.0 + 2e-16 * 2


def test_left_tail_probability_counts_samples_below_threshold_times_mode():
    returns = [10.0] * 6 + [2.0, 4.0, 6.0, 9.0]
    # Range [2, 10], 100 bins of width 0.08; the six 10s make the last bin tallest:
    # mode 9.96, threshold 0.5 -> 4.98; below it: 2 and 4.
    assert histogram_mode(returns) == pytest.approx(9.96)
    assert left_tail_probability(returns) == 0.2
    assert left_tail_probability(returns, threshold=0.7) == 0.3  # 2, 4, 6 < 6.972
    assert left_tail_probability([5.0] * 4) == 0.0


def test_cvar_by_hand():
    returns = np.arange(1.0, 11.0)  # 1 .. 10
    # alpha 0.1: q = 1.9, mean(min(R - q, 0)) = -0.09, / 0.1 = -0.9 -> 1.0
    assert cvar(returns) == pytest.approx(1.0, abs=1e-12)
    # alpha 0.2: q = 2.8, (-1.8 - 0.8) / 10 / 0.2 = -1.3 -> 1.5 = mean of {1, 2}
    assert cvar(returns, alpha=0.2) == pytest.approx(1.5, abs=1e-12)
    assert cvar(returns, alpha=1.0) == pytest.approx(returns.mean(), abs=1e-12)
    assert cvar(np.random.default_rng(0).permutation(returns)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="alpha"):
        cvar(returns, alpha=0.0)


def test_purd_statistics_gathers_every_statistic():
    returns = np.array([1.0, 2.0, 2.0, 3.0, 10.0])
    stats = purd_statistics(returns, bins=2)
    assert stats["mean"] == 3.6
    assert stats["median"] == 2.0
    assert stats["std"] == pytest.approx(np.std(returns))
    assert stats["skew"] > 1.0  # a long right tail
    assert stats["mode"] == 3.25  # [1, 5.5) holds four of five
    assert stats["ltp"] == 0.2  # only 1 < 1.625
    assert stats["cvar"] == pytest.approx(cvar(returns))
    constant = purd_statistics([4.0, 4.0])
    assert constant["skew"] == 0.0 and constant["cvar"] == 4.0


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible():
    values = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    low, high = bootstrap_ci(values, resamples=2000)
    assert low < values.mean() < high
    assert (low, high) == bootstrap_ci(values, resamples=2000)
    assert values.min() <= low and high <= values.max()
    assert all(np.isnan(bootstrap_ci([3.0])))
    assert bootstrap_ci([2.0, 2.0]) == (2.0, 2.0)
