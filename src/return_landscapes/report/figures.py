"""The report's figures (matplotlib, no pyplot: safe in any process, no display).

Each function takes loaded data (``report/data.py``) and returns a ``Figure``, drawn in
one style (``plot.STYLE``); the panels of PURDs, paths and surfaces are the public
``return_landscapes.plot`` functions. Returns are undiscounted episode returns; steps
are env steps.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import NamedTuple

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from return_landscapes import plot
from return_landscapes.landscape.stats import (
    bootstrap_ci,
    cvar,
    cvar_change,
    heldout_cvars,
    histogram_mode,
    kept_rows,
    left_tail_probability,
    ltp_text,
    point_statistics,
)
from return_landscapes.landscape.stats.flat import flat_reason
from return_landscapes.plot import COLORS, RETURN, mark_constant, styled, wrapped
from return_landscapes.report.data import LearningCurve, RunData
from return_landscapes.store.interpolation import InterpolationResult, PathGroup
from return_landscapes.store.line import LineResult
from return_landscapes.store.purd import PurdGroup
from return_landscapes.store.rejection import RejectionRoot
from return_landscapes.store.surface import SurfaceResult

PAIR_COLORS = {
    "same_seed": COLORS[0],
    "cross_seed": COLORS[1],
    "cross_run": COLORS[4],
    "given": COLORS[6],
}
CRITERION_COLORS = {"cvar": COLORS[0], "ltp": COLORS[2], "none": COLORS[1]}
STEPS_FORMAT = mpl.ticker.FuncFormatter(
    lambda x, _: f"{x / 1e6:g}M" if abs(x) >= 1e6 else f"{x / 1e3:g}k" if x else "0"
)


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


# ------------------------------------------------------------------ learning curves


def curve_band(
    curve: LearningCurve, confidence: float = 0.95, resamples: int = 2000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds and its bootstrap interval across seeds, per evaluation."""
    mean = np.nanmean(curve.returns, axis=1)
    bounds = [
        bootstrap_ci(row, np.mean, confidence, resamples) for row in curve.returns
    ]
    low, high = np.array(bounds).T
    return mean, low, high


def learning_curves(runs: list[RunData], confidence: float = 0.95) -> Figure:
    """Evaluation return vs env steps, one line per run, a band across seeds."""
    with styled():
        fig = _figure(6.4, 3.4)
        ax = fig.add_subplot()
        for color, run in zip(COLORS, (r for r in runs if r.curve), strict=False):
            mean, low, high = curve_band(run.curve, confidence)
            label = f"{run.label}, {run.curve.returns.shape[1]} seeds"
            ax.plot(run.curve.steps, mean, color=color, label=label)
            if not np.isnan(low).all():
                ax.fill_between(run.curve.steps, low, high, color=color, alpha=0.2)
        ax.xaxis.set_major_formatter(STEPS_FORMAT)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(f"evaluation {RETURN}")
        ax.set_title(
            f"Learning curves: mean over seeds, {confidence:.0%} bootstrap interval"
        )
        ax.legend(loc="best")
    return fig


# --------------------------------------------------------------------------- PURDs


def purd_histograms(
    run: RunData,
    group: PurdGroup,
    threshold: float = 0.5,
    bins: int = 100,
    alpha: float = 0.1,
    max_seeds: int = 4,
) -> Figure:
    """Small multiples: one row per checkpoint, one column per seed (at most
    ``max_seeds``), each a histogram of the PURD with its mode, LTP threshold, CVaR
    and the unperturbed return marked."""
    checkpoints = list(group.results)
    first = group.results[checkpoints[0]]
    seeds = list(first.seeds[:max_seeds])
    with styled():
        fig = _figure(2.4 * len(seeds) + 0.6, 1.9 * len(checkpoints) + 1.0)
        # each panel its own x range: a narrow PURD must not shrink to a spike
        axes = fig.subplots(len(checkpoints), len(seeds), squeeze=False)
        for row, step in enumerate(checkpoints):
            result = group.results[step]
            for column, seed in enumerate(seeds):
                ax = axes[row, column]
                index = list(result.seeds).index(seed) if seed in result.seeds else None
                if index is None:
                    ax.set_axis_off()
                    continue
                flat = flat_reason(
                    float(result.arrays["unperturbed_length"][index]),
                    int(result.attrs["horizon"]),
                    result.arrays["undiscounted_return"][index],
                )
                if flat:
                    _flat_panel(ax, flat)
                else:
                    _purd_panel(
                        ax,
                        result.arrays["undiscounted_return"][index],
                        float(result.arrays["unperturbed_return"][index]),
                        threshold,
                        bins,
                        alpha,
                    )
                if row == 0:
                    ax.set_title(f"seed {seed}\n" + ax.get_title())
                if column == 0:
                    ax.set_ylabel(f"step {step:,}\ncount")
                if row == len(checkpoints) - 1:
                    ax.set_xlabel(RETURN)
        shown = f"seeds {seeds[0]}-{seeds[-1]} of {len(first.seeds)}"
        width = fig.get_size_inches()[0]
        fig.suptitle(
            wrapped(
                f"PURDs of {run.name} ({shown})\nperturb={group.perturb}, "
                f"scale={group.scale:g}, "
                f"{first.arrays['undiscounted_return'].shape[1]} samples",
                width,
            )
        )
        handles, labels = [], []
        for ax in axes.flat:  # the first panel drawn (flat ones have no lines)
            handles, labels = ax.get_legend_handles_labels()
            if handles:
                break
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=4)
    return fig


