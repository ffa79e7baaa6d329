"""The report's figures of surfaces along chosen directions and of return lines, on
hand-made results: axis labels per kind of directions, the PCA trajectory, the update
arrow, the statistics along a line, and the "Return lines" section."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from return_landscapes import store
from return_landscapes.conf.commands import COMMANDS, experiment_kinds
from return_landscapes.direction_files import DIRECTIONS_FILE, write_directions
from return_landscapes.landscape.stats import point_statistics
from return_landscapes.report import figures
from return_landscapes.report.build import _Builder
from return_landscapes.report.data import RunData, missing_pieces
from return_landscapes.store import line as line_store
from return_landscapes.store.line import LineResult
from return_landscapes.store.surface import SurfaceResult

pytestmark = pytest.mark.unit

RUN = SimpleNamespace(name="run")
GRID = np.linspace(-1.0, 1.0, 3)
PLAIN = np.arange(9.0).reshape(3, 3)
SETTINGS = {"normalization": "filter", "bias": "ignore", "orthogonalize": False}


def surface(kind: str = "random", directions: dict | None = None, **attrs):
    """A 3x3 plain surface through seed 0, checkpoint 2000, along ``kind``."""
    base = {"plane": "directions", "directions": kind, **SETTINGS, "span": 1.0,
            "grid": 3, "perturbation": "", "samples": 0, "scale": 3e-4}  # fmt: skip
    return SurfaceResult(GRID, GRID, PLAIN, np.zeros((0, 3, 3)), [(0, 2000)], {},
                         {**base, **attrs}, directions)  # fmt: skip


def line(returns: np.ndarray, kind: str = "random", directions=None, **attrs):
    """A line of ``returns.shape[1]`` points through seed 1, checkpoint 3000."""
    points = returns.shape[1]
    base = {"kind": "line", "points": points, "span": 0.5, "directions": kind,
            **SETTINGS, "perturbation": "td3" if len(returns) else "",
            "samples": len(returns), "scale": 1e-3,
            "anchors": json.dumps([[1, 3000]])}  # fmt: skip
    x = np.linspace(-0.5, 0.5, points)
    return LineResult(x, 100.0 - 50 * x**2, returns, (1, 3000), {},
                      {**base, **attrs}, directions)  # fmt: skip


def title(fig) -> str:
    """The figure's title on one line (it is wrapped to the figure's width)."""
    return fig.get_suptitle().replace("\n", " ")


def map_axes(fig):
    """The 2-D heat map axes of a surface figure (no colour bars, no 3-D view)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.collections
            and not hasattr(ax, "get_zlim")]  # fmt: skip


# ------------------------------------------------------------------------ labels


@pytest.mark.parametrize(
    "made, expected",
    [
        (surface("random"),
         ("random direction 1 (filter-normalized)",
          "random direction 2 (filter-normalized)")),
        (surface("random", orthogonalize=True, normalization="layer"),
         ("random direction 1 (layer-normalized)",
          "random direction 2 (layer-normalized, orthogonalized)")),
        (surface("random", bias="normalized", normalization="none"),
         ("random direction 1 (unnormalized, with biases)",
          "random direction 2 (unnormalized, with biases)")),
        (surface("update", orthogonalize=True),
         ("update direction (filter-normalized)",
          "random direction ⊥ update (filter-normalized)")),
        (surface("pca", {"kind": "pca", "explained_variance": [0.6234, 0.201]},
                 normalization="none"),
         ("PC1 (62.3 % of variance)", "PC2 (20.1 % of variance)")),
        (surface("file", {"kind": "file", "source": "/data/mine/dirs.h5"},
                 normalization="none"),
         ("direction 1 from dirs.h5", "direction 2 from dirs.h5")),
        (surface(plane="random_directions", directions="", normalization=""),
         ("random direction 1 (filter-normalized)",
          "random direction 2 (filter-normalized)")),
        (surface(plane="three_checkpoints"),
         ("weight of checkpoint 2", "weight of checkpoint 3")),
    ],
)  # fmt: skip
def test_each_kind_of_plane_labels_its_axes(made, expected):
    assert figures.surface_axis_labels(made) == expected
    fig = figures.surface_maps(RUN, made, three_d=True)
    (heat,) = map_axes(fig)
    assert (heat.get_xlabel(), heat.get_ylabel()) == expected
    (view,) = [ax for ax in fig.axes if hasattr(ax, "get_zlim")]
    assert (view.get_xlabel(), view.get_ylabel()) == expected


