"""Surfaces and lines along update, PCA and file directions on a tiny trained run."""

import h5py
import jax
import numpy as np
import pytest

from helpers import (
    assert_one_error_line,
    assert_rerun_computes_nothing,
    copy_run,
    files_and_stamps,
    landscape_here,
)
from return_landscapes import (
    LandscapeError,
    line,
    load_directions,
    load_line,
    load_surface,
    purd,
    surface,
)
from return_landscapes.conf import SurfaceConfig, resolve
from return_landscapes.landscape.experiments.surface import plan_surface
from return_landscapes.landscape.grid.vectors import flat_vector, tree_dot
from return_landscapes.landscape.hotpath.engine import checkpoint_source
from return_landscapes.landscape.hotpath.keys import sample_keys
from return_landscapes.landscape.job import make_engine
from return_landscapes.store import purd as purd_store
from return_landscapes.store import surface as surface_store

SCALE = 1e-2
SAMPLES = 8
PLANE = {"checkpoint": 200, "seed_index": 1, "grid": 5, "span": 0.5}
QUIET = {"progress": False}
SAMPLED = {"perturb": "td3", "scale": SCALE, "samples": SAMPLES, **QUIET}


def compute_planes(run) -> None:
    """td3 PURDs, and 5x5 surfaces with PURDs along random, update and pca
    directions, one along the random surface's directions read from its file,
    and a line."""
    purd(run=str(run), **SAMPLED)
    random = surface(run=str(run), **PLANE, **SAMPLED)
    surface(run=str(run), directions="update", **PLANE, **SAMPLED)
    surface(run=str(run), directions="pca", **PLANE, **SAMPLED)
    surface(
        run=str(run),
        directions="file",
        directions_file=str(random / "directions.h5"),
        **PLANE,
        **SAMPLED,
    )
    line(run=str(run), checkpoint=200, seed_index=1, points=5, span=0.5, **SAMPLED)


@pytest.fixture(scope="module")
def planes(tiny_td3_run, tmp_path_factory):
    """A run copy with ``compute_planes``' results (the shapes of test_surface.py's:
    no new compile)."""
    run = copy_run(tiny_td3_run, tmp_path_factory.mktemp("directions") / "run")
    compute_planes(run)
    return run


def test_the_same_commands_again_compute_nothing(planes):
    """purd, a surface along every kind of directions and a line, asked again with
    the same options, find their results finished (pca's checkpoint list too)."""
    assert_rerun_computes_nothing(planes, lambda: compute_planes(planes))


def load(run, directions):
    return load_surface(
        run, 200, seed=1, perturb="td3", scale=SCALE, grid=5, span=0.5,
        directions=directions,
    )  # fmt: skip


@pytest.mark.invariant
@pytest.mark.parametrize("directions", ["random", "update", "pca", "file"])
def test_the_centre_of_every_plane_is_the_checkpoints_purd_bit_for_bit(
    planes, directions
):
    result = load(planes, directions)
    checkpoint = purd_store.load_purd_result(planes, 200, "td3", SCALE).arrays
    assert result.attrs["directions"] == directions
    assert result.plain_return[2, 2] == checkpoint["unperturbed_return"][1]
    np.testing.assert_array_equal(
        result.returns[:, 2, 2], checkpoint["undiscounted_return"][1]
    )
    assert len(np.unique(result.plain_return)) > 5  # the plane really moves


@pytest.mark.invariant
def test_a_surface_along_an_earlier_surfaces_directions_equals_it(planes):
    earlier, again = load(planes, "random"), load(planes, "file")
    for name, values in earlier.arrays.items():
        np.testing.assert_array_equal(again.arrays[name], values, err_msg=name)
    assert again.directions["source_kind"] == "random"


@pytest.mark.invariant
def test_a_line_is_the_random_planes_middle_column_bit_for_bit(planes):
    result = load_line(planes, 200, seed=1, perturb="td3", scale=SCALE, points=5,
                       span=0.5)  # fmt: skip
    plane = load(planes, "random")
    np.testing.assert_array_equal(result.x, plane.x)
    np.testing.assert_array_equal(result.plain_return, plane.plain_return[:, 2])
    np.testing.assert_array_equal(result.returns, plane.returns[:, :, 2])
    assert result.returns.shape == (SAMPLES, 5) and result.anchor == (1, 200)
    assert result.directions["kind"] == "random"


