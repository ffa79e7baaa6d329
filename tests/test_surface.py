"""2-D return surfaces on a tiny trained run: exact anchors, chunking, resume, input."""

import shutil

import jax
import numpy as np
import pytest

from helpers import (
    assert_one_error_line,
    copy_run,
    files_and_stamps,
    landscape_here,
)
from return_landscapes import (
    LandscapeError,
    load_surface,
    purd,
    report,
    store,
    surface,
)
from return_landscapes.landscape.grid.plane import (
    coordinates,
    grid_summary,
    plane_directions,
    slab_size,
)
from return_landscapes.landscape.grid.vectors import filter_norms
from return_landscapes.landscape.summary import result_summary
from return_landscapes.store import purd as purd_store
from return_landscapes.store import surface as surface_store
from return_landscapes.training.state import init_state
from return_landscapes.training.trainers import get_trainer

SCALE = 1e-2
SAMPLES = 8
RANDOM = {"checkpoint": 200, "seed": 1, "grid": 5, "span": 0.5}
THROUGH = [0, 100, 0, 300, 1, 200]
QUIET = {"progress": False}


@pytest.fixture(scope="module")
def surfaces(tiny_td3_run, tmp_path_factory):
    """A run copy with td3 PURDs at every checkpoint, a 5x5 random-plane surface with
    PURDs of the same samples, and a 5x5 plain surface through three checkpoints
    (same shapes as the first one's plain returns: no new compile)."""
    run = copy_run(tiny_td3_run, tmp_path_factory.mktemp("surface") / "run")
    purd(run=str(run), perturb="td3", scale=SCALE, samples=SAMPLES, **QUIET)
    surface(
        run=str(run), perturb="td3", scale=SCALE, samples=SAMPLES, **RANDOM, **QUIET
    )
    surface(run=str(run), through=THROUGH, grid=5, **QUIET)
    return run


def random_plane(run):
    return load_surface(run, perturb="td3", scale=SCALE, **RANDOM)


@pytest.mark.invariant
def test_the_centre_of_a_random_plane_is_the_checkpoint_bit_for_bit(surfaces):
    result = random_plane(surfaces)
    checkpoint = purd_store.load_purd_result(surfaces, 200, "td3", SCALE)
    assert result.plain_return.shape == (5, 5)
    assert result.returns.shape == (SAMPLES, 5, 5)
    np.testing.assert_array_equal(result.x, [-0.5, -0.25, 0.0, 0.25, 0.5])
    assert result.plain_return[2, 2] == checkpoint.arrays["unperturbed_return"][1]
    # the centre's samples are the checkpoint PURD's, draw for draw
    np.testing.assert_array_equal(
        result.returns[:, 2, 2], checkpoint.arrays["undiscounted_return"][1]
    )
    # away from the centre the policy really moves
    assert len(np.unique(result.plain_return)) > 10
    assert result.attrs["plane"] == "directions"
    assert result.attrs["directions"] == "random"
    assert (
        result.attrs["normalization"] == "filter" and result.attrs["bias"] == "ignore"
    )
    assert result.directions["kind"] == "random"
    assert result.anchors == [(1, 200)] and result.attrs["samples"] == SAMPLES


@pytest.mark.invariant
def test_a_plane_through_three_checkpoints_hits_each_at_its_corner(surfaces):
    result = load_surface(surfaces, through=THROUGH, grid=5)
    assert result.returns.shape == (0, 5, 5)
    np.testing.assert_array_equal(result.x, [0.0, 0.25, 0.5, 0.75, 1.0])
    corners = {(0, 100): (0, 0), (0, 300): (4, 0), (1, 200): (0, 4)}
    for (seed, step), (i, j) in corners.items():
        unperturbed = purd_store.load_purd_result(surfaces, step, "td3", SCALE).arrays[
            "unperturbed_return"
        ]
        assert result.plain_return[i, j] == unperturbed[seed], (seed, step)


def test_chunk_size_does_not_change_the_surface(surfaces, tmp_path):
    run = copy_run(surfaces, tmp_path / "run")
    surface(
        run=str(run),
        perturb="td3",
        scale=SCALE,
        samples=SAMPLES,
        chunk=16,
        **RANDOM,
        **QUIET,
    )
    again, first = random_plane(run), random_plane(surfaces)
    for name, values in first.arrays.items():
        np.testing.assert_array_equal(again.arrays[name], values, err_msg=name)


def test_a_rerun_skips_finished_rows_and_redoes_missing_ones(surfaces, capfd):
    folder = surface_store.surface_dir(surfaces, [(1, 200)], 5, 0.5, "td3", SCALE)
    before = random_plane(surfaces)
    for row in (1, 3):
        surface_store.surface_row_path(folder, row).unlink()
    kept = files_and_stamps(folder)
    surface(run=str(surfaces), perturb="td3", scale=SCALE, samples=SAMPLES, **RANDOM)
    assert "skipping 3 finished row(s)" in capfd.readouterr().err
    after = random_plane(surfaces)
    for name, values in before.arrays.items():
        np.testing.assert_array_equal(after.arrays[name], values, err_msg=name)
    assert [p for p in files_and_stamps(folder) if p in kept] == kept
    with pytest.raises(LandscapeError, match="computed with samples=8: pass overwrite"):
        surface(run=str(surfaces), perturb="td3", scale=SCALE, samples=4, **RANDOM)