def _flat_panel(ax, reason: str) -> None:
    """A panel that names a flat policy instead of plotting its noise."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.text(0.5, 0.5, textwrap.fill(reason.replace(": ", ":\n", 1), 26),
            transform=ax.transAxes, ha="center", va="center", fontsize=7,
            color="#555555")  # fmt: skip
    ax.set_title("flat: not analysed")


def _purd_panel(ax, returns, unperturbed, threshold, bins, alpha) -> None:
    """One PURD with its mode, CVaR and (where LTP is defined) the LTP threshold."""
    mode = histogram_mode(returns, bins)
    tail = left_tail_probability(returns, threshold, bins)
    worst = cvar(returns, alpha)
    markers = {"mode": mode, f"CVaR {alpha:g}": worst}
    if mode > 0:  # else threshold x mode lies at or above the mode: LTP undefined
        markers[f"{threshold:g} x mode"] = threshold * mode
    title = f"LTP {ltp_text(tail)}, CVaR {worst:.0f}, std {np.std(returns):.3g}"
    plot.purd_histogram(
        returns,
        unperturbed,
        ax=ax,
        bins=min(bins, 50),
        markers=markers,
        title=title,
        xlabel="",
        legend=False,
    )
    ax.set_ylabel("")


TAIL_PANELS = (
    ("ltp", "left-tail probability (LTP, fraction)"),
    ("cvar_ratio", "CVaR 0.1 / PURD mean"),
)


def mean_vs_ltp(runs: list[RunData], perturb: str, scale: float) -> Figure:
    """PURD mean vs LTP and vs CVaR / mean, one point per seed x checkpoint,
    coloured by checkpoint: two measures of the left tail."""
    with styled():
        fig = _figure(9.6, 3.8)
        axes = fig.subplots(1, len(TAIL_PANELS))
        markers = "osD^vP*X"
        every = [
            (run, row)
            for run in runs
            for row in run.stats
            if row["perturb"] == perturb and row["scale"] == scale
        ]
        rows = [(r, row) for r, row in every if _plotted(row)]
        left_out = len(every) - len(rows)
        steps = [row["checkpoint"] for _, row in every]
        norm = mpl.colors.Normalize(min(steps), max(steps))
        for ax, (name, label) in zip(axes, TAIL_PANELS, strict=True):
            for marker, run in zip(markers, runs, strict=False):
                mine = [row for r, row in rows if r is run]
                if mine:
                    ax.scatter(
                        [row["mean"] for row in mine],
                        [_tail_value(row, name) for row in mine],
                        c=[row["checkpoint"] for row in mine],
                        cmap="viridis", norm=norm, marker=marker,
                        edgecolors="black", linewidths=0.4, label=run.label,
                    )  # fmt: skip
            ax.set_xlabel(f"PURD mean {RETURN}")
            ax.set_ylabel(label)
        top = max((row["ltp"] for _, row in rows), default=0.0)
        axes[0].set_ylim(-0.02, max(0.1, 1.1 * top))
        axes[1].axhline(1.0, color="grey", lw=0.8, ls="--")
        colorbar = fig.colorbar(
            mpl.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes[-1]
        )
        colorbar.set_label("checkpoint (environment steps)")
        colorbar.formatter = STEPS_FORMAT
        colorbar.update_ticks()
        title = (
            f"Left tails vs mean, perturb={perturb}, scale={scale:g} (one point per "
            "seed and checkpoint; lower CVaR / mean: a heavier tail)"
        )
        if left_out:
            title += f"; {left_out} not shown: flat policy or undefined LTP (mode <= 0)"
        fig.suptitle(wrapped(title, 9.6))
        if rows:
            axes[0].legend(loc="best")
    return fig


def _tail_value(row: dict, name: str) -> float:
    if name == "cvar_ratio":
        return row["cvar"] / row["mean"] if row["mean"] > 0 else np.nan
    return row[name]


def _plotted(row: dict) -> bool:
    """Whether a stats row has a landscape to show: not flat, LTP defined."""
    return not row.get("flat") and not np.isnan(row["ltp"])


# ------------------------------------------------------------------- interpolation


def path_curve(path: InterpolationResult) -> np.ndarray:
    """The curve drawn for a path: the PURD mean where sampled, else plain returns."""
    if path.returns.shape[0]:
        return path.returns.mean(axis=0)
    return path.plain_return


def interpolation_curves(run: RunData, paths: list[InterpolationResult]) -> Figure:
    """Return along each path, one panel per pair kind (same-seed, cross-seed, ...)."""
    kinds = [k for k in PAIR_COLORS if any(p.attrs["pair_kind"] == k for p in paths)]
    sampled = paths[0].returns.shape[0] > 0
    attrs = paths[0].attrs
    with styled():
        fig = _figure(3.3 * len(kinds) + 0.6, 3.2)
        axes = fig.subplots(1, len(kinds), squeeze=False, sharey=True)[0]
        for ax, kind in zip(axes, kinds, strict=True):
            mine = [p for p in paths if p.attrs["pair_kind"] == kind]
            plot.path_curve(
                mine[0].alpha,
                np.array([path_curve(p) for p in mine]),
                ax=ax,
                color=PAIR_COLORS[kind],
                label="mean over pairs",
                title=f"{kind.replace('_', '-')} paths ({len(mine)} pairs)",
                ylabel="",
                guard_noise=False,  # shared y: one mark for the figure, below
            )
        every = np.concatenate([path_curve(p) for p in paths])
        mark_constant(axes[0], every)  # shared y: one mark for the figure
        if sampled:
            axes[0].set_ylabel(f"PURD mean {RETURN}")
            what = (
                f"mean of {attrs['samples']} {attrs['perturbation']} samples at "
                f"scale {attrs['scale']:g} per point"
            )
        else:
            axes[0].set_ylabel(f"plain {RETURN}")
            what = "plain return per point"
        width = fig.get_size_inches()[0]
        fig.suptitle(wrapped(f"Interpolation paths of {run.name}\n{what}", width))
    return fig


# ------------------------------------------------------------------------ rejection

TRACE_PANELS = (
    ("mean", f"PURD mean {RETURN}"),
    ("ltp", "LTP (fraction of samples)"),
    ("cvar", f"CVaR 0.1 {RETURN}"),
)


def trace_values(trace: dict, name: str) -> np.ndarray:
    """A stored trace statistic per check; LTP NaN where undefined (mode <= 0)."""
    values = np.asarray(trace[name], dtype=np.float64)
    if name == "ltp":
        values = np.where(np.asarray(trace["mode"]) > 0, values, np.nan)
    return values


def rejection_label(criterion: str, traces: list[dict]) -> str:
    """A criterion's legend: the root's CVaR and the final policies' held-out CVaR
    (the kept estimate, biased upward by the criterion's selection, where a trace
    has no held-out PURD)."""
    start, kept = cvar_change(traces)
    heldout = heldout_cvars(traces)
    head = f"{criterion} ({len(traces)} repeats): CVaR {start:.0f} at the root"
    if heldout is None:
        return f"{head}, {kept:.0f} kept (a selected estimate, no held-out PURD)"
    end = float(heldout.mean())
    return f"{head}, {end:.0f} held out at the end ({end - start:+.0f})"


def rejection_traces(run: RunData, root: RejectionRoot) -> Figure:
    """PURD mean, LTP and CVaR of the kept parameters after each check, per
    criterion: thin lines per repeat, a thick line for their mean."""
    with styled():
        fig = _figure(9.6, 3.3)
        axes = fig.subplots(1, len(TRACE_PANELS), squeeze=False)[0]
        for criterion, repeats in root.repeats.items():
            base = criterion.split("_")[0]
            color = CRITERION_COLORS.get(base, COLORS[6])
            for ax, (name, label) in zip(axes, TRACE_PANELS, strict=True):
                curves = []
                for repeat in repeats:
                    trace = repeat.arrays
                    kept = trace_values(trace, name)[kept_rows(trace["accepted"])]
                    curves.append(kept)
                    ax.plot(
                        trace["proposed_updates"], kept, color=color, alpha=0.3, lw=0.8
                    )
                length = min(len(c) for c in curves)
                ax.plot(
                    repeats[0].arrays["proposed_updates"][:length],
                    np.mean([c[:length] for c in curves], axis=0),
                    color=color,
                    lw=2,
                    label=rejection_label(criterion, [r.arrays for r in repeats]),
                )
                ax.set_xlabel("proposed updates")
                ax.set_ylabel(label)
        for ax, (name, _) in zip(axes, TRACE_PANELS, strict=True):
            values = [
                trace_values(r.arrays, name) for rs in root.repeats.values() for r in rs
            ]
            mark_constant(ax, np.concatenate(values))
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=1)
        fig.suptitle(
            wrapped(
                f"Rejection from {run.name}, checkpoint {root.checkpoint:,}, seed "
                f"{root.seed}: statistics of the kept parameters after each check "
                "(selected estimates; the legend's end values are held out)",
                9.6,
            )
        )
    return fig


# ----------------------------------------------------------------------- directions

NORMALIZED = {
    "filter": "filter-normalized",
    "layer": "layer-normalized",
    "model": "model-normalized",
    "none": "unnormalized",
}
OLD_RANDOM_PLANE = "random_directions"  # surfaces stored before directions=
CHECKPOINT_PLANE = "three_checkpoints"
UPDATE_COLOR = COLORS[3]


def direction_settings(attrs: dict, directions: dict | None = None) -> dict:
    """How the directions of a surface or line were made.

    ``kind`` (``random``, ``update``, ``pca``, ``file``), ``normalization``,
    ``bias`` and ``orthogonalize`` come from the result's attributes, else from its
    ``directions.h5`` (``directions``); every other value of that file
    (``explained_variance``, ``update_step_x``, ``source``, ``trajectory``, ...) is
    passed on. A surface of the plane ``random_directions`` (stored before
    ``directions=`` existed) is random, filter-normalized, biases ignored, not
    orthogonalized.
    """
    info = dict(directions or {})
    if attrs.get("plane") == OLD_RANDOM_PLANE:
        old = {"normalization": "filter", "bias": "ignore", "orthogonalize": False}
        return {**info, "kind": "random", **old}
    kind = _given(attrs.get("directions"), info.get("kind"), default="random")
    normalization = "none" if kind == "pca" else "filter"
    return {
        **info,
        "kind": kind,
        "normalization": _given(
            attrs.get("normalization"), info.get("normalization"), default=normalization
        ),
        "bias": _given(attrs.get("bias"), info.get("bias"), default="ignore"),
        "orthogonalize": _flag(
            _given(attrs.get("orthogonalize"), info.get("orthogonalize"), default=False)
        ),
    }


def _given(*values, default):
    """The first value that is set (stored attributes write ``None`` as ``""``)."""
    return next((v for v in values if v is not None and v != ""), default)


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def direction_labels(
    attrs: dict, directions: dict | None = None, line: bool = False
) -> list[str]:
    """The axis label of each direction (two for a plane, one for a ``line``),
    naming its kind and how it was normalized, e.g. ``random direction 1
    (filter-normalized)``, ``random direction ⊥ update (filter-normalized)``,
    ``PC1 (62.3 % of variance)``, ``direction 1 from mine.h5``."""
    settings = direction_settings(attrs, directions)
    kind = settings["kind"]
    count = 1 if line else 2
    if kind == "pca":
        variance = settings.get("explained_variance")
        return [_pc_label(axis, variance) for axis in range(count)]
    notes = _direction_notes(settings)
    orthogonal = settings["orthogonalize"]
    if kind == "update":
        across = "random direction ⊥ update" if orthogonal else "random direction"
        names = ["update direction", across]
    else:
        if kind == "file":
            source = settings.get("source")
            base = f"direction from {Path(str(source)).name if source else 'a file'}"
        else:
            base = "random direction" if kind == "random" else f"{kind} direction"
        names = [base] if line else [_numbered(base, 1), _numbered(base, 2)]
    labels = [name + _parenthesized(notes) for name in names[:count]]
    if not line and kind != "update" and orthogonal:
        labels[1] = names[1] + _parenthesized([*notes, "orthogonalized"])
    return labels


def _numbered(base: str, number: int) -> str:
    """``random direction 1``; ``direction 1 from mine.h5``."""
    if base.startswith("direction from"):
        return base.replace("direction", f"direction {number}", 1)
    return f"{base} {number}"


def _direction_notes(settings: dict) -> list[str]:
    """How a direction was scaled, for its axis label."""
    normalization = settings["normalization"]
    notes = []
    if not (normalization == "none" and settings["kind"] == "file"):
        notes.append(NORMALIZED.get(normalization, f"{normalization}-normalized"))
    if settings["bias"] == "normalized":
        notes.append("with biases")
    return notes


def _parenthesized(notes: list[str]) -> str:
    return f" ({', '.join(notes)})" if notes else ""


def _pc_label(axis: int, variance) -> str:
    if isinstance(variance, str):
        variance = json.loads(variance) if variance else None
    name = f"PC{axis + 1}"
    if variance is None or len(variance) <= axis:
        return name
    return f"{name} ({100 * float(variance[axis]):.1f} % of variance)"


def _kind_text(settings: dict) -> str:
    """The directions in a title: ``random``, ``update``, ``PCA``, ``from <file>``."""
    kind = settings["kind"]
    if kind == "file":
        source = settings.get("source")
        return f"from {Path(str(source)).name}" if source else "from a file"
    return {"pca": "PCA", "update": "update"}.get(kind, kind)


def _update_note(settings: dict) -> str:
    """Where one mean update lands along an update direction ("" if unknown)."""
    step = settings.get("update_step_x")
    if settings["kind"] != "update" or step is None or step == "":
        return ""
    update = settings.get("perturbation") or "the run's"
    return f"; one mean {update} update lands at x = {float(step):.3g}"


def _sampling_text(attrs: dict) -> str:
    if attrs["perturbation"]:
        return (
            f"{attrs['samples']} {attrs['perturbation']} samples at scale "
            f"{attrs['scale']:g} per point"
        )
    return "plain return per point"


# ------------------------------------------------------------------------- surfaces

ANCHOR_POSITIONS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))  # three-checkpoint plane


def surface_anchor_points(surface: SurfaceResult) -> list[tuple[float, float, str]]:
    """Where the plane's checkpoints lie, ``(x, y, label)`` each."""
    return [
        (x, y, f"seed {seed}, {STEPS_FORMAT(step, None)}")
        for (x, y), (seed, step) in zip(ANCHOR_POSITIONS, surface.anchors, strict=False)
    ]


