"""Grids of points in a plane of parameter space: the machinery ``landscape
surface`` and ``landscape line`` share.

Every grid point ``(i, j)`` is the agent ``w0 * P + x[i] * Q + y[j] * R``:

* the **plane of two directions** through a checkpoint ``theta``: ``P = theta``,
  ``Q``, ``R`` two directions (``directions=``: random ones normalized filter-wise as
  Li et al., 2018, the run's own update, the PCA of the seed's checkpoints, or a
  file's; ``grid/directions.py``), ``w0 = 1``, ``x, y`` in ``[-span, span]``; an odd
  number of points per axis puts the checkpoint at ``x = y = 0`` exactly, so the
  centre point is ``theta`` bit for bit;
* the **plane through three checkpoints**: ``P, Q, R = theta1, theta2, theta3``,
  ``w0 = 1 - x - y``, ``x, y`` in ``[0, 1]``: the checkpoints are the corners
  ``(0, 0)``, ``(1, 0)``, ``(0, 1)``, again bit for bit (``1 * a + 0 * b == a``).

An experiment declares its ``GridShape``: how many rows (one stored block each),
how many points per row, along how many axes the points move (a line: one, ``y =
0``) and the names its blocks carry. Only the actor moves in a plane of directions
(the directions are zero on every other leaf of the agent state); in the
three-checkpoint plane every floating-point leaf is mixed, as ``landscape
interpolate`` does, so a ``td3`` update at a grid point sees a consistent critic and
Adam state. What cannot be mixed (integer leaves, replay buffer, env states) comes
from the point's nearest anchor, the one with the largest weight.

At every point the plain return and, with ``samples > 0``, a PURD: ``samples``
perturbations under a registered perturbation, one episode each. Every point goes
through the one hot path (``evaluation.py``) in chunks. Randomness: a point uses the
keys of its nearest anchor's ``landscape purd`` (the unperturbed episode's key and
the ``samples`` sample keys of ``purd sample_seed=...``), so points share their
draws (common random numbers) and the centre of a plane of directions reproduces
the checkpoint's PURD.

Storage: one block per row ``x[i]`` (``store/surface.py``, ``store/line.py``),
written as soon as its points are done, so a killed job resumes at the first
missing row; the two directions beside them (``directions.h5``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.layout import Layout, with_layout_constraint

from return_landscapes import store
from return_landscapes.conf import as_plain_dict
from return_landscapes.direction_files import (
    DIRECTIONS_FILE,
    read_directions,
    write_directions,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.checks import (
    check_perturbation_fits,
    check_perturbation_off_checkpoints,
    check_reads_finite,
    chosen_checkpoints,
    chosen_seeds,
    is_finished,
)
from return_landscapes.landscape.grid.directions import (
    PlaneDirections,
    as_agent_states,
    check_directions,
    check_update,
    direction_settings,
    kind_of,
    make_directions,
)
from return_landscapes.landscape.grid.vectors import filter_normalized_direction
from return_landscapes.landscape.hotpath.engine import (
    Engine,
    checkpoint_source,
    compiled_plan,
    engine_program,
    run_by_group,
)
from return_landscapes.landscape.hotpath.keys import plain_key, sample_keys
from return_landscapes.landscape.hotpath.mixing import mix
from return_landscapes.landscape.job import (
    LandscapeJob,
    common_settings,
    make_engine,
    open_job,
    progress_bar,
    result_attrs,
    scale_text,
    write_result,
)
from return_landscapes.landscape.perturb import (
    CheckpointSource,
    Perturbation,
    one_sample,
)
from return_landscapes.landscape.summary import Summary, plain_and_purd_range
from return_landscapes.pipeline import GROUP, MAX_CHUNK
from return_landscapes.tracking import tracking

logger = logging.getLogger(__name__)

DIRECTIONS_PLANE = "directions"  # through one checkpoint, along two directions
OLD_RANDOM_PLANE = "random_directions"  # the same, stored before directions=
CHECKPOINT_PLANE = "three_checkpoints"
ANCHORS_AT = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))  # a three-checkpoint plane's


def computed(job: GridJob) -> str:
    """What every point gets: plain returns, or PURDs of how many samples."""
    if job.perturb_name is None:
        return "plain returns"
    return f"PURDs of {job.cfg.samples} {job.perturb_name} samples at {scale_text(job)}"


def run_job(job: GridJob) -> None:
    """Build the plane, store its directions, compute and write the rows to do."""
    cfg, command = job.cfg, job.shape.command
    engine = make_engine(job)
    plane = load_plane(job, engine)
    per_row = job.shape.cols * (1 + padded_samples(cfg.samples))
    bar = progress_bar(per_row * len(job.todo), cfg.progress, command, "episode")
    with bar, tracking(cfg, job.run_dir, command, as_plain_dict(cfg)):
        compute_rows(job, engine, plane, bar)


# ------------------------------------------------------------------------ the job


class GridShape(NamedTuple):
    """How an experiment lays out its points and names its stored blocks.

    Attributes:
      command: the command and the blocks' ``kind`` (``surface``, ``line``).
      size_name: the attribute holding the number of rows (``grid``, ``points``).
      rows: points along ``x``, one stored block each.
      cols: points along ``y`` in each row.
      axes: the axes the points move along: 2 (a plane), or 1 (a line: ``y = 0``,
        and each block stores its own ``x``).
    """

    command: str
    size_name: str
    rows: int
    cols: int
    axes: int = 2


@dataclasses.dataclass
class GridJob(LandscapeJob):
    """A checked request on a grid: the plane, where it goes, the rows still to do."""

    perturb_name: str | None  # None: plain returns only (samples=0)
    kind: str  # DIRECTIONS_PLANE or CHECKPOINT_PLANE
    anchors: list[tuple[int, int]]  # (seed, checkpoint): 1 or 3
    folder: Path
    shape: GridShape
    todo: list[int] = dataclasses.field(default_factory=list)  # rows still to do
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)


def open_grid_job(cfg) -> LandscapeJob:
    """``open_job`` for a grid command (``samples=0``: plain returns only)."""
    base = open_job(cfg, cfg.perturb, check_fits=False)
    if cfg.samples < 0:
        raise LandscapeError(f"samples={cfg.samples} must be 0 (plain returns) or more")
    return base


def grid_job(
    base: LandscapeJob,
    perturb_name: str | None,
    kind: str,
    anchors: list[tuple[int, int]],
    folder: Path,
    shape: GridShape,
) -> GridJob:
    """The checked grid job: its directions checked (a plane of directions) before
    any compute, and the rows still to do listed."""
    job = GridJob(
        **base.base(),
        perturb_name=perturb_name,
        kind=kind,
        anchors=anchors,
        folder=folder,
        shape=shape,
    )
    if kind == DIRECTIONS_PLANE:
        check_directions(job.cfg, job, anchors[0])
    job = list_todo(job)
    if job.todo:
        check_reads_finite(grid_reads(job), needs_replay(job))
    return job


def grid_reads(job: GridJob) -> list[tuple[Path, int, int]]:
    """The ``(run, checkpoint, seed)`` a grid reads: its anchors and, for ``pca``
    directions, every checkpoint of the anchor's seed."""
    reads = [(job.run_dir, step, seed) for seed, step in job.anchors]
    if job.kind == DIRECTIONS_PLANE and kind_of(job.cfg) == "pca":
        seed = job.anchors[0][0]
        reads += [(job.run_dir, s, seed) for s in chosen_checkpoints(None, job.run_dir)]
    return reads


