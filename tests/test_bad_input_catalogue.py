"""The bad-input catalogue: each bad file or value, given to the ``landscape`` command
as a user would, ends in one ``error:`` line and exit status 2, with no traceback,
every file of the run unchanged (sha256), and no XLA program compiled before the
error. The seconds to the error are printed (``-s``).

Most cases run the command's ``main`` in this process (``landscape_here``), with
JAX's caches cleared once for the module, so any program the error path ran would
be compiled, and a compile listener that must hear none. One case per command runs
the console command in a subprocess, as a user does, with an empty persistent
compilation cache that must stay empty."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
import pytest

from helpers import (
    TINY_TD3,
    as_overrides,
    assert_one_error_line,
    copy_run,
    counted_compiles,
    landscape,
    landscape_here,
)
from return_landscapes import rundir, store
from return_landscapes.store import purd as purd_store


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (symlinks as their target's name), but
    ``train``'s lock file, which records who last held the lock."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.name == rundir.LOCK:
            continue
        if path.is_symlink():
            out[str(path)] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def closed(folder: Path) -> Callable[[], None]:
    """Make ``folder`` refuse new files, even to root; returns the undo."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"root cannot close a folder here: {done.stderr.decode().strip()}")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


def newest_checkpoint(run: Path) -> Path:
    return rundir.checkpoint_path(run, rundir.completed_checkpoints(run)[-1])


def rewrite_newest_checkpoint(run: Path, change) -> None:
    """Replace the newest checkpoint's arrays by ``change(arrays)``."""
    path = newest_checkpoint(run)
    with np.load(path) as saved:
        arrays = change(dict(saved))
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def nan_in_critic(run: Path) -> None:
    def change(arrays):
        name = next(n for n in arrays if "critic" in n and arrays[n].dtype.kind == "f")
        return arrays | {name: np.full_like(arrays[name], np.nan)}

    rewrite_newest_checkpoint(run, change)


def inf_in_target_critic(run: Path) -> None:
    """One target-critic bias of seed 0 set to infinity: only an update reads it."""

    def change(arrays):
        name = next(
            n for n in arrays if "target_critic" in n and n.endswith("['bias']")
        )
        arrays[name][0, 0] = np.inf
        return arrays

    rewrite_newest_checkpoint(run, change)


def one_seed_fewer(run: Path) -> None:
    """The newest checkpoint holds seed 0 only, the manifest says 2 (a checkpoint
    folder linked from another run)."""
    rewrite_newest_checkpoint(
        run, lambda arrays: {n: a[:1] if a.ndim else a for n, a in arrays.items()}
    )


def no_newest_replay(run: Path) -> None:
    sorted((run / "replay").glob("rows_*.npz"))[-1].unlink()


def purd_without_returns(run: Path) -> None:
    path = purd_store.purd_path(run, "td3", 1e-2, 100, 0)
    arrays = {
        "seeds": np.array([0], np.int32),
        "discounted_return": np.ones((1, 8)),
        "length": np.ones((1, 8), np.int32),
        "unperturbed_return": np.ones(1),
        "unperturbed_length": np.ones(1, np.int32),
    }
    store.write_result(path, arrays, {"kind": "purd"})


def unfinished(run: Path) -> None:
    """Drop the final checkpoint: ``resume=true`` then continues the run."""
    newest_checkpoint(run).unlink()


def truncated_checkpoint(run: Path) -> None:
    unfinished(run)
    path = newest_checkpoint(run)
    path.write_bytes(path.read_bytes()[:1000])


def metrics_symlink(run: Path) -> None:
    unfinished(run)
    outside = run.parent / "elsewhere.jsonl"
    shutil.copy(run / rundir.METRICS, outside)
    (run / rundir.METRICS).unlink()
    (run / rundir.METRICS).symlink_to(outside)


def nothing(run: Path) -> None:
    del run


# Tiny runs of each algorithm, so that a case that is wrongly accepted trains
# seconds, not hours; the agent's hidden_sizes is the case's own.
TINY = [
    "steps=300",
    "seeds=1",
    "checkpoints=[100,200]",
    "block=50",
    "horizon=50",
    "eval_interval=100",
    "eval_episodes=1",
    "backend=spring",
    "progress=false",
]
TINY_OFF_POLICY = ["random_start_steps=50", "batch_size=16", "replay_capacity=150"]
TINY_PPO = ["steps=768", "checkpoints=[256,512]", "ppo.num_envs=16"]