def surface_axis_labels(surface: SurfaceResult) -> tuple[str, str]:
    """The x and y axis labels of a surface: each direction with its normalization
    (``direction_labels``), or the checkpoint weights of a three-checkpoint plane."""
    if surface.attrs.get("plane") == CHECKPOINT_PLANE:
        return "weight of checkpoint 2", "weight of checkpoint 3"
    x, y = direction_labels(surface.attrs, surface.directions)
    return x, y


def surface_trajectory(surface: SurfaceResult) -> tuple[np.ndarray, np.ndarray] | None:
    """A PCA plane's training trajectory in step order: the points ``(n, 2)`` and
    their checkpoint steps ``(n,)``; ``None`` for other planes."""
    if surface.attrs.get("plane") == CHECKPOINT_PLANE:
        return None
    info = direction_settings(surface.attrs, surface.directions)
    if info["kind"] != "pca" or info.get("trajectory") is None:
        return None
    points = np.asarray(info["trajectory"], dtype=np.float64).reshape(-1, 2)
    steps = np.asarray(info.get("trajectory_steps", np.arange(len(points))))
    order = np.argsort(steps, kind="stable")
    return points[order], steps[order]


def trajectory_outside(surface: SurfaceResult) -> int:
    """How many points of a PCA plane's trajectory lie outside the computed grid
    (0 for other planes)."""
    found = surface_trajectory(surface)
    if found is None:
        return 0
    points = found[0]
    inside = (
        (points[:, 0] >= surface.x.min())
        & (points[:, 0] <= surface.x.max())
        & (points[:, 1] >= surface.y.min())
        & (points[:, 1] <= surface.y.max())
    )
    return int((~inside).sum())


