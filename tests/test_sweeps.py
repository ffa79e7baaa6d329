"""Hydra ``--multirun`` sweeps with the shipped launchers (submitit's local one here;
SLURM in test_slurm.py)."""

import h5py
import pytest

from conftest import landscape
from return_landscapes import checkpoint as ckpt
from return_landscapes import load_purd, store
from test_cli import TINY

ENVS = ["hopper", "walker2d"]


def test_a_local_sweep_of_2_envs_x_2_seeds_trains_and_computes_purds(tmp_path):
    train = [a for a in TINY if not a.startswith(("env=", "seeds="))]
    done = landscape(
        "train", "--multirun", "launcher=local", f"env={','.join(ENVS)}", "seeds=2",
        *train, "out=runs/${env}", "progress=false", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    runs = [tmp_path / "runs" / env for env in ENVS]
    for run in runs:
        assert ckpt.completed_checkpoints(run) == [50, 100]
    done = landscape(
        "purd", "--multirun", "launcher=local", f"run={','.join(map(str, runs))}",
        "scale=1e-2", "samples=8", "progress=false", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for run in runs:
        for step in (50, 100):
            assert load_purd(run, step, "td3", 1e-2).shape == (2, 8)
            for seed in (0, 1):
                path = store.purd_path(run, "td3", 1e-2, step, seed)
                with h5py.File(path) as f:
                    assert f["undiscounted_return"].shape == (1, 8)
    # Each member logged into its own folder of the sweep directory.
    logs = sorted(tmp_path.glob("multirun/*/*-purd/*/purd.log"))
    assert len(logs) == 2
    assert all("writing" in log.read_text() for log in logs)
    assert len(list(tmp_path.glob("multirun/*/*-purd/.submitit/*/*_log.err"))) == 2


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["launcher=slurmm"], "unknown launcher 'slurmm': choose one of basic, local"),
        (["launcher=basic,lokal"], "unknown launcher 'lokal'"),
        (["scale=1e-2,abc"], "Value 'abc' of type 'str' could not be converted"),
        (["sample=8,16"], "unknown option 'sample'"),
    ],
)
def test_bad_sweep_input_is_one_error_line(tmp_path, args, fragment):
    result = landscape("purd", "--multirun", "run=run", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]
    assert not (tmp_path / "multirun").exists()
