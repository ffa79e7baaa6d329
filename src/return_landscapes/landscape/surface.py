"""``landscape surface``: returns on a 2-D grid in a plane of parameter space.

Every grid point ``(i, j)`` is the agent ``w0 * P + x[i] * Q + y[j] * R``:

* the **plane of two directions** through a checkpoint ``theta``: ``P = theta``,
  ``Q``, ``R`` two directions (``directions=``: random ones normalized filter-wise as
  Li et al., 2018, the run's own update, the PCA of the seed's checkpoints, or a
  file's; ``landscape/plane_directions.py``), ``w0 = 1``, ``x, y`` in
  ``[-span, span]``; ``grid`` is odd so the centre is ``x = y = 0`` exactly and the
  centre point is ``theta`` bit for bit;
* the **plane through three checkpoints**: ``P, Q, R = theta1, theta2, theta3``,
  ``w0 = 1 - x - y``, ``x, y`` in ``[0, 1]``: the checkpoints are the corners
  ``(0, 0)``, ``(1, 0)``, ``(0, 1)``, again bit for bit (``1 * a + 0 * b == a``).

Only the actor moves in a plane of directions (the directions are zero on every other
leaf of the agent state); in the three-checkpoint plane every floating-point leaf is
mixed, as ``landscape interpolate`` does, so a ``td3`` update at a grid point sees a
consistent critic and Adam state. What cannot be mixed (integer leaves, replay
buffer, env states) comes from the point's nearest anchor, the one with the largest
weight.

At every point the plain return and, with ``samples > 0``, a PURD: ``samples``
perturbations under a registered perturbation, one episode each. Every point goes
through the one hot path (``evaluation.py``) in chunks. Randomness: a point
uses the keys of its nearest anchor's ``landscape purd`` (the unperturbed episode's
key and the ``samples`` sample keys of ``purd sample_seed=...``), so points share
their draws (common random numbers) and the centre of a random plane reproduces the
checkpoint's PURD.

Storage: one block per grid row ``x[i]`` (``store.py``), written as soon as its
points are done, so a killed job resumes at the first missing row; the two
directions beside them (``directions.h5``). ``landscape line`` (``line.py``) is the
same machinery on a ``points x 1`` grid: ``x`` along the first direction, ``y = 0``.
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

from return_landscapes import store
from return_landscapes.conf import SurfaceConfig, as_plain_dict, resolve
from return_landscapes.direction_files import (
    DIRECTIONS_FILE,
    read_directions,
    write_directions,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.checks import (
    check_perturbation_fits,
    check_perturbation_off_checkpoints,
    chosen_checkpoints,
    chosen_seeds,
    is_finished,
)
from return_landscapes.landscape.directions import filter_normalized_direction
from return_landscapes.landscape.engine import (
    Engine,
    checkpoint_source,
    compiled_plan,
    run_by_group,
)
from return_landscapes.landscape.flat import flat_reason, is_noise
from return_landscapes.landscape.job import (
    LandscapeJob,
    announce,
    common_settings,
    make_engine,
    open_job,
    progress_bar,
    result_attrs,
    scale_text,
    write_result,
)
from return_landscapes.landscape.keys import plain_key, sample_keys
from return_landscapes.landscape.mixing import mix
from return_landscapes.landscape.perturb import (
    CheckpointSource,
    Perturbation,
    one_sample,
)
from return_landscapes.landscape.plane_directions import (
    PlaneDirections,
    as_agent_states,
    check_directions,
    check_update,
    direction_settings,
    kind_of,
    make_directions,
)
from return_landscapes.pipeline import GROUP, MAX_CHUNK
from return_landscapes.tracking import require_wandb, tracking

logger = logging.getLogger(__name__)

DIRECTIONS_PLANE = "directions"  # through one checkpoint, along two directions
OLD_RANDOM_PLANE = "random_directions"  # the same, stored before directions=
CHECKPOINT_PLANE = "three_checkpoints"
ANCHORS_AT = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))  # a three-checkpoint plane's


def surface(config: SurfaceConfig | dict | None = None, **overrides) -> Path:
    """Compute and store a 2-D return surface.

    Args:
      config: a ``SurfaceConfig`` (or a mapping of its keys).
      **overrides: its keys, e.g. ``run="runs/h", checkpoint=150000, grid=21``.

    Returns:
      The folder holding the surface's row blocks (read it with ``load_surface``).

    Raises:
      LandscapeError: bad input; nothing stored is changed.
    """
    cfg = resolve(SurfaceConfig, config, **overrides)
    require_wandb(cfg)
    job = plan_surface(cfg)
    announce(
        f"surface {cfg.grid}x{cfg.grid} through {_describe(job)}, {computed(job)}: "
        f"writing {job.folder}",
        cfg.grid - len(job.todo),
        "row(s)",
    )
    if job.todo:
        run_job(job)
        warn_if_flat(job)
    return job.folder


def computed(job: SurfaceJob) -> str:
    """What every point gets: plain returns, or PURDs of how many samples."""
    if job.perturb_name is None:
        return "plain returns"
    return f"PURDs of {job.cfg.samples} {job.perturb_name} samples at {scale_text(job)}"


def run_job(job: SurfaceJob) -> None:
    """Build the plane, store its directions, compute and write the rows to do."""
    cfg = job.cfg
    engine = make_engine(job)
    plane = load_plane(job, engine)
    per_row = job.cols * (1 + padded_samples(cfg.samples))
    bar = progress_bar(per_row * len(job.todo), cfg.progress, job.command, "episode")
    with bar, tracking(cfg, job.run_dir, job.command, as_plain_dict(cfg)):
        compute_rows(job, engine, plane, bar)


def warn_if_flat(job: SurfaceJob) -> None:
    """One warning line per anchor whose policy falls early, and one when every
    return of the surface is the same up to float noise."""
    result = store.read_surface(job.folder)
    positions = [(0.0, 0.0)] if job.kind == DIRECTIONS_PLANE else ANCHORS_AT
    lengths = result.arrays["plain_length"]
    for (seed, step), (x, y) in zip(job.anchors, positions, strict=False):
        i, j = np.abs(result.x - x).argmin(), np.abs(result.y - y).argmin()
        reason = flat_reason(float(lengths[i, j]), job.horizon)
        if reason:
            logger.warning(
                "warning: seed %d at checkpoint %d: %s; choose a checkpoint whose "
                "episode lasts",
                seed,
                step,
                reason,
            )
    if is_noise(result.plain_return):
        logger.warning(
            "warning: every plain return of the surface equals %.6g up to float "
            "noise: it is flat",
            float(np.mean(result.plain_return)),
        )


# ------------------------------------------------------------------------ the job


@dataclasses.dataclass
class SurfaceJob(LandscapeJob):
    """A checked surface request: the plane, where it goes, the rows still to do."""

    perturb_name: str | None  # None: plain returns only (samples=0)
    kind: str  # DIRECTIONS_PLANE or CHECKPOINT_PLANE
    anchors: list[tuple[int, int]]  # (seed, checkpoint): 1 or 3
    folder: Path
    todo: list[int]  # row indices still to compute
    command: str = "surface"  # or "line": points along x, one column
    rows: int = 0  # points along x (grid for a surface)
    cols: int = 0  # points along y (grid; 1 for a line)
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)


def plan_surface(cfg: SurfaceConfig) -> SurfaceJob:
    """Check the request against the run; list the rows still to compute."""
    base = open_job(cfg, cfg.perturb, check_fits=False)
    if cfg.samples < 0:
        raise LandscapeError(f"samples={cfg.samples} must be 0 (plain returns) or more")
    kind, anchors = _anchors(cfg, base.run_dir, base.run_cfg)
    _check_grid(cfg, kind)
    if kind == CHECKPOINT_PLANE and kind_of(cfg) != "random":
        raise LandscapeError(
            f"directions={kind_of(cfg)} and through= both given: a plane through "
            "three checkpoints has no directions to choose; drop one of them"
        )
    perturb_name = check_perturbed(base, cfg)
    folder = store.surface_dir(
        base.run_dir,
        anchors,
        cfg.grid,
        cfg.span,
        perturb_name,
        base.scale,
        kind_of(cfg),
    )
    job = SurfaceJob(
        **base.base(),
        perturb_name=perturb_name,
        kind=kind,
        anchors=anchors,
        folder=folder,
        todo=[],
        rows=cfg.grid,
        cols=cfg.grid,
    )
    if kind == DIRECTIONS_PLANE:
        check_directions(cfg, job, anchors[0])
    return list_todo(job)


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


def list_todo(job: SurfaceJob) -> SurfaceJob:
    """Fill ``job.settings`` and ``job.todo`` (the rows not stored yet with the
    same settings; one stored with other settings is an error)."""
    job.settings = _settings(job)
    for row in range(job.rows):
        path = store.surface_row_path(job.folder, row)
        if not is_finished(path, job.settings, job.cfg.overwrite):
            job.todo.append(row)
    return job


def _anchors(cfg: SurfaceConfig, run_dir, run_cfg) -> tuple[str, list]:
    if cfg.through is None:
        return DIRECTIONS_PLANE, [one_anchor(cfg, run_dir, run_cfg, "plane")]
    if cfg.checkpoint is not None:
        raise LandscapeError(
            "checkpoint= and through= both given: pass checkpoint= (random plane "
            "through one checkpoint) or through= (plane through three), not both"
        )
    if len(cfg.through) != 6:
        raise LandscapeError(
            f"through={list(cfg.through)} must be [seed1,checkpoint1,seed2,"
            "checkpoint2,seed3,checkpoint3]"
        )
    anchors = [(cfg.through[i], cfg.through[i + 1]) for i in (0, 2, 4)]
    for seed, step in anchors:
        chosen_seeds([seed], run_cfg.seeds)
        chosen_checkpoints([step], run_dir)
    if len(set(anchors)) < 3:
        raise LandscapeError(
            f"through={list(cfg.through)} repeats a checkpoint: a plane needs three "
            "different (seed, checkpoint) pairs"
        )
    return CHECKPOINT_PLANE, anchors


def one_anchor(cfg, run_dir, run_cfg, what: str) -> tuple[int, int]:
    """The ``(seed, checkpoint)`` a plane or line of directions goes through:
    ``checkpoint`` (for ``pca`` by default the last), checked."""
    checkpoint = cfg.checkpoint
    if checkpoint is None and kind_of(cfg) == "pca":
        checkpoint = chosen_checkpoints(None, run_dir)[-1]
    if checkpoint is None:
        steps = chosen_checkpoints(None, run_dir)
        through = (
            ", or pass through=[seed1,checkpoint1,seed2,checkpoint2,seed3,checkpoint3]"
            if what == "plane"
            else ""
        )
        raise LandscapeError(
            f"checkpoint= is required: the {what} goes through one checkpoint (the "
            f"run has {', '.join(map(str, steps))}){through}"
        )
    chosen_checkpoints([checkpoint], run_dir)
    chosen_seeds([cfg.seed_index], run_cfg.seeds)
    return cfg.seed_index, checkpoint


def _check_grid(cfg: SurfaceConfig, kind: str) -> None:
    if kind == DIRECTIONS_PLANE:
        check_odd(cfg.grid, "grid", cfg.span)
    elif cfg.grid < 2:
        raise LandscapeError(
            f"grid={cfg.grid} must be at least 2 for a plane through three checkpoints"
        )


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


def _describe(job: SurfaceJob) -> str:
    names = [f"seed {s} checkpoint {c}" for s, c in job.anchors]
    if job.kind == DIRECTIONS_PLANE:
        return f"{names[0]} ({kind_of(job.cfg)} directions, span {job.cfg.span})"
    return ", ".join(names)


def _settings(job: SurfaceJob) -> dict[str, Any]:
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


def load_plane(job: SurfaceJob, engine: Engine) -> Plane:
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
    x = y = coordinates(job.kind, job.rows, cfg.span)
    if job.command == "line":
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


def plane_directions_of(job: SurfaceJob, engine: Engine, source):
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


def warn_if_trajectory_leaves(job: SurfaceJob, trajectory) -> None:
    """A warning line when the PCA trajectory reaches beyond the plane's span."""
    if trajectory is None or not len(trajectory):
        return
    axes = 1 if job.command == "line" else 2
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