def surface_maps(
    run: RunData,
    surface: SurfaceResult,
    threshold: float = 0.5,
    bins: int = 100,
    alpha: float = 0.1,
    three_d: bool = False,
) -> Figure:
    """Heat maps with contours of a surface: the return (PURD mean where sampled,
    else plain), the LTP beside it where sampled, and a 3-D view if asked.

    Axes name each direction and its normalization. A PCA plane shows the training
    trajectory (the seed's checkpoints projected into the plane, in step order),
    an update plane an arrow along the update direction and where one mean update
    lands."""
    sampled = surface.returns.shape[0] > 0
    panels = [(f"plain {RETURN}", surface.plain_return, "viridis", None)]
    if sampled:
        stats = point_statistics(surface.returns, threshold, bins, alpha)
        panels = [
            (f"PURD mean {RETURN}", stats["mean"], "viridis", None),
            ("LTP (fraction; grey: undefined)", stats["ltp"], "magma_r", (0.0, 1.0)),
        ]
    xlabel, ylabel = surface_axis_labels(surface)
    with styled():
        width = 3.6 * (len(panels) + three_d) + 0.4
        fig = _figure(width, 3.6)
        for index, (label, values, cmap, limits) in enumerate(panels, start=1):
            ax = fig.add_subplot(1, len(panels) + three_d, index)
            _surface_map(ax, surface, values, label, cmap, limits)
            _direction_marks(ax, surface, legend=index == 1)
        if three_d:
            ax = fig.add_subplot(1, len(panels) + 1, len(panels) + 1, projection="3d")
            xs, ys = np.meshgrid(surface.x, surface.y, indexing="ij")
            ax.plot_surface(xs, ys, panels[0][1], cmap="viridis", linewidth=0)
            ax.set_zlabel(panels[0][0])
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
        fig.suptitle(
            wrapped(f"Return surface of {run.name}: {_surface_title(surface)}", width)
        )
    return fig