def needs_replay(job: GridJob) -> bool:
    """Whether the grid's perturbation or ``update`` directions read replay rows."""
    updates = job.kind == DIRECTIONS_PLANE and kind_of(job.cfg) == "update"
    sampled = job.perturb_name is not None
    return (sampled or updates) and job.perturbation.needs_replay


def check_perturbed(base: LandscapeJob, cfg) -> str | None:
    """The perturbation's name when points get PURDs (``None``: plain), checked;
    ``update`` directions check the update they take even without samples."""
    perturb_name = base.perturbation.name if cfg.samples else None
    if perturb_name is not None or kind_of(cfg) == "update":
        check_perturbation_fits(base.perturbation, base.run_cfg)
        check_perturbation_off_checkpoints(base.perturbation, base.run_cfg)
    if kind_of(cfg) == "update":
        check_update(base)
    return perturb_name


def list_todo(job: GridJob) -> GridJob:
    """Fill ``job.settings`` and ``job.todo`` (the rows not stored yet with the
    same settings; one stored with other settings is an error)."""
    job.settings = _settings(job)
    for row in range(job.shape.rows):
        path = store.row_path(job.folder, row)
        if not is_finished(path, job.settings, job.cfg.overwrite):
            job.todo.append(row)
    return job


def one_anchor(cfg, run_dir, run_cfg, what: str, other: str = "") -> tuple[int, int]:
    """The ``(seed, checkpoint)`` a plane or line of directions goes through:
    ``checkpoint`` (for ``pca`` by default the last), checked; ``other`` ends the
    error's text (another way to ask)."""
    checkpoint = cfg.checkpoint
    if checkpoint is None and kind_of(cfg) == "pca":
        checkpoint = chosen_checkpoints(None, run_dir)[-1]
    if checkpoint is None:
        steps = chosen_checkpoints(None, run_dir)
        raise LandscapeError(
            f"checkpoint= is required: the {what} goes through one checkpoint (the "
            f"run has {', '.join(map(str, steps))}){other}"
        )
    chosen_checkpoints([checkpoint], run_dir)
    chosen_seeds([cfg.seed_index], run_cfg.seeds)
    return cfg.seed_index, checkpoint


