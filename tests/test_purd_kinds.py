"""The episode-side perturbations and a SAC run through the PURD driver."""

import numpy as np
import pytest

from conftest import TINY_AGENT, copy_run
from return_landscapes import purd, store, train


@pytest.mark.parametrize("perturb", ["action_noise", "init_state"])
def test_episode_perturbations_spread_around_the_same_unperturbed_return(
    tiny_td3_run, tmp_path, perturb
):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    for name in ("td3", perturb):
        purd(
            run=str(run),
            perturb=name,
            scale=0.0 if name == "td3" else 0.1,
            samples=8,
            checkpoints=[300],
            progress=False,
        )
    reference = store.load_purd_result(run, 300, "td3", 0.0)
    result = store.load_purd_result(run, 300, perturb, 0.1)
    np.testing.assert_array_equal(
        result.arrays["unperturbed_return"], reference.arrays["unperturbed_return"]
    )
    assert (result.arrays["undiscounted_return"].std(axis=1) > 0).all()


def test_a_sac_run_gets_the_sac_perturbation_by_default(tmp_path):
    run = train(
        env="hopper",
        algo="sac",
        seeds=1,
        steps=100,
        checkpoints=[100],
        block=50,
        horizon=30,
        eval_episodes=0,
        progress=False,
        sac=TINY_AGENT,
        out=str(tmp_path / "sac"),
    )
    purd(run=str(run), scale=0.0, samples=8, progress=False)
    result = store.load_purd_result(run, 100, "sac", 0.0)
    returns = result.arrays["undiscounted_return"]
    assert result.attrs["perturbation"] == "sac" and returns.shape == (1, 8)
    np.testing.assert_array_equal(returns[0], result.arrays["unperturbed_return"][0])
    purd(run=str(run), scale=1e-2, samples=8, progress=False)
    assert (
        store.load_purd_result(run, 100, "sac", 1e-2)
        .arrays["undiscounted_return"]
        .std()
        > 0
    )
