"""A sweep on a real single-node SLURM cluster (scripts/slurm_cluster.sh), through
``launcher=slurm``: one array job, an element killed mid-way, the sweep resubmitted."""

import subprocess
import time

import h5py
import numpy as np
import pytest

from helpers import assert_one_error_line, copy_run, landscape
from return_landscapes import purd
from return_landscapes.store import purd as purd_store

pytestmark = pytest.mark.slurm

# This machine's node has 2 CPUs and no GPU: ask for what it has.
RESOURCES = [
    "launcher=slurm",
    "hydra.launcher.gpus_per_node=null",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=4",
    "hydra.launcher.timeout_min=20",
]
SCALES = (1e-2, 3e-2)
CHECKPOINTS = (100, 200)


def sweep(run, cwd, wait=True):
    return landscape(
        "purd", "--multirun", *RESOURCES, f"run={run}",
        "checkpoints=[100],[200]", "scale=1e-2,3e-2", "samples=8", "progress=false",
        cwd=cwd, wait=wait,
    )  # fmt: skip


def queued_tasks(*states: str, name: str = "purd") -> list[str]:
    """Array tasks of the sweep's job in SLURM's queue (any state if none given)."""
    listed = subprocess.run(
        ["squeue", "-h", "--name", name, "-t", ",".join(states or ["all"]), "-o", "%i"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return listed.stdout.split()


def wait_until_the_queue_is_empty(timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while queued_tasks("PENDING", "RUNNING", "COMPLETING") and time.time() < deadline:
        time.sleep(0.5)


def result_files(run):
    return {
        (scale, step, seed): purd_store.purd_path(run, "td3", scale, step, seed)
        for scale in SCALES
        for step in CHECKPOINTS
        for seed in (0, 1)
    }


def test_a_killed_array_element_is_redone_and_finished_ones_are_skipped(
    slurm_cluster, tiny_td3_run, tmp_path
):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    first = sweep(run, tmp_path, wait=False)
    deadline = time.time() + 300
    while not (tasks := queued_tasks("RUNNING")) and time.time() < deadline:
        assert first.poll() is None, first.stderr.read().decode()
        time.sleep(0.2)
    assert tasks, "no array element started within 300 s"
    victim = sorted(tasks)[0]  # e.g. 12_0: killed seconds after it started
    subprocess.run(["scancel", "--signal=KILL", victim], check=True)
    # The launcher reports the killed member and exits; the other tasks go on.
    assert first.wait(timeout=600) != 0
    message = first.stderr.read().decode().strip().splitlines()
    assert message[-1].startswith("error: a sweep member did not finish (Job "), message
    assert "Re-run the same command" in message[-1]
    wait_until_the_queue_is_empty()
    files = result_files(run).items()
    stamps = {key: p.stat().st_mtime_ns for key, p in files if p.exists()}
    assert 4 <= len(stamps) < 8  # at least the other members finished

    second = sweep(run, tmp_path)
    assert second.returncode == 0, second.stderr
    for key, path in result_files(run).items():
        with h5py.File(path) as f:
            assert f["undiscounted_return"].shape == (1, 8)
        if key in stamps:  # finished before: skipped, not rewritten
            assert path.stat().st_mtime_ns == stamps[key]
    logs = [p.read_text() for p in tmp_path.glob("multirun/*/*-purd/*/purd.log")]
    assert sum("skipping 2 finished" in log for log in logs) >= len(stamps) // 2
    assert len(list((run / "landscape").rglob("seed_*.h5"))) == 8  # no duplicates

    # The numbers equal an in-process PURD of the same settings.
    reference = copy_run(tiny_td3_run, tmp_path / "reference")
    for scale in SCALES:
        purd(run=str(reference), perturb="td3", scale=scale, samples=8,
             checkpoints=list(CHECKPOINTS), progress=False)  # fmt: skip
    for (scale, step, seed), path in result_files(run).items():
        expected = purd_store.purd_path(reference, "td3", scale, step, seed)
        for name in ("undiscounted_return", "discounted_return", "length"):
            with h5py.File(path) as got, h5py.File(expected) as want:
                np.testing.assert_array_equal(got[name][...], want[name][...])


def test_an_option_slurm_rejects_is_one_error_line(
    slurm_cluster, tiny_td3_run, tmp_path
):
    copy_run(tiny_td3_run, tmp_path / "run")  # every member's own checks pass
    result = landscape(
        "purd", "--multirun", *RESOURCES, "hydra.launcher.partition=nosuchpartition",
        "run=run", "scale=1e-2,3e-2", cwd=tmp_path,
    )  # fmt: skip
    assert_one_error_line(result, "SLURM refuses the sweep's job", "partition")
    assert not list(tmp_path.glob("multirun/*/*/.submitit/*"))