def check_odd(points: int, name: str, span: float) -> None:
    """A one-checkpoint plane's or line's axis: odd (the checkpoint in the middle),
    at least 3 points, a finite positive span."""
    if points < 3 or points % 2 == 0:
        raise LandscapeError(
            f"{name}={points} must be odd and at least 3 so the checkpoint is the "
            f"centre point: use {name}={max(3, points + 1 - points % 2)}"
        )
    if not (np.isfinite(span) and span > 0):
        raise LandscapeError(f"span={span} must be a finite number > 0")


def _settings(job: GridJob) -> dict[str, Any]:
    """The settings a stored row must match to count as finished."""
    settings = {"plane": job.kind}
    if job.kind == DIRECTIONS_PLANE:
        settings.update(direction_settings(job.cfg, job))
    return {
        **settings,
        **common_settings(job, perturbed=job.perturb_name is not None),
    }


# ---------------------------------------------------------------------- the plane


class Plane(NamedTuple):
    """The three agent states spanning a plane, its anchors and its coordinates.

    ``described``: how the directions were made (row attributes), empty for a plane
    through three checkpoints."""

    states: tuple  # (P, Q, R) agent states, no seed axis
    sources: list[CheckpointSource]  # per anchor: what a perturbation reads
    x: np.ndarray  # (grid,) float32
    y: np.ndarray  # (grid,) float32
    plain_keys: list[jax.Array]  # per anchor: its unperturbed episode's key
    sample_keys: list[jax.Array]  # per anchor: its PURD keys, (padded samples,)
    weight_of_p: bool  # w0 = 1 - x - y (three checkpoints) instead of 1
    described: dict[str, Any] = {}  # noqa: RUF012 (a NamedTuple default, not mutated)

    def weights(self, row: int) -> np.ndarray:
        """``(grid, 3)`` weights of ``P, Q, R`` at the points ``(x[row], y[:])``."""
        x = np.full_like(self.y, self.x[row])
        w0 = np.float32(1) - x - self.y if self.weight_of_p else np.ones_like(x)
        return np.stack([w0, x, self.y], axis=1).astype(np.float32)

    def nearest(self, weights: np.ndarray) -> np.ndarray:
        """The anchor each point takes unmixable state and keys from."""
        if len(self.sources) == 1:
            return np.zeros(weights.shape[0], np.int64)
        return np.argmax(weights, axis=1)


def coordinates(kind: str, grid: int, span: float) -> np.ndarray:
    """The ``grid`` coordinates of an axis (float32; 0, and 1 or ±span, exact)."""
    if kind != CHECKPOINT_PLANE:
        half = (grid - 1) // 2
        steps = np.arange(grid, dtype=np.float64) - half
        return (span * steps / half).astype(np.float32)
    return np.linspace(0.0, 1.0, grid).astype(np.float32)


def plane_directions(agent, agent_state, key: jax.Array):
    """Two filter-normalized directions of the actor, as agent-state-shaped trees.

    Every leaf outside the actor is zero, so moving along them moves the policy
    alone.
    """
    actor = agent.actor_params(agent_state)
    zero_state = jax.tree.map(jnp.zeros_like, agent_state)
    return tuple(
        agent.with_actor_params(
            zero_state, filter_normalized_direction(jax.random.fold_in(key, i), actor)
        )
        for i in range(2)
    )


