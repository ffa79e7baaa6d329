"""Shared, session-scoped runs: XLA compiles once per config for the whole suite.

Only fixtures live here; helpers and the tiny configs are in helpers.py."""

from __future__ import annotations

import return_landscapes

return_landscapes.configure_xla()  # the CLI's XLA settings, before JAX starts
return_landscapes.show_logs()  # the CLI's messages on stderr, as the CLI

import fcntl  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402
from jax._src.dispatch import BACKEND_COMPILE_EVENT  # noqa: E402

from helpers import REPOSITORY, TINY_PPO, TINY_TD3, copy_run  # noqa: E402
from return_landscapes import train  # noqa: E402
from return_landscapes.caches import drop_if_near_mapping_limit  # noqa: E402


def shared_folder() -> Path:
    """The folder this test run shares between the main process, every ``-n``
    worker and every process they start (removed at the end of the run)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"{os.getpid()}"
    return Path(tempfile.gettempdir()) / f"return-landscapes-tests-{run}"


def compilation_cache_folder() -> Path:
    """The persistent XLA compilation cache of this test run."""
    return shared_folder() / "xla-cache"


def pytest_configure(config):
    """One persistent XLA compilation cache for the whole run, set before any
    program compiles: a program one process compiled (a worker, a ``landscape``
    subprocess) is loaded, not compiled again, by the next (same program, same
    numbers).

    Test processes write programs that took 0.5 s or more to compile (not the
    thousands of tiny eager ones); subprocesses write all. A process that keeps
    every compiled program once ran out of memory mappings and crashed inside XLA
    (``bounded_compiled_programs`` prevents that).
    """
    folder = compilation_cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.update(  # read by subprocesses when they import JAX
        {
            "JAX_COMPILATION_CACHE_DIR": str(folder),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
        }
    )
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def pytest_unconfigure(config):
    """The main process removes the run's shared folder at the end."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(shared_folder(), ignore_errors=True)


