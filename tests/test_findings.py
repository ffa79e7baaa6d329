"""The findings study's analysis on hand-made numbers (its compute stages are the
library's commands, tested elsewhere)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[1] / "studies" / "findings.py"


@pytest.fixture(scope="module")
def findings():
    spec = importlib.util.spec_from_file_location("findings", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["findings"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def policy(seed, mean, std):
    return {"seed": seed, "checkpoint": 1000, "mean": mean, "std": std}


def test_similar_mean_pairs_get_a_ratio_interval_and_still_policies_drop(findings):
    rng = np.random.default_rng(0)
    samples = {
        0: 1000 + rng.normal(0, 10, 300),
        1: 1040 + rng.normal(0, 60, 300),
        2: 1010 + rng.normal(0, 1, 300),  # CV 0.1 %: barely moves
        3: 500 + rng.normal(0, 5, 300),
    }
    rows = [policy(s, v.mean(), v.std()) for s, v in samples.items()]
    pairs = findings.similar_mean_pairs(None, rows, lambda row: samples[row["seed"]])
    # 0, 1 and 2 lie within 5 % of each other (3 pairs); 2 is in two of them
    assert pairs["similar"] == 3 and pairs["still"] == 2
    assert pairs["confidence"] == pytest.approx(1 - 0.05 / 3)
    (tested,) = pairs["tested"]
    assert tested["ratio"]["estimate"] == pytest.approx(
        samples[1].std() / samples[0].std()
    )
    assert tested["ratio"]["low"] > 3 and pairs["spread_3x"] == pairs["differ"] == 1


def test_finals_read_the_last_kept_check_and_the_held_out_purd(findings):
    trace = {
        "accepted": np.array([True, True, False, False]),
        "cvar": np.array([100.0, 120.0, 150.0, 50.0]),
        "heldout_cvar": np.float64(90.0),
        "heldout_ltp": np.float64(0.0),
        "heldout_mode": np.float64(-5.0),  # LTP undefined
    }
    finals = findings._finals("cvar", trace)
    assert finals["cvar_kept_cvar"] == 120.0 and finals["cvar_heldout_cvar"] == 90.0
    assert np.isnan(finals["cvar_heldout_ltp"])
    assert finals["cvar_kept_rate"] == pytest.approx(1 / 3)


def estimate(value, low, high, units=5):
    return {"estimate": value, "low": low, "high": high, "units": units}


def test_verdicts_are_computed_from_intervals(findings):
    found = {
        "neighbourhoods": {
            "hopper-td3": {"ltp": estimate(0.04, 0.01, 0.07),
                           "pairs": {"tested": [], "similar": 0, "still": 0}},
        },
        "paths": {"hopper": {"drop": estimate(0.1, -0.05, 0.3)}},
        "rejection": {"heldout_cvar": estimate(20.0, -10.0, 50.0),
                      "heldout_ltp": estimate(-0.02, -0.04, -0.01)},
    }  # fmt: skip
    verdicts = [c["verdict"] for c in findings.claims(found)]
    assert verdicts == [
        "reproduces",  # LTP interval above 0
        "not established at this scale",  # the path drop's interval holds 0
        "not established at this scale",  # held-out CVaR difference holds 0
        "reproduces",  # held-out LTP difference below 0
    ]


def test_the_units_needed_follow_the_effect_and_its_spread(findings):
    claim = {"interval": estimate(20.0, -10.0, 50.0, 5), "no_effect": 0.0,
             "above": True}  # fmt: skip
    sigma = 30.0 / 1.96 * np.sqrt(5)  # one unit's spread, from the half-width
    assert findings.units_needed(claim) == int(np.ceil((2.8 * sigma / 20.0) ** 2))
    assert findings.units_needed(claim | {"above": False}) is None  # wrong side
    one = claim | {"interval": estimate(20.0, np.nan, np.nan, 1)}
    assert findings.units_needed(one) is None
