"""Atari PPO on envpool: runs, exact checkpoints, resume, PURD and paths, bad input."""

import numpy as np
import pytest

from helpers import assert_one_error_line, landscape_here, training_snapshots
from return_landscapes import load_purd, load_surface, surface, train
from return_landscapes import rundir as ckpt
from return_landscapes.conf import TrainConfig, resolve
from return_landscapes.envs.atari import game_names
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.experiments.interpolate import interpolate
from return_landscapes.landscape.experiments.purd import purd
from return_landscapes.rundir import load_run_config
from return_landscapes.store import read_result
from return_landscapes.store.interpolation import load_interpolation
from return_landscapes.training.state import restore_state
from return_landscapes.training.trainers import get_trainer
from test_train import assert_same_run, assert_trees_equal, eval_records

TINY_ATARI = {
    "env": "atari:Breakout-v5",
    "algo": "ppo",
    "seeds": 2,
    "steps": 768,
    "checkpoints": [256, 512],
    "block": 256,
    "horizon": 120,
    "eval_interval": 256,
    "eval_episodes": 1,
    "progress": False,
    "atari": {"num_envs": 4, "unroll_length": 32, "num_minibatches": 2, "epochs": 2},
}
STEPS = (256, 512, 768)


@pytest.fixture(scope="session")
def tiny_atari_run(tmp_path_factory):
    return train(TINY_ATARI, out=str(tmp_path_factory.mktemp("atari") / "run"))


def test_atari_run_directory_and_defaults(tiny_atari_run):
    manifest = ckpt.read_manifest(tiny_atari_run)
    assert manifest["env"] == "atari:Breakout-v5" and manifest["algo"] == "ppo"
    assert manifest["checkpoint_steps"] == list(STEPS)
    assert ckpt.completed_checkpoints(tiny_atari_run) == list(STEPS)
    assert [r["step"] for r in eval_records(tiny_atari_run)] == [0, *STEPS]
    assert not (tiny_atari_run / "replay").exists()
    defaults = resolve(TrainConfig, env="atari:Pong-v5", algo="ppo")
    assert defaults.steps == 10_000_000 and defaults.horizon == 108_000 // 4
    assert (defaults.atari.num_envs, defaults.atari.unroll_length) == (8, 128)
    assert resolve(TrainConfig).horizon == 1000  # Brax keeps its horizon


def test_atari_checkpoints_restore_every_leaf(tiny_atari_run):
    cfg = load_run_config(tiny_atari_run)
    trainer = get_trainer(cfg)
    snapshots = training_snapshots(trainer, cfg, STEPS)
    for step, expected in snapshots.items():
        assert_trees_equal(restore_state(trainer, cfg, tiny_atari_run, step), expected)
    assert snapshots[256].env.observation.shape == (2, 4, 4, 84, 84)


def test_atari_resume_equals_no_crash(tiny_atari_run, tmp_path):
    out = tmp_path / "resumed"
    train(TINY_ATARI, out=str(out), stop_at=256)
    train(TINY_ATARI, out=str(out), resume=True)
    assert_same_run(tiny_atari_run, out, STEPS)


def test_ppo_perturbation_at_rate_zero_repeats_the_checkpoint(tiny_atari_run):
    purd(
        run=str(tiny_atari_run),
        perturb="ppo",
        scale=0.0,
        samples=8,
        checkpoints=[768],
        progress=False,
    )
    returns = load_purd(tiny_atari_run, 768, "ppo", 0.0)
    assert returns.shape == (2, 8)
    for seed in range(2):
        result = read_result(
            tiny_atari_run
            / "landscape/purd/ppo/scale_0.0/step_000000768"
            / f"seed_{seed:03d}.h5"
        )
        assert np.all(returns[seed] == result.arrays["unperturbed_return"])
        assert np.all(result.arrays["length"] == result.arrays["unperturbed_length"])


def test_ppo_perturbation_spreads_the_returns(tiny_atari_run):
    # This barely trained policy scores 0 whatever a 3e-4 step does to it within a
    # short horizon; a larger step shows the spread (the slow test checks 3e-4 on a
    # trained Breakout policy).
    purd(
        run=str(tiny_atari_run),
        perturb="ppo",
        scale=0.03,
        samples=8,
        horizon=300,
        checkpoints=[768],
        progress=False,
    )
    root = tiny_atari_run / "landscape/purd/ppo/scale_0.03/step_000000768"
    spread = []
    for seed in range(2):
        result = read_result(root / f"seed_{seed:03d}.h5").arrays
        episode = np.stack([result["discounted_return"][0], result["length"][0]])
        spread.append(len({tuple(column) for column in episode.T}))
    assert max(spread) > 1, spread


