"""Figures of return landscapes from plain numpy arrays, for papers and notebooks.

Three figure functions draw what the experiments store, from arrays you load
yourself (``load_purd``, ``load_interpolation``, ``load_surface``) or make by hand:

* ``purd_histogram``: a PURD (post-update return distribution) as a histogram,
  ``(num_samples,)`` or ``(num_seeds, num_samples)``;
* ``path_curve``: the return along interpolation paths, optionally with PURD bands;
* ``surface_map``: a 2-D grid of returns as a heat map or filled contours;
  ``draw_trajectory`` adds a path of points over it (e.g. the checkpoints of a
  training run projected into a PCA plane).

Each returns a matplotlib ``Figure`` and draws into ``ax=`` when given one (then the
figure is ``ax.figure``). No pyplot: safe in any process, without a display. Save
with ``save_figure`` (PNG, SVG or PDF; PDF text stays text, in TrueType fonts) or
``fig.savefig``. The ``landscape report`` figures are drawn by these functions.

A range that is only float noise (``landscape.flat.is_noise``) is never stretched
over an axis or a colour map: the figure says "constant: <value>" instead.

Imports numpy and matplotlib only (and the numpy-only noise test).
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterable, Mapping

import matplotlib as mpl
import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure

from return_landscapes.landscape.stats.flat import is_noise

STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 110,
    "savefig.bbox": "tight",
}
"""The one matplotlib style of every figure (``styled()`` applies it)."""

COLORS = ["#1b6ca8", "#d1495b", "#2e8b57", "#edae49", "#6a4c93", "#00798c", "#555555"]
RETURN = "return (undiscounted)"
FORMATS = ("png", "svg", "pdf")
"""File formats ``save_figure`` writes."""

UNPERTURBED_COLOR = COLORS[2]
MARKER_STYLES = [("black", "-"), (COLORS[4], ":"), (COLORS[1], "--"),
                 (COLORS[3], "-"), (COLORS[5], ":")]  # fmt: skip
OUTLINE = [patheffects.withStroke(linewidth=1.5, foreground="black")]
SURFACE_KINDS = ("heat", "contour")
NOTE_COLOR = "#555555"


def styled() -> contextlib.AbstractContextManager:
    """The figures' matplotlib style, for drawing inside a ``with`` block."""
    return mpl.rc_context(STYLE)


def wrapped(title: str, width_inches: float) -> str:
    """``title`` broken into lines that fit a figure ``width_inches`` wide."""
    characters = max(30, int(width_inches * 11))
    return "\n".join(textwrap.fill(line, characters) for line in title.split("\n"))


def mark_constant(ax, values, axis: str = "y") -> bool:
    """When every value is the same up to float noise, say so on ``ax`` (and fix
    the axis around the value) instead of stretching noise over the axis.

    Returns whether it did. Example::

        >>> fig = path_curve([0.0, 1.0], [5.0, 5.0 + 1e-9], guard_noise=False)
        >>> mark_constant(fig.axes[0], [5.0, 5.0 + 1e-9])
        True
    """
    if not is_noise(values):
        return False
    value = float(np.nanmean(values))
    (ax.set_ylim if axis == "y" else ax.set_xlim)(*_around(value))
    ax.text(0.5, 0.5, f"constant: {value:.6g}", transform=ax.transAxes,
            ha="center", va="center", fontsize=8, color=NOTE_COLOR)  # fmt: skip
    return True


def save_figure(fig: Figure, path, format: str | None = None) -> None:
    """Write ``fig`` as PNG, SVG or PDF, with no time stamp: the same figure drawn
    again gives the same bytes (a figure kept in git changes only with its data).

    PDF and SVG are vector files: PDF text is embedded as TrueType (Type 42) fonts,
    as journals ask; SVG text as paths (it renders without the fonts).

    Args:
      fig: the figure.
      path: a file path, or a binary file object (then ``format`` is required).
      format: ``png``, ``svg`` or ``pdf``; by default the path's suffix.

    Example::

        >>> import tempfile, pathlib
        >>> fig = purd_histogram([1.0, 2.0, 2.5, 3.0])
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "purd.pdf"
        >>> save_figure(fig, out)
        >>> out.read_bytes()[:5]
        b'%PDF-'
    """
    if format is None:
        format = str(path).rsplit(".", 1)[-1].lower()
    if format not in FORMATS:
        raise ValueError(f"format {format!r}: use one of {', '.join(FORMATS)}")
    metadata = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    rc = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.hashsalt": "return-landscapes"}
    with mpl.rc_context({**STYLE, **rc}):
        fig.savefig(path, format=format, metadata=metadata[format])


