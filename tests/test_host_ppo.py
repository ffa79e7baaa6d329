"""PPO on host-stepped envs (MuJoCo tasks in envpool, Gymnasium envs): exact
checkpoints, resume, the ``ppo`` perturbation's host rollouts, and bad input."""

import jax
import numpy as np
import pytest

from helpers import assert_one_error_line, landscape_here, training_snapshots
from return_landscapes import load_purd, train
from return_landscapes.conf import Autoreset, TrainConfig, resolve
from return_landscapes.landscape.experiments.interpolate import interpolate
from return_landscapes.landscape.experiments.purd import purd
from return_landscapes.landscape.perturb import get_perturbation
from return_landscapes.rundir import load_run_config
from return_landscapes.store import read_result
from return_landscapes.training.host_ppo import (
    HostPPOCarry,
    training_env_seeds,
    unroll,
)
from return_landscapes.training.state import restore_state
from return_landscapes.training.trainers import get_trainer
from test_train import assert_same_run, assert_trees_equal

TINY_HOST_PPO = {
    "env": "mujoco:Hopper-v5",
    "algo": "ppo",
    "seeds": 2,
    "steps": 192,
    "checkpoints": [64, 128],
    "block": 64,
    "horizon": 50,
    "eval_interval": 64,
    "eval_episodes": 2,
    "progress": False,
    # 4 envs x 8 steps an iteration; the normalizer on, so it is checked too
    "ppo": {
        "num_envs": 4,
        "unroll_length": 8,
        "hidden_sizes": [16, 16],
        "normalize_observations": True,
    },
}
STEPS = (64, 128, 192)


@pytest.fixture(scope="session")
def tiny_host_ppo_run(tmp_path_factory):
    return train(TINY_HOST_PPO, out=str(tmp_path_factory.mktemp("host_ppo") / "run"))


def purd_arrays(run_dir, perturb, scale, step, seed=0):
    path = (
        run_dir / f"landscape/purd/{perturb}/scale_{scale}/step_{step:09d}"
        f"/seed_{seed:03d}.h5"
    )
    return read_result(path).arrays


@pytest.mark.unit
def test_ppo_restarts_host_envs_fresh_by_default():
    host = resolve(TrainConfig, env="mujoco:Hopper-v5", algo="ppo")
    assert host.ppo.autoreset is Autoreset.fresh
    assert resolve(TrainConfig, algo="ppo").ppo.autoreset is Autoreset.first_state
    gym = resolve(TrainConfig, env="gym:Pendulum-v1", algo="ppo")
    assert gym.ppo.autoreset is Autoreset.fresh


@pytest.mark.unit
def test_training_env_seeds_depend_on_seed_env_and_step_alone():
    seeds = training_env_seeds(0, 2, 3, 64)
    assert len(seeds) == len(set(seeds)) == 6
    assert training_env_seeds(0, 1, 3, 64) == seeds[:3]  # seed 0 whatever the count
    assert training_env_seeds(0, 2, 3, 128) != seeds
    assert training_env_seeds(1, 2, 3, 64) != seeds


class CountingEnvs:
    """Two envs of reward 1 a step whose episodes end every 5 steps (the first
    env's by termination, the second's by truncation)."""

    shape = (1, 2)

    def __init__(self):
        self.t = 0

    def step(self, action):
        self.t += 1
        ended = np.full(self.shape, self.t % 5 == 0)
        observation = np.full((*self.shape, 1), float(self.t), np.float32)
        start = np.where(ended[..., None], 0.0, observation).astype(np.float32)
        reward = np.ones(self.shape, np.float32)
        return start, reward, observation, ended & [[True, False]], ended