def load_plane(job: GridJob, engine: Engine) -> Plane:
    """Restore the anchors and build the plane's states and keys."""
    cfg, agent = job.cfg, engine.agent
    perturbation = None if job.perturb_name is None else job.perturbation
    if job.kind == DIRECTIONS_PLANE and kind_of(cfg) == "update":
        perturbation = job.perturbation  # the update reads what it needs
    sources = [
        checkpoint_source(
            engine.parts, job.run_cfg, job.run_dir, seed, step, perturbation
        )
        for seed, step in job.anchors
    ]
    states = tuple(s.agent_state for s in sources)
    x = y = coordinates(job.kind, job.shape.rows, cfg.span)
    if job.shape.axes == 1:
        y = np.zeros(1, np.float32)
    described = {}
    if job.kind == DIRECTIONS_PLANE:
        directions = plane_directions_of(job, engine, sources[0])
        states = (states[0], *as_agent_states(agent, states[0], directions))
        described = {
            name: directions.attrs[name]
            for name in ("normalization", "bias", "orthogonalize")
        }
    return Plane(
        states,
        sources,
        x,
        y,
        [plain_key(cfg.sample_seed, seed, step) for seed, step in job.anchors],
        [
            job.perturbation.key_rows(
                sample_keys(cfg.sample_seed, seed, step, padded_samples(cfg.samples))
            )
            for seed, step in job.anchors
        ],
        job.kind == CHECKPOINT_PLANE,
        described,
    )


def plane_directions_of(job: GridJob, engine: Engine, source):
    """The plane's directions, stored beside its rows (``directions.h5``).

    A resumed job reads them back when they were made with the same settings, so
    every row of a surface lies in one plane; otherwise they are made and written.
    """
    path = job.folder / DIRECTIONS_FILE
    made_with = json.dumps(direction_settings(job.cfg, job), sort_keys=True)
    if path.is_file() and not job.cfg.overwrite:
        actor = engine.agent.actor_params(source.agent_state)
        stored = read_directions(path, template=actor)
        if stored.attrs.get("settings") == made_with:
            return PlaneDirections(stored.x, stored.y, stored.attrs, stored.arrays)
    directions = make_directions(job, engine, source)
    provenance = {
        name: value
        for name, value in store.provenance().items()
        if name not in ("format", "format_version")  # the directions format's own
    }
    attrs = {**provenance, **directions.attrs, "settings": made_with}
    write_directions(path, directions.x, directions.y, attrs, directions.arrays)
    warn_if_trajectory_leaves(job, directions.arrays.get("trajectory"))
    return directions


def warn_if_trajectory_leaves(job: GridJob, trajectory) -> None:
    """A warning line when the PCA trajectory reaches beyond the plane's span."""
    if trajectory is None or not len(trajectory):
        return
    axes = job.shape.axes
    reach = float(np.max(np.abs(np.asarray(trajectory)[:, :axes])))
    if reach > job.cfg.span:
        logger.warning(
            "warning: the training trajectory reaches %.3g along the principal "
            "components, beyond span=%g: pass span=%.3g to draw all of it",
            reach,
            job.cfg.span,
            1.05 * reach,
        )


# ---------------------------------------------------------------------- the stages


def mix_plane(states, nearer, weights):
    """``w0 * P + w1 * Q + w2 * R`` per floating-point leaf; others from ``nearer``."""
    return mix(states, nearer, weights)


def row_major(tree):
    """``tree`` with every array in the row-major layout of a program's arguments.

    A state computed inside a program (a grid point's mix) may otherwise get the
    layout its consumers prefer, and the update's matrix products then take other
    code than on a checkpoint's state, an argument: under AVX-512 (an AMD EPYC) a
    sample's return at a plane's centre differed from the checkpoint PURD's in its
    last bits. In the row-major layout the centre's samples are the PURD's.
    """
    return jax.tree.map(
        lambda x: with_layout_constraint(x, Layout(tuple(range(x.ndim)))), tree
    )


class SurfaceStages(NamedTuple):
    """Jitted stages building the parameter sets of grid points."""

    plain: Any  # ((P, Q, R) actors, nearer actor), (weights, keys) -> (params, keys)
    perturbed: Any  # ((P, Q, R), near source, scale), (weights, keys) -> ...


