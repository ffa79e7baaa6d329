"""The paper's settings by default, by value: update sizes, start-state noise, nested
minibatch rows, rejection's fresh env, and old results that must not be reused."""

from __future__ import annotations

import os
import subprocess
import sys

import h5py
import jax
import numpy as np
import pytest

from helpers import TINY_TD3, assert_one_error_line, copy_run, landscape_here
from return_landscapes import LandscapeError, purd, store
from return_landscapes.conf import RejectConfig, TrainConfig, resolve
from return_landscapes.envs.brax import default_start_noise, make_env
from return_landscapes.landscape.experiments import reject as rejection
from return_landscapes.landscape.hotpath.engine import evaluation_env
from return_landscapes.replay import nested_rows
from return_landscapes.rundir import load_run_config
from return_landscapes.training.families import training_start_noise
from return_landscapes.training.schedule import learning_rate_at

# ------------------------------------------------------------- the run's own update


@pytest.mark.unit
def test_the_runs_learning_rate_at_a_step():
    td3 = resolve(TrainConfig, algo="td3", td3={"actor_lr": 1e-3, "critic_lr": 5e-4})
    assert learning_rate_at(td3, 123_456) == 1e-3  # the actor's, not the critic's
    sac = resolve(TrainConfig, algo="sac")
    assert learning_rate_at(sac, 0) == 3e-4
    ppo = resolve(TrainConfig, algo="ppo")
    assert learning_rate_at(ppo, 30_000_000) == 2.6e-3  # Brax PPO: constant
    # Atari: 8 envs x 128 steps = 1024 steps an iteration, 10 iterations; the rate
    # of the iteration that starts at the step falls linearly from 2.5e-4 to 0
    atari = resolve(TrainConfig, env="atari:Pong-v5", algo="ppo", steps=10_240, seeds=1)
    assert learning_rate_at(atari, 0) == 2.5e-4
    assert learning_rate_at(atari, 3072) == pytest.approx(2.5e-4 * 0.7, rel=1e-12)
    assert learning_rate_at(atari, 3072 + 1023) == learning_rate_at(atari, 3072)
    assert learning_rate_at(atari, 10_240) == 0.0
    flat = resolve(TrainConfig, env="atari:Pong-v5", algo="ppo", atari={"anneal_lr": 0})
    assert learning_rate_at(flat, 5_000_000) == 2.5e-4


def test_default_update_size_is_the_runs_learning_rate(tiny_td3_run, tiny_ppo_run):
    for run, step, lr in [
        (tiny_td3_run, 200, load_run_config(tiny_td3_run).td3.actor_lr),
        (tiny_ppo_run, 512, load_run_config(tiny_ppo_run).ppo.learning_rate),
    ]:
        out = purd(run=str(run), samples=2, checkpoints=[step], seeds=[0])
        assert out.name == store.scale_name(lr)
        attrs = store.read_result(out / f"step_{step:09d}" / "seed_000.h5").attrs
        assert (attrs["scale"], attrs["scale_source"]) == (lr, "run")
    given = purd(run=str(tiny_td3_run), scale=1e-3, samples=2, checkpoints=[200])
    attrs = store.read_result(given / "step_000000200" / "seed_001.h5").attrs
    assert (attrs["scale"], attrs["scale_source"]) == (1e-3, "given")


def test_noise_without_a_scale_takes_its_default(tiny_td3_run):
    out = purd(
        run=str(tiny_td3_run),
        perturb="param_noise",
        samples=2,
        checkpoints=[100],
        seeds=[0],
    )
    attrs = store.read_result(out / "step_000000100" / "seed_000.h5").attrs
    assert (attrs["scale"], attrs["scale_source"]) == (3e-4, "default")


# --------------------------------------------------------------------- start states


def first_observation(env, key):
    return np.asarray(jax.jit(env.reset)(key).obs)


def test_init_state_scale_one_is_the_training_start_distribution():
    run_cfg = resolve(TrainConfig, **TINY_TD3)  # hopper, the env's own noise
    assert training_start_noise(run_cfg) == default_start_noise("hopper") == 0.005
    key = jax.random.PRNGKey(3)
    training = first_observation(make_env("hopper", run_cfg.backend), key)
    once = first_observation(evaluation_env(run_cfg, 1.0), key)
    np.testing.assert_array_equal(once, training)
    twice = first_observation(evaluation_env(run_cfg, 2.0), key)
    expected = first_observation(make_env("hopper", run_cfg.backend, 0.01), key)
    np.testing.assert_array_equal(twice, expected)
    fixed = first_observation(evaluation_env(run_cfg), key)
    other = first_observation(evaluation_env(run_cfg), jax.random.PRNGKey(4))
    np.testing.assert_array_equal(fixed, other)  # no perturbation: one start
    custom = resolve(TrainConfig, **{**TINY_TD3, "reset_noise_scale": 0.02})
    assert training_start_noise(custom) == 0.02


# ------------------------------------------------------------- nested minibatch rows