def test_a_surface_stored_before_directions_reads_as_random_filter_normalized():
    old = {"plane": "random_directions", "perturbation": "", "grid": 3, "span": 1.0}
    made = SurfaceResult(GRID, GRID, PLAIN, np.zeros((0, 3, 3)), [(0, 2000)], {}, old)
    settings = figures.direction_settings(made.attrs, made.directions)
    assert (settings["kind"], settings["normalization"], settings["bias"]) == (
        "random", "filter", "ignore")  # fmt: skip
    assert settings["orthogonalize"] is False
    text = title(figures.surface_maps(RUN, made))
    assert "random directions" in text and "checkpoint 2,000" in text


def test_titles_and_line_labels_name_the_kind_of_directions():
    pca = surface("pca", {"kind": "pca", "explained_variance": [0.5, 0.25]})
    assert "PCA directions" in title(figures.surface_maps(RUN, pca))
    plain = line(np.zeros((0, 5)), "update", orthogonalize=True)
    assert figures.line_axis_label(plain) == "update direction (filter-normalized)"
    assert figures.line_axis_label(line(np.zeros((0, 5)))) == (
        "random direction (filter-normalized)"
    )
    from_file = line(np.zeros((0, 5)), "file", {"kind": "file", "source": "d.h5"},
                     normalization="none")  # fmt: skip
    assert figures.line_axis_label(from_file) == "direction from d.h5"
    fig = figures.line_panels(RUN, from_file)
    assert "from d.h5 direction" in title(fig)


# ------------------------------------------------------------- PCA and update marks


def test_a_pca_map_draws_the_trajectory_in_step_order_and_says_it_leaves_the_grid():
    trajectory = np.array([[0.0, 0.0], [-2.5, 0.4], [-0.6, -0.3]])
    steps = np.array([2000, 1000, 1500])  # the centre is the last checkpoint
    info = {"kind": "pca", "explained_variance": [0.7, 0.2], "seed": 0,
            "trajectory": trajectory, "trajectory_steps": steps}  # fmt: skip
    made = surface("pca", info, normalization="none", perturbation="td3", samples=4)
    made = made._replace(returns=np.random.default_rng(0).normal(5, 1, (4, 3, 3)))
    fig = figures.surface_maps(RUN, made)
    in_order = trajectory[np.argsort(steps)]
    for ax in map_axes(fig):  # the mean and the LTP maps
        (path,) = [li for li in ax.get_lines() if li.get_gid() == "trajectory"]
        np.testing.assert_array_equal(path.get_xydata(), in_order)
        texts = [t.get_text() for t in ax.texts]
        assert {"1k", "1.5k", "seed 0, 2k"} <= set(texts) and "2k" not in texts
        assert ax.get_xlim()[0] < -2.5  # the point off the grid is shown
    legend = map_axes(fig)[0].get_legend().get_texts()[0].get_text()
    assert "3 checkpoints; 1 outside the grid" in legend
    assert figures.trajectory_outside(made) == 1
    assert "leaves the grid (1 checkpoints outside it)" in figures.surface_caption(made)
    assert figures.trajectory_outside(surface("random")) == 0


def test_an_update_map_draws_an_arrow_along_plus_x_and_where_an_update_lands():
    info = {"kind": "update", "update_step_x": 1.25e-3, "perturbation": "td3"}
    fig = figures.surface_maps(RUN, surface("update", info, orthogonalize=True))
    (ax,) = map_axes(fig)
    (arrow,) = [t for t in ax.texts if t.get_gid() == "update-arrow"]
    (x0, y0), (x1, y1) = arrow.xyann, arrow.xy
    assert (x0, y0) == (0.0, 0.0) and y1 == 0.0 and x1 > 0.0
    assert arrow.arrow_patch is not None
    assert "update" in [t.get_text() for t in ax.texts]
    (step,) = [li for li in ax.get_lines() if li.get_gid() == "update-step"]
    assert step.get_xydata().tolist() == [[1.25e-3, 0.0]]
    assert step.get_label() == "one mean update: x = 0.00125"
    assert "one mean td3 update lands at x = 0.00125" in title(fig)
    random = map_axes(figures.surface_maps(RUN, surface("random")))[0]
    assert not [t for t in random.texts if t.get_gid() == "update-arrow"]


# -------------------------------------------------------------------------- lines


def test_line_panels_draw_the_mean_cvar_and_ltp_of_the_purds_along_x():
    rng = np.random.default_rng(1)
    returns = rng.normal(100, 30, size=(40, 7))
    returns[:, 0] = -rng.uniform(1, 5, 40)  # mode <= 0 at the first point: LTP NaN
    made = line(returns, "random")
    fig = figures.line_panels(RUN, made, threshold=0.5, bins=20, alpha=0.2)
    expected = point_statistics(returns, 0.5, 20, 0.2)
    drawn = {li.get_gid(): li for ax in fig.axes for li in ax.get_lines()}
    for name in ("mean", "cvar", "ltp"):
        np.testing.assert_array_equal(drawn[name].get_xdata(), made.x)
        np.testing.assert_allclose(drawn[name].get_ydata(), expected[name])
    assert np.isnan(drawn["ltp"].get_ydata()[0])
    np.testing.assert_array_equal(drawn["plain"].get_ydata(), made.plain_return)
    lines = [li for ax in fig.axes for li in ax.get_lines()]
    marks = [li for li in lines if li.get_gid() == "checkpoint"]
    assert len(marks) == 3 and all(list(m.get_xdata()) == [0, 0] for m in marks)
    assert marks[0].get_label() == "checkpoint (seed 1, 3k)"
    assert {ax.get_xlabel() for ax in fig.axes} == {
        "random direction (filter-normalized)"
    }
    assert "CVaR 0.2" in fig.axes[1].get_ylabel()


