"""Long checks, run by hand: ``pytest -m slow -s`` (deselected in CI).

TD3 (100k env steps) and PPO (10M) on Brax hopper with the paper's hyper-parameters,
2 seeds, through the public ``train`` entry point; interpolation paths and rejection
on a trained TD3 hopper. Printed: the evaluation curves and the landscape figures.
"""

import json
import os
import time

import numpy as np
import pytest

from conftest import copy_run
from return_landscapes import interpolate, load_rejection, reject, store, train
from return_landscapes.checkpoint import METRICS


@pytest.mark.slow
def test_td3_learns_hopper_in_100k_steps(tmp_path):
    run_dir = train(
        env="hopper", algo="td3", seeds=2, steps=100_000, out=str(tmp_path / "run")
    )
    records = [
        json.loads(line) for line in (run_dir / METRICS).read_text().splitlines()
    ]
    evals = [r for r in records if r["kind"] == "eval"]
    curve = {r["step"]: r["return"] for r in evals}
    lengths = {r["step"]: r["length"] for r in evals}
    print(json.dumps({"eval_return": curve, "eval_length": lengths}))
    last_three = sorted(curve)[-3:]
    initial, initial_length = np.array(curve[0]), np.array(lengths[0])
    final = np.array([curve[s] for s in last_three]).mean(axis=0)
    final_length = np.array([lengths[s] for s in last_three]).mean(axis=0)
    # Untrained, hopper falls within ~20 steps for a return of ~20. Hopping forward
    # without falling for longer is what TD3 learns first: demand 5x the untrained
    # return, at least 150, and episodes 3x as long, on every seed.
    assert np.all(final > np.maximum(150.0, 5 * initial)), (initial, final)
    assert np.all(final_length > 3 * initial_length), (initial_length, final_length)


@pytest.mark.slow
def test_ppo_learns_hopper_in_10m_steps(tmp_path):
    """PPO, paper hyper-parameters (2048 envs x 16 steps, ...), 2 seeds, 10M steps."""
    run_dir = train(
        env="hopper",
        algo="ppo",
        seeds=2,
        steps=10_000_000,
        eval_interval=1_000_000,
        out=str(tmp_path / "ppo"),
    )
    records = [
        json.loads(line) for line in (run_dir / METRICS).read_text().splitlines()
    ]
    evals = [r for r in records if r["kind"] == "eval"]
    curve = {r["step"]: r["return"] for r in evals}
    lengths = {r["step"]: r["length"] for r in evals}
    print(json.dumps({"eval_return": curve, "eval_length": lengths}))
    steps = sorted(curve)
    initial = np.array(curve[0])
    final = np.array([curve[s] for s in steps[-3:]]).mean(axis=0)
    # The same bar as for TD3: 5x the untrained return and at least 150 on every seed
    # (an untrained hopper falls within ~20 steps), averaged over the last 3 evals.
    assert np.all(final > np.maximum(150.0, 5 * initial)), (initial, final)


def path_dip(result) -> float:
    """Minimum plain return along a path over the lower endpoint's return."""
    curve = result.plain_return
    return float(curve.min() / min(curve[0], curve[-1]))


@pytest.mark.slow
def test_interpolation_and_rejection_on_a_trained_hopper(tmp_path):
    """Same-seed vs cross-seed paths; ``cvar`` vs ``none`` rejection over 40 steps.

    TD3 on hopper, 3 seeds, 100k steps (or a copy of ``LANDSCAPE_TRAINED_RUN``, a run
    of those settings). Printed: the figures of the issue note. Asserted: what must
    hold whatever the landscape looks like.
    """
    source = os.environ.get("LANDSCAPE_TRAINED_RUN")
    if source:
        run = copy_run(source, tmp_path / "run")
    else:
        run = train(
            env="hopper",
            algo="td3",
            seeds=3,
            steps=100_000,
            checkpoints=[25_000, 50_000, 75_000, 100_000],
            out=str(tmp_path / "run"),
        )
    figures = {}
    tic = time.perf_counter()
    for kind in ("same_seed", "cross_seed"):
        interpolate(run=str(run), pairs=kind, points=21, samples=20)
    figures["interpolate_seconds"] = time.perf_counter() - tic
    for kind in ("same_seed", "cross_seed"):
        paths = [
            store.read_interpolation(p)
            for p in store.stored_interpolations(run)
            if store.read_result(p).attrs["pair_kind"] == kind
        ]
        dips = [path_dip(r) for r in paths]
        purd_dips = [
            float(r.returns.mean(0).min() / min(r.returns.mean(0)[[0, -1]]))
            for r in paths
        ]
        figures[kind] = {
            "pairs": len(paths),
            "mean_min_over_endpoint": float(np.mean(dips)),
            "share_of_paths_dipping_below_0.8": float(np.mean(np.array(dips) < 0.8)),
            "purd_mean_min_over_endpoint": float(np.mean(purd_dips)),
        }
    for criterion in ("cvar", "none"):
        tic = time.perf_counter()
        reject(
            run=str(run),
            checkpoint=100_000,
            seed=0,
            criterion=criterion,
            max_steps=40,
            samples=1000,
            repeats=3,
        )
        repeats = load_rejection(run, 100_000, 0, criterion)
        finals = [np.flatnonzero(r.arrays["accepted"])[-1] for r in repeats]
        figures[f"reject_{criterion}"] = {
            "seconds": time.perf_counter() - tic,
            "root_ltp": float(repeats[0].arrays["ltp"][0]),
            "root_cvar": float(repeats[0].arrays["cvar"][0]),
            "final_ltp": float(
                np.mean(
                    [r.arrays["ltp"][i] for r, i in zip(repeats, finals, strict=True)]
                )
            ),
            "final_cvar": float(
                np.mean(
                    [r.arrays["cvar"][i] for r, i in zip(repeats, finals, strict=True)]
                )
            ),
            "final_mean": float(
                np.mean(
                    [r.arrays["mean"][i] for r, i in zip(repeats, finals, strict=True)]
                )
            ),
            "kept_updates": [int(r.arrays["kept_updates"][-1]) for r in repeats],
        }
        for result in repeats:
            trace = result.arrays
            assert trace["purd_returns"].shape == (41, 1000)
            if criterion == "none":
                assert trace["accepted"].all()
            for row in np.flatnonzero(trace["accepted"])[1:]:
                last = np.flatnonzero(trace["accepted"][:row])[-1]
                if criterion == "cvar":
                    assert trace["cvar"][row] >= trace["cvar"][last]
    print(json.dumps(figures, indent=1))
    for result in map(store.read_interpolation, store.stored_interpolations(run)):
        assert result.returns.shape == (20, 21)