@pytest.mark.unit
def test_nested_rows_keep_their_rows_as_the_buffer_grows():
    rows = jax.jit(nested_rows, static_argnums=1)
    key, count = jax.random.PRNGKey(5), 50_000
    for size in (2, 10, 1000):
        before = np.asarray(rows(key, count, size))
        after = np.asarray(rows(key, count, size + 1))
        assert before.min() >= 0 and before.max() < size
        assert after.max() <= size
        # a row moves only onto the new row, with probability 1 / (size + 1)
        assert np.all(after[before != after] == size)
        p = 1 / (size + 1)
        changed = (before != after).sum()
        assert abs(changed - count * p) < 5 * np.sqrt(count * p * (1 - p)), size
    # while jax.random.randint redraws nearly every row
    key = jax.random.PRNGKey(0)
    plain = [np.asarray(jax.random.randint(key, (256,), 0, n)) for n in (1000, 1001)]
    assert (plain[0] != plain[1]).mean() > 0.9


@pytest.mark.unit
def test_nested_rows_are_uniform():
    counts = np.bincount(
        np.asarray(nested_rows(jax.random.PRNGKey(1), 60_000, 6)), minlength=6
    )
    chi_square = ((counts - 10_000) ** 2 / 10_000).sum()
    assert chi_square < 20.5  # 5 degrees of freedom: p = 0.001


# ------------------------------------------------------------------------ rejection


@pytest.fixture(scope="module")
def rejection_setup(tiny_td3_run, tmp_path_factory):
    run = copy_run(tiny_td3_run, tmp_path_factory.mktemp("fidelity") / "run")

    def job_for(reject_env):
        cfg = RejectConfig(
            run=str(run),
            checkpoint=200,
            seed_index=1,
            samples=4,
            max_steps=2,
            repeats=1,
            progress=False,
            reject_env=reject_env,
        )
        return rejection.plan_rejection(cfg)

    job = job_for("fresh")
    from return_landscapes.landscape.job import make_engine

    engine = make_engine(job)
    return job_for, engine, rejection.root_state(job, engine)


def test_rejection_continues_in_a_fresh_env_with_a_tenth_of_the_noise(
    rejection_setup,
):
    job_for, _, root = rejection_setup
    fresh = rejection.continuing_trainer(job_for("fresh"))
    assert fresh.env._reset_noise_scale == pytest.approx(0.1 * 0.005)
    start = rejection.repeat_start(root, 0, 0, fresh.env)
    key = rejection.repeat_training_key(root.key[0], 0, 0)
    expected = make_env("hopper", "spring", 0.0005).reset(
        jax.random.fold_in(key, rejection.FRESH_ENV_TAG)
    )
    np.testing.assert_array_equal(start.env.state.obs[0], expected.obs)
    assert int(start.env.episode_step[0]) == 0
    kept = rejection.repeat_start(root, 0, 0)  # reject_env=checkpoint
    np.testing.assert_array_equal(kept.env.state.obs, root.env.state.obs)
    checkpoint = rejection.continuing_trainer(job_for("checkpoint"))
    assert checkpoint.env._reset_noise_scale == pytest.approx(0.005)


# -------------------------------------------------------- results of older versions


def test_a_block_from_before_a_setting_is_not_reused(tiny_td3_run, tmp_path):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    request = {"run": str(run), "scale": 1e-3, "samples": 2, "checkpoints": [100]}
    out = purd(**request, seeds=[0])
    path = out / "step_000000100" / "seed_000.h5"
    with h5py.File(path, "r+") as f:
        del f.attrs["minibatch_rows"]  # as a version before nested rows wrote it
    before = path.stat().st_mtime_ns
    with pytest.raises(LandscapeError, match="minibatch_rows=unset"):
        purd(**request)
    assert path.stat().st_mtime_ns == before
    purd(**request, overwrite=True)
    assert store.read_result(path).attrs["minibatch_rows"] == "nested"


# ------------------------------------------------------------------ original quirks


def test_original_quirks_store_beside_the_default(tiny_ppo_run, tmp_path):
    run = copy_run(tiny_ppo_run, tmp_path / "run")
    request = {"run": str(run), "samples": 2, "checkpoints": [512], "seeds": [0]}
    quirky = purd(**request, original_quirks=True)
    ours = purd(**request)
    assert (quirky.parent.name, ours.parent.name) == ("ppo_original", "ppo")
    attrs = store.read_result(quirky / "step_000000512" / "seed_000.h5").attrs
    assert (attrs["perturbation"], attrs["scale_source"]) == ("ppo_original", "run")
    result = landscape_here(
        "purd",
        f"run={run}",
        "perturb=param_noise",
        "original_quirks=true",
        cwd=tmp_path,
    )
    assert_one_error_line(result, "changes nothing for perturb=param_noise")
    assert not (run / "landscape" / "purd" / "param_noise").exists()


# --------------------------------------------------------------- the paper's init

INIT_TWO_PAPER_SEEDS = """
from return_landscapes.conf import TrainConfig, resolve
from return_landscapes.training.state import host, init_state
from return_landscapes.training.trainers import get_trainer
cfg = resolve(TrainConfig, None, env="hopper", algo="{algo}", seeds=2, steps=20000)
state = host(init_state(get_trainer(cfg), cfg))
print("initialized", {algo_options})
"""


@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_two_seeds_of_paper_networks_initialize_orthogonally(algo, tmp_path):
    """Orthogonal init of 2 seeds x 256x256 networks finishes (vmapped over seeds,
    LAPACK's batched QR deadlocked XLA's thread pool on a 2-core CPU)."""
    script = INIT_TWO_PAPER_SEEDS.format(algo=algo, algo_options=f"cfg.{algo}.init")
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert done.returncode == 0, done.stderr
    assert "initialized Init.orthogonal" in done.stdout