def test_a_plain_line_is_one_panel_of_plain_returns():
    made = line(np.zeros((0, 5)), "update", {"kind": "update", "update_step_x": 2e-3})
    fig = figures.line_panels(RUN, made)
    (ax,) = fig.axes
    (plain,) = [li for li in ax.get_lines() if li.get_gid() == "plain"]
    np.testing.assert_array_equal(plain.get_ydata(), made.plain_return)
    assert "lands at x = 0.002" in title(fig)


# ------------------------------------------------------------------------ report


def run_data(lines: list, unfinished: list | None = None) -> RunData:
    manifest = {"env": "hopper", "algo": "td3"}
    kinds = [kind.name for kind in experiment_kinds()]
    results = {name: lines if name == "line" else [] for name in kinds}
    unfinished = {name: unfinished or [] if name == "line" else [] for name in kinds}
    return RunData(Path("/runs/r"), "r", manifest, None, [], results, unfinished)


def line_section(cfg, runs, tmp_path):
    """The report's section of the line kind, as ``report`` builds it."""
    return _Builder(cfg, runs, tmp_path).kind_section(COMMANDS["line"])


def test_the_report_has_a_line_figure_per_line_and_never_asks_for_one(tmp_path):
    cfg = SimpleNamespace(threshold=0.5, bins=20, alpha=0.1,
                          format=SimpleNamespace(value="png"))  # fmt: skip
    sampled = line(np.random.default_rng(2).normal(50, 5, (6, 5)), "pca",
                   {"kind": "pca", "explained_variance": [0.9, 0.05]})  # fmt: skip
    run = run_data([sampled])
    section = line_section(cfg, [run], tmp_path)
    assert section.title == "Return lines"
    (figure,) = section.figures
    assert figure.filename == "line_r_td3_0.001_s1c3000_points5_span0.5_pca.png"
    assert (tmp_path / figure.filename).read_bytes() == figure.png
    assert "PC1 (90.0 % of variance) through seed 1" in figure.caption
    assert not any("line" in m for m in missing_pieces(run))
    empty = line_section(cfg, [run_data([])], tmp_path)
    assert not empty.figures and not empty.missing
    unfinished = run_data([], [Path("/runs/r/landscape/line/plain/s000_c3000")])
    (note,) = [m for m in missing_pieces(unfinished) if "line" in m]
    assert "line s000_c3000 is unfinished" in note and "'landscape line'" in note


def write_line_rows(folder: Path, rows: int, points: int) -> None:
    """``rows`` of a plain line's point blocks, as ``landscape line`` stores them."""
    attrs = {"kind": "line", "points": points, "span": 1.0, "directions": "pca",
             "normalization": "none", "bias": "ignore", "perturbation": "",
             "samples": 0, "scale": 3e-4, "anchors": [[0, 500]]}  # fmt: skip
    for row in range(rows):
        x = np.array([-1.0 + 2.0 * row / (points - 1)])
        arrays = {"x": x, "plain_return": 10.0 - x**2,
                  "undiscounted_return": np.zeros((0, 1))}  # fmt: skip
        store.write_result(folder / f"row_{row:03d}.h5", arrays, {**attrs, "row": row})


def test_stored_lines_load_finished_with_their_directions_and_list_unfinished(
    tmp_path,
):
    root = tmp_path / "landscape" / "line" / "plain"
    done = root / "s000_c000000500_points003_span1.0_pca"
    write_line_rows(done, 3, 3)
    write_directions(done / DIRECTIONS_FILE, {"w": np.ones(2)}, {"w": np.ones(2)},
                     {"kind": "pca", "explained_variance": [0.75, 0.125]})  # fmt: skip
    write_line_rows(root / "s000_c000000500_points005_span1.0_pca", 2, 5)
    (finished,), (unfinished,) = line_store.report_items(tmp_path)
    np.testing.assert_allclose(finished.plain_return, [9.0, 10.0, 9.0])
    assert figures.line_axis_label(finished) == "PC1 (75.0 % of variance)"
    assert unfinished.name.endswith("points005_span1.0_pca")