def _surface_map(ax, surface: SurfaceResult, values, label, cmap, limits=None):
    """One heat map (``values[i, j]`` at ``(x[i], y[j])``) with its contours, the
    checkpoints starred; float noise says "constant" instead of a colour bar.
    ``limits``: a fixed colour range (LTP: [0, 1]); NaN cells are grey."""
    low, high = limits if limits else (None, None)
    xlabel, ylabel = surface_axis_labels(surface)
    plot.surface_map(
        surface.x,
        surface.y,
        values,
        ax=ax,
        cmap=cmap,
        vmin=low,
        vmax=high,
        points=surface_anchor_points(surface),
        title=label,
        label=label,
        xlabel=xlabel,
        ylabel=ylabel,
    )


def _direction_marks(ax, surface: SurfaceResult, legend: bool) -> None:
    """The PCA trajectory or the update arrow over a map; their legend if asked."""
    if surface.attrs.get("plane") == CHECKPOINT_PLANE:
        return
    settings = direction_settings(surface.attrs, surface.directions)
    found = surface_trajectory(surface)
    if found is not None:
        points, steps = found
        outside = trajectory_outside(surface)
        seed = _given(settings.get("seed"), default=surface.anchors[0][0])
        label = f"training trajectory, seed {seed} ({len(points)} checkpoints"
        label += f"; {outside} outside the grid)" if outside else ")"
        # the checkpoint at the centre is starred and named already
        labels = [
            "" if step == surface.anchors[0][1] else STEPS_FORMAT(step, None)
            for step in steps
        ]
        plot.draw_trajectory(ax, points, labels, label=label)
    if settings["kind"] == "update":
        _update_arrow(ax, surface, settings)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", fontsize=6, framealpha=0.85)


