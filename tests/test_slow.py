"""Long checks, run by hand: ``pytest -m slow -s`` (deselected in CI).

TD3 (100k env steps) and PPO (10M) on Brax hopper with the paper's hyper-parameters,
2 seeds, through the public ``train`` entry point. Printed: the evaluation curves.
"""

import json

import numpy as np
import pytest

from return_landscapes import train
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
