"""Interpolation paths on a tiny trained TD3 run: exact endpoints, pairs, store."""

import shutil

import h5py
import numpy as np
import pytest
import yaml

from helpers import (
    assert_one_error_line,
    assert_rerun_computes_nothing,
    copy_run,
    files_and_stamps,
    kill_when_files_land,
    landscape,
    landscape_here,
)
from return_landscapes import (
    LandscapeError,
    interpolate,
    load_interpolation,
    purd,
)
from return_landscapes.conf import InterpolateConfig
from return_landscapes.landscape.experiments.interpolate import plan_interpolation
from return_landscapes.store import interpolation as path_store
from return_landscapes.store import purd as purd_store

SMALL = {"points": 3, "progress": False}


@pytest.fixture(scope="module")
def paths(tiny_td3_run, tmp_path_factory):
    """A run copy with plain same-seed paths, param-noise cross-seed paths and the
    checkpoints' unperturbed returns (a PURD at scale 0)."""
    run = copy_run(tiny_td3_run, tmp_path_factory.mktemp("interpolate") / "run")
    compute_paths(run)
    return run


def compute_paths(run) -> None:
    interpolate(run=str(run), pairs="same_seed", samples=0, **SMALL)
    interpolate(run=str(run), pairs="cross_seed", samples=4, scale=1e-2, **SMALL)
    purd(run=str(run), perturb="param_noise", scale=0.0, samples=8, progress=False)


def test_the_same_paths_again_compute_nothing(paths):
    assert_rerun_computes_nothing(paths, lambda: compute_paths(paths))


def unperturbed(run, seed, step):
    result = purd_store.load_purd_result(run, step, "param_noise", 0.0)
    return result.arrays["unperturbed_return"][seed]


@pytest.mark.invariant
def test_endpoints_are_the_checkpoints_returns_bit_for_bit(paths):
    files = path_store.stored_interpolations(paths)
    assert len(files) == 6 + 6
    for path in files:
        result = path_store.read_interpolation(path)
        a = result.attrs
        assert result.alpha[0] == 0.0 and result.alpha[-1] == 1.0
        assert result.plain_return[-1] == unperturbed(
            paths, a["seed1"], a["checkpoint1"]
        )
        assert result.plain_return[0] == unperturbed(
            paths, a["seed2"], a["checkpoint2"]
        )


def test_arrays_are_samples_by_points_with_provenance(paths):
    result = load_interpolation(paths, (0, 100, 1, 300), "param_noise", 1e-2)
    assert result.returns.shape == (4, 3)
    assert result.arrays["length"].shape == (4, 3)
    assert result.plain_return.shape == (3,)
    assert (result.returns.std(axis=0) > 0).any()
    assert result.attrs["pair_kind"] == "cross_seed"
    assert result.attrs["perturbation"] == "param_noise"
    assert result.attrs["points"] == 3 and result.attrs["samples"] == 4
    plain = load_interpolation(paths, (1, 100, 1, 200), perturb=None)
    assert plain.returns.shape == (0, 3) and plain.attrs["pair_kind"] == "same_seed"
    with pytest.raises(LandscapeError, match="run 'landscape interpolate' first"):
        load_interpolation(paths, (1, 200, 1, 100), perturb=None)


def test_a_td3_update_at_rate_zero_reproduces_the_plain_path(paths):
    interpolate(
        run=str(paths),
        between=[0, 100, 1, 300],
        perturb="td3",
        scale=0.0,
        samples=2,
        **SMALL,
    )
    result = load_interpolation(paths, (0, 100, 1, 300), "td3", 0.0)
    np.testing.assert_array_equal(result.returns, np.tile(result.plain_return, (2, 1)))


def pairs_of(run, **overrides):
    job = plan_interpolation(InterpolateConfig(run=str(run), points=3, **overrides))
    return [
        (p.first.seed, p.first.checkpoint, p.second.seed, p.second.checkpoint)
        for p in job.pairs
    ]