def surface_stages(engine: Engine) -> SurfaceStages:
    """The grid stages of an engine's agent and perturbation (built once, freed
    with the engine)."""
    return engine_program(
        engine,
        "grid stages",
        lambda: make_surface_stages(engine.agent, engine.perturbation),
    )


def make_surface_stages(agent, perturbation: Perturbation) -> SurfaceStages:
    """Jitted stages turning grid points (weights of ``P, Q, R``) into policies.

    ``plain(((P, Q, R) actors, nearer actor), (weights, keys))`` mixes the actors;
    ``perturbed(((P, Q, R) states, nearer source, scale), (weights, keys))`` mixes
    the agent states and applies ``perturbation`` once per row; rows come in groups
    of ``GROUP`` samples of one point (``padded_samples``).
    """

    def plain(shared, rows):
        actors, nearer = shared
        weights, keys = rows
        # Only the actors are mixed: a point's policy is elementwise in them.
        return jax.vmap(lambda w: mix_plane(actors, nearer, w))(weights), keys

    def one_group(shared, weights, keys):
        # A group's 8 rows are samples of one point: its state is mixed once and
        # shared by the 8, exactly as a checkpoint PURD shares the checkpoint's,
        # so a point equal to a checkpoint gets that checkpoint's PURD bit for bit.
        states, near, scale = shared
        mixed = row_major(mix_plane(states, near.agent_state, weights[0]))
        source = near._replace(agent_state=mixed)
        return jax.vmap(
            lambda key: one_sample(perturbation, agent, source, scale, key)
        )(keys)

    def perturbed(shared, rows):
        groups = jax.tree.map(lambda x: x.reshape(-1, GROUP, *x.shape[1:]), rows)
        out = jax.lax.map(lambda group: one_group(shared, *group), groups)
        return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), out)

    return SurfaceStages(jax.jit(plain), jax.jit(perturbed))


# ---------------------------------------------------------------------- computing


def compute_rows(job: GridJob, engine: Engine, plane: Plane, bar) -> None:
    """Compute the rows still to do, a slab of rows per batch, writing each row."""
    cfg = job.cfg
    padded = padded_samples(cfg.samples)
    cols = job.shape.cols
    rows_per_slab, batch = slab_size(cols, cfg.samples, job.shape.rows)
    plain_plan = _plain_plan(job, engine, plane, rows_per_slab * cols, bar)
    sample_plan = None
    if cfg.samples:
        sample_plan = _sample_plan(job, engine, plane, batch, bar)
    for start in range(0, len(job.todo), rows_per_slab):
        slab = job.todo[start : start + rows_per_slab]
        bar.set_postfix_str(f"rows {slab[0]}-{slab[-1]}")
        weights = np.concatenate([plane.weights(row) for row in slab])
        nearest = plane.nearest(weights)
        plain = run_by_group(
            plain_plan,
            lambda a: _plain_shared(engine, plane, a),
            (weights, _take(plane.plain_keys, nearest)),
            nearest,
            bar.update,
        )
        samples = None
        if cfg.samples:
            samples = run_by_group(
                sample_plan,
                lambda a: _sample_shared(job, engine, plane, a),
                (
                    np.repeat(weights, padded, axis=0),
                    _tile_keys(plane.sample_keys, nearest),
                ),
                np.repeat(nearest, padded),
                bar.update,
            )
        for index, row in enumerate(slab):
            points = slice(index * cols, (index + 1) * cols)
            row_samples = None
            if samples is not None:
                # (points x padded) -> each point's first ``samples`` draws
                row_samples = type(samples)(
                    *(
                        field[points.start * padded : points.stop * padded]
                        .reshape(cols, padded)[:, : cfg.samples]
                        .reshape(-1)
                        for field in samples
                    )
                )
            _write_row(
                job,
                plane,
                row,
                type(plain)(*(field[points] for field in plain)),
                row_samples,
            )


def _plain_shared(engine: Engine, plane: Plane, anchor: int):
    actor = engine.agent.actor_params
    actors = tuple(actor(s) for s in plane.states)
    near = actor(plane.sources[anchor].agent_state)
    return ((actors, near), jnp.zeros((), jnp.float32))


def _sample_shared(job: GridJob, engine: Engine, plane: Plane, anchor: int):
    scale = jnp.asarray(job.scale, jnp.float32)
    noise = job.perturbation.episode_noise_std(job.scale)
    return (
        (plane.states, plane.sources[anchor], scale),
        jnp.asarray(noise, jnp.float32),
    )


