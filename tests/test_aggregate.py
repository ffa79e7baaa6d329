"""Statistics across envs: the score matrices by hand, the numbers against rliable's
own functions (same arrays, seed and resamples), and ``aggregate.csv`` of a report
of runs on two envs."""

import csv
import json
import math
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import assert_one_error_line, copy_run, landscape
from return_landscapes import LandscapeError, report, store
from return_landscapes.landscape.stats import cvar, purd_statistics
from return_landscapes.landscape.stats.aggregate import (
    improvement_interval,
    iqm_interval,
    paired_matrices,
    rejection_gain,
    require_rliable,
    score_matrix,
)
from return_landscapes.report.across_envs import COLUMNS, purd_scores
from return_landscapes.store import purd as purd_store
from return_landscapes.store import rejection as rejection_store

rliable_library = pytest.importorskip("rliable.library")
rliable_metrics = pytest.importorskip("rliable.metrics")

REPS = 300  # resamples in these tests: enough to show equality, quick
QUICK = {"resamples": 50}  # the report's intervals across seeds: not tested here


def rliable_iqm(scores, reps, seed, confidence=0.95):
    """rliable called as its README does; its bootstrap draws from numpy's global
    random state, which ``np.random.seed`` sets."""
    np.random.seed(seed)
    point, interval = rliable_library.get_interval_estimates(
        {"x": scores},
        lambda x: np.array([rliable_metrics.aggregate_iqm(x)]),
        reps=reps,
        confidence_interval_size=confidence,
    )
    return point["x"][0], *interval["x"].ravel()


def rliable_improvement(x, y, reps, seed, confidence=0.95):
    np.random.seed(seed)
    point, interval = rliable_library.get_interval_estimates(
        {"x": [x, y]},
        lambda a, b: np.array([rliable_metrics.probability_of_improvement(a, b)]),
        reps=reps,
        confidence_interval_size=confidence,
    )
    return point["x"][0], *interval["x"].ravel()


@pytest.mark.unit
def test_the_score_matrix_keeps_finite_scores_and_a_common_run_count():
    matrix = score_matrix(
        {
            "walker": [4.0, np.nan, 5.0, 6.0],  # 3 finite
            "ant": [1.0, 2.0, 3.0, 9.0, np.inf],  # 4 finite
            "hopper": [7.0, np.nan],  # 1 finite: too few, left out
        }
    )
    assert matrix.envs == ("ant", "walker")  # name order
    np.testing.assert_array_equal(matrix.scores, [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])
    # nan, inf, nan; hopper's 7; ant's 9 beyond the common count of 3
    assert matrix.left_out == 5 and matrix.defined
    one = score_matrix({"ant": [1.0, 2.0], "hopper": [3.0]})
    assert one.envs == ("ant",) and not one.defined and one.left_out == 1
    x, y = paired_matrices(
        {"ant": [1.0, 2.0], "hopper": [3.0, 4.0, 5.0], "walker": [1.0, 2.0]},
        {"ant": [0.0, 1.0, 2.0, 3.0], "hopper": [1.0, np.nan]},
    )
    assert x.envs == y.envs == ("ant",)  # hopper: one finite Y; walker: no Y
    assert x.scores.shape == (2, 1) and y.scores.shape == (4, 1)
    assert x.left_out == 5 and y.left_out == 2


def stats_row(env, seed, step, mean, cvar_, ltp, unperturbed, flat=""):
    return {"env": env, "algo": "td3", "perturb": "td3", "scale": 3e-4, "seed": seed,
            "checkpoint": step, "mean": mean, "cvar": cvar_, "ltp": ltp,
            "unperturbed_return": unperturbed, "flat": flat}  # fmt: skip


@pytest.mark.unit
def test_per_seed_purd_statistics_become_per_env_scores():
    hopper = SimpleNamespace(
        stats=[
            stats_row("hopper", 1, 200, 900.0, 300.0, 0.1, 1000.0),
            stats_row("hopper", 0, 200, 800.0, 200.0, 0.2, 400.0),
            stats_row("hopper", 0, 100, 50.0, 10.0, math.nan, -5.0),
            stats_row("hopper", 1, 100, 1.0, 1.0, 0.0, 1.0, flat="policy falls"),
        ]
    )
    walker = SimpleNamespace(stats=[stats_row("walker", 0, 100, 70.0, 7.0, 0.3, 0.0)])
    groups = purd_scores([hopper, walker])
    at_200 = groups["td3", "td3", 3e-4, 200]["hopper"]  # seeds in order
    assert [s["mean"] for s in at_200] == [800.0, 900.0]
    assert [s["cvar_relative"] for s in at_200] == [0.5, 0.3]
    assert [s["mean_relative"] for s in at_200] == [2.0, 0.9]
    assert groups["td3", "td3", 3e-4, "last"]["hopper"] == at_200
    at_100 = groups["td3", "td3", 3e-4, 100]["hopper"]
    assert math.isnan(at_100[0]["ltp"]) and at_100[0]["cvar"] == 10.0
    assert math.isnan(at_100[0]["mean_relative"])  # unperturbed return <= 0
    assert all(math.isnan(v) for v in at_100[1].values())  # flat: not analysed
    (walker_last,) = groups["td3", "td3", 3e-4, "last"]["walker"]
    assert walker_last["ltp"] == 0.3 and math.isnan(walker_last["cvar_relative"])


