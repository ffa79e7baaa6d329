"""Post-update rejection on a tiny trained TD3 run: exact undo, criteria, store."""

import dataclasses
import sys
import types

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import (
    assert_one_error_line,
    assert_rerun_computes_nothing,
    copy_run,
    files_and_stamps,
    kill_when_files_land,
    landscape,
    landscape_here,
)
from return_landscapes import LandscapeError, load_rejection, reject
from return_landscapes.conf import RejectConfig
from return_landscapes.landscape.experiments import reject as rejection
from return_landscapes.landscape.hotpath.engine import get_engine
from return_landscapes.landscape.stats import purd_statistics
from return_landscapes.landscape.stats.units import (
    REPRODUCES,
    paired_difference,
    verdict,
)
from return_landscapes.store import rejection as rejection_store
from return_landscapes.tracking import tracking
from return_landscapes.training.schedule import Block

SMALL = {"checkpoint": 200, "seed": 1, "samples": 8, "progress": False}


@pytest.fixture(scope="module")
def setup(tiny_td3_run, tmp_path_factory):
    """A run copy, and the job, engine and root state of checkpoint 200, seed 1."""
    run = copy_run(tiny_td3_run, tmp_path_factory.mktemp("reject") / "run")
    cfg = RejectConfig(
        run=str(run), max_steps=4, repeats=1, scale=1e-2, **renamed(SMALL)
    )
    job = rejection.plan_rejection(cfg)
    engine = get_engine(job.run_cfg, job.perturbation, job.horizon, 0.99, 1e-2)
    return run, job, engine, rejection.root_state(job, engine)


def renamed(options):
    """``options`` with the training seed under its config name, ``seed_index``."""
    return {("seed_index" if k == "seed" else k): v for k, v in options.items()}


def assert_same(tree, other):
    for a, b in zip(jax.tree.leaves(tree), jax.tree.leaves(other), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_rejecting_everything_restores_the_root_bit_for_bit(setup):
    _, job, engine, root = setup
    final, trace = rejection.run_repeat(job, engine, root, 0, accept=lambda *_: False)
    assert trace["accepted"].tolist() == [True, False, False, False, False]
    assert trace["kept_updates"].tolist() == [0, 0, 0, 0, 0]
    # parameters, optimizer states, every replay row (the tiny buffer wraps), its
    # position and size; the env and the training key go on
    assert_same(final.agent, root.agent)
    assert_same(final.replay, root.replay)
    assert not np.array_equal(final.key, rejection.repeat_start(root, 0, 0).key)


def test_criterion_none_is_plain_continued_training(setup):
    _, job, engine, root = setup
    accept = rejection.CRITERIA["none"]
    final, trace = rejection.run_repeat(job, engine, root, 0, accept=accept)
    trainer = rejection.continuing_trainer(job)  # reject_env=fresh
    start = rejection.repeat_start(jax.tree.map(jnp.copy, root), 0, 0, trainer.env)
    plain, _ = trainer.run_block(start, Block(200, 4, True))
    assert_same(final, plain)
    assert trace["kept_updates"].tolist() == [0, 1, 2, 3, 4]
    assert trace["env_step"].tolist() == [200, 201, 202, 203, 204]


class FakeWandbRun:
    def __init__(self, **settings):
        self.id, self.rows = "fake", []

    def log(self, row, step=None):
        self.rows.append(row)

    def finish(self):
        pass


def test_every_check_logs_the_kept_and_proposed_purd_statistics(
    setup, monkeypatch, capsys
):
    run, job, engine, root = setup
    wandb = types.ModuleType("wandb")
    wandb.init = FakeWandbRun
    monkeypatch.setitem(sys.modules, "wandb", wandb)
    decisions = iter([True, False, True, False])
    options = types.SimpleNamespace(wandb=True, wandb_project="p", wandb_entity=None)
    with tracking(options, run, "reject", {}) as wandb_run:
        _, trace = rejection.run_repeat(
            job, engine, root, 0, accept=lambda *_: next(decisions)
        )
    assert trace["accepted"].tolist() == [True, True, False, True, False]
    assert len(wandb_run.rows) == 5  # the root and four checks
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("repeat 0, ")]
    assert len(lines) == 5
    for row, (logged, line) in enumerate(zip(wandb_run.rows, lines, strict=True)):
        kept = np.flatnonzero(trace["accepted"][: row + 1])[-1]
        assert logged["reject/proposed_updates"] == trace["proposed_updates"][row]
        assert logged["reject/kept_updates"] == trace["kept_updates"][row]
        assert logged["reject/accepted"] == trace["accepted"][row]
        for name in ("mean", "ltp", "cvar"):
            assert logged[f"reject/purd_{name}"] == trace[name][kept]
            assert logged[f"reject/proposed_purd_{name}"] == trace[name][row]
        assert f"PURD mean {trace['mean'][kept]:.1f}, LTP " in line
        assert f"CVaR {trace['cvar'][kept]:.1f}" in line
    assert lines[2].startswith("repeat 0, 2/4 updates proposed, rejected (1 kept)")
    assert f"proposed: mean {trace['mean'][2]:.1f}, " in lines[2]


