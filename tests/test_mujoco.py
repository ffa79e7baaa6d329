"""TD3 / SAC on Gymnasium's MuJoCo tasks (envpool): runs, exact checkpoints, resume,
PURDs, paths, surfaces, rejection and bad input."""

import jax
import numpy as np
import pytest

from helpers import (
    TINY_AGENT,
    assert_one_error_line,
    landscape_here,
    training_snapshots,
)
from return_landscapes import (
    load_purd,
    load_rejection,
    load_surface,
    reject,
    surface,
    train,
)
from return_landscapes import rundir as ckpt
from return_landscapes.conf import TrainConfig, resolve
from return_landscapes.envs.mujoco import default_start_noise, task_names
from return_landscapes.landscape.experiments.interpolate import interpolate
from return_landscapes.landscape.experiments.purd import purd
from return_landscapes.rundir import load_run_config
from return_landscapes.store import read_result
from return_landscapes.store.interpolation import load_interpolation
from return_landscapes.training.state import restore_state
from return_landscapes.training.trainers import get_trainer
from test_train import assert_same_run, assert_trees_equal, eval_records

TINY_MUJOCO = {
    "env": "mujoco:Hopper-v5",
    "algo": "td3",
    "seeds": 2,
    "steps": 300,
    "checkpoints": [100, 200],
    "block": 50,
    "horizon": 50,
    "eval_interval": 100,
    "eval_episodes": 2,
    "progress": False,
    "td3": TINY_AGENT,
}
STEPS = (100, 200, 300)


@pytest.fixture(scope="session")
def tiny_mujoco_run(tmp_path_factory):
    return train(TINY_MUJOCO, out=str(tmp_path_factory.mktemp("mujoco") / "run"))


def purd_arrays(run_dir, perturb, scale, step, seed=0):
    path = (
        run_dir / f"landscape/purd/{perturb}/scale_{scale}/step_{step:09d}"
        f"/seed_{seed:03d}.h5"
    )
    return read_result(path).arrays


def test_mujoco_run_directory(tiny_mujoco_run):
    manifest = ckpt.read_manifest(tiny_mujoco_run)
    assert manifest["env"] == "mujoco:Hopper-v5" and manifest["algo"] == "td3"
    assert (manifest["observation_size"], manifest["action_size"]) == (11, 3)
    assert ckpt.completed_checkpoints(tiny_mujoco_run) == list(STEPS)
    assert [r["step"] for r in eval_records(tiny_mujoco_run)] == [0, *STEPS]
    assert (tiny_mujoco_run / "replay").is_dir()
    assert "Walker2d-v5" in " ".join(task_names())
    assert default_start_noise("mujoco:Hopper-v5") == 5e-3  # Gymnasium's default
    defaults = resolve(TrainConfig, env="mujoco:Hopper-v5")
    assert (defaults.steps, defaults.horizon) == (1_000_000, 1000)


def test_mujoco_checkpoints_restore_every_leaf(tiny_mujoco_run):
    cfg = load_run_config(tiny_mujoco_run)
    trainer = get_trainer(cfg)
    snapshots = training_snapshots(trainer, cfg, STEPS)
    for step, expected in snapshots.items():
        restored = restore_state(trainer, cfg, tiny_mujoco_run, step)
        # the replay as of the step: rows up to the buffer's capacity (150)
        assert_trees_equal(restored, expected)
    assert snapshots[300].replay.size.tolist() == [150, 150]
    assert snapshots[300].env.observation.shape == (2, 11)


def test_mujoco_resume_equals_no_crash(tiny_mujoco_run, tmp_path):
    out = tmp_path / "resumed"
    train(TINY_MUJOCO, out=str(out), stop_at=100)
    train(TINY_MUJOCO, out=str(out), resume=True)
    assert_same_run(tiny_mujoco_run, out, STEPS)


def test_td3_purd_at_rate_zero_is_the_unperturbed_return(tiny_mujoco_run):
    purd(
        run=str(tiny_mujoco_run),
        perturb="td3",
        scale=0.0,
        samples=8,
        checkpoints=[300],
        progress=False,
    )
    returns = load_purd(tiny_mujoco_run, 300, "td3", 0.0)
    for seed in range(2):
        arrays = purd_arrays(tiny_mujoco_run, "td3", 0.0, 300, seed)
        assert np.all(returns[seed] == arrays["unperturbed_return"][0])
        assert np.all(arrays["length"] == arrays["unperturbed_length"][0])


@pytest.mark.parametrize(
    ("perturb", "scale"),
    [("td3", 0.01), ("init_state", 20.0), ("param_noise_per_step", 0.05)],
)
def test_mujoco_chunk_sizes_give_identical_arrays(tiny_mujoco_run, perturb, scale):
    common = {
        "run": str(tiny_mujoco_run),
        "perturb": perturb,
        "scale": scale,
        "samples": 24,
        "checkpoints": [200],
        "seeds": [1],
        "progress": False,
    }
    purd(**common, chunk=8)
    first = purd_arrays(tiny_mujoco_run, perturb, scale, 200, 1)
    purd(**common, chunk=24, overwrite=True)
    second = purd_arrays(tiny_mujoco_run, perturb, scale, 200, 1)
    for name in ("undiscounted_return", "discounted_return", "length"):
        assert np.array_equal(first[name], second[name]), name
    assert np.unique(first["discounted_return"]).size > 1  # the noise does act