def off_policy(algo: str) -> list[str]:
    """A tiny ``algo`` run's options (no hidden_sizes)."""
    return [*TINY, f"algo={algo}", *(f"{algo}.{o}" for o in TINY_OFF_POLICY)]


def metrics_not_utf8(run: Path) -> None:
    """Bytes that are not UTF-8 appended to the run's metrics log."""
    with open(run / rundir.METRICS, "ab") as file:
        file.write(b"\xff\xfe\x80\n")


def metrics_not_utf8_before_the_end(run: Path) -> None:
    """An unfinished run whose metrics log has a line of bytes that are not UTF-8
    before its last line (a damaged log, not a torn last record)."""
    unfinished(run)
    lines = (run / rundir.METRICS).read_bytes().splitlines(keepends=True)
    lines.insert(len(lines) - 1, b"\xff\xfe\x80\n")
    (run / rundir.METRICS).write_bytes(b"".join(lines))


def object_array_in_checkpoint(run: Path) -> None:
    """An object (pickled) array beside the arrays of the newest checkpoint."""
    unfinished(run)
    pickled = np.array([{"pickled": True}], dtype=object)
    rewrite_newest_checkpoint(run, lambda arrays: arrays | {"extra": pickled})


def newest_replay_rows_deleted(run: Path) -> None:
    """A finished run without the replay rows of its last checkpoint."""
    rundir.replay_rows_paths(run, rundir.completed_checkpoints(run)[-1])[-1].unlink()


def oldest_replay_rows_deleted(run: Path) -> None:
    """An unfinished run without the replay rows of its first checkpoint."""
    unfinished(run)
    rundir.replay_rows_paths(run, rundir.completed_checkpoints(run)[-1])[0].unlink()


RESUME = ["train", "resume=true", *as_overrides(TINY_TD3)]

