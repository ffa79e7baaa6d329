"""Shared, session-scoped runs: XLA compiles once per config for the whole suite.

Only fixtures live here; helpers and the tiny configs are in helpers.py."""

from __future__ import annotations

import return_landscapes

return_landscapes.configure_xla()  # the CLI's XLA settings, before JAX starts
return_landscapes.show_logs()  # the CLI's messages on stderr, as the CLI

import hashlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402
from jax._src.dispatch import BACKEND_COMPILE_EVENT  # noqa: E402

from helpers import REPOSITORY, copy_run, train_shared_run  # noqa: E402
from return_landscapes.caches import drop_if_near_mapping_limit  # noqa: E402
from return_landscapes.pipeline import LANES_VARIABLE, usable_cores  # noqa: E402


def share_the_cores_between_workers() -> None:
    """``-n`` workers already keep one core each busy: each worker's pipeline chunks
    get its share of the cores as lanes (tests of the lanes set their own count)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        os.environ.setdefault(LANES_VARIABLE, str(max(1, usable_cores() // workers)))


share_the_cores_between_workers()


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
    config.stash[BACKGROUND] = start_training_shared_runs(config)


BACKGROUND = pytest.StashKey[subprocess.Popen | None]()
TESTS = Path(__file__).parent


def pytest_unconfigure(config):
    """The main process waits for its background training, then removes the
    run's shared folder."""
    background = config.stash.get(BACKGROUND, None)
    if background is not None:
        background.wait()
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(shared_folder(), ignore_errors=True)


def shared_runs_folder() -> Path:
    """Where this test run's shared runs are trained: apart for other XLA flags
    (the native-ISA rerun trains its own)."""
    flags = hashlib.sha1(os.environ.get("XLA_FLAGS", "").encode()).hexdigest()[:8]
    return shared_folder() / f"runs-{flags}"


def trained_once(name: str, tmp_path_factory) -> Path:
    """This worker's copy of a run trained once per test run (``SHARED_RUNS``):
    trained in the background from the start of a whole-suite run, or by the
    first worker that needs it; every worker copies it, so a test may write into
    its copy."""
    trained = train_shared_run(shared_runs_folder(), name)
    return copy_run(trained, tmp_path_factory.mktemp("runs") / name)


def start_training_shared_runs(config) -> subprocess.Popen | None:
    """In the main process of a run of the whole suite, train the shared runs in
    a process of their own while the workers start on other modules."""
    whole_suite = config.args_source == pytest.Config.ArgsSource.TESTPATHS
    if os.environ.get("PYTEST_XDIST_WORKER") or not whole_suite:
        return None
    if "unit" in (config.getoption("markexpr") or ""):
        return None  # the unit tier trains nothing
    code = (
        "import return_landscapes; return_landscapes.configure_xla();"
        "import sys; from pathlib import Path; import helpers;"
        "[helpers.train_shared_run(Path(sys.argv[1]), n) for n in helpers.SHARED_RUNS]"
    )
    log = open(shared_folder() / "shared-runs.log", "w")  # noqa: SIM115 (closed on exit)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    return subprocess.Popen(
        [sys.executable, "-c", code, str(shared_runs_folder())],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def envpool_hidden(monkeypatch):
    """``import envpool`` fails in this process as it does where envpool is not
    installed; the tasks and games found with it are forgotten."""
    from return_landscapes.envs.atari import game_names
    from return_landscapes.envs.mujoco import task_names

    monkeypatch.setitem(sys.modules, "envpool", None)
    task_names.cache_clear()
    game_names.cache_clear()


@pytest.fixture(scope="session")
def tiny_ppo_run(tmp_path_factory):
    """A finished 768-step, 2-seed PPO run on hopper, checkpoints 256, 512, 768."""
    return trained_once("tiny-ppo", tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_td3_run(tmp_path_factory):
    """A finished 300-step, 2-seed TD3 run on hopper with checkpoints 100, 200, 300."""
    return trained_once("tiny-td3", tmp_path_factory)


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