def test_the_update_direction_is_the_mean_actor_step_of_the_perturbation(
    planes, tmp_path
):
    """normalization=none, bias=normalized: x is the mean update itself."""
    run = copy_run(planes, tmp_path / "run")
    options = {"directions": "update", "normalization": "none",
               "bias": "normalized", "update_batches": 5}  # fmt: skip
    folder = surface(run=str(run), **PLANE, **options, **QUIET)
    job = plan_surface(resolve(SurfaceConfig, run=str(run), **PLANE, **options))
    engine = make_engine(job)
    source = checkpoint_source(engine.parts, job.run_cfg, run, 1, 200, job.perturbation)
    actor = engine.agent.actor_params(source.agent_state)
    scale = job.scale_at(200)
    steps = []
    for key in sample_keys(0, 1, 200, 5):
        perturb_key, _ = jax.random.split(key)  # as a PURD's sample draws it
        moved = job.perturbation.perturb(engine.agent, source, perturb_key, scale)
        steps.append(flat_vector(moved) - flat_vector(actor))
    stored = load_directions(folder / "directions.h5", template=actor)
    np.testing.assert_allclose(
        flat_vector(stored.x), np.mean(steps, axis=0), rtol=1e-4, atol=1e-9
    )
    assert stored.attrs["update_step_x"] == pytest.approx(1.0)
    assert abs(tree_dot(stored.x, stored.y)) < 1e-6 * np.sqrt(
        tree_dot(stored.x, stored.x) * tree_dot(stored.y, stored.y)
    )


def test_directions_are_stored_with_how_they_were_made(planes):
    update = load(planes, "update")
    assert update.directions["perturbation"] == "td3"
    assert update.directions["update_batches"] == 100
    assert update.attrs["normalization"] == "filter"
    pca = load(planes, "pca")
    assert pca.directions["trajectory"].shape == (3, 2)
    np.testing.assert_array_equal(pca.directions["trajectory_steps"], [100, 200, 300])
    np.testing.assert_allclose(pca.directions["trajectory"][1], [0, 0], atol=1e-6)
    assert sum(pca.directions["explained_variance"]) == pytest.approx(1.0, abs=1e-6)
    folder = surface_store.surface_dir(planes, [(1, 200)], 5, 0.5, "td3", SCALE, "pca")
    with h5py.File(folder / "directions.h5") as f:
        assert "x/params" in f or len(f["x"]) > 0


def test_a_rerun_with_other_directions_options_is_refused(planes):
    before = files_and_stamps(planes / "landscape")
    with pytest.raises(LandscapeError, match="computed with normalization=filter"):
        surface(run=str(planes), directions="update", normalization="layer", **PLANE,
                **SAMPLED)  # fmt: skip
    assert files_and_stamps(planes / "landscape") == before


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"directions": "file"}, "directions=file needs directions_file="),
        ({"directions": "file", "directions_file": "nowhere.h5"}, "does not exist"),
        ({"directions_file": "x.h5"}, "pass directions=file"),
        ({"directions": "update", "perturb": "param_noise", "samples": 0},
         "is not one: pass perturb=td3"),
        ({"directions": "update", "update_batches": 0}, "update_batches=0 must be"),
        ({"directions": "pca", "checkpoint": None, "through": [0, 100, 0, 300, 1, 200]},
         "directions=pca and through= both given"),
    ],
)  # fmt: skip
def test_bad_direction_options_are_refused_before_any_work(planes, overrides, fragment):
    before = files_and_stamps(planes / "landscape")
    with pytest.raises(LandscapeError) as error:
        surface(run=str(planes), **{**PLANE, **QUIET, **overrides})
    assert fragment in str(error.value)
    assert files_and_stamps(planes / "landscape") == before


def test_a_directions_file_of_another_network_is_one_error_line(planes, tmp_path):
    wrong = tmp_path / "wrong.h5"
    with h5py.File(wrong, "w") as f:
        f.attrs["format"] = "return-landscapes/directions"
        f.attrs["format_version"] = 1
        f["x/params/nothing"] = np.zeros(3)
    before = files_and_stamps(planes / "landscape")
    result = landscape_here(
        "surface", f"run={planes}", "checkpoint=200", "seed_index=1", "grid=3",
        "directions=file", f"directions_file={wrong}", "progress=false",
        cwd=planes.parent,
    )  # fmt: skip
    assert_one_error_line(result, "lacks dataset x/", "every actor leaf")
    assert files_and_stamps(planes / "landscape") == before


def test_line_bad_input_through_the_cli_is_one_error_line(planes):
    result = landscape_here(
        "line", f"run={planes}", "checkpoint=200", "points=4", cwd=planes.parent
    )
    assert_one_error_line(result, "points=4 must be odd", "use points=5")