def _update_arrow(ax, surface: SurfaceResult, settings: dict) -> None:
    """An arrow from the checkpoint along +x labelled "update", and a tick where
    one mean update lands."""
    tip = 0.6 * float(np.max(surface.x))
    ax.annotate("", xy=(tip, 0.0), xytext=(0.0, 0.0), gid="update-arrow",
                arrowprops={"arrowstyle": "-|>", "color": "white", "lw": 1.4,
                            "path_effects": plot.OUTLINE})  # fmt: skip
    ax.annotate("update", (tip, 0.0), xytext=(0, -4), textcoords="offset points",
                ha="center", va="top", color="white", fontsize=7,
                path_effects=plot.OUTLINE)  # fmt: skip
    step = settings.get("update_step_x")
    if step is not None and step != "":
        ax.plot([float(step)], [0.0], ls="none", marker="|", ms=10, mew=1.6,
                color=UPDATE_COLOR, gid="update-step",
                label=f"one mean update: x = {float(step):.3g}")  # fmt: skip


def _surface_title(surface: SurfaceResult) -> str:
    attrs = surface.attrs
    what = _sampling_text(attrs)
    grid = f"{attrs['grid']}x{attrs['grid']}"
    if attrs["plane"] == CHECKPOINT_PLANE:
        return f"plane through three checkpoints, {grid}, {what}"
    settings = direction_settings(attrs, surface.directions)
    seed, step = surface.anchors[0]
    title = (
        f"seed {seed}, checkpoint {step:,}, {_kind_text(settings)} directions, plane "
        f"of half-width {attrs['span']:g}, {grid}, {what}"
    )
    return title + _update_note(settings)