def test_which_pairs_are_joined(paths, tmp_path):
    same = pairs_of(paths, samples=0)
    assert same == [
        (s, c1, s, c2)
        for s in (0, 1)
        for c1, c2 in [(100, 200), (100, 300), (200, 300)]
    ]
    # the paper's code: seed s at c1 with seed s+1 at c2, every ordered c1 != c2
    cross = pairs_of(paths, pairs="cross_seed", checkpoints=[100, 200])
    assert cross == [(0, 100, 1, 200), (0, 200, 1, 100)]
    with_equal = pairs_of(
        paths, pairs="cross_seed", checkpoints=[100, 200], include_equal_steps=True
    )
    assert with_equal == [
        (0, 100, 1, 100),
        (0, 100, 1, 200),
        (0, 200, 1, 100),
        (0, 200, 1, 200),
    ]
    all_three = pairs_of(paths, pairs="cross_seed")
    assert len(all_three) == 3 * 2  # checkpoints x (checkpoints - 1), one seed pair
    assert pairs_of(paths, between=[1, 300, 0, 100]) == [(1, 300, 0, 100)]
    other = copy_run(paths, tmp_path / "other")
    job = plan_interpolation(
        InterpolateConfig(run=str(paths), other_run=str(other), checkpoints=[100, 200])
    )
    assert {p.kind for p in job.pairs} == {"cross_run"}
    assert len(job.pairs) == 2 * 3  # per seed: (100,100), (100,200), (200,200)
    assert all(p.second.run_dir == other for p in job.pairs)


def test_runs_that_do_not_match_are_refused(paths, tmp_path):
    for key, value, fragment in [
        ("env", "walker2d", "env walker2d vs hopper"),
        ("td3", {"hidden_sizes": [8, 8]}, "network sizes (hidden_sizes) differ"),
    ]:
        other = tmp_path / key
        shutil.copytree(paths, other, ignore=shutil.ignore_patterns("landscape"))
        config = yaml.safe_load((other / "config.yaml").read_text())
        if isinstance(value, dict):
            config[key].update(value)
        else:
            config[key] = value
        (other / "config.yaml").write_text(yaml.safe_dump(config))
        with pytest.raises(LandscapeError, match="cannot be joined") as error:
            interpolate(run=str(paths), other_run=str(other), **SMALL)
        assert fragment in str(error.value)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"points": 1}, "points=1 must be at least 2"),
        ({"samples": -1}, "samples=-1 must be 0 (plain returns) or more"),
        ({"perturb": "sac"}, "applies to sac runs"),
        ({"checkpoints": [100]}, "pairs=same_seed needs two checkpoints"),
        ({"pairs": "cross_seed", "seeds": [1]}, "seeds [1] have no partner"),
        ({"between": [0, 100, 0, 100]}, "joins a checkpoint with itself"),
        ({"between": [0, 100, 1]}, "must be [seed1,checkpoint1,seed2,checkpoint2]"),
        ({"between": [0, 150, 1, 100]}, "no checkpoint at step(s) [150]"),
    ],
)
def test_bad_requests_are_refused(paths, overrides, fragment):
    with pytest.raises(LandscapeError) as error:
        interpolate(run=str(paths), **{**SMALL, **overrides})
    assert fragment in str(error.value)


def test_a_rerun_skips_finished_pairs(paths, capsys):
    path = path_store.stored_interpolations(paths)[0]
    before = path.stat().st_mtime_ns
    interpolate(run=str(paths), pairs="same_seed", samples=0, **SMALL)
    assert "skipping 6 finished pair(s)" in capsys.readouterr().err
    assert path.stat().st_mtime_ns == before
    with pytest.raises(LandscapeError, match="computed with points=3: pass overwrite"):
        interpolate(run=str(paths), samples=0, points=5, progress=False)


def test_a_killed_job_resumes_and_a_concurrent_one_loses_nothing(
    tiny_td3_run, tmp_path
):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    args = ["interpolate", f"run={run}", "points=3", "samples=256", "chunk=128"]
    args += ["progress=false"]
    other = landscape(*args, "seeds=[0]", cwd=tmp_path, wait=False)
    job = landscape(*args, "seeds=[1]", cwd=tmp_path, wait=False)
    folder = path_store.interpolation_dir(run, "param_noise", 3e-4)
    finished = kill_when_files_land(job, folder, "s001_*.h5")
    assert 1 <= finished < 3
    assert other.wait(timeout=600) == 0, other.stderr.read().decode()
    again = landscape_here(*args, "seeds=[1]", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"skipping {finished} finished pair(s)" in again.stderr
    files = sorted(folder.glob("*.h5"))
    assert len(files) == 6
    for path in files:
        with h5py.File(path) as f:
            assert f["undiscounted_return"].shape == (256, 3)


def test_cli_bad_input_is_one_line_and_changes_nothing(paths):
    before = files_and_stamps(paths / "landscape")
    result = landscape_here(
        "interpolate", f"run={paths}", "pairs=cross_sed", cwd=paths.parent
    )
    assert_one_error_line(result, "cross_sed", "cross_seed")
    assert files_and_stamps(paths / "landscape") == before