def _new_axes(ax, width: float, height: float):
    """``ax`` and its figure, or a new figure of that size with one axes."""
    if ax is not None:
        return ax.figure, ax
    with styled():
        fig = Figure(figsize=(width, height), layout="constrained")
        return fig, fig.add_subplot()


def _finite(name: str, values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    bad = int(values.size - np.isfinite(values).sum())
    if bad:
        raise ValueError(f"{name} holds {bad} non-finite value(s) of {values.size}")
    return values


# --------------------------------------------------------------------------- PURDs


def purd_histogram(
    returns,
    unperturbed=None,
    *,
    ax=None,
    bins: int = 50,
    markers: Mapping[str, float] | None = None,
    labels: Iterable[str] | None = None,
    log: bool = False,
    title: str | None = None,
    xlabel: str = RETURN,
    legend: bool = True,
) -> Figure:
    """A histogram of a PURD: the returns of one policy after one random update each.

    Args:
      returns: undiscounted returns, ``(num_samples,)`` for one policy or
        ``(num_seeds, num_samples)`` (``load_purd``'s shape): one histogram per seed
        on shared bins, drawn over each other.
      unperturbed: the unperturbed policy's return, a vertical dash-dot line: a
        number, or one per seed ``(num_seeds,)``.
      ax: matplotlib axes to draw into; by default a new figure.
      bins: histogram bins.
      markers: more vertical lines, ``{label: x}`` (e.g. the mode, CVaR); one that
        lies left or right of the view is pinned to its edge and labelled.
      labels: a legend label per seed (default ``seed 0``, ``seed 1``, ...).
      log: a logarithmic count axis (shows thin left tails).
      title: the axes title; by default the sample count and spread.
      xlabel: the x-axis label.
      legend: draw the legend on the axes.

    Returns:
      The figure. When the whole spread is float noise: one bar and "constant".

    Example::

        >>> import numpy as np
        >>> returns = np.random.default_rng(0).normal(3000, 200, size=(2, 500))
        >>> fig = purd_histogram(returns, unperturbed=[3100, 2950], log=True)
        >>> save_figure(fig, "purd.svg")  # or .pdf, .png; or fig.savefig(...)
    """
    rows = np.atleast_2d(_finite("returns", returns))
    if rows.ndim != 2 or rows.size == 0:
        raise ValueError(f"returns shaped {np.shape(returns)}: need (seeds, samples)")
    fig, ax = _new_axes(ax, 4.8, 3.2)
    constant = is_noise(rows)
    view = _around(float(rows.mean())) if constant else (rows.min(), rows.max())
    edges, count = view, bins
    if constant:  # one bar of the usual width around the value: noise is not spread
        half = (view[1] - view[0]) / bins / 2
        edges, count = (rows.mean() - half, rows.mean() + half), 1
    names = [f"seed {i}" for i in range(len(rows))] if labels is None else list(labels)
    for index, row in enumerate(rows):
        ax.hist(
            row,
            bins=count,
            range=edges,
            log=log,
            color=COLORS[index % len(COLORS)],
            alpha=0.75 if len(rows) == 1 else 0.5,
            label=names[index] if len(rows) > 1 else None,
        )
    marks = _unperturbed(unperturbed, len(rows))
    _set_view(ax, view, marks, constant)
    for index, x in enumerate(marks):
        color = UNPERTURBED_COLOR if len(marks) == 1 else COLORS[index % len(COLORS)]
        label = "unperturbed" if index == 0 else None
        ax.axvline(x, color=color, lw=1.2, ls="-.", label=label)
    _draw_markers(ax, markers or {})
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if constant:
        _note(ax, f"constant: {float(rows.mean()):.6g}\n(spread is float noise)")
    ax.set_title(_purd_title(rows) if title is None else title)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")
    return fig


# --------------------------------------------------------------------------- paths

PATH_XLABEL = "weight a (0: second checkpoint, 1: first)"


def path_curve(
    alphas,
    returns,
    *,
    purd=None,
    quantiles: tuple[float, float] = (0.1, 0.9),
    ax=None,
    color: str | None = None,
    label: str | None = None,
    title: str | None = None,
    xlabel: str = PATH_XLABEL,
    ylabel: str = RETURN,
    guard_noise: bool = True,
    legend: bool = True,
) -> Figure:
    """The return along interpolation paths ``a * theta1 + (1 - a) * theta2``.

    Args:
      alphas: the path's points ``a``, ``(num_points,)``.
      returns: the return at each point: ``(num_points,)`` for one path (the plain
        return, or the PURD mean), or ``(num_paths, num_points)``: a thin line per
        path and a thick line for their mean.
      purd: optional PURD samples at each point, ``(num_samples, num_points)``
        (``load_interpolation(...).returns``) or ``(num_paths, num_samples,
        num_points)``: a shaded band between the ``quantiles`` of each path.
      quantiles: the band's lower and upper quantile.
      ax: matplotlib axes to draw into; by default a new figure.
      color: the lines' and bands' colour.
      label: the legend label of the (mean) line.
      title: the axes title.
      xlabel: the x axis label.
      ylabel: the y axis label.
      guard_noise: when every value is float noise, fix the y-axis around it and
        say "constant" (off: the caller checks several axes together).
      legend: draw the legend on the axes.

    Example::

        >>> import numpy as np
        >>> alphas = np.linspace(0, 1, 11)
        >>> noise = np.random.default_rng(0).normal(0, 100, size=(50, 11))
        >>> purd = 3000 - 800 * np.sin(np.pi * alphas) + noise  # (samples, points)
        >>> fig = path_curve(alphas, purd.mean(axis=0), purd=purd, label="PURD mean")
    """
    alphas = _finite("alphas", alphas).reshape(-1)
    curves = np.atleast_2d(_finite("returns", returns))
    if curves.ndim != 2 or curves.shape[1] != len(alphas):
        raise ValueError(
            f"returns shaped {np.shape(returns)}: need (paths, {len(alphas)} points)"
        )
    fig, ax = _new_axes(ax, 4.8, 3.2)
    color = color or COLORS[0]
    shown = [curves.reshape(-1)]
    if purd is not None:
        shown += _draw_bands(ax, alphas, curves, purd, quantiles, color)
    if len(curves) == 1:
        ax.plot(alphas, curves[0], color=color, lw=1.8, label=label)
    else:
        for curve in curves:
            ax.plot(alphas, curve, color=color, alpha=0.35, lw=1)
        label = label or f"mean over {len(curves)} paths"
        ax.plot(alphas, curves.mean(axis=0), color=color, lw=2.2, label=label)
    if guard_noise:
        mark_constant(ax, np.concatenate(shown))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")
    return fig


def _draw_bands(ax, alphas, curves, purd, quantiles, color) -> list[np.ndarray]:
    """A quantile band per path; returns the band edges (for the noise check)."""
    samples = _finite("purd", purd)
    if samples.ndim == 2:
        samples = samples[None]
    if samples.shape[0] != len(curves) or samples.shape[2:] != (len(alphas),):
        raise ValueError(
            f"purd shaped {np.shape(purd)}: need (samples, {len(alphas)}) per path"
        )
    low, high = np.quantile(samples, quantiles, axis=1)
    text = f"PURD {quantiles[0]:.0%}-{quantiles[1]:.0%}"
    for index in range(len(curves)):
        ax.fill_between(alphas, low[index], high[index], color=color, alpha=0.2,
                        lw=0, label=text if index == 0 else None)  # fmt: skip
    return [low.reshape(-1), high.reshape(-1)]


# ------------------------------------------------------------------------ surfaces


def surface_map(
    x,
    y,
    values,
    *,
    ax=None,
    kind: str = "heat",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    log: bool = False,
    levels: int = 8,
    points: Iterable[tuple[float, float, str]] = (),
    title: str | None = None,
    label: str = RETURN,
    xlabel: str = "x",
    ylabel: str = "y",
    colorbar: bool = True,
) -> Figure:
    """A 2-D grid of returns (or any statistic) as a heat map or filled contours.

    Args:
      x: the first coordinate, ``(nx,)``.
      y: the second coordinate, ``(ny,)``.
      values: ``(nx, ny)``, ``values[i, j]`` at ``(x[i], y[j])`` (``load_surface``'s
        layout); NaN cells are grey.
      ax: matplotlib axes to draw into; by default a new figure.
      kind: ``heat`` (cells, with contour lines) or ``contour`` (filled contours).
      cmap: a matplotlib colour map name.
      vmin: the colour range's low end (default: the data's). With ``vmin`` or
        ``vmax`` given, the map is drawn as is, even if flat.
      vmax: the colour range's high end (default: the data's).
      log: a logarithmic colour scale (every finite value must be positive).
      levels: contour lines of a heat map; colour bands of filled contours.
      points: ``(x, y, text)`` to mark with a star, e.g. the checkpoints.
      title: the axes title.
      label: what the colours show (the colour bar's label).
      xlabel: the x axis label.
      ylabel: the y axis label.
      colorbar: draw a colour bar.

    Returns:
      The figure. When the values are float noise (and no ``vmin``/``vmax`` is
      given): one colour, no contours, no colour bar, and "constant: <value>" in the
      title.

    Example::

        >>> import numpy as np
        >>> x = y = np.linspace(-1, 1, 21)
        >>> values = 3000 - 1500 * (x[:, None] ** 2 + y[None, :] ** 2)
        >>> fig = surface_map(x, y, values, kind="contour", cmap="magma",
        ...                   points=[(0.0, 0.0, "checkpoint")])
    """
    x, y = _finite("x", x).reshape(-1), _finite("y", y).reshape(-1)
    grid = np.ma.masked_invalid(np.asarray(values, dtype=np.float64))
    if grid.shape != (len(x), len(y)):
        raise ValueError(f"values shaped {grid.shape}: need ({len(x)}, {len(y)})")
    if kind not in SURFACE_KINDS:
        raise ValueError(f"kind={kind!r}: use one of {', '.join(SURFACE_KINDS)}")
    fig, ax = _new_axes(ax, 4.6, 3.8)
    finite = grid.compressed()
    constant = vmin is None and vmax is None and is_noise(finite)
    norm = _norm(finite, vmin, vmax, log, constant)
    colours = mpl.colormaps[cmap].with_extremes(bad="#bbbbbb")
    real = not constant and not is_noise(finite)  # a range worth contour lines
    if constant or kind == "heat":
        image = ax.pcolormesh(x, y, grid.T, shading="nearest", cmap=colours, norm=norm)
        if real:
            lines = _levels(finite.min(), finite.max(), levels + 2, log)[1:-1]
    else:
        bounds = _levels(norm.vmin, norm.vmax, levels + 1, log)
        image = ax.contourf(x, y, grid.T, levels=bounds, cmap=colours, norm=norm,
                            extend=_extend(finite, norm))  # fmt: skip
        lines = bounds[1:-1]
    if real:
        ax.contour(x, y, grid.T, levels=lines, colors="white", linewidths=0.5)
    _draw_points(ax, x, list(points))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    if constant:
        value = f"{float(finite.mean()):.6g}" if finite.size else "no finite value"
        ax.set_title(f"{title}\nconstant: {value}" if title else f"constant: {value}")
        return fig
    if title is not None:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(image, ax=ax).set_label(label)
    return fig


def draw_trajectory(
    ax,
    points,
    labels: Iterable[str] = (),
    *,
    color: str = "white",
    label: str | None = "training trajectory",
):
    """A path of points over a map: joined in the given order by a line, a marker
    at each point, each point labelled (e.g. with its checkpoint's step).

    The axes grow to show every point, so a point outside a ``surface_map``'s grid is
    drawn beyond its cells rather than left out.

    Args:
      ax: the axes (e.g. ``surface_map(...).axes[0]``).
      points: ``(num_points, 2)``: ``x, y`` of each point, in drawing order.
      labels: a text per point (none by default).
      color: the line's and markers' colour (outlined, to read over any colour map).
      label: the legend label of the path.

    Returns:
      The ``Line2D`` of the path (its data are ``points``; gid ``"trajectory"``).

    Example::

        >>> import numpy as np
        >>> x = y = np.linspace(-1, 1, 21)
        >>> fig = surface_map(x, y, -(x[:, None] ** 2 + y[None, :] ** 2))
        >>> path = draw_trajectory(fig.axes[0], [[-0.8, -0.5], [-0.3, 0.1], [0, 0]],
        ...                        labels=["10k", "20k", "30k"])
        >>> path.get_xydata().tolist()
        [[-0.8, -0.5], [-0.3, 0.1], [0.0, 0.0]]
    """
    xy = _finite("points", points)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"points shaped {np.shape(points)}: need (num_points, 2)")
    texts = list(labels)
    if texts and len(texts) != len(xy):
        raise ValueError(f"{len(texts)} labels for {len(xy)} points: give one each")
    stroke = [patheffects.withStroke(linewidth=2.2, foreground="black")]
    (path,) = ax.plot(xy[:, 0], xy[:, 1], color=color, lw=1.2, marker="o", ms=3.5,
                      mec="black", mew=0.6, label=label, gid="trajectory",
                      path_effects=stroke)  # fmt: skip
    for (px, py), text in zip(xy, texts, strict=False):
        ax.annotate(text, (px, py), xytext=(3, -3), textcoords="offset points",
                    ha="left", va="top", color=color, fontsize=6,
                    path_effects=OUTLINE)  # fmt: skip
    ax.autoscale_view()
    return path