def test_atari_interpolation_endpoints_equal_checkpoint_returns(tiny_atari_run):
    interpolate(
        run=str(tiny_atari_run),
        pairs="same_seed",
        points=3,
        samples=0,
        checkpoints=[512, 768],
        seeds=[0],
        progress=False,
    )
    purd(
        run=str(tiny_atari_run),
        perturb="param_noise",
        samples=8,
        checkpoints=[512, 768],
        seeds=[0],
        progress=False,
    )
    path = load_interpolation(tiny_atari_run, (0, 512, 0, 768), None, 3e-4)
    unperturbed = {}
    for step in (512, 768):
        result = read_result(
            tiny_atari_run
            / f"landscape/purd/param_noise/scale_0.0003/step_{step:09d}"
            / "seed_000.h5"
        )
        unperturbed[step] = result.arrays["unperturbed_discounted_return"][0]
    plain = path.arrays["plain_discounted_return"]
    assert plain[-1] == unperturbed[512] and plain[0] == unperturbed[768]
    options = {"checkpoint": 768, "seed": 0, "grid": 3, "progress": False}
    surface(run=str(tiny_atari_run), **options)
    centre = load_surface(tiny_atari_run, checkpoint=768, seed=0, grid=3)
    assert centre.arrays["plain_discounted_return"][1, 1] == unperturbed[768]
    ppo = {"run": str(tiny_atari_run), "perturb": "ppo", "samples": 8}
    with pytest.raises(
        LandscapeError, match=r"perturb=ppo steps atari:.* envs on the host"
    ):
        surface(**ppo, **options)
    with pytest.raises(
        LandscapeError, match=r"perturb=ppo steps atari:.* envs on the host"
    ):
        interpolate(**ppo, progress=False)


def test_episode_options_are_recorded_and_atari_only(tiny_atari_run, tiny_td3_run):
    options = {"sampled_actions": True, "per_sample_env_seeds": True}
    common = {"perturb": "param_noise", "scale": 0.0, "samples": 8, "horizon": 60}
    purd(
        run=str(tiny_atari_run),
        checkpoints=[256],
        seeds=[1],
        progress=False,
        **common,
        **options,
    )
    result = read_result(
        tiny_atari_run
        / "landscape/purd/param_noise/scale_0.0/step_000000256"
        / "seed_001.h5"
    )
    assert result.attrs["sampled_actions"] and result.attrs["per_sample_env_seeds"]
    with pytest.raises(LandscapeError, match="overwrite=true"):
        purd(run=str(tiny_atari_run), checkpoints=[256], seeds=[1], **common)
    with pytest.raises(LandscapeError, match="apply to Atari runs only"):
        purd(run=str(tiny_td3_run), **common, **options)


def test_atari_bad_input_gets_one_line(tmp_path):
    assert "atari:Pong-v5" in game_names()
    unknown = landscape_here("train", "env=atari:Nope-v5", "algo=ppo", cwd=tmp_path)
    assert_one_error_line(unknown, "unknown Atari game", "Breakout-v5", "Pong-v5")
    for algo in ("td3", "sac"):
        wrong = landscape_here(
            "train", "env=atari:Pong-v5", f"algo={algo}", cwd=tmp_path
        )
        assert_one_error_line(wrong, f"algo={algo}", "algo=ppo")
    assert not any(tmp_path.iterdir())


def test_default_ppo_update_is_a_whole_iteration_at_the_annealed_rate(tiny_atari_run):
    # 4 envs x 32 steps = 128 steps an iteration, 6 iterations; checkpoint 256
    # starts iteration 2, whose rate is 2.5e-4 x (1 - 2/6)
    rate = 2.5e-4 * (1.0 - 2 / 6)
    common = {"samples": 2, "checkpoints": [256], "seeds": [0], "horizon": 60}
    for quirks, name in ((False, "ppo"), (True, "ppo_original")):
        out = purd(run=str(tiny_atari_run), original_quirks=quirks, **common)
        result = read_result(out / "step_000000256" / "seed_000.h5")
        attrs = result.attrs
        if quirks:  # the paper's score: every step of the horizon, across lives
            assert attrs["scoring"] == "original"
            assert (result.arrays["length"] == 60).all()
            assert (result.arrays["unperturbed_length"] == 60).all()
        assert (out.parent.name, attrs["perturbation"]) == (name, name)
        assert attrs["scale"] == pytest.approx(rate, rel=1e-12)
        assert (attrs["scale_source"], attrs["update"]) == ("run", "iteration")
