"""Shared, session-scoped runs: XLA compiles once per config for the whole suite."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import pytest

from return_landscapes import train


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    """One persistent XLA compilation cache for the suite and the ``landscape``
    processes it starts: a program compiled once is loaded, not compiled, when a
    later test or subprocess builds it again (same program, same numbers)."""
    folder = str(tmp_path_factory.mktemp("xla-cache"))
    settings = {
        "JAX_COMPILATION_CACHE_DIR": folder,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    yield folder
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


TINY_AGENT = {
    "hidden_sizes": [16, 16],
    "batch_size": 16,
    "random_start_steps": 50,
    "replay_capacity": 150,  # below the 300 steps trained: the buffer wraps around
}

TINY_TD3 = {
    "env": "hopper",
    "algo": "td3",
    "seeds": 2,
    "steps": 300,
    "checkpoints": [100, 200],
    "block": 50,
    "horizon": 50,
    "eval_interval": 100,
    "eval_episodes": 1,
    "progress": False,
    "td3": TINY_AGENT,
}


# PPO: 16 envs x 8 steps = 128 env steps per iteration; 6 iterations.
TINY_PPO = {
    "env": "hopper",
    "algo": "ppo",
    "seeds": 2,
    "steps": 768,
    "checkpoints": [256, 512],
    "block": 256,
    "horizon": 50,
    "eval_interval": 256,
    "eval_episodes": 1,
    "progress": False,
    "ppo": {"num_envs": 16, "unroll_length": 8, "hidden_sizes": [16, 16]},
}


@pytest.fixture(scope="session")
def tiny_ppo_run(tmp_path_factory):
    """A finished 768-step, 2-seed PPO run on hopper, checkpoints 256, 512, 768."""
    return train(TINY_PPO, out=str(tmp_path_factory.mktemp("runs") / "tiny-ppo"))


@pytest.fixture(scope="session")
def tiny_td3_run(tmp_path_factory):
    """A finished 300-step, 2-seed TD3 run on hopper with checkpoints 100, 200, 300."""
    return train(TINY_TD3, out=str(tmp_path_factory.mktemp("runs") / "tiny-td3"))


REPOSITORY = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node SLURM cluster (scripts/slurm_cluster.sh). Started here if
    it is not running, stopped at the end if started here; if it cannot start, the
    test fails with the daemons' own error."""
    script = str(REPOSITORY / "scripts" / "slurm_cluster.sh")
    running = subprocess.run(["pgrep", "-x", "slurmctld"], capture_output=True)
    started = subprocess.run(
        [script, "start"], capture_output=True, text=True, timeout=900
    )
    if started.returncode != 0:
        pytest.fail(f"the SLURM cluster did not start:\n{started.stderr}")
    yield
    if running.returncode != 0:
        subprocess.run([script, "stop"], capture_output=True, timeout=120)


def landscape(*args, cwd, env=None, wait=True):
    """Run the ``landscape`` command in a subprocess (CPU only), as a user would."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **(env or {})}
    command = [sys.executable, "-m", "return_landscapes.cli", *args]
    if not wait:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )


def copy_run(run_dir, destination):
    """A copy of a run without its landscape results."""
    shutil.copytree(run_dir, destination, ignore=shutil.ignore_patterns("landscape"))
    return destination


def kill_when_files_land(job, folder, pattern, timeout=400) -> int:
    """SIGKILL the running ``job`` once a file matching ``pattern`` lands in
    ``folder``; returns how many such files had landed when it died."""
    deadline = time.time() + timeout
    while not list(folder.glob(pattern)) and time.time() < deadline:
        assert job.poll() is None, job.stderr.read().decode()
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    return len(list(folder.glob(pattern)))


def files_and_stamps(folder):
    """Every path under ``folder`` with its modification time, to show nothing
    changed."""
    return [(path, path.stat().st_mtime_ns) for path in sorted(folder.rglob("*"))]


def assert_one_error_line(result, *fragments):
    """A CLI result that failed with exit status 2 and one ``error:`` line."""
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
