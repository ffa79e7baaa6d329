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


def test_similar_mean_pairs_count_spreads_three_times_apart(findings):
    rows = [policy(0, 1000.0, 10.0), policy(1, 1040.0, 45.0), policy(2, 500.0, 5.0)]
    pairs = findings.similar_mean_pairs(rows)
    # 1000 and 1040 lie within 5 % (40 / 1040); 500 is far from both
    assert pairs["similar"] == 1 and pairs["spread_3x"] == 1
    assert pairs["best"]["ratio"] == pytest.approx(4.5)
    assert findings.similar_mean_pairs(rows[:1] + rows[2:])["best"] is None


def test_the_last_kept_check_gives_the_final_cvar_and_an_undefined_ltp(findings):
    trace = {
        "accepted": np.array([True, True, False]),
        "cvar": np.array([100.0, 120.0, 50.0]),
        "ltp": np.array([0.1, 0.0, 0.3]),
        "mode": np.array([200.0, -5.0, 200.0]),
    }
    last = findings._last_kept(trace)
    assert last["cvar"] == 120.0 and np.isnan(last["ltp"])  # mode <= 0 at row 1
    assert [findings._win(a, b) for a, b in [(2, 1), (1, 1), (0, 1)]] == [1, 0.5, 0]


def test_verdicts_say_what_does_not_reproduce(findings):
    empty_pairs = {"similar": 0, "spread_3x": 0, "best": None}
    found = {
        "neighbourhoods": {
            "hopper-td3": {"ltp_at_least_0.02": 1, "cvar_at_most_0.8_mean": 0,
                           "pairs": empty_pairs},
        },
        "paths": {"hopper": {"same_seed": None, "cross_seed": None}},
        "rejection": {"probability_of_improvement": {"value": 0.6, "low": 0.4,
                                                     "high": 0.8, "n": 5}},
    }  # fmt: skip
    lines = findings.verdicts(found)
    assert "does not reproduce at this scale" in lines[0]
    assert "too few paths" in lines[1]
    assert "is not established at this scale" in lines[2]