@pytest.mark.unit
def test_iqm_and_improvement_equal_rliables_own_and_restore_the_random_state():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(5, 3)) * [1.0, 10.0, 100.0]
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    ours = iqm_interval(scores, reps=REPS, seed=7)
    assert (np.random.get_state()[1] == before).all()  # the caller's state is kept
    assert ours == rliable_iqm(scores, REPS, 7)
    assert ours.low < ours.estimate < ours.high
    assert ours.estimate == pytest.approx(np.sort(scores.ravel())[3:12].mean())
    assert iqm_interval(scores, reps=REPS, seed=8) != ours  # the seed matters
    x, y = rng.normal(size=(4, 3)) + 0.5, rng.normal(size=(6, 3))
    better = improvement_interval(x, y, reps=REPS, seed=7, confidence=0.9)
    assert better == rliable_improvement(x, y, REPS, 7, confidence=0.9)
    by_hand = np.mean([(x[:, [m]] > y[:, m]).mean() for m in range(3)])
    assert better.estimate == pytest.approx(by_hand)  # no ties in normal draws


@pytest.mark.unit
def test_a_rejection_gain_reads_the_last_kept_parameters():
    trace = {
        "accepted": np.array([True, True, False, True, False]),
        "cvar": np.array([100.0, 90.0, 500.0, 130.0, 10.0]),
        "ltp": np.array([0.3, 0.2, 0.0, 0.1, 0.9]),
        "mode": np.array([5.0, 5.0, 5.0, 5.0, 5.0]),
    }
    assert rejection_gain(trace, "cvar") == 30.0  # row 3 is the last kept
    assert rejection_gain(trace, "ltp") == pytest.approx(0.2)  # 0.3 shed to 0.1
    trace["mode"] = np.array([5.0, 5.0, 5.0, -1.0, 5.0])  # stored LTP 0.1: undefined
    assert math.isnan(rejection_gain(trace, "ltp"))


@pytest.mark.unit
def test_missing_rliable_is_one_line_with_the_install_command(monkeypatch):
    for name in ("rliable", "rliable.library", "rliable.metrics"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(LandscapeError) as err:
        require_rliable(", or pass aggregate=false")
    message = str(err.value)
    assert "\n" not in message and "is not installed" in message
    assert message.endswith(
        "pip install 'return-landscapes[rliable]', or pass aggregate=false"
    )


# ------------------------------------------------------------- a report of two envs

RNG = np.random.default_rng(0)
PURD_STEPS = {"hopper": (100, 200), "walker2d": (200, 300)}  # 200 shared


def hand_purd(run, step, seed, env, length=1000):
    """One seed's PURD, as ``landscape purd`` stores it; walker2d's returns are
    about twice hopper's."""
    size = 1.0 if env == "hopper" else 2.0
    returns = (size * 1000 + 100 * RNG.normal(size=40)).astype(np.float32)
    tail = RNG.integers(2, 7)  # a left tail of 2 to 6 falls: LTP and CVaR vary
    returns[:tail] = size * RNG.uniform(100, 300, tail)
    arrays = {
        "seeds": np.array([seed], np.int32),
        "undiscounted_return": returns[None],
        "discounted_return": returns[None] / 10,
        "length": np.full((1, returns.size), length, np.int32),
        "unperturbed_return": np.array([size * 1000 + seed], np.float32),
        "unperturbed_discounted_return": np.array([1.0], np.float32),
        "unperturbed_length": np.array([length], np.int32),
    }
    attrs = {"kind": "purd", "perturbation": "td3", "scale": 3e-4, "checkpoint": step,
             "seed": seed, "samples": returns.size, "horizon": 1000}  # fmt: skip
    store.write_result(
        purd_store.purd_path(run, "td3", 3e-4, step, seed), arrays, attrs
    )
    return returns


def hand_trace(run, criterion, repeat, cvar_end, ltp_end, mode_end=900.0):
    """One rejection repeat from checkpoint 200, seed 1, as ``landscape reject``
    stores it; the check of row 1 is kept, row 2's is not."""
    arrays = {
        "proposed_updates": np.array([0, 1, 2]),
        "env_step": np.array([200, 201, 201]),
        "accepted": np.array([True, True, False]),
        "purd_returns": RNG.normal(size=(3, 8)),
        "unperturbed_return": np.array([1000.0, 1000.0, 1000.0]),
        "mean": np.array([1000.0, 1000.0, 1000.0]),
        "std": np.ones(3),
        "median": np.array([1000.0, 1000.0, 1000.0]),
        "mode": np.array([900.0, mode_end, 900.0]),
        "ltp": np.array([0.2, ltp_end, 0.9]),
        "cvar": np.array([500.0, cvar_end, -1e6]),
        "kept_updates": np.array([0, 1, 1]),
    }
    folder = {"cvar": "cvar_alpha_0.1", "none": "none"}[criterion]
    attrs = {"kind": "rejection", "criterion": criterion, "alpha": 0.1,
             "threshold": 0.5, "checkpoint": 200, "seed": 1, "repeat": repeat,
             "perturbation": "td3", "scale": 3e-4, "bins": 100, "samples": 8,
             "max_steps": 2, "check_interval": 1}  # fmt: skip
    path = rejection_store.rejection_path(run, folder, 200, 1, repeat)
    store.write_result(path, arrays, attrs)
    return arrays


def relabel(run, env):
    """Give a copied run another env name. Honest for this test only: the report
    reads a run's env from its stored manifest and config, and every PURD and trace
    here is written by hand; nothing is simulated in that env."""
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["env"] = env
    (run / "manifest.json").write_text(json.dumps(manifest))
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("env: hopper", f"env: {env}"))