def _norm(finite, vmin, vmax, log, constant) -> mpl.colors.Normalize:
    """The colour scale: the given limits, else the data's (around a constant)."""
    if constant:
        low, high = _around(float(finite.mean()) if finite.size else 0.0)
    else:
        low = float(finite.min()) if vmin is None else vmin
        high = float(finite.max()) if vmax is None else vmax
    if not log or constant:
        return mpl.colors.Normalize(low, high)
    if low <= 0 or (finite.size and finite.min() <= 0):
        raise ValueError("log=True needs positive values: drop log or shift them")
    return mpl.colors.LogNorm(low, high)


def _levels(low: float, high: float, count: int, log: bool) -> np.ndarray:
    """``count`` levels from ``low`` to ``high`` (geometric when log)."""
    return (np.geomspace if log else np.linspace)(low, high, count)


def _extend(finite: np.ndarray, norm) -> str:
    """Which ends of filled contours hold values beyond the colour range."""
    below = bool(finite.size and finite.min() < norm.vmin)
    above = bool(finite.size and finite.max() > norm.vmax)
    return ["neither", "max", "min", "both"][2 * below + above]


def _draw_points(ax, x, points) -> None:
    """A star at each point, its text on the side facing the map's centre."""
    middle = (x[0] + x[-1]) / 2
    for px, py, text in points:
        ax.plot(px, py, marker="*", ms=11, color="#d1495b", mec="white", mew=0.7)
        right = px > middle
        ax.annotate(text, (px, py), xytext=(-4 if right else 4, 4),
                    textcoords="offset points", ha="right" if right else "left",
                    color="white", fontsize=7, path_effects=OUTLINE)  # fmt: skip