def padded_samples(samples: int) -> int:
    """Samples computed per point: whole groups of ``GROUP``; extras are dropped.

    Sample ``j``'s key does not depend on how many are drawn, so the first
    ``samples`` of them are the checkpoint PURD's ``samples`` samples.
    """
    return math.ceil(samples / GROUP) * GROUP


def slab_size(grid: int, samples: int, rows: int | None = None) -> tuple[int, int]:
    """Grid rows per slab, and the batch the sampled stage's chunk is sized for.

    ``grid`` points per row, ``rows`` rows (default ``grid``; a line has ``points``
    rows of one point).

    A slab is as many whole rows as fit ``MAX_CHUNK`` episodes (at least one), so
    rows are written as soon as their slab is done; a row bigger than ``MAX_CHUNK``
    is cut into equal pieces, so no chunk is mostly padding. Both depend on the
    surface's shape alone: a resumed job reuses the compiled programs.
    """
    per_row = grid * max(padded_samples(samples), 1)
    rows = max(1, min(grid if rows is None else rows, MAX_CHUNK // per_row))
    pieces = math.ceil(rows * per_row / MAX_CHUNK)
    return rows, math.ceil(rows * per_row / pieces)


def _plain_plan(job, engine, plane, total: int, bar):
    stages = surface_stages(engine)
    weights = plane.weights(0)
    rows = (weights, jnp.stack([plane.plain_keys[0]] * weights.shape[0]))
    return compiled_plan(
        engine,
        "surface_plain",
        (stages.plain, engine.plain_stage),
        _plain_shared(engine, plane, 0),
        rows,
        total,
        job.cfg.chunk,
        bar,
    )


def _sample_plan(job, engine, plane, total: int, bar):
    stages = surface_stages(engine)
    cfg = job.cfg
    padded = padded_samples(cfg.samples)
    rows = (np.repeat(plane.weights(0)[:1], padded, axis=0), plane.sample_keys[0])
    return compiled_plan(
        engine,
        "surface_samples",
        (stages.perturbed, engine.sample_stage),
        _sample_shared(job, engine, plane, 0),
        rows,
        total,
        cfg.chunk,
        bar,
    )


def _take(keys: list[jax.Array], nearest: np.ndarray) -> jax.Array:
    return jnp.stack(keys)[nearest]


def _tile_keys(keys: list[jax.Array], nearest: np.ndarray) -> jax.Array:
    """Point-major sample keys: point ``p``'s samples are its anchor's keys."""
    stacked = jnp.stack(keys)  # (anchors, samples, ...)
    return stacked[nearest].reshape(-1, *stacked.shape[2:])


def _write_row(job: GridJob, plane: Plane, row: int, plain, samples) -> None:
    cfg = job.cfg
    arrays = {
        # a line's block stores its own point's x; a plane's row the whole axis
        "x": plane.x[row : row + 1] if job.shape.axes == 1 else plane.x,
        "y": plane.y,
        "plain_return": plain.undiscounted_return,
        "plain_discounted_return": plain.discounted_return,
        "plain_length": plain.length,
    }
    shape = (cfg.samples, job.shape.cols)
    for name in ("undiscounted_return", "discounted_return", "length"):
        if samples is None:
            dtype = np.int32 if name == "length" else np.float32
            arrays[name] = np.zeros(shape, dtype)
        else:
            # rows are point-major: (grid, samples) -> (samples, grid)
            arrays[name] = getattr(samples, name).reshape(job.shape.cols, -1).T
    size = {job.shape.size_name: job.shape.rows}
    attrs = result_attrs(
        job,
        job.shape.command,
        perturbation=job.perturb_name,
        scale=job.scale,
        scale_source=job.scale_source,
        anchors=[list(a) for a in job.anchors],
        **size,
        span=float(cfg.span) if job.kind == DIRECTIONS_PLANE else None,
        row=row,
        **{**plane.described, **job.settings},
    )
    path = store.row_path(job.folder, row)
    write_result(path, arrays, attrs, grid_summary(job.shape.size_name))


def grid_summary(size_name: str) -> Summary:
    """A row block's wandb row: its plane, perturbation, anchors, size and row, the
    range of its plain returns and its lowest PURD mean."""
    identity = ("plane", "perturbation", "scale", "anchors", size_name, "row")
    return Summary(identity, plain_and_purd_range)