@pytest.fixture(scope="module")
def two_env_runs(tiny_td3_run, tmp_path_factory):
    """Two hand-made runs per env (hopper, walker2d), two seeds each: PURDs at
    ``PURD_STEPS``, seed 1 of walker2d-b flat at step 200 (falls at step 10);
    cvar and none rejection traces in the first run of each env.

    Returns the run paths and ``{(env, step): {metric: [score per seed]}}`` and
    ``{(criterion, metric): {env: [gain per repeat]}}`` worked out here."""
    where = tmp_path_factory.mktemp("two-envs")
    runs, purds, gains = [], {}, {}
    for env in PURD_STEPS:
        for copy in "ab":
            run = copy_run(tiny_td3_run, where / f"{env}-{copy}")
            if env != "hopper":
                relabel(run, env)
            runs.append(run)
            for step in PURD_STEPS[env]:
                for seed in (0, 1):
                    flat = (env, copy, seed, step) == ("walker2d", "b", 1, 200)
                    returns = hand_purd(run, step, seed, env, 10 if flat else 1000)
                    scores = purds.setdefault((env, step), {})
                    stats = purd_statistics(returns)
                    for metric in ("mean", "ltp", "cvar"):
                        value = math.nan if flat else stats[metric]
                        scores.setdefault(metric, []).append(value)
            if copy == "b":
                continue
            for criterion, shift in (("cvar", 30.0), ("none", 0.0)):
                for repeat in range(3):
                    undefined = env == "hopper" and criterion == "none" and repeat == 2
                    trace = hand_trace(
                        run,
                        criterion,
                        repeat,
                        cvar_end=480.0 + shift + 10 * RNG.normal(),
                        ltp_end=RNG.choice([0.1, 0.2, 0.3]),
                        mode_end=-5.0 if undefined else 900.0,
                    )
                    for metric, gain in (
                        ("cvar", trace["cvar"][1] - trace["cvar"][0]),
                        ("ltp", math.nan if undefined else 0.2 - trace["ltp"][1]),
                    ):
                        gains.setdefault((criterion, metric), {})
                        gains[criterion, metric].setdefault(env, []).append(gain)
    assert cvar(np.full(4, 2.0)) == 2.0  # the statistics module is the one in use
    return runs, purds, gains


def read_aggregate(folder):
    with open(folder / "aggregate.csv") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