def test_mujoco_paths_and_surfaces_meet_the_checkpoints(tiny_mujoco_run):
    interpolate(
        run=str(tiny_mujoco_run),
        pairs="same_seed",
        points=3,
        samples=0,
        checkpoints=[200, 300],
        seeds=[0],
        progress=False,
    )
    purd(
        run=str(tiny_mujoco_run),
        perturb="action_noise",
        samples=8,
        checkpoints=[200, 300],
        seeds=[0],
        progress=False,
    )
    path = load_interpolation(tiny_mujoco_run, (0, 200, 0, 300), None, 0.1)
    unperturbed = {
        step: purd_arrays(tiny_mujoco_run, "action_noise", 0.1, step)[
            "unperturbed_discounted_return"
        ][0]
        for step in (200, 300)
    }
    plain = path.arrays["plain_discounted_return"]
    assert plain[-1] == unperturbed[200] and plain[0] == unperturbed[300]
    surface(run=str(tiny_mujoco_run), checkpoint=300, seed=0, grid=3, progress=False)
    centre = load_surface(tiny_mujoco_run, checkpoint=300, seed=0, grid=3)
    assert centre.arrays["plain_discounted_return"][1, 1] == unperturbed[300]


def test_mujoco_rejection_continues_training_on_envpool(tiny_mujoco_run, tmp_path):
    run = tmp_path / "run"
    out = reject(
        run=str(_copy(tiny_mujoco_run, run)),
        checkpoint=200,
        seed=1,
        criterion="none",
        max_steps=20,
        check_interval=10,
        samples=8,
        repeats=1,
        progress=False,
    )
    assert out.exists()
    (trace,) = load_rejection(run, 200, 1, "none")
    assert trace.arrays["accepted"].shape == (3,)  # the root and two checks
    assert np.isfinite(trace.arrays["cvar"]).all()


def _copy(run_dir, target):
    import shutil

    shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns("landscape"))
    return target


def test_sac_trains_on_mujoco_and_has_a_purd(tmp_path):
    cfg = {
        **TINY_MUJOCO,
        "algo": "sac",
        "steps": 100,
        "checkpoints": [100],
        "eval_episodes": 0,
        "sac": TINY_AGENT,
    }
    run = train(cfg, out=str(tmp_path / "sac"))
    purd(run=str(run), perturb="sac", samples=8, progress=False)
    returns = load_purd(run, 100, "sac", 3e-4)
    assert returns.shape == (2, 8) and np.isfinite(returns).all()


def test_mujoco_bad_input_gets_one_line(tmp_path):
    unknown = landscape_here("train", "env=mujoco:Nope-v5", cwd=tmp_path)
    assert_one_error_line(unknown, "unknown MuJoCo task", "Hopper-v5", "Ant-v5")
    brax = landscape_here(
        "train", "env=mujoco:Hopper-v5", "backend=spring", cwd=tmp_path
    )
    assert_one_error_line(brax, "backend=spring", "drop backend=")
    assert not any(tmp_path.iterdir())


def test_evaluation_starts_at_the_task_initial_state_unless_init_state():
    """Reset noise 0 gives one start for every key; init_state a start per key."""
    from return_landscapes.envs.mujoco import make_mujoco_env
    from return_landscapes.evaluation import EvaluationSetup, evaluate_parameter_sets

    params = {"w": np.full((8, 3, 11), 0.1, np.float32)}
    keys = jax.random.split(jax.random.PRNGKey(3), 8)

    def apply(p, observation):
        return np.float32(1.0) * jax.numpy.tanh(p["w"] @ observation)

    stats = {}
    for noise in (0.0, 0.1):
        env = make_mujoco_env("mujoco:Hopper-v5", noise)
        setup = EvaluationSetup(env, apply, 30, 0.99)
        stats[noise] = evaluate_parameter_sets(setup, params, keys)
    assert len(set(stats[0.0].discounted_return.tolist())) == 1
    assert len(set(stats[0.1].discounted_return.tolist())) == 8


def test_policy_api_takes_mujoco_task_names():
    from return_landscapes import evaluate_policies, policy_purd

    def apply(params, observation):
        return jax.numpy.tanh(params["w"] @ observation)

    params = {"w": np.full((3, 11), 0.05, np.float32)}
    plain = evaluate_policies(
        apply, jax.tree.map(lambda x: x[None], params), "mujoco:Hopper-v5"
    )
    returns = policy_purd(
        apply, params, "mujoco:Hopper-v5", perturb="init_state", scale=1.0, samples=8
    )
    assert returns.shape == (8,) and np.unique(returns).size == 8
    assert plain.undiscounted_return[0] not in returns  # noise 0 is the fixed start