def test_a_missing_row_is_named_when_loading(surfaces, tmp_path):
    run = copy_run(surfaces, tmp_path / "run")
    shutil.copytree(surfaces / "landscape", run / "landscape")
    folder = surface_store.surface_dir(run, [(1, 200)], 5, 0.5, "td3", SCALE)
    surface_store.surface_row_path(folder, 4).unlink()
    with pytest.raises(LandscapeError, match=r"misses rows \[4\] of 5: re-run"):
        random_plane(run)
    with pytest.raises(LandscapeError, match="no surface stored for"):
        load_surface(run, checkpoint=100, seed=0)


def test_directions_move_the_actor_alone_with_the_actors_filter_norms(
    tiny_td3_run,
):
    from return_landscapes.rundir import load_run_config

    run_cfg = load_run_config(tiny_td3_run)
    trainer = get_trainer(run_cfg)
    state = jax.tree.map(lambda x: x[0], init_state(trainer, run_cfg).agent)
    first, second = plane_directions(trainer.agent, state, jax.random.PRNGKey(3))
    actor = trainer.agent.actor_params(state)
    for direction in (first, second):
        moved = trainer.agent.actor_params(direction)
        for weight, step in zip(
            jax.tree.leaves(actor), jax.tree.leaves(moved), strict=True
        ):
            if weight.ndim == 2:
                np.testing.assert_allclose(
                    filter_norms(step), filter_norms(weight), rtol=1e-5
                )
            else:
                assert not np.any(step)  # biases: zero direction
        others = direction.replace(actor_params=jax.tree.map(np.zeros_like, actor))
        assert not any(np.any(leaf) for leaf in jax.tree.leaves(others))
    assert not np.array_equal(
        jax.tree.leaves(trainer.agent.actor_params(first))[-1],
        jax.tree.leaves(trainer.agent.actor_params(second))[-1],
    )


@pytest.mark.unit
def test_coordinates_put_the_anchors_on_the_grid_exactly():
    assert coordinates("random_directions", 21, 1.0)[10] == 0.0
    np.testing.assert_array_equal(
        coordinates("random_directions", 5, 2.0), [-2, -1, 0, 1, 2]
    )
    axis = coordinates("three_checkpoints", 7, 1.0)
    assert axis[0] == 0.0 and axis[-1] == 1.0


@pytest.mark.unit
def test_slabs_are_whole_rows_and_chunks_are_not_mostly_padding():
    assert slab_size(21, 0) == (21, 441)  # a plain 21x21 grid: one batch
    assert slab_size(41, 0) == (41, 1681)
    assert slab_size(5, 8) == (5, 200)
    assert slab_size(21, 100) == (1, 2184)  # a row per slab (104 per point)
    assert slab_size(41, 1000) == (1, 3728)  # 41,000 samples: 11 equal chunks
    assert slab_size(1, 8, rows=21) == (21, 168)  # a line: every point in one slab


def test_report_draws_each_surface_and_wandb_rows_summarize_them(surfaces, tmp_path):
    index = report(runs=[str(surfaces)], out=str(tmp_path / "report"), surface_3d=True)
    pictures = sorted(p.name for p in index.parent.glob("surface_*.png"))
    assert pictures == [
        "surface_run_plain_s0c100_s0c300_s1c200_grid5.png",
        "surface_run_td3_0.01_s1c200_grid5_span0.5.png",
    ]
    assert "Return surfaces" in index.read_text()
    row = store.read_result(
        surface_store.surface_row_path(
            surface_store.surface_dir(surfaces, [(1, 200)], 5, 0.5, "td3", SCALE), 2
        )
    )
    summary = result_summary(row.arrays, row.attrs, grid_summary("grid"))
    assert summary["surface/row"] == 2 and summary["surface/grid"] == 5
    assert summary["surface/plain_min"] == row.arrays["plain_return"].min()


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"grid": 4}, "grid=4 must be odd and at least 3"),
        ({"span": 0.0}, "span=0.0 must be a finite number > 0"),
        ({"checkpoint": 150}, "has no checkpoint at step(s) [150]"),
        ({"seed": 2}, "seed(s) [2] not in this run"),
        ({"samples": -1}, "samples=-1 must be 0"),
        ({"checkpoint": None}, "checkpoint= is required"),
        ({"through": THROUGH}, "checkpoint= and through= both given"),
        ({"checkpoint": None, "through": [0, 100]}, "must be [seed1,checkpoint1"),
        ({"checkpoint": None, "through": [0, 100, 0, 100, 1, 200]}, "repeats"),
        ({"perturb": "sac", "samples": 4}, "applies to sac runs"),
    ],
)
def test_bad_input_is_refused_before_any_work(surfaces, overrides, fragment):
    before = files_and_stamps(surfaces / "landscape")
    with pytest.raises(LandscapeError) as error:
        surface(run=str(surfaces), **{**RANDOM, **QUIET, **overrides})
    assert fragment in str(error.value)
    assert files_and_stamps(surfaces / "landscape") == before


def test_bad_input_through_the_cli_is_one_error_line(surfaces):
    before = files_and_stamps(surfaces / "landscape")
    result = landscape_here(
        "surface", f"run={surfaces}", "checkpoint=200", "grid=20", cwd=surfaces.parent
    )
    assert_one_error_line(result, "grid=20 must be odd", "use grid=21")
    assert files_and_stamps(surfaces / "landscape") == before