def _around(value: float) -> tuple[float, float]:
    """A range centred on ``value``, wide enough to read (noise collapses into it)."""
    pad = max(1.0, abs(value) * 0.05)
    return value - pad, value + pad


def _unperturbed(unperturbed, seeds: int) -> np.ndarray:
    if unperturbed is None:
        return np.zeros(0)
    marks = np.atleast_1d(_finite("unperturbed", unperturbed)).reshape(-1)
    if len(marks) not in (1, seeds):
        raise ValueError(f"unperturbed has {len(marks)} values: give 1 or {seeds}")
    return marks


def _set_view(ax, view, marks: np.ndarray, constant: bool) -> None:
    """The x range: ``view`` and every unperturbed return, with a 5% margin (none
    around a constant, whose ``view`` has its own)."""
    low = min(float(view[0]), marks.min(initial=np.inf))
    high = max(float(view[1]), marks.max(initial=-np.inf))
    pad = 0.0 if constant else 0.05 * (high - low)
    ax.set_xlim(low - pad, high + pad)


def _draw_markers(ax, markers: Mapping[str, float]) -> None:
    """Labelled vertical lines; one outside the view sits on its edge, named."""
    low, high = ax.get_xlim()
    pinned = 0
    for index, (label, x) in enumerate(markers.items()):
        color, style = MARKER_STYLES[index % len(MARKER_STYLES)]
        x = float(x)
        if low <= x <= high:
            ax.axvline(x, color=color, lw=1.2, ls=style, label=label)
            continue
        left = x < low
        ax.axvline(low if left else high, color=color, lw=1.2, ls=style, label=label)
        text = f"<- {label} = {x:.4g}" if left else f"{label} = {x:.4g} ->"
        ax.text(0.02 if left else 0.98, 0.95 - 0.08 * pinned, text,
                transform=ax.transAxes, ha="left" if left else "right", va="top",
                fontsize=7, color=color,
                bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})  # fmt: skip
        pinned += 1


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.6, text, transform=ax.transAxes, ha="center", va="center",
            fontsize=8, color=NOTE_COLOR)  # fmt: skip


def _purd_title(rows: np.ndarray) -> str:
    title = f"{rows.shape[1]} samples, std {rows.std(axis=1).mean():.3g}"
    return f"{len(rows)} seeds x {title} (mean over seeds)" if len(rows) > 1 else title