def kept_before(trace, row):
    return np.flatnonzero(trace["accepted"][:row])[-1]


@pytest.mark.parametrize("criterion", ["cvar", "ltp"])
def test_the_criterion_holds_on_the_recorded_traces(setup, criterion):
    run, *_ = setup
    reject(
        run=str(run),
        criterion=criterion,
        max_steps=6,
        repeats=2,
        scale=1e-2,
        threshold=0.99,
        **SMALL,
    )
    repeats = load_rejection(run, 200, 1, criterion, threshold=0.99)
    assert [r.attrs["repeat"] for r in repeats] == [0, 1]
    for result in repeats:
        trace = result.arrays
        assert trace["purd_returns"].shape == (7, 8)
        for row in range(1, 7):
            last = trace[criterion][kept_before(trace, row)]
            if criterion == "cvar":
                assert trace["accepted"][row] == (trace["cvar"][row] >= last)
            else:
                assert trace["accepted"][row] == (trace["ltp"][row] <= last)
        for row in np.flatnonzero(trace["accepted"])[1:]:
            assert trace["env_step"][row] == 200 + trace["kept_updates"][row]


def test_check_interval_groups_the_proposed_updates(setup):
    run, *_ = setup
    options = {"criterion": "none", "max_steps": 5, "check_interval": 2}
    reject(run=str(run), **options, **SMALL, repeats=1)
    assert_rerun_computes_nothing(
        run, lambda: reject(run=str(run), **options, **SMALL, repeats=1)
    )
    (result,) = load_rejection(run, 200, 1, "none")
    assert result.arrays["proposed_updates"].tolist() == [0, 2, 4, 5]
    assert result.arrays["accepted"].all()
    assert result.attrs["check_interval"] == 2 and result.attrs["criterion"] == "none"
    assert result.attrs["check_noise"] == "fresh"  # the paper's Algorithm 1


@pytest.mark.parametrize("noise", ["fresh", "common"])
def test_checks_draw_fresh_or_common_samples(setup, noise, monkeypatch):
    """check_noise=fresh: every check its own draws (the root's are the repeat's);
    common: one set of draws for every check of a repeat."""
    _, job, engine, root = setup
    job = dataclasses.replace(job, cfg=dataclasses.replace(job.cfg, check_noise=noise))
    seen = []
    estimate = rejection._estimate

    def recording(job, engine, state, keys, bar):
        seen.append(np.asarray(keys))
        return estimate(job, engine, state, keys, bar)

    monkeypatch.setattr(rejection, "_estimate", recording)
    final, trace = rejection.run_repeat(job, engine, root, 0, accept=lambda *_: False)
    *checks, heldout = seen
    assert len(checks) == 5 == len(trace["accepted"])  # the root and four checks
    for check, keys in enumerate(checks):
        np.testing.assert_array_equal(keys, rejection.check_keys(job.cfg, 0, check))
    same = [np.array_equal(checks[0], keys) for keys in checks[1:]]
    distinct = {keys.tobytes() for keys in checks}
    if noise == "common":
        assert all(same)
    else:
        assert not any(same) and len(distinct) == 5
    # the final policy's held-out PURD: draws no check used, stored with the trace
    np.testing.assert_array_equal(heldout, rejection.heldout_keys(job.cfg, 0))
    assert heldout.tobytes() not in distinct
    again = rejection._estimate(job, engine, final, heldout, None)
    np.testing.assert_array_equal(trace["heldout_returns"], again.returns)
    assert float(trace["heldout_cvar"]) == again.statistics["cvar"]