def surface_caption(surface: SurfaceResult) -> str:
    """What a surface figure shows, in words (the report's caption after the run):
    the directions, and whether a PCA trajectory leaves the grid."""
    if surface.attrs.get("plane") == CHECKPOINT_PLANE:
        return "plane through three checkpoints"
    settings = direction_settings(surface.attrs, surface.directions)
    text = f"{_kind_text(settings)} directions through seed {surface.anchors[0][0]}, "
    text += f"checkpoint {surface.anchors[0][1]:,}"
    found = surface_trajectory(surface)
    if found is not None:
        outside = trajectory_outside(surface)
        text += f"; the training trajectory ({len(found[0])} checkpoints) is drawn"
        if outside:
            text += f" and leaves the grid ({outside} checkpoints outside it)"
    return text + _update_note(settings)


# ---------------------------------------------------------------------------- lines


def line_axis_label(line: LineResult) -> str:
    """The x axis label of a line: its direction and normalization."""
    return direction_labels(line.attrs, line.directions, line=True)[0]


def line_statistics(
    line: LineResult, threshold: float = 0.5, bins: int = 100, alpha: float = 0.1
) -> dict[str, np.ndarray] | None:
    """The PURD statistics at each point of a line (``point_statistics`` of its
    ``(num_samples, points)`` returns), each ``(points,)``; ``None`` when plain."""
    if not line.returns.shape[0]:
        return None
    return point_statistics(line.returns, threshold, bins, alpha)


def line_panels(
    run: RunData,
    line: LineResult,
    threshold: float = 0.5,
    bins: int = 100,
    alpha: float = 0.1,
) -> Figure:
    """Returns along one direction through a checkpoint (at x = 0, marked).

    Plain: one panel, the plain return along x. With samples: three panels, the PURD
    mean with its 10-90 % band and the plain return; the CVaR (``alpha``); the LTP
    (``threshold``; gaps where undefined). The x axis names the direction."""
    stats = line_statistics(line, threshold, bins, alpha)
    xlabel = line_axis_label(line)
    with styled():
        width = 9.6 if stats else 4.8
        fig = _figure(width, 3.4)
        axes = fig.subplots(1, 3 if stats else 1, squeeze=False)[0]
        _line_returns(axes[0], line, stats)
        if stats:
            panels = (
                ("cvar", f"CVaR {alpha:g} {RETURN}", COLORS[1]),
                ("ltp", f"LTP below {threshold:g} x mode (gaps: undefined)", COLORS[4]),
            )
            for ax, (name, label, color) in zip(axes[1:], panels, strict=True):
                ax.plot(line.x, stats[name], color=color, lw=1.8, gid=name)
                ax.set_ylabel(label)
            mark_constant(axes[1], stats["cvar"])
            top = np.nanmax(stats["ltp"], initial=0.0)
            axes[2].set_ylim(-0.02, max(0.1, 1.1 * top))
        seed, step = line.anchor
        where = f"checkpoint (seed {seed}, {STEPS_FORMAT(step, None)})"
        for ax in axes:
            ax.axvline(0.0, color="black", lw=0.9, ls=":", gid="checkpoint",
                       label=where)  # fmt: skip
            ax.set_xlabel(xlabel)
        axes[0].legend(loc="best", fontsize=7)
        fig.suptitle(wrapped(f"Return line of {run.name}: {_line_title(line)}", width))
    return fig


def _line_returns(ax, line: LineResult, stats: dict | None) -> None:
    """The return panel: PURD mean and band (where sampled) and the plain return."""
    if stats is not None:
        plot.path_curve(line.x, stats["mean"], purd=line.returns, ax=ax,
                        color=COLORS[0], label="PURD mean", xlabel="", ylabel=RETURN,
                        guard_noise=False, legend=False)  # fmt: skip
        ax.get_lines()[-1].set_gid("mean")
    ax.plot(line.x, line.plain_return, color=COLORS[2], lw=1.4,
            ls="--" if stats is not None else "-", gid="plain",
            label="plain return")  # fmt: skip
    ax.set_ylabel(RETURN)
    mark_constant(ax, np.concatenate([line.plain_return, line.returns.reshape(-1)]))


def _line_title(line: LineResult) -> str:
    attrs = line.attrs
    settings = direction_settings(attrs, line.directions)
    seed, step = line.anchor
    span = float(attrs.get("span", np.max(np.abs(line.x))))
    title = (
        f"seed {seed}, checkpoint {step:,}, {_kind_text(settings)} direction, x in "
        f"[-{span:g}, {span:g}], {len(line.x)} points, {_sampling_text(attrs)}"
    )
    return title + _update_note(settings)


def line_caption(line: LineResult) -> str:
    """What a line figure shows, in words (the report's caption after the run)."""
    settings = direction_settings(line.attrs, line.directions)
    seed, step = line.anchor
    text = (
        f"{line_axis_label(line)} through seed {seed}, checkpoint {step:,}, "
        f"{_sampling_text(line.attrs)}"
    )
    return text + _update_note(settings)