@pytest.mark.unit
def test_unroll_counts_episodes_across_iterations():
    def act(observation, keys):
        zeros = np.zeros((*observation.shape[:2], 1), np.float32)
        return zeros, zeros[..., 0], zeros

    envs, keys = CountingEnvs(), np.zeros((1, 3, 2), np.uint32)
    carry = HostPPOCarry(
        np.zeros((1, 2, 1), np.float32), np.zeros((1, 2), np.int32), np.zeros((1, 2))
    )
    returns = []
    for _ in range(4):  # 12 steps in unrolls of 3: episodes end at 5 and 10
        data, carry, ended = unroll(act, envs, carry, keys, 3)
        returns.append(ended)
    ended = np.concatenate(returns, axis=1)[0]  # (12, envs)
    assert ended[4].tolist() == [5.0, 5.0] and ended[9].tolist() == [5.0, 5.0]
    assert ended.sum() == 20.0
    assert carry.episode_step.tolist() == [[2, 2]]  # steps 11 and 12
    # the last unroll (steps 10-12): the termination of env 0 at step 10 cuts the
    # bootstrap, the truncation of env 1 does not; both episodes end there
    assert data.discount[0].T.tolist() == [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    assert data.finished[0, 0].tolist() == [True, True]
    assert data.next_observation[0, 0, :, 0].tolist() == [10.0, 10.0]  # not the reset


def test_host_ppo_checkpoints_restore_every_leaf(tiny_host_ppo_run):
    cfg = load_run_config(tiny_host_ppo_run)
    trainer = get_trainer(cfg)
    snapshots = training_snapshots(trainer, cfg, STEPS)
    for step, expected in snapshots.items():
        assert_trees_equal(
            restore_state(trainer, cfg, tiny_host_ppo_run, step), expected
        )
    # every seed's 4 envs; the normalizer counts every observation the updates saw
    assert snapshots[64].env.observation.shape == (2, 4, 11)
    assert snapshots[192].agent.normalizer.count.tolist() == [192.0, 192.0]
    first, last = (jax.tree.leaves(snapshots[s].agent.policy_params) for s in (64, 192))
    assert not all(np.array_equal(a, b) for a, b in zip(first, last, strict=True))


@pytest.mark.invariant
def test_host_ppo_resume_equals_no_crash(tiny_host_ppo_run, tmp_path):
    out = tmp_path / "resumed"
    train(TINY_HOST_PPO, out=str(out), stop_at=64)
    train(TINY_HOST_PPO, out=str(out), resume=True)
    assert_same_run(tiny_host_ppo_run, out, STEPS)


def test_host_ppo_purd_at_rate_zero_is_the_unperturbed_return(tiny_host_ppo_run):
    purd(
        run=str(tiny_host_ppo_run),
        perturb="ppo",
        scale=0.0,
        samples=8,
        checkpoints=[192],
        progress=False,
    )
    returns = load_purd(tiny_host_ppo_run, 192, "ppo", 0.0)
    for seed in range(2):
        arrays = purd_arrays(tiny_host_ppo_run, "ppo", 0.0, 192, seed)
        assert np.all(returns[seed] == arrays["unperturbed_return"][0])
        assert np.all(arrays["length"] == arrays["unperturbed_length"][0])


@pytest.mark.invariant
@pytest.mark.parametrize("perturb", ["ppo", "ppo_original"])
def test_host_ppo_chunk_sizes_give_identical_arrays(tiny_host_ppo_run, perturb):
    common = {
        "run": str(tiny_host_ppo_run),
        "perturb": perturb,
        "scale": 0.05,
        "samples": 24,
        "checkpoints": [128],
        "seeds": [1],
        "progress": False,
    }
    purd(**common, chunk=8)
    first = purd_arrays(tiny_host_ppo_run, perturb, 0.05, 128, 1)
    purd(**common, chunk=24, overwrite=True)
    second = purd_arrays(tiny_host_ppo_run, perturb, 0.05, 128, 1)
    for name in ("undiscounted_return", "discounted_return", "length"):
        assert np.array_equal(first[name], second[name]), name
    assert np.unique(first["discounted_return"]).size > 1  # the update does act


def test_host_ppo_records_its_fresh_starts_and_refuses_paths(
    tiny_host_ppo_run, tmp_path
):
    cfg = load_run_config(tiny_host_ppo_run)
    settings = get_perturbation("ppo", "ppo").settings(cfg)
    assert settings == {"experience": "fresh_starts"}
    plain = {
        "run": str(tiny_host_ppo_run),
        "pairs": "same_seed",
        "points": 3,
        "checkpoints": [128, 192],
        "seeds": [0],
        "progress": False,
    }
    interpolate(**plain, samples=0)  # plain paths do run
    path = landscape_here(
        "interpolate",
        f"run={tiny_host_ppo_run}",
        "pairs=same_seed",
        "checkpoints=[128,192]",
        "perturb=ppo",
        "samples=8",
        cwd=tmp_path,
    )
    assert_one_error_line(path, "perturb=ppo", "perturb=param_noise")


def test_ppo_trains_on_a_gym_env_and_has_a_ppo_purd(tmp_path):
    cfg = {
        **TINY_HOST_PPO,
        "env": "gym:Pendulum-v1",
        "seeds": 1,
        "steps": 64,
        "checkpoints": [64],
        "eval_episodes": 0,
    }
    run = train(cfg, out=str(tmp_path / "gym"))
    purd(run=str(run), perturb="ppo", scale=0.0, samples=8, progress=False)
    arrays = purd_arrays(run, "ppo", 0.0, 64)
    assert np.all(arrays["undiscounted_return"] == arrays["unperturbed_return"][0])
    assert np.isfinite(arrays["undiscounted_return"]).all()


def test_first_state_autoreset_on_host_envs_gets_one_line(tmp_path):
    for env in ("mujoco:Hopper-v5", "gym:Pendulum-v1"):
        refused = landscape_here(
            "train", f"env={env}", "algo=ppo", "ppo.autoreset=first_state", cwd=tmp_path
        )
        assert_one_error_line(
            refused, "ppo.autoreset=first_state", "drop ppo.autoreset"
        )
    assert not any(tmp_path.iterdir())
