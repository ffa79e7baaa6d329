"""Flat policies by hand: named, left out of the root choice and the summaries; an
undefined LTP (mode <= 0) is reported as undefined, never as a number."""

import csv
import math

import numpy as np
import pytest

from helpers import copy_run
from return_landscapes import store
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.stats import (
    cvar_change,
    left_tail_probability,
    ltp_text,
    purd_statistics,
)
from return_landscapes.landscape.stats.flat import flat_reason, is_noise
from return_landscapes.landscape.stats.table import (
    heaviest_left_tail,
    stats_rows,
    summary_rows,
    write_tables,
)
from return_landscapes.store import purd as purd_store

SPIKE = 31.8836 + np.linspace(0, 1e-5, 200)  # a policy that falls: float noise


@pytest.mark.unit
def test_a_policy_that_falls_early_is_flat_one_that_lasts_is_not():
    assert flat_reason(18, 1000) == "policy falls at step 18: its landscape is flat"
    assert flat_reason(99, 1000) is not None
    assert flat_reason(100, 1000) is None
    assert flat_reason(40, 40) is None  # lasted the whole (short) horizon
    assert flat_reason(1000, 1000, returns=[900.0, 1000.0, 1010.0]) is None


@pytest.mark.unit
def test_a_purd_whose_spread_is_float_noise_is_flat():
    assert is_noise(SPIKE) and is_noise([5.0]) and is_noise([])
    assert not is_noise([1000.0, 1000.2])  # 2e-4 relative: real spread
    reason = flat_reason(1000, 1000, returns=SPIKE)
    assert reason.startswith("its 200 PURD samples all equal 31.88")
    assert reason.endswith("its landscape is flat")


@pytest.mark.unit
def test_ltp_is_undefined_where_the_mode_is_not_positive():
    assert math.isnan(left_tail_probability([-5.0, -3.0, -1.0, -1.0]))
    assert math.isnan(left_tail_probability([0.0, 0.0, 0.0]))
    assert math.isnan(purd_statistics([-2.0, -1.0, -1.0])["ltp"])
    assert left_tail_probability([1.0, 10.0, 10.0, 10.0]) == 0.25
    assert ltp_text(math.nan) == "undefined" and ltp_text(0.25) == "0.250"


@pytest.mark.unit
def test_rejection_cvar_change_reads_the_last_kept_check():
    traces = [
        {"cvar": np.array([100.0, 90.0, 120.0]), "accepted": np.array([1, 0, 1], bool)},
        {"cvar": np.array([100.0, 80.0, 70.0]), "accepted": np.array([1, 1, 0], bool)},
    ]
    assert cvar_change(traces) == (100.0, 100.0)  # mean of 120 and 80


def write_purd(run_dir, step, seed, returns, length):
    """One seed's PURD block by hand, as ``landscape purd`` stores it."""
    returns = np.asarray(returns, np.float32)
    arrays = {
        "seeds": np.array([seed], np.int32),
        "undiscounted_return": returns[None],
        "discounted_return": returns[None] / 10,
        "length": np.full((1, returns.size), length, np.int32),
        "unperturbed_return": np.array([np.median(returns)], np.float32),
        "unperturbed_discounted_return": np.array([1.0], np.float32),
        "unperturbed_length": np.array([length], np.int32),
    }
    attrs = {"kind": "purd", "perturbation": "td3", "scale": 3e-4, "checkpoint": step,
             "seed": seed, "samples": returns.size, "horizon": 1000}  # fmt: skip
    store.write_result(
        purd_store.purd_path(run_dir, "td3", 3e-4, step, seed), arrays, attrs
    )


@pytest.fixture()
def hand_made_run(tiny_td3_run, tmp_path):
    """A run whose PURDs are hand-made: seed 0 falls at step 10 (a spike), seed 1
    at 100 has a 5 % left tail, at 200 a 10 % one and a negative-mode seed 0."""
    run = copy_run(tiny_td3_run, tmp_path / "run")
    body = np.full(90, 1000.0) + np.arange(90) * 0.01  # the mode, in one bin
    write_purd(run, 100, 0, SPIKE[:100], length=10)
    write_purd(run, 100, 1, np.concatenate([body, [100.0] * 5, [990.0] * 5]), 1000)
    write_purd(run, 200, 0, -50.0 - np.arange(100.0), 1000)  # mode < 0
    write_purd(run, 200, 1, np.concatenate([body, [100.0] * 10]), 1000)
    return run


def test_stats_name_flat_policies_and_leave_an_undefined_ltp_empty(hand_made_run):
    rows = {(r["seed"], r["checkpoint"]): r for r in stats_rows(hand_made_run)}
    assert rows[0, 100]["flat"] == "policy falls at step 10: its landscape is flat"
    assert rows[1, 100]["flat"] == "" and rows[1, 100]["ltp"] == 0.05
    assert math.isnan(rows[0, 200]["ltp"])
    summary = {e["checkpoint"]: e for e in summary_rows(list(rows.values()), 0.95, 50)}
    assert summary[100]["flat_seeds"] == 1 and summary[100]["ltp"] == 0.05
    assert summary[200]["flat_seeds"] == 0 and summary[200]["ltp"] == 0.1
    path = hand_made_run / "stats.csv"
    write_tables(path, list(rows.values()), list(summary.values()))
    with open(path) as f:
        written = {(r["seed"], r["checkpoint"]): r for r in csv.DictReader(f)}
    assert written["0", "200"]["ltp"] == ""  # undefined, not a number
    assert written["1", "200"]["ltp"] == "0.1"


def test_the_root_is_the_heaviest_tail_and_never_a_flat_policy(hand_made_run):
    root = heaviest_left_tail(hand_made_run, "td3", 3e-4)
    assert (root["seed"], root["checkpoint"], root["ltp"]) == (1, 200, 0.1)
    later = heaviest_left_tail(hand_made_run, "td3", 3e-4, from_step=200)
    assert (later["seed"], later["checkpoint"]) == (1, 200)


def test_no_root_when_every_policy_is_flat(tiny_td3_run, tmp_path):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    write_purd(run, 100, 0, SPIKE[:100], length=10)
    write_purd(run, 100, 1, -np.arange(100.0), length=1000)  # LTP undefined
    with pytest.raises(LandscapeError, match="flat policy or has an undefined LTP"):
        heaviest_left_tail(run, "td3", 3e-4)


@pytest.mark.unit
def test_a_surface_of_float_noise_says_constant_instead_of_a_colour_bar():
    from types import SimpleNamespace

    from return_landscapes.report.figures import surface_maps
    from return_landscapes.store.surface import SurfaceResult

    grid = np.linspace(-1, 1, 3, dtype=np.float32)
    attrs = {"plane": "random_directions", "perturbation": "", "grid": 3, "span": 1.0}
    noise = SurfaceResult(grid, grid, 20.26 + SPIKE[:9].reshape(3, 3) - SPIKE[0],
                          np.zeros((0, 3, 3)), [(0, 100)], {}, attrs)  # fmt: skip
    fig = surface_maps(SimpleNamespace(name="run"), noise)
    (ax,) = fig.axes  # no colour bar
    assert ax.get_title().endswith("constant: 20.26")
    real = noise._replace(plain_return=np.arange(9.0).reshape(3, 3))
    assert len(surface_maps(SimpleNamespace(name="run"), real).axes) == 2
