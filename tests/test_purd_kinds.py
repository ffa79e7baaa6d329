"""The episode-side perturbations; a SAC run through the PURD driver and rejection."""

import numpy as np
import pytest

from helpers import TINY_AGENT, copy_run
from return_landscapes import load_rejection, purd, reject, train
from return_landscapes.rundir import load_run_config
from return_landscapes.store import purd as purd_store


@pytest.mark.parametrize(
    "perturb", ["action_noise", "init_state", "param_noise_per_step"]
)
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
    reference = purd_store.load_purd_result(run, 300, "td3", 0.0)
    result = purd_store.load_purd_result(run, 300, perturb, 0.1)
    np.testing.assert_array_equal(
        result.arrays["unperturbed_return"], reference.arrays["unperturbed_return"]
    )
    assert (result.arrays["undiscounted_return"].std(axis=1) > 0).all()


def test_a_sac_run_gets_the_sac_perturbation_by_default(tmp_path):
    run = train(
        env="hopper",
        algo="sac",
        backend="spring",  # compiles faster than positional, which is not the point
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
    result = purd_store.load_purd_result(run, 100, "sac", 0.0)
    returns = result.arrays["undiscounted_return"]
    assert result.attrs["perturbation"] == "sac" and returns.shape == (1, 8)
    np.testing.assert_array_equal(returns[0], result.arrays["unperturbed_return"][0])
    purd(run=str(run), scale=1e-2, samples=8, progress=False)
    assert (
        purd_store.load_purd_result(run, 100, "sac", 1e-2)
        .arrays["undiscounted_return"]
        .std()
        > 0
    )
    reject(
        run=str(run),
        checkpoint=100,
        criterion="none",
        max_steps=2,
        samples=8,  # as the PURDs above: the compiled evaluation is reused
        repeats=1,
        progress=False,
    )
    (trace,) = load_rejection(run, 100, 0, "none")
    assert trace.attrs["perturbation"] == "sac" and trace.attrs["algo"] == "sac"
    assert trace.arrays["accepted"].all()
    assert trace.arrays["env_step"].tolist() == [100, 101, 102]
    assert trace.arrays["purd_returns"].shape == (3, 8)


def test_ppo_perturbation_at_rate_zero_is_the_unperturbed_policy_and_spreads_above(
    tiny_ppo_run, tmp_path
):
    run = copy_run(tiny_ppo_run, tmp_path / "run")
    purd(run=str(run), scale=0.0, samples=8, checkpoints=[512], progress=False)
    purd(run=str(run), samples=8, checkpoints=[512], progress=False)  # run's lr
    still = purd_store.load_purd_result(run, 512, "ppo", 0.0)
    assert still.attrs["perturbation"] == "ppo"
    np.testing.assert_array_equal(
        still.arrays["undiscounted_return"],
        np.repeat(still.arrays["unperturbed_return"][:, None], 8, axis=1),
    )
    lr = load_run_config(run).ppo.learning_rate
    moved = purd_store.load_purd_result(run, 512, "ppo", lr).arrays[
        "undiscounted_return"
    ]
    assert (moved.std(axis=1) > 0).all()


def test_ppo_samples_see_different_fresh_batches_and_noise_spares_the_normalizer(
    tiny_ppo_run,
):
    import jax
    import jax.numpy as jnp

    from return_landscapes.landscape.perturb import (
        CheckpointSource,
        get_perturbation,
        make_perturb_stage,
    )
    from return_landscapes.rundir import load_run_config
    from return_landscapes.training.state import restore_state
    from return_landscapes.training.trainers import get_trainer

    cfg = load_run_config(tiny_ppo_run)
    trainer = get_trainer(cfg)
    seed0 = jax.tree.map(lambda x: x[0], restore_state(trainer, cfg, tiny_ppo_run, 512))
    source = CheckpointSource(seed0.agent, env=seed0.env)
    keys = jax.random.split(jax.random.PRNGKey(0), 8)
    agent = trainer.agent
    batches = [
        agent.make_batch(seed0.agent, agent.rollout(seed0.agent, seed0.env, k)[1])
        for k in keys[:2]
    ]
    assert not np.array_equal(batches[0].observation, batches[1].observation)
    stage = make_perturb_stage(get_perturbation("ppo"), agent)
    params, _ = stage((source, jnp.float32(1e-2)), keys)
    kernel = np.asarray(params["policy"]["params"]["Dense_0"]["kernel"])
    assert len({row.tobytes() for row in kernel}) == 8
    noise = make_perturb_stage(get_perturbation("param_noise"), agent)
    noisy, _ = noise((source, jnp.float32(0.1)), keys)
    for name in ("count", "mean", "sum_squares"):
        stored = getattr(seed0.agent.normalizer, name)
        got = getattr(noisy["normalizer"], name)
        np.testing.assert_array_equal(got, np.broadcast_to(stored, got.shape))
