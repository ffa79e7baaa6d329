"""Helpers and tiny configs shared by the tests (imported as ``from helpers import``);
the fixtures stay in conftest.py."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent

TINY_AGENT = {
    "hidden_sizes": [16, 16],
    "batch_size": 16,
    "random_start_steps": 50,
    "replay_capacity": 150,  # below the 300 steps trained: the buffer wraps around
}

TINY_TD3 = {
    "env": "hopper",
    "algo": "td3",
    # spring: the surface tests check points equal to checkpoints bit for bit, which
    # holds under spring; under positional (the default) they agree to ~3e-6 only
    "backend": "spring",
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
    "backend": "spring",  # compiles faster than positional, which is not the point
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


SHARED_RUNS = {"tiny-td3": TINY_TD3, "tiny-ppo": TINY_PPO}
"""The runs a test run trains once and shares (``conftest.trained_once``)."""


def train_shared_run(folder: Path, name: str) -> Path:
    """``SHARED_RUNS[name]`` trained into ``folder`` once: under a file lock, so
    every other process that asks for it waits, then finds it done."""
    from return_landscapes import train

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / f"{name}.done").exists():
            train(SHARED_RUNS[name], out=str(folder / name))
            (folder / f"{name}.done").touch()
    return folder / name


def as_overrides(config: dict, prefix: str = "") -> list[str]:
    """A config dict as ``landscape`` command-line overrides."""
    out = []
    for key, value in config.items():
        if isinstance(value, dict):
            out += as_overrides(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            out.append(f"{prefix}{key}=[{','.join(map(str, value))}]")
        else:
            out.append(f"{prefix}{key}={str(value).lower()}")
    return out


def with_xla_flags(*flags: str) -> dict[str, str]:
    """The environment for a CPU-only subprocess running this suite's code: this
    process's ``XLA_FLAGS`` (the ISA among them) with ``flags`` set over them."""
    names = {flag.split("=")[0] for flag in flags}
    kept = [
        flag
        for flag in os.environ.get("XLA_FLAGS", "").split()
        if flag.split("=")[0] not in names
    ]
    tests = str(Path(__file__).parent)
    return {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": " ".join([*kept, *flags]),
        "PYTHONPATH": os.pathsep.join([tests, *sys.path]),
    }


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


def landscape_here(*args, cwd, env=None) -> subprocess.CompletedProcess:
    """Run ``landscape <args>`` in this process, as the console script runs it
    (``cli.main``), in the folder ``cwd`` with ``env`` set over the environment:
    its exit status, stdout and stderr, as ``landscape`` returns them.

    For error paths: a case that ends before any compute costs no new Python and
    no imports. An exception the command does not turn into an ``error:`` line
    propagates (a traceback fails the test as it would fail the user)."""
    from hydra.core.global_hydra import GlobalHydra

    from return_landscapes import cli

    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv[:], os.getcwd(), dict(os.environ)
    os.environ.update(env or {})
    os.chdir(cwd)
    status = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main([str(arg) for arg in args])
            except SystemExit as exit:
                status = exit.code if isinstance(exit.code, int) else 1
    finally:
        sys.argv[:] = saved[0]
        os.chdir(saved[1])
        os.environ.clear()
        os.environ.update(saved[2])
        GlobalHydra.instance().clear()
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def counted_compiles():
    """Count the XLA programs compiled (or loaded from a persistent cache) in this
    process while the block runs: yields a list holding one name per program."""
    from jax import monitoring
    from jax._src.dispatch import BACKEND_COMPILE_EVENT

    compiled = []

    def listen(event, duration, **kwargs):
        if event == BACKEND_COMPILE_EVENT:
            compiled.append(kwargs.get("fun_name", "?"))

    monitoring.register_event_duration_secs_listener(listen)
    try:
        yield compiled
    finally:
        monitoring.unregister_event_duration_listener(listen)


def copy_run(run_dir, destination):
    """A copy of a run without its landscape results."""
    shutil.copytree(run_dir, destination, ignore=shutil.ignore_patterns("landscape"))
    return destination


def copy_stopped_early(run_dir, destination):
    """A copy of a finished run as if stopped at its next-to-last checkpoint: the
    last checkpoint and the replay rows it added are left out."""
    copy_run(run_dir, destination)
    last = sorted((destination / "checkpoints").glob("step_*.npz"))[-1]
    last.unlink()
    step = last.stem.split("_")[1]
    for rows in (destination / "replay").glob(f"rows_*_{step}.npz"):
        rows.unlink()
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


def assert_rerun_computes_nothing(folder, call) -> None:
    """``call()`` once more, with the options that stored ``folder``'s results:
    it compiles no program and writes no file (every stamp unchanged)."""

    def files(folder):  # a folder's own stamp moves with check_writable's probe
        return [(path, stamp) for path, stamp in files_and_stamps(folder)
                if path.is_file()]  # fmt: skip

    before = files(folder)
    with counted_compiles() as compiled:
        call()
    assert not compiled, f"a re-run compiled {compiled}"
    assert files(folder) == before


def assert_one_error_line(result, *fragments):
    """A CLI result that failed with exit status 2 and one ``error:`` line."""
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def training_snapshots(trainer, cfg, steps) -> dict:
    """The host copy of the training state at each of ``steps``, by training the
    run's config again block by block, envs restarted at each checkpoint as
    ``landscape train`` restarts them (host-stepped envs)."""
    from return_landscapes.training.schedule import plan_blocks
    from return_landscapes.training.state import host, init_state

    state = trainer.restart_envs(init_state(trainer, cfg), 0)
    snapshots = {}
    for block in plan_blocks(cfg):
        state, _ = trainer.run_block(state, block)
        end = block.start + block.length
        if end in steps:
            snapshots[end] = host(state)
            state = trainer.restart_envs(state, end)
    return snapshots
