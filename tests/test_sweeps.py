"""Hydra ``--multirun`` sweeps with the shipped launchers (submitit's local one here;
SLURM in test_slurm.py)."""

import pytest

from helpers import landscape, landscape_here
from return_landscapes import rundir as ckpt
from test_cli import TINY

ENVS = ["hopper", "walker2d"]


def test_a_local_sweep_of_2_envs_x_2_seeds_trains_each_run_in_its_own_process(
    tmp_path,
):
    """Sweeps of the landscape commands through submitit are in test_slurm.py."""
    train = [a for a in TINY if not a.startswith(("env=", "seeds="))]
    done = landscape(
        "train", "--multirun", "launcher=local", f"env={','.join(ENVS)}", "seeds=2",
        *train, "out=runs/${env}", "progress=false", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for env in ENVS:
        run = tmp_path / "runs" / env
        assert ckpt.completed_checkpoints(run) == [50, 100]
        assert ckpt.read_manifest(run)["env"] == env
        assert ckpt.read_manifest(run)["num_seeds"] == 2
    # Each member logged into its own folder of the sweep directory.
    logs = sorted(tmp_path.glob("multirun/*/*-train/*/train.log"))
    assert len(logs) == 2
    assert all("writing" in log.read_text() for log in logs)
    assert len(list(tmp_path.glob("multirun/*/*-train/.submitit/*/*_log.err"))) == 2


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
    result = landscape_here("purd", "--multirun", "run=run", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]
    assert not (tmp_path / "multirun").exists()