def trained_once(config: dict, name: str, tmp_path_factory) -> Path:
    """This worker's copy of a run trained once per test run: the first worker
    that needs it trains it (the others wait for it), and each copies it, so a
    test may write into its copy. Runs trained under other XLA flags (the
    native-ISA rerun) are trained apart."""
    flags = hashlib.sha1(os.environ.get("XLA_FLAGS", "").encode()).hexdigest()[:8]
    runs = shared_folder() / f"runs-{flags}"
    runs.mkdir(parents=True, exist_ok=True)
    with open(runs / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (runs / f"{name}.done").exists():
            train(config, out=str(runs / name))
            (runs / f"{name}.done").touch()
    return copy_run(runs / name, tmp_path_factory.mktemp("runs") / name)


@pytest.fixture(scope="session")
def tiny_ppo_run(tmp_path_factory):
    """A finished 768-step, 2-seed PPO run on hopper, checkpoints 256, 512, 768."""
    return trained_once(TINY_PPO, "tiny-ppo", tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_td3_run(tmp_path_factory):
    """A finished 300-step, 2-seed TD3 run on hopper with checkpoints 100, 200, 300."""
    return trained_once(TINY_TD3, "tiny-td3", tmp_path_factory)


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node SLURM cluster (scripts/slurm_cluster.sh). Started here if
    it is not running, stopped at the end if started here; if it cannot start, the
    test fails with the daemons' own error.

    Installing and starting daemons takes over a machine: that happens only in CI
    (``CI=true``) or with ``LANDSCAPE_SLURM_TESTS=1``; elsewhere, without a running
    cluster, the test is skipped and says why."""
    script = str(REPOSITORY / "scripts" / "slurm_cluster.sh")
    running = subprocess.run(["pgrep", "-x", "slurmctld"], capture_output=True)
    allowed = (
        os.environ.get("CI") == "true" or os.environ.get("LANDSCAPE_SLURM_TESTS") == "1"
    )
    if running.returncode != 0 and not allowed:
        pytest.skip(
            "no SLURM cluster running: set LANDSCAPE_SLURM_TESTS=1 to let the test "
            "install and start one (scripts/slurm_cluster.sh); CI=true does too"
        )
    started = subprocess.run(
        [script, "start"], capture_output=True, text=True, timeout=900
    )
    if started.returncode != 0:
        pytest.fail(f"the SLURM cluster did not start:\n{started.stderr}")
    yield
    if running.returncode != 0:
        subprocess.run([script, "stop"], capture_output=True, timeout=120)


@pytest.fixture(scope="module", autouse=True)
def bounded_compiled_programs():
    """After a test module, drop every compiled program if this process holds more
    than half the memory mappings the kernel allows it. Kept for ever, programs
    add up to more mappings than allowed (two modules left 14,574 of the 65,530),
    and XLA then crashed inside its compiler near the end of the suite; dropped
    after every module, the next modules compiled the same stages again."""
    yield
    drop_if_near_mapping_limit(0.5)


# ----------------------------------------------------------- time per test module

MODULE_SECONDS: dict[str, list[float]] = {}  # module -> [seconds, compile seconds]
COMPILE_SECONDS = [0.0, 0.0]  # XLA compile seconds of this process: all, reported


def _count_compile_seconds(event: str, duration: float, **kwargs) -> None:
    if event == BACKEND_COMPILE_EVENT:
        COMPILE_SECONDS[0] += duration


jax.monitoring.register_event_duration_secs_listener(_count_compile_seconds)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the XLA compile seconds of the phase (setup, call, teardown) to its
    report: they travel to the main process with ``-n``."""
    outcome = yield
    spent = COMPILE_SECONDS[0] - COMPILE_SECONDS[1]
    COMPILE_SECONDS[1] = COMPILE_SECONDS[0]
    outcome.get_result().user_properties.append(("compile_seconds", spent))


def pytest_runtest_logreport(report):
    """Add each test's setup, call and teardown seconds, and their compile seconds,
    to its module's total (with ``-n``, every worker's reports arrive here)."""
    totals = MODULE_SECONDS.setdefault(report.nodeid.split("::")[0], [0.0, 0.0])
    totals[0] += report.duration
    totals[1] += dict(report.user_properties).get("compile_seconds", 0.0)


def pytest_terminal_summary(terminalreporter):
    """The seconds each test module took (its tests, their fixtures included) and
    how many of them XLA spent compiling, slowest first: the next regression shows
    in the CI log."""
    if not MODULE_SECONDS:
        return
    total = sum(seconds for seconds, _ in MODULE_SECONDS.values())
    compiling = sum(compile for _, compile in MODULE_SECONDS.values())
    terminalreporter.write_sep(
        "=",
        f"seconds per test module ({total:.0f} s in all, {compiling:.0f} s compiling)",
    )
    ranked = sorted(MODULE_SECONDS.items(), key=lambda item: -item[1][0])
    for module, (seconds, compile) in ranked:
        terminalreporter.write_line(f"{seconds:8.1f} {compile:8.1f}  {module}")


LONGEST_FIRST = [
    "test_invariants.py",
    "test_purd_kinds.py",
    "test_atari.py",
    "test_report.py",
    "test_fidelity.py",
    "test_train.py",
    "test_reject.py",
    "test_sweeps.py",
    "test_purd.py",
    "test_bad_input_catalogue.py",
    "test_surface.py",
    "test_import.py",
    "test_cli.py",
    "test_interpolate.py",
    "test_slurm.py",
    "test_mujoco.py",
    "test_surface_directions.py",
]
"""Modules that take longest (the per-module summary says which): started first,
so the workers finish together."""


def pytest_collection_modifyitems(config, items):
    """Run the longest modules first (a scheduling hint for ``-n``; the order of
    the tests inside a module is kept)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: a worker per CPU core, at most four (each worker builds the
    shared runs of the tests it runs, so more workers repeat more of them)."""
    return max(1, min(os.cpu_count() or 1, 4))
