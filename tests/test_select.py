"""``landscape select`` on hand-made PURDs: the criterion picks its checkpoint."""

import numpy as np
import pytest

from return_landscapes.conf import SelectConfig
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.experiments.select import (
    format_table,
    rank_checkpoints,
    select,
    verdict_lines,
)

pytestmark = pytest.mark.unit


def seeds_of(*columns):
    """``(3 seeds, 100 samples)``: each seed's samples from ``columns`` shifted by
    the seed (so seeds differ a little and intervals over seeds have width)."""
    values = np.concatenate([np.full(n, v, dtype=np.float64) for v, n in columns])
    return np.stack([values + seed for seed in range(3)])


# 1000: the best mean, a heavy left tail (10 % of samples at 10)
# 2000: a slightly lower mean, no tail; 3000: no tail, a low mean
PURDS = {
    1000: seeds_of((110.0, 90), (10.0, 10)),
    2000: seeds_of((94.0, 50), (96.0, 50)),
    3000: seeds_of((49.0, 50), (51.0, 50)),
}


def chosen(rows):
    return [r["checkpoint"] for r in rows if r["chosen"]]


@pytest.mark.parametrize(
    ("criterion", "floor", "expected"),
    [
        ("mean", None, [1000]),
        ("cvar", None, [2000]),
        ("ltp", None, [2000]),  # LTP 0 at 2000 and 3000: the earlier one
        ("floored_mean", 80.0, [2000]),  # 1000's CVaR (about 10) misses the floor
        ("floored_mean", -1e9, [1000]),
        ("floored_mean", 500.0, []),  # nothing reaches the floor
    ],
)
def test_each_criterion_picks_its_checkpoint(criterion, floor, expected):
    cfg = SelectConfig(criterion=criterion, cvar_floor=floor, resamples=200)
    rows = rank_checkpoints(PURDS, 3, cfg)
    assert chosen(rows) == expected
    assert [r["rank"] for r in rows] == [1, 2, 3]
    best = {r["checkpoint"] for r in rows if r["best_mean"]}
    robust = {r["checkpoint"] for r in rows if r["most_robust"]}
    assert best == {1000} and robust == {2000}
    lines = verdict_lines(rows, cfg, {})
    assert "the best-mean checkpoint (1,000) is not the most robust (2,000" in (
        "\n".join(lines)
    )


def test_statistics_are_means_over_seeds_with_intervals_over_seeds():
    cfg = SelectConfig(criterion="cvar", resamples=500)
    rows = {r["checkpoint"]: r for r in rank_checkpoints(PURDS, 3, cfg)}
    tail = rows[1000]
    # per seed: CVaR 0.1 is the mean of the ten samples at 10 + seed
    assert tail["cvar"] == pytest.approx(11.0)
    assert tail["mean"] == pytest.approx(100.0 + 1.0)
    assert tail["cvar_low"] <= 11.0 <= tail["cvar_high"]
    assert tail["ltp"] == pytest.approx(0.1) and tail["seeds"] == 3
    one = rank_checkpoints({k: v[:1] for k, v in PURDS.items()}, 1, cfg)
    one = {r["checkpoint"]: r for r in one}[1000]  # one seed: over its samples
    assert one["cvar"] == pytest.approx(10.0) and one["seeds"] == 1
    assert one["cvar_low"] <= 10.0 <= one["cvar_high"]


def test_a_checkpoint_with_a_fallen_seed_is_not_chosen():
    cfg = SelectConfig(criterion="mean", resamples=200)
    purds = {**PURDS, 1000: PURDS[1000][:2]}  # a seed fell at 1000
    rows = rank_checkpoints(purds, 3, cfg)
    assert chosen(rows) == [2000]
    assert not next(r for r in rows if r["checkpoint"] == 1000)["eligible"]
    table = format_table(rows, cfg, type("G", (), {"perturb": "td3", "scale": 3e-4}),
                         [0, 1, 2])  # fmt: skip
    assert "not eligible" in table and "chosen" in table


def test_the_choice_is_confirmed_or_not_on_fresh_draws():
    cfg = SelectConfig(criterion="cvar", resamples=200)
    rows = rank_checkpoints(PURDS, 3, cfg)
    holds = {2000: {"confirm_cvar": 90.0}, 1000: {"confirm_cvar": 12.0}}
    fails = {2000: {"confirm_cvar": 5.0}, 1000: {"confirm_cvar": 12.0}}
    assert "the choice holds" in verdict_lines(rows, cfg, holds)[-1]
    assert "does not hold" in verdict_lines(rows, cfg, fails)[-1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"criterion": "floored_mean"}, "needs cvar_floor"),
        ({"confirm_samples": -1}, "confirm_samples=-1"),
        ({"out": "table.txt"}, "must name a .csv"),
    ],
)
def test_bad_options_get_one_line(tmp_path, options, message):
    with pytest.raises(LandscapeError, match=message):
        select(run=str(tmp_path), **options)


def test_out_never_overwrites_a_file_select_did_not_write(tmp_path):
    from return_landscapes.landscape.experiments.select import COLUMNS
    from return_landscapes.landscape.stats.table import check_table_path

    other = tmp_path / "results.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(LandscapeError, match="not a table written by 'landscape sel"):
        check_table_path(other, COLUMNS, "landscape select")
    assert other.read_text() == "a,b\n1,2\n"
    mine = tmp_path / "select.csv"
    mine.write_text(",".join(COLUMNS) + "\n")
    check_table_path(mine, COLUMNS, "landscape select")  # its own table: fine
