"""``return_landscapes.plot``: figures from hand-made arrays hold the data they were
given, float noise is named rather than drawn, and files come out as PNG, SVG, PDF."""

from __future__ import annotations

import doctest
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.colors import LogNorm
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from return_landscapes import plot

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-"}


def vertical_lines(ax) -> dict[str, float]:
    """``{label: x}`` of the axes' vertical lines (two equal x values)."""
    found = {}
    for line in ax.get_lines():
        xs = np.asarray(line.get_xdata(), dtype=float)
        if len(xs) == 2 and xs[0] == xs[1]:
            found[line.get_label()] = float(xs[0])
    return found


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


# --------------------------------------------------------------------------- PURDs


@pytest.mark.unit
def test_a_purd_histogram_counts_every_sample_and_marks_the_unperturbed_return():
    returns = np.random.default_rng(0).normal(1000.0, 50.0, size=300)
    fig = plot.purd_histogram(returns, unperturbed=1234.5, bins=40)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    (bars,) = ax.containers
    heights = np.array([bar.get_height() for bar in bars])
    assert len(bars) == 40 and heights.sum() == 300
    counts, _ = np.histogram(returns, bins=40)
    np.testing.assert_array_equal(heights, counts)
    assert vertical_lines(ax) == {"unperturbed": 1234.5}
    low, high = ax.get_xlim()
    assert low < returns.min() and high > 1234.5  # every sample and the marker shown
    assert ax.get_title() == f"300 samples, std {returns.std():.3g}"


@pytest.mark.unit
def test_seeds_get_a_histogram_each_on_shared_bins_and_their_own_markers():
    returns = np.random.default_rng(1).normal(0.0, 1.0, size=(3, 200))
    returns[2] += 5.0
    fig = plot.purd_histogram(returns, unperturbed=[0.5, -0.5, 5.0], bins=20)
    (ax,) = fig.axes
    assert len(ax.containers) == 3
    lefts = []
    for bars in ax.containers:
        assert sum(bar.get_height() for bar in bars) == 200
        lefts.append([bar.get_x() for bar in bars])
    np.testing.assert_allclose(lefts[0], lefts[2])  # the same bins for every seed
    xs = sorted(float(line.get_xdata()[0]) for line in ax.get_lines())
    assert xs == [-0.5, 0.5, 5.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == [
        "seed 0",
        "seed 1",
        "seed 2",
    ]
    with pytest.raises(ValueError, match="give 1 or 3"):
        plot.purd_histogram(returns, unperturbed=[1.0, 2.0])


@pytest.mark.unit
def test_markers_are_drawn_where_given_and_one_off_the_view_is_named_at_the_edge():
    returns = np.linspace(100.0, 200.0, 101)
    fig = plot.purd_histogram(returns, markers={"mode": 150.0, "0.5 x mode": 20.0})
    (ax,) = fig.axes
    low, _ = ax.get_xlim()
    lines = vertical_lines(ax)
    assert lines["mode"] == 150.0
    assert lines["0.5 x mode"] == pytest.approx(low)  # pinned to the left edge
    assert "<- 0.5 x mode = 20" in texts(ax)


@pytest.mark.unit
def test_a_purd_of_float_noise_is_one_bar_named_constant_and_log_counts_work():
    returns = 20.26 + np.random.default_rng(2).normal(0.0, 1e-7, size=64)
    (ax,) = plot.purd_histogram(returns, log=True).axes
    heights = [bar.get_height() for bar in ax.containers[0]]
    assert max(heights) == 64  # the noise is not stretched over the bins
    assert ax.get_xlim() == pytest.approx((20.26 - 1.013, 20.26 + 1.013), abs=1e-6)
    assert any(t.startswith("constant: 20.26") for t in texts(ax))
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="1 non-finite"):
        plot.purd_histogram([1.0, np.nan, 2.0])


# --------------------------------------------------------------------------- paths


@pytest.mark.unit
def test_a_path_curve_draws_each_path_their_mean_and_purd_quantile_bands():
    alphas = np.linspace(0.0, 1.0, 5)
    paths = np.array([[1.0, 2.0, 3.0, 2.0, 1.0], [3.0, 2.0, 1.0, 2.0, 3.0]])
    (ax,) = plot.path_curve(alphas, paths).axes
    *thin, mean = ax.get_lines()
    assert len(thin) == 2
    np.testing.assert_array_equal(thin[1].get_ydata(), paths[1])
    np.testing.assert_array_equal(mean.get_ydata(), [2.0] * 5)
    assert mean.get_label() == "mean over 2 paths"

    purd = np.random.default_rng(3).normal(size=(100, 5)) * 10 + paths[0]
    (ax,) = plot.path_curve(alphas, purd.mean(axis=0), purd=purd).axes
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    ys = band.get_paths()[0].vertices[:, 1]
    low, high = np.quantile(purd, [0.1, 0.9], axis=0)
    assert ys.min() == pytest.approx(low.min()) and ys.max() == pytest.approx(
        high.max()
    )
    assert band.get_label() == "PURD 10%-90%"
    with pytest.raises(ValueError, match="need \\(paths, 5 points\\)"):
        plot.path_curve(alphas, paths[:, :4])


@pytest.mark.unit
def test_a_flat_path_says_constant_instead_of_stretching_noise():
    alphas = np.linspace(0.0, 1.0, 4)
    (ax,) = plot.path_curve(alphas, 812.5 + np.array([0, 1e-9, -1e-9, 0])).axes
    assert "constant: 812.5" in texts(ax)
    assert ax.get_ylim()[1] - ax.get_ylim()[0] > 80  # 5% either side, not 2e-9
    (ax,) = plot.path_curve(alphas, [0.0, 1.0, 2.0, 3.0]).axes
    assert not texts(ax)


