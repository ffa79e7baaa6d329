"""Intervals over independent units (landscape/stats/units.py), on hand-made data,
against scipy, and by their coverage in a seeded simulation."""

import numpy as np
import pytest
import scipy.stats

from return_landscapes.landscape.stats.units import (
    CV_FLOOR,
    NOT_ESTABLISHED,
    REPRODUCES,
    Estimate,
    mean_over_units,
    paired_difference,
    spread_ratio,
    unit_interval,
    verdict,
)

pytestmark = pytest.mark.unit


def test_one_value_per_unit_gives_scipys_percentile_interval():
    values = np.random.default_rng(3).normal(10.0, 2.0, size=12)
    ours = unit_interval(values, range(12), resamples=20_000)
    theirs = scipy.stats.bootstrap(
        (values,), np.mean, method="percentile", n_resamples=20_000,
        rng=np.random.default_rng(4),
    ).confidence_interval  # fmt: skip
    assert ours.estimate == pytest.approx(values.mean())
    assert ours.units == 12
    # two independent bootstraps of the same data: endpoints within Monte Carlo error
    assert ours.low == pytest.approx(theirs.low, abs=0.06)
    assert ours.high == pytest.approx(theirs.high, abs=0.06)


def test_copies_of_a_value_within_its_unit_do_not_narrow_the_interval():
    values = np.array([1.0, 4.0, 2.0, 8.0, 5.0])
    copies = np.repeat(values, 6)  # six checkpoints of a seed, all alike
    seeds = np.repeat(np.arange(5), 6)
    by_seed = unit_interval(copies, seeds, resamples=4000)
    alone = unit_interval(values, np.arange(5), resamples=4000)
    assert (by_seed.low, by_seed.high, by_seed.units) == (alone.low, alone.high, 5)
    # the same values taken as 30 independent ones: the interval shrinks (wrongly)
    pooled = unit_interval(copies, np.arange(30), resamples=4000)
    assert pooled.high - pooled.low < 0.6 * (alone.high - alone.low)


def test_a_two_group_statistic_resamples_both_groups_by_one_unit():
    # seed s carries its same-seed value and the cross-seed value of (s, s + 1)
    same = np.array([1.0, 1.0, 1.0, 1.0])
    cross = np.array([0.5, 0.7, 0.6])
    drop = unit_interval(
        (same, cross), ([0, 1, 2, 3], [0, 1, 2]), lambda s, c: s.mean() - c.mean(),
        resamples=2000,
    )  # fmt: skip
    assert drop.estimate == pytest.approx(0.4) and drop.units == 4
    assert 0.3 <= drop.low <= drop.estimate <= drop.high <= 0.5


def test_mean_over_units_weighs_every_unit_alike_and_drops_nan():
    values = [1.0, 1.0, 1.0, 1.0, 5.0, np.nan]  # seed 0: four policies, seed 1: one
    seeds = [0, 0, 0, 0, 1, 2]
    estimate = mean_over_units(values, seeds)
    assert estimate.estimate == pytest.approx(3.0) and estimate.units == 2
    assert estimate.low <= 3.0 <= estimate.high
    one = mean_over_units([2.0, 4.0], [0, 0])
    assert one.estimate == 3.0 and np.isnan(one.low) and one.units == 1
    assert mean_over_units([2.0, 2.0], [0, 1]) == Estimate(2.0, 2.0, 2.0, 2)


def test_paired_difference_averages_repeats_within_a_root():
    under_cvar = [10.0, 12.0, 5.0, 7.0, 3.0, 3.0]
    under_none = [8.0, 8.0, 5.0, 5.0, 4.0, 2.0]
    roots = [0, 0, 1, 1, 2, 2]  # differences per root: 3, 1, 0
    difference = paired_difference(under_cvar, under_none, roots)
    assert difference.estimate == pytest.approx(4 / 3) and difference.units == 3
    with pytest.raises(ValueError, match="unpaired"):
        paired_difference([1.0, 2.0], [1.0], [0, 1])
    with pytest.raises(ValueError, match="unit labels"):
        mean_over_units([1.0, 2.0], [0])


def test_intervals_over_seeds_cover_a_known_mean_where_pooled_ones_do_not():
    # 8 seeds x 5 checkpoints; a seed's checkpoints share its offset (sd 1) and
    # differ by noise (sd 0.3): the true mean over seeds is 0
    rng = np.random.default_rng(0)
    seeds = np.repeat(np.arange(8), 5)
    covered = {"seeds": 0, "pooled": 0}
    trials = 200
    for trial in range(trials):
        values = np.repeat(rng.normal(0, 1, 8), 5) + rng.normal(0, 0.3, 40)
        by_seed = mean_over_units(values, seeds, resamples=1000, seed=trial)
        pooled = mean_over_units(values, np.arange(40), resamples=1000, seed=trial)
        covered["seeds"] += by_seed.low <= 0 <= by_seed.high
        covered["pooled"] += pooled.low <= 0 <= pooled.high
    assert 0.85 <= covered["seeds"] / trials <= 0.99
    assert covered["pooled"] / trials < 0.75


def test_spread_ratio_is_larger_over_smaller_and_skips_still_policies():
    rng = np.random.default_rng(1)
    calm = 1000 + rng.normal(0, 20, 200)
    wide = 1000 + rng.normal(0, 100, 200)
    ratio = spread_ratio(calm, wide, resamples=4000)
    assert ratio.estimate == pytest.approx(wide.std() / calm.std())
    assert spread_ratio(wide, calm, resamples=4000) == ratio
    assert 3.0 < ratio.low < ratio.estimate < ratio.high and ratio.units == 200
    still = 1000 + rng.normal(0, 1000 * CV_FLOOR / 2, 200)  # CV below the floor
    assert spread_ratio(still, wide) is None


def test_verdicts_read_the_interval_side():
    assert verdict(Estimate(0.5, 0.1, 0.9, 10)) == REPRODUCES
    assert verdict(Estimate(0.5, -0.1, 0.9, 10)) == NOT_ESTABLISHED
    assert verdict(Estimate(0.5, 0.45, 0.9, 10), no_effect=0.5) == NOT_ESTABLISHED
    assert verdict(Estimate(-2.0, -3.0, -1.0, 5), above=False) == REPRODUCES
    assert verdict(Estimate(1.0, np.nan, np.nan, 1)) == NOT_ESTABLISHED
    assert Estimate(1.0, 0.5, 1.5, 4).text(1) == "1.0 [0.5, 1.5] (n=4)"
    assert Estimate(1.0, np.nan, np.nan, 1).text(1) == "1.0 (n=1)"