# name: (change to the run copy, command line ({run}, {tmp}), fragment of the error)
CASES = {
    "train out= a file": (nothing, ["train", "out={run}/config.yaml"], "is a file"),
    "train nan lr": (
        nothing,
        ["train", "out={tmp}/new", "td3.actor_lr=nan"],
        "actor_lr",
    ),
    "train negative lr": (
        nothing,
        ["train", "out={tmp}/new", "td3.actor_lr=-1"],
        "actor_lr",
    ),
    "train tau 5": (nothing, ["train", "out={tmp}/new", "td3.tau=5"], "tau"),
    "train gamma 7": (nothing, ["train", "out={tmp}/new", "td3.gamma=7"], "gamma"),
    "train layer of 0": (
        nothing,
        ["train", "out={tmp}/new", "td3.hidden_sizes=[0]"],
        "hidden_sizes",
    ),
    "sweep member out of range": (
        nothing,
        ["train", "--multirun", "out={tmp}/new", "seeds=1,-1"],
        "seeds",
    ),
    "non-ASCII unquoted": (nothing, ["purd", "run={tmp}/héllo"], "quote"),
    "stats nan threshold": (
        nothing,
        ["stats", "run={run}", "threshold=nan"],
        "threshold",
    ),
    "report format=jpg": (
        nothing,
        ["report", "runs=[{run}]", "out={tmp}/out", "format=jpg"],
        "expected one of [png, svg, pdf]",
    ),
    "stats out= the manifest": (
        nothing,
        ["stats", "run={run}", "out={run}/manifest.json"],
        "manifest.json",
    ),
    "stats purd lacks returns": (
        purd_without_returns,
        ["stats", "run={run}"],
        "lacks undiscounted_return",
    ),
    "purd damaged config": (
        lambda run: (run / rundir.CONFIG).write_text("td3: [unclosed\n"),
        ["purd", "run={run}", "samples=8"],
        "config.yaml",
    ),
    "purd nan in critic": (
        nan_in_critic,
        ["purd", "run={run}", "samples=8"],
        "non-finite training state for seed(s) [0, 1]",
    ),
    "resume truncated checkpoint": (
        truncated_checkpoint,
        [*RESUME, "out={run}"],
        "is corrupt or truncated",
    ),
    "import over a run": (
        nothing,
        ["import", "source=brax_ppo", "params={run}/config.yaml", "out={run}"],
        "already exists",
    ),
    "import a file that is no brax pickle": (
        nothing,
        ["import", "source=brax_ppo", "params={run}/config.yaml", "out={tmp}/new"],
        "cannot be read as brax.io.model.save_params output",
    ),
    "train imported=": (
        nothing,
        ["train", "out={tmp}/new", "imported.source=brax_ppo"],
        "written by 'landscape import'",
    ),
    "reject inf in target critic": (
        inf_in_target_critic,
        [
            "reject",
            "run={run}",
            "checkpoint=300",
            "criterion=cvar",
            "max_steps=2",
            "samples=8",
            "repeats=1",
        ],
        "non-finite training state for seed(s) [0]",
    ),
    "interpolate nan in critic": (
        nan_in_critic,
        ["interpolate", "run={run}", "pairs=same_seed", "points=3", "samples=0"],
        "non-finite training state for seed(s) [0, 1]",
    ),
    "surface nan in critic": (
        nan_in_critic,
        ["surface", "run={run}", "checkpoint=300", "grid=3", "span=0.5"],
        "non-finite training state for seed(s) [0]",
    ),
    "line nan in critic": (
        nan_in_critic,
        ["line", "run={run}", "checkpoint=300", "points=3", "span=0.5"],
        "non-finite training state for seed(s) [0]",
    ),
    "purd on a checkpoint of fewer seeds": (
        one_seed_fewer,
        ["purd", "run={run}", "samples=8"],
        "holds 1 seed(s)",
    ),
    "purd without the newest replay file": (
        no_newest_replay,
        ["purd", "run={run}", "samples=8"],
        "rows_000000200_000000300.npz",
    ),
    "sweep member with a negative scale": (
        nothing,
        ["purd", "--multirun", "run={run}", "samples=8", "scale=1e-4,-1"],
        "scale=-1",
    ),
    "$( unquoted": (nothing, ["purd", "run={tmp}/a$(b"], "quote"),
    "backtick unquoted": (nothing, ["purd", "run={tmp}/a`b"], "quote"),
    "train no hidden layer": (
        nothing,
        ["train", "out={tmp}/new", *off_policy("td3"), "td3.hidden_sizes=[]"],
        "td3.hidden_sizes=[] must list at least one",
    ),
    "train sac no hidden layer": (
        nothing,
        ["train", "out={tmp}/new", *off_policy("sac"), "sac.hidden_sizes=[]"],
        "sac.hidden_sizes=[] must list at least one",
    ),
    "train ppo no hidden layer": (
        nothing,
        ["train", "out={tmp}/new", *TINY, "algo=ppo", *TINY_PPO, "ppo.hidden_sizes=[]"],
        "ppo.hidden_sizes=[] must list at least one",
    ),
    "demo no hidden layer": (
        nothing,
        ["demo", "out={tmp}/new", "hidden_sizes=[]"],
        "hidden_sizes=[] must list at least one",
    ),
    "report metrics not UTF-8": (
        metrics_not_utf8,
        ["report", "runs=[{run}]", "out={tmp}/out"],
        "metrics.jsonl line 11 is not UTF-8 text",
    ),
    "resume metrics not UTF-8 before the end": (
        metrics_not_utf8_before_the_end,
        [*RESUME, "out={run}"],
        "metrics.jsonl line 10 is not JSON: the log is damaged before its end",
    ),
    "resume object array in checkpoint": (
        object_array_in_checkpoint,
        [*RESUME, "out={run}"],
        "holds an object (pickled) array",
    ),
    "resume finished run without its newest replay rows": (
        newest_replay_rows_deleted,
        [*RESUME, "out={run}"],
        "rows_000000200_000000300.npz is missing",
    ),
    "resume without the first replay rows": (
        oldest_replay_rows_deleted,
        [*RESUME, "out={run}"],
        "rows_000000000_000000100.npz is missing",
    ),
    "resume through a symlinked log": (
        metrics_symlink,
        [*RESUME, "out={run}"],
        "symbolic link",
    ),
}