# ------------------------------------------------------------------------ surfaces


@pytest.mark.unit
def test_a_heat_map_holds_the_grid_with_contours_inside_its_range():
    x, y = np.linspace(-1.0, 1.0, 5), np.linspace(0.0, 2.0, 4)
    grid = 100.0 * x[:, None] + 10.0 * y[None, :]
    grid[0, 0] = np.nan  # a grey cell
    fig = plot.surface_map(x, y, grid, points=[(0.0, 1.0, "checkpoint")])
    ax, colorbar = fig.axes
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    shown = np.ma.asarray(mesh.get_array()).reshape(len(y), len(x))
    np.testing.assert_array_equal(shown.filled(np.nan), grid.T)
    (lines,) = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(lines.levels) == 8
    assert np.nanmin(grid) < lines.levels.min() and lines.levels.max() < np.nanmax(grid)
    assert mesh.norm.vmin == np.nanmin(grid) and mesh.norm.vmax == np.nanmax(grid)
    assert [t.get_text() for t in ax.texts] == ["checkpoint"]
    assert colorbar.get_ylabel() == plot.RETURN
    with pytest.raises(ValueError, match="need \\(5, 4\\)"):
        plot.surface_map(x, y, grid.T)


@pytest.mark.unit
def test_filled_contours_limits_and_log_scale():
    x = y = np.linspace(-1.0, 1.0, 7)
    grid = 5.0 + x[:, None] ** 2 + y[None, :] ** 2
    (ax, _) = plot.surface_map(x, y, grid, kind="contour", levels=6).axes
    (filled,) = [c for c in ax.collections if isinstance(c, ContourSet) and c.filled]
    assert len(filled.levels) == 7 and filled.extend == "neither"
    assert filled.levels.min() == grid.min() and filled.levels.max() == grid.max()
    (ax, _) = plot.surface_map(x, y, grid, kind="contour", vmax=6.0).axes
    assert ax.collections[0].extend == "max"  # values above vmax: an open end
    (ax, _) = plot.surface_map(x, y, grid, vmin=0.0, vmax=10.0, cmap="magma").axes
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert (mesh.norm.vmin, mesh.norm.vmax) == (0.0, 10.0)
    assert mesh.cmap.name.startswith("magma")
    (ax, _) = plot.surface_map(x, y, grid, log=True).axes
    assert isinstance(ax.collections[0].norm, LogNorm)
    with pytest.raises(ValueError, match="log=True needs positive values"):
        plot.surface_map(x, y, grid - 6.0, log=True)
    with pytest.raises(ValueError, match="heat, contour"):
        plot.surface_map(x, y, grid, kind="mesh")


@pytest.mark.unit
def test_a_surface_of_float_noise_is_one_colour_named_constant_without_a_bar():
    x = y = np.linspace(-1.0, 1.0, 3)
    grid = 3000.0 + np.random.default_rng(4).normal(0.0, 1e-6, size=(3, 3))
    fig = plot.surface_map(x, y, grid, kind="contour", title="PURD mean")
    (ax,) = fig.axes
    assert ax.get_title() == "PURD mean\nconstant: 3000"
    assert not [c for c in ax.collections if isinstance(c, ContourSet)]
    # given limits draw the map as is: a flat LTP of 0 is a result, not noise
    fig = plot.surface_map(x, y, np.zeros((3, 3)), vmin=0.0, vmax=1.0)
    assert len(fig.axes) == 2


# ------------------------------------------------------------------ axes and files


@pytest.mark.unit
def test_each_function_draws_into_given_axes():
    fig = Figure()
    left, middle, right = fig.subplots(1, 3)
    assert plot.purd_histogram([1.0, 2.0, 3.0], ax=left) is fig
    assert plot.path_curve([0.0, 1.0], [1.0, 2.0], ax=middle) is fig
    x = np.arange(3.0)
    assert plot.surface_map(x, x, np.outer(x, x), ax=right, colorbar=False) is fig
    assert len(fig.axes) == 3
    assert left.containers and middle.get_lines() and right.collections


@pytest.mark.unit
@pytest.mark.parametrize("kind", plot.FORMATS)
def test_figures_save_as_png_svg_and_pdf_the_same_bytes_each_time(tmp_path, kind):
    x = np.linspace(-1.0, 1.0, 5)
    path = tmp_path / f"surface.{kind}"
    plot.save_figure(plot.surface_map(x, x, np.add.outer(x, x)), path)
    data = path.read_bytes()
    assert data.startswith(MAGIC[kind])
    again = io.BytesIO()
    plot.save_figure(plot.surface_map(x, x, np.add.outer(x, x)), again, kind)
    assert again.getvalue() == data  # a figure kept in git stays unchanged
    assert b"CreationDate" not in data and b"<dc:date>" not in data  # no time stamp
    if kind == "pdf":
        assert b"/FontFile2" in data and b"/Type3" not in data  # TrueType, not Type 3
    with pytest.raises(ValueError, match="png, svg, pdf"):
        plot.save_figure(plot.purd_histogram([1.0, 2.0]), tmp_path / "surface.jpg")


@pytest.mark.unit
def test_the_docstring_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example writes purd.svg
    result = doctest.testmod(plot, raise_on_error=False)
    assert result.attempted >= 15 and result.failed == 0
    assert (tmp_path / "purd.svg").read_bytes().startswith(MAGIC["svg"])


def test_importing_plot_loads_neither_jax_hydra_nor_h5py():
    check = (
        "import sys, json, return_landscapes.plot\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "matplotlib" in loaded
    assert not loaded & {"jax", "flax", "hydra", "omegaconf", "h5py", "scipy"}
