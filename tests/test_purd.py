"""The PURD driver and store on a tiny trained run: exactness, resume, concurrency."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from helpers import (
    assert_one_error_line,
    copy_run,
    files_and_stamps,
    kill_when_files_land,
    landscape,
    landscape_here,
    with_xla_flags,
)
from return_landscapes import LandscapeError, load_purd, purd
from return_landscapes.landscape.stats.table import COLUMNS
from return_landscapes.store import purd as purd_store

SMALL = {"samples": 8, "progress": False}
CHECKPOINTS = [100, 200, 300]


@pytest.fixture(scope="module")
def td3_purd(tiny_td3_run, tmp_path_factory):
    """A run copy holding td3 PURDs at scale 1e-2, 8 samples, every checkpoint;
    computed with envpool hidden (a Brax PURD needs no envpool)."""
    run = copy_run(tiny_td3_run, tmp_path_factory.mktemp("purd") / "run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "envpool", None)  # import envpool fails
        purd(run=str(run), perturb="td3", scale=1e-2, **SMALL)
    return run


def stored(run, perturb="td3", scale=1e-2):
    return {
        step: purd_store.load_purd_result(run, step, perturb, scale)
        for step in CHECKPOINTS
    }


@pytest.mark.parametrize("perturb", ["td3", "param_noise"])
def test_scale_zero_gives_the_unperturbed_return_for_every_sample(
    tiny_td3_run, tmp_path, perturb
):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    purd(run=str(run), perturb=perturb, scale=0.0, checkpoints=[200, 300], **SMALL)
    for step in (200, 300):
        result = purd_store.load_purd_result(run, step, perturb, 0.0)
        returns = result.arrays["undiscounted_return"]
        assert returns.shape == (2, 8)
        unperturbed = result.arrays["unperturbed_return"]
        np.testing.assert_array_equal(returns, np.repeat(unperturbed[:, None], 8, 1))
        assert unperturbed[0] != unperturbed[1]


def test_a_real_perturbation_spreads_the_returns(td3_purd):
    for result in stored(td3_purd).values():
        returns = result.arrays["undiscounted_return"]
        assert returns.shape == (2, 8) and result.seeds.tolist() == [0, 1]
        assert (returns.std(axis=1) > 0).all()
        assert result.arrays["length"].shape == (2, 8)
        assert result.arrays["discounted_return"].shape == (2, 8)
    attrs = stored(td3_purd)[200].attrs
    assert attrs["perturbation"] == "td3" and attrs["scale"] == 1e-2
    assert attrs["samples"] == 8 and attrs["checkpoint"] == 200
    assert "jax" in attrs["versions"] and attrs["created"]


def test_load_purd_gives_seeds_by_samples(td3_purd):
    returns = load_purd(td3_purd, 200, "td3", 1e-2)
    assert returns.shape == (2, 8)
    np.testing.assert_array_equal(
        load_purd(td3_purd, 200, "td3", 1e-2, seeds=[1]), returns[1:]
    )
    with pytest.raises(LandscapeError, match="has no seed for the PURD perturb=td3"):
        load_purd(td3_purd, 200, "td3", 5e-2)


@pytest.mark.invariant
def test_chunk_size_does_not_change_the_numbers(tiny_td3_run, td3_purd, tmp_path):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    purd(run=str(run), perturb="td3", scale=1e-2, chunk=3, **SMALL)
    for step, result in stored(run).items():
        for name, array in result.arrays.items():
            np.testing.assert_array_equal(array, stored(td3_purd)[step].arrays[name])


@pytest.mark.invariant
def test_two_devices_give_the_numbers_of_one(tiny_td3_run, td3_purd, tmp_path):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    code = (  # the package's XLA flags before JAX starts, as the CLI
        "import return_landscapes; return_landscapes.configure_xla();"
        "from return_landscapes import purd;"
        "import jax; assert jax.device_count() == 2, jax.devices();"
        f"purd(run={str(run)!r}, perturb='td3', scale=1e-2, samples=8, progress=False)"
    )
    env = with_xla_flags("--xla_force_host_platform_device_count=2")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    for step, result in stored(run).items():
        for name, array in result.arrays.items():
            np.testing.assert_array_equal(array, stored(td3_purd)[step].arrays[name])


def test_rerun_skips_finished_blocks_and_overwrite_recomputes(td3_purd, capsys):
    path = purd_store.purd_path(td3_purd, "td3", 1e-2, 200, 1)
    before = path.stat().st_mtime_ns
    purd(run=str(td3_purd), perturb="td3", scale=1e-2, **SMALL)
    assert "skipping 6 finished" in capsys.readouterr().err
    assert path.stat().st_mtime_ns == before
    first = load_purd(td3_purd, 200, "td3", 1e-2)
    purd(
        run=str(td3_purd),
        perturb="td3",
        scale=1e-2,
        checkpoints=[200],
        seeds=[1],
        overwrite=True,
        **SMALL,
    )
    assert path.stat().st_mtime_ns != before
    np.testing.assert_array_equal(load_purd(td3_purd, 200, "td3", 1e-2), first)
    with pytest.raises(LandscapeError, match="computed with samples=8: pass overwrite"):
        purd(run=str(td3_purd), perturb="td3", scale=1e-2, samples=4, progress=False)


def test_a_killed_job_resumes_and_a_concurrent_one_loses_nothing(
    tiny_td3_run, tmp_path
):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    args = ["purd", f"run={run}", "scale=1e-2", "samples=512", "chunk=128"]
    args += ["progress=false"]
    other = landscape(*args, "seeds=[0]", cwd=tmp_path, wait=False)
    job = landscape(*args, "seeds=[1]", cwd=tmp_path, wait=False)
    folder = purd_store.purd_dir(run, "td3", 1e-2)
    finished = kill_when_files_land(job, folder, "step_*/seed_001.h5")
    assert 1 <= finished < 3
    assert other.wait(timeout=600) == 0, other.stderr.read().decode()
    again = landscape_here(*args, "seeds=[1]", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"skipping {finished} finished" in again.stderr
    for step in CHECKPOINTS:
        assert load_purd(run, step, "td3", 1e-2).shape == (2, 512)
        for seed in (0, 1):
            with h5py.File(purd_store.purd_path(run, "td3", 1e-2, step, seed)) as f:
                assert f["undiscounted_return"].shape == (1, 512)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["perturb=tdd3"], "unknown perturbation 'tdd3': choose one of"),
        (["perturb=sac"], "applies to sac runs, this run is td3"),
        (["checkpoints=[150]"], "has no checkpoint at step(s) [150] (it has: 100, 200"),
        (["samples=0"], "samples=0 must be at least 1"),
        (["seeds=[5]"], "seed(s) [5] not in this run"),
        (["scale=-1"], "scale=-1.0 must be a finite number >= 0"),
        (["chunk=0"], "chunk=0 must be at least 1"),
    ],
)
def test_bad_input_is_one_error_line_and_changes_nothing(td3_purd, args, fragment):
    before = files_and_stamps(purd_store.purd_dir(td3_purd, "td3", 1e-2))
    result = landscape_here(
        "purd", f"run={td3_purd}", "scale=1e-2", "samples=8", *args, cwd=td3_purd.parent
    )
    assert_one_error_line(result, fragment)
    assert files_and_stamps(purd_store.purd_dir(td3_purd, "td3", 1e-2)) == before


def test_not_a_run_directory_is_one_error_line(tmp_path):
    (tmp_path / "notarun").mkdir()
    result = landscape_here("purd", "run=notarun", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: notarun is not a run directory (no manifest.json): pass the out= "
        "directory of a 'landscape train' run"
    )


def test_a_truncated_result_file_is_reported_and_left_alone(tiny_td3_run, tmp_path):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    purd(run=str(run), perturb="td3", scale=1e-2, checkpoints=[100], **SMALL)
    path = purd_store.purd_path(run, "td3", 1e-2, 100, 0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for command in ("purd", "stats"):
        result = (
            landscape_here(
                command, f"run={run}", "scale=1e-2", "samples=8", cwd=tmp_path
            )
            if command == "purd"
            else landscape_here(command, f"run={run}", cwd=tmp_path)
        )
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "is corrupt or truncated" in lines[0], result.stderr
        assert "delete it and re-run" in lines[0]
    assert path.read_bytes() == data[: len(data) // 2]
    assert load_purd(run, 100, "td3", 1e-2, seeds=[1]).shape == (1, 8)


def test_stats_command_prints_a_table_and_writes_the_csv(td3_purd):
    result = landscape_here("stats", f"run={td3_purd}", cwd=td3_purd.parent)
    assert result.returncode == 0, result.stderr
    assert "checkpoint" in result.stdout and "bootstrap" in result.stdout
    csv_path = td3_purd / "landscape" / "stats.csv"
    lines = csv_path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert len(lines) == 1 + 2 * len(CHECKPOINTS)
    row = dict(zip(COLUMNS, lines[1].split(","), strict=True))
    returns = load_purd(td3_purd, int(row["checkpoint"]), "td3", 1e-2)[int(row["seed"])]
    assert float(row["mean"]) == pytest.approx(returns.mean())
    assert row["env"] == "hopper" and row["algo"] == "td3" and row["samples"] == "8"
    assert (td3_purd / "landscape" / "stats_summary.csv").is_file()