def test_a_report_of_two_envs_writes_rliables_numbers(two_env_runs, tmp_path):
    runs, purds, gains = two_env_runs
    out = tmp_path / "report"
    index = report(
        runs=[str(r) for r in runs], out=str(out), aggregate_reps=REPS, **QUICK
    )
    rows = read_aggregate(out)
    iqm = {(r["metric"], r["checkpoint"]): r for r in rows if r["statistic"] == "iqm"}
    # steps 100 and 300 are of one env each: no aggregate
    assert {step for _, step in iqm} == {"200", "last"}
    for metric in ("mean", "ltp", "cvar"):
        for step, (hopper_step, walker_step) in (
            ("200", (200, 200)),
            ("last", (200, 300)),
        ):
            hopper = purds["hopper", hopper_step][metric]
            walker = [v for v in purds["walker2d", walker_step][metric] if v == v]
            scores = np.stack([hopper[: len(walker)], walker], axis=1)
            row = iqm[metric, step]
            expected = rliable_iqm(scores, REPS, 0)
            assert (
                tuple(float(row[k]) for k in ("estimate", "ci_low", "ci_high"))
                == expected
            )
            assert (row["envs"], row["n_envs"], row["n_runs"]) == (
                "hopper;walker2d",
                "2",
                str(len(walker)),
            )
            assert row["left_out"] == str(4 - len(walker) + 4 - len(walker))
            assert (row["reps"], row["bootstrap_seed"], row["confidence"]) == (
                str(REPS),
                "0",
                "0.95",
            )
    assert iqm["cvar", "200"]["n_runs"] == "3"  # walker2d's flat seed left out
    assert iqm["cvar", "last"]["n_runs"] == "4"
    improvement = [r for r in rows if r["statistic"] == "probability_of_improvement"]
    assert [r["metric"] for r in improvement] == ["cvar", "ltp"]
    for row in improvement:
        metric = row["metric"]
        x, y = gains["cvar", metric], gains["none", metric]
        y = {env: [v for v in values if v == v] for env, values in y.items()}
        n_y = min(len(v) for v in y.values())
        expected = rliable_improvement(
            np.stack([x["hopper"], x["walker2d"]], axis=1),
            np.stack([y["hopper"][:n_y], y["walker2d"][:n_y]], axis=1),
            REPS,
            0,
        )
        assert (
            tuple(float(row[k]) for k in ("estimate", "ci_low", "ci_high")) == expected
        )
        assert (row["criterion"], row["baseline"], row["checkpoint"]) == (
            "cvar_alpha_0.1",
            "none",
            "",
        )
        assert (row["n_runs"], row["n_runs_baseline"]) == ("3", str(n_y))
    assert improvement[0]["estimate"] != "0.5"  # cvar's traces gained 30 more
    assert improvement[1]["left_out"] == "2"  # hopper's undefined LTP, walker's third
    html = index.read_text()
    assert "Across envs" in html and "IQM" in html and "P(improvement)" in html
    assert "cvar_alpha_0.1 &gt; none" in html


def test_a_report_of_one_env_says_the_aggregate_is_not_defined(two_env_runs, tmp_path):
    runs, *_ = two_env_runs
    hoppers = [str(runs[0]), str(runs[1])]  # two runs, one env
    index = report(runs=hoppers, out=str(tmp_path / "one"), **QUICK)
    assert "not defined for runs of one env (hopper)" in index.read_text()
    assert not (tmp_path / "one" / "aggregate.csv").exists()
    assert (tmp_path / "one" / "stats.csv").is_file()
    both = [str(runs[0]), str(runs[2])]
    off = report(runs=both, out=str(tmp_path / "off"), aggregate=False, **QUICK)
    assert "aggregate=false" in off.read_text()
    assert not (tmp_path / "off" / "aggregate.csv").exists()


def test_a_report_of_two_envs_without_rliable_fails_before_writing(
    two_env_runs, tmp_path, monkeypatch
):
    runs, *_ = two_env_runs
    both = [str(runs[0]), str(runs[2])]
    for name in ("rliable", "rliable.library", "rliable.metrics"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(LandscapeError, match=r"return-landscapes\[rliable\]"):
        report(runs=both, out=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()
    fake = tmp_path / "no-rliable" / "rliable"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named rliable')\n")
    path = os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])
    result = landscape(
        "report",
        f"runs=[{','.join(both)}]",
        "out=r",
        cwd=tmp_path,
        env={"PYTHONPATH": path},
    )
    assert_one_error_line(
        result, "pip install 'return-landscapes[rliable]'", "aggregate=false"
    )
    assert not (tmp_path / "r").exists()
    for bad, fragment in (
        ({"aggregate_reps": 0}, "aggregate_reps=0 must be at least 1"),
        ({"aggregate_seed": -1}, "aggregate_seed=-1 must lie in"),
    ):
        with pytest.raises(LandscapeError, match=fragment):
            report(runs=both, out=str(tmp_path / "r"), **bad)