CLOSED = {  # the folder that refuses writes ({run} or {tmp}/out), the command line
    "purd in a closed run": ("{run}", ["purd", "run={run}", "samples=8"]),
    "stats in a closed run": ("{run}", ["stats", "run={run}"]),
    "resume a closed run": ("{run}", [*RESUME, "out={run}"]),
    "report into a closed folder": (
        "{tmp}/out",
        ["report", "runs=[{run}]", "out={tmp}/out"],
    ),
}


# One case per command runs the console command in a subprocess (the entry point).
IN_SUBPROCESS = {
    "train nan lr",
    "purd nan in critic",
    "stats purd lacks returns",
    "report format=jpg",
    "import a file that is no brax pickle",
    "resume truncated checkpoint",
}


def run_case(tmp_path: Path, run: Path, case: str, args: list, fragment: str) -> None:
    before = digests(tmp_path)
    command = [arg.format(run=run, tmp=tmp_path) for arg in args]
    tic = time.perf_counter()
    if case in IN_SUBPROCESS:
        cache = tmp_path.parent / f"{tmp_path.name}-xla-cache"
        cache.mkdir()
        env = {"JAX_COMPILATION_CACHE_DIR": str(cache)}
        result = landscape(*command, cwd=tmp_path, env=env)
        compiled = [path.name for path in cache.iterdir()]
    else:
        with counted_compiles() as compiled:
            result = landscape_here(*command, cwd=tmp_path)
    seconds = time.perf_counter() - tic
    print(f"{' '.join(command[:2])}: error after {seconds:.1f} s: {result.stderr}")
    assert "Traceback" not in result.stderr
    assert_one_error_line(result, fragment)
    assert digests(tmp_path) == before
    assert not compiled, f"XLA programs compiled before the error: {compiled}"


@pytest.fixture(scope="module", autouse=True)
def nothing_compiled(tiny_td3_run):
    """JAX's caches emptied once, after the shared run was trained: a case whose
    error path ran any program would compile it, and no case does."""
    jax.clear_caches()


@pytest.fixture
def run(tiny_td3_run, tmp_path):
    return copy_run(tiny_td3_run, tmp_path / "run")


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_error_line_before_any_compile_and_changes_nothing(
    run, tmp_path, case
):
    change, args, fragment = CASES[case]
    change(run)
    run_case(tmp_path, run, case, args, fragment)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("case", CLOSED)
def test_a_folder_that_refuses_writes_is_one_error_line_before_any_compile(
    run, tmp_path, case
):
    folder, args = CLOSED[case]
    folder = Path(folder.format(run=run, tmp=tmp_path))
    folder.mkdir(exist_ok=True)
    reopen = closed(folder)
    try:
        run_case(tmp_path, run, case, args, "cannot write in")
    finally:
        reopen()


def test_resume_with_the_schedule_in_another_order_is_the_same_run(run, tmp_path):
    """A finished run resumed with its checkpoints listed in another order (and
    repeated) is the same run: nothing to train, nothing changed, exit 0."""
    reordered = {**TINY_TD3, "checkpoints": [200, 100, 200]}
    before = digests(tmp_path)
    result = landscape_here(
        "train", "resume=true", f"out={run}", *as_overrides(reordered), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "different run" not in result.stderr
    assert "already trained to step 300" in result.stderr
    assert digests(tmp_path) == before


STRAY = "step_000000100 (copy).npz"


@pytest.mark.parametrize(
    "args",
    [[*RESUME, "out={run}"], ["report", "runs=[{run}]", "out={tmp}/out"]],
    ids=lambda args: args[0],
)
def test_a_stray_checkpoint_name_is_noted_once_per_command(run, tmp_path, args):
    newest = newest_checkpoint(run)
    (newest.parent / STRAY).write_bytes(newest.read_bytes())
    command = [arg.format(run=run, tmp=tmp_path) for arg in args]
    result = landscape_here(*command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if STRAY in line]
    assert notes == [f"ignored {newest.parent / STRAY}: not a name this tool writes"]