def test_bad_requests_are_refused(setup, tiny_ppo_run):
    run, *_ = setup
    cases = [
        ({}, "checkpoint= is required: choose one of 100, 200, 300"),
        ({"checkpoint": 150}, "no checkpoint at step(s) [150]"),
        ({"checkpoint": 200, "seed": 4}, "seed(s) [4] not in this run"),
        ({"checkpoint": 200, "samples": 0}, "samples=0 must be at least 1"),
        ({"checkpoint": 200, "alpha": 0.0}, "alpha=0.0 must lie in (0, 1]"),
        ({"checkpoint": 200, "perturb": "sac"}, "applies to sac runs"),
        ({"checkpoint": 200, "perturb": "init_state"}, "cannot judge an update"),
    ]
    for overrides, fragment in cases:
        with pytest.raises(LandscapeError) as error:
            reject(run=str(run), progress=False, **overrides)
        assert fragment in str(error.value)
    with pytest.raises(LandscapeError, match="this run is ppo: use a td3 or sac run"):
        reject(run=str(tiny_ppo_run), checkpoint=256)


def test_a_killed_job_resumes_and_a_concurrent_one_loses_nothing(
    tiny_td3_run, tmp_path
):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    args = ["reject", f"run={run}", "checkpoint=200", "max_steps=2", "repeats=3"]
    args += ["samples=256", "chunk=128", "progress=false"]
    other = landscape(*args, "seed=0", cwd=tmp_path, wait=False)
    job = landscape(*args, "seed=1", cwd=tmp_path, wait=False)
    folder = rejection_store.rejection_path(run, "cvar_alpha_0.1", 200, 1, 0).parent
    finished = kill_when_files_land(job, folder, "repeat_*.h5")
    assert 1 <= finished < 3
    assert other.wait(timeout=600) == 0, other.stderr.read().decode()
    again = landscape_here(*args, "seed=1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"skipping {finished} finished" in again.stderr
    for seed in (0, 1):
        results = load_rejection(run, 200, seed)
        assert [r.attrs["repeat"] for r in results] == [0, 1, 2]
        for result in results:
            assert result.arrays["purd_returns"].shape == (3, 256)
    path = rejection_store.rejection_path(run, "cvar_alpha_0.1", 200, 1, 2)
    with h5py.File(path) as f:
        assert f["accepted"].shape == (3,)


def test_cli_bad_input_is_one_line_and_changes_nothing(setup):
    run, *_ = setup
    before = files_and_stamps(run / "landscape")
    result = landscape_here(
        "reject", f"run={run}", "checkpoint=200", "criterion=cvr", cwd=run.parent
    )
    assert_one_error_line(result, "cvr", "cvar")
    assert files_and_stamps(run / "landscape") == before


@pytest.mark.unit
def test_traces_from_before_check_noise_count_as_common(tmp_path):
    from return_landscapes.landscape.checks import is_finished
    from return_landscapes.store import write_result

    path = tmp_path / "repeat_000.h5"
    write_result(path, {"accepted": np.array([True])}, {"max_steps": 4})
    older = rejection.OLDER_SETTINGS
    assert is_finished(path, {"max_steps": 4, "check_noise": "common"}, False, older)
    with pytest.raises(LandscapeError, match="check_noise=common"):
        is_finished(path, {"max_steps": 4, "check_noise": "fresh"}, False, older)


def test_under_pure_noise_kept_estimates_climb_and_held_out_ones_do_not(
    setup, monkeypatch
):
    """Updates that change nothing: with fresh draws, cvar's kept CVaR can only
    climb (it keeps the highest of noisy estimates of one policy), yet the final
    policies of cvar and none are that one policy, and their held-out PURDs (the
    same draws) are equal."""
    _, job, engine, root = setup
    trainer = rejection.continuing_trainer(job)
    idle = trainer._replace(run_block=lambda state, block: (state, {}))
    monkeypatch.setattr(rejection, "continuing_trainer", lambda job: idle)
    job = dataclasses.replace(job, cfg=dataclasses.replace(job.cfg, max_steps=12))
    traces = {
        name: rejection.run_repeat(job, engine, root, 0, accept=accept)[1]
        for name, accept in rejection.CRITERIA.items()
        if name in ("cvar", "none")
    }
    kept = traces["cvar"]["cvar"][np.flatnonzero(traces["cvar"]["accepted"])]
    assert np.all(np.diff(kept) >= 0) and kept[-1] > kept[0]  # selected upward
    assert np.unique(traces["none"]["cvar"]).size > 1  # the draws do vary
    np.testing.assert_array_equal(
        traces["cvar"]["heldout_returns"], traces["none"]["heldout_returns"]
    )
    assert float(traces["cvar"]["heldout_cvar"]) < kept[-1]


def test_where_updates_widen_the_tail_held_out_cvar_beats_none(setup, monkeypatch):
    """A toy on the real loop: every other proposed update widens the left tail (a
    tenth more samples fall to 0), the others change nothing. ``cvar`` undoes the
    widening ones, ``none`` keeps them all, and the held-out CVaR of the final
    policies, paired by repeat, says ``cvar`` is better with an interval that
    excludes no effect."""
    _, job, engine, root = setup
    leaf = _first_float_leaf(root.agent)
    proposals = {"count": 0}

    def run_block(state, block):
        proposals["count"] += 1
        harm = 1.0 if proposals["count"] % 2 else 0.0
        return state.replace(agent=_shift_leaf(state.agent, harm)), {}

    def estimate(job, engine, state, keys, bar):
        harm = float(np.mean(_first_float_leaf(state.agent) - leaf))
        rng = np.random.default_rng(np.asarray(jax.random.key_data(keys)).ravel())
        returns = 100.0 + rng.normal(0.0, 5.0, len(keys))
        returns[rng.random(len(keys)) < min(0.1 * harm, 0.6)] = 0.0
        statistics = purd_statistics(returns)
        return rejection.Estimate(returns, statistics, 100.0)

    trainer = rejection.continuing_trainer(job)
    monkeypatch.setattr(
        rejection,
        "continuing_trainer",
        lambda job: trainer._replace(run_block=run_block),
    )
    monkeypatch.setattr(rejection, "_estimate", estimate)
    cfg = dataclasses.replace(job.cfg, max_steps=12, samples=40)
    job = dataclasses.replace(job, cfg=cfg)
    held_out = {"cvar": [], "none": []}
    for repeat in range(4):
        for name in held_out:
            proposals["count"] = 0
            _, trace = rejection.run_repeat(
                job, engine, root, repeat, accept=rejection.CRITERIA[name]
            )
            held_out[name].append(float(trace["heldout_cvar"]))
    assert min(held_out["cvar"]) > 80.0 and max(held_out["none"]) < 10.0
    effect = paired_difference(held_out["cvar"], held_out["none"], range(4))
    assert verdict(effect) == REPRODUCES


def _first_float_leaf(tree) -> np.ndarray:
    return next(
        np.asarray(x)
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.floating)
    )


def _shift_leaf(tree, by: float):
    leaves, structure = jax.tree.flatten(tree)
    index = next(
        i for i, x in enumerate(leaves) if jnp.issubdtype(x.dtype, jnp.floating)
    )
    leaves[index] = leaves[index] + by
    return jax.tree.unflatten(structure, leaves)