# ------------------------------------------------- each experiment kind's figures


class ReportFigure(NamedTuple):
    """One figure of an experiment kind's report section (``conf/commands.py``):
    the figure, its caption and its file name's parts (a prefix, then parts unique
    within the run)."""

    figure: Figure
    caption: str
    name: tuple


def purd_figure(run: RunData, group: PurdGroup, cfg) -> ReportFigure:
    """The PURD histograms of one perturbation and scale (``purd_histograms``)."""
    figure = purd_histograms(
        run, group, cfg.threshold, cfg.bins, cfg.alpha, cfg.max_seeds
    )
    caption = f"PURDs of {run.label}, perturb={group.perturb}, scale={group.scale:g}"
    return ReportFigure(figure, caption, ("purd", group.perturb, group.scale))


def interpolation_figure(run: RunData, group: PathGroup, cfg) -> ReportFigure:
    """The paths of one perturbation and scale (``interpolation_curves``)."""
    del cfg
    figure = interpolation_curves(run, group.paths)
    caption = f"Interpolation paths of {run.label} ({group.perturb})"
    return ReportFigure(figure, caption, ("interpolation", group.perturb, group.scale))


def rejection_figure(run: RunData, root: RejectionRoot, cfg) -> ReportFigure:
    """The traces of every criterion from one root (``rejection_traces``)."""
    del cfg
    caption = (
        f"Rejection traces of {run.label} from checkpoint {root.checkpoint}, seed "
        f"{root.seed}. {cvar_kept(root)}"
    )
    name = ("rejection", root.checkpoint, root.seed)
    return ReportFigure(rejection_traces(run, root), caption, name)


def cvar_kept(root: RejectionRoot) -> str:
    """CVaR at the root and after the last kept check, per criterion (mean over
    repeats), and what each criterion kept against ``none``."""
    changes = {c: cvar_change([r.arrays for r in rs]) for c, rs in root.repeats.items()}
    parts = [
        f"{c}: CVaR {start:.0f} -> {end:.0f} ({end - start:+.0f})"
        for c, (start, end) in changes.items()
    ]
    none = changes.get("none")
    for criterion, (_, end) in changes.items():
        if none is not None and criterion != "none":
            gap = end - none[1]
            parts.append(f"{criterion} ends {gap:+.0f} against none")
    return "; ".join(parts) + " (means over repeats)."


def surface_figure(run: RunData, surface: SurfaceResult, cfg) -> ReportFigure:
    """The maps of one surface (``surface_maps``)."""
    figure = surface_maps(
        run, surface, cfg.threshold, cfg.bins, cfg.alpha, cfg.surface_3d
    )
    caption = f"Return surface of {run.label}: {surface_caption(surface)}"
    return ReportFigure(figure, caption, ("surface", _surface_slug(surface)))


def line_figure(run: RunData, line: LineResult, cfg) -> ReportFigure:
    """The panels of one line (``line_panels``)."""
    figure = line_panels(run, line, cfg.threshold, cfg.bins, cfg.alpha)
    caption = f"Return line of {run.label}: {line_caption(line)}"
    return ReportFigure(figure, caption, ("line", _line_slug(line)))


def _surface_slug(surface: SurfaceResult) -> str:
    """A file name part unique to a surface within its run (the kind of directions
    named unless random)."""
    attrs = surface.attrs
    anchors = "_".join(f"s{seed}c{step}" for seed, step in surface.anchors)
    span = f"_span{attrs['span']:g}" if attrs["span"] != "" else ""
    perturb = attrs["perturbation"] or "plain"
    scale = f"_{attrs['scale']:g}" if attrs["perturbation"] else ""
    kind = ""
    if attrs["plane"] != CHECKPOINT_PLANE:
        kind = _kind_slug(direction_settings(attrs, surface.directions))
    return f"{perturb}{scale}_{anchors}_grid{attrs['grid']}{span}{kind}"


def _line_slug(line: LineResult) -> str:
    """A file name part unique to a line within its run."""
    attrs = line.attrs
    seed, step = line.anchor
    perturb = attrs["perturbation"] or "plain"
    scale = f"_{attrs['scale']:g}" if attrs["perturbation"] else ""
    settings = direction_settings(attrs, line.directions)
    return (
        f"{perturb}{scale}_s{seed}c{step}_points{len(line.x)}"
        f"_span{float(attrs['span']):g}{_kind_slug(settings)}"
    )


def _kind_slug(settings: dict) -> str:
    return "" if settings["kind"] == "random" else f"_{settings['kind']}"