class SurfaceStages(NamedTuple):
    """Jitted stages building the parameter sets of grid points."""

    plain: Any  # ((P, Q, R) actors, nearer actor), (weights, keys) -> (params, keys)
    perturbed: Any  # ((P, Q, R), near source, scale), (weights, keys) -> ...


_STAGES: dict[int, SurfaceStages] = {}


def surface_stages(engine: Engine) -> SurfaceStages:
    """The surface stages of an engine's agent and perturbation (built once)."""
    if id(engine) not in _STAGES:
        _STAGES[id(engine)] = make_surface_stages(engine.agent, engine.perturbation)
    return _STAGES[id(engine)]


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
        source = near._replace(
            agent_state=mix_plane(states, near.agent_state, weights[0])
        )
        return jax.vmap(
            lambda key: one_sample(perturbation, agent, source, scale, key)
        )(keys)

    def perturbed(shared, rows):
        groups = jax.tree.map(lambda x: x.reshape(-1, GROUP, *x.shape[1:]), rows)
        out = jax.lax.map(lambda group: one_group(shared, *group), groups)
        return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), out)

    return SurfaceStages(jax.jit(plain), jax.jit(perturbed))


# ---------------------------------------------------------------------- computing


def compute_rows(job: SurfaceJob, engine: Engine, plane: Plane, bar) -> None:
    """Compute the rows still to do, a slab of rows per batch, writing each row."""
    cfg = job.cfg
    padded = padded_samples(cfg.samples)
    rows_per_slab, batch = slab_size(job.cols, cfg.samples, job.rows)
    plain_plan = _plain_plan(job, engine, plane, rows_per_slab * job.cols, bar)
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
            points = slice(index * job.cols, (index + 1) * job.cols)
            row_samples = None
            if samples is not None:
                # (points x padded) -> each point's first ``samples`` draws
                row_samples = type(samples)(
                    *(
                        field[points.start * padded : points.stop * padded]
                        .reshape(job.cols, padded)[:, : cfg.samples]
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


def _sample_shared(job: SurfaceJob, engine: Engine, plane: Plane, anchor: int):
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


def _write_row(job: SurfaceJob, plane: Plane, row: int, plain, samples) -> None:
    cfg = job.cfg
    arrays = {
        "x": plane.x[row : row + 1] if job.command == "line" else plane.x,
        "y": plane.y,
        "plain_return": plain.undiscounted_return,
        "plain_discounted_return": plain.discounted_return,
        "plain_length": plain.length,
    }
    shape = (cfg.samples, job.cols)
    for name in ("undiscounted_return", "discounted_return", "length"):
        if samples is None:
            dtype = np.int32 if name == "length" else np.float32
            arrays[name] = np.zeros(shape, dtype)
        else:
            # rows are point-major: (grid, samples) -> (samples, grid)
            arrays[name] = getattr(samples, name).reshape(job.cols, -1).T
    size = {"points": job.rows} if job.command == "line" else {"grid": job.rows}
    attrs = result_attrs(
        job,
        job.command,
        perturbation=job.perturb_name,
        scale=job.scale,
        scale_source=job.scale_source,
        anchors=[list(a) for a in job.anchors],
        **size,
        span=float(cfg.span) if job.kind == DIRECTIONS_PLANE else None,
        row=row,
        **{**plane.described, **job.settings},
    )
    path = store.surface_row_path(job.folder, row)
    write_result(path, arrays, attrs)
