"""The two directions of a plane (or line) through one checkpoint, by kind.

* ``random``: two Gaussian directions normalized as ``normalization`` says (Li et
  al., 2018), the second one orthogonalized to the first if asked;
* ``update``: ``x`` is the run's own update at the checkpoint: the mean, over the
  checkpoint PURD's first ``update_batches`` samples, of the actor step the
  perturbation (``td3``, ``sac``, ``ppo``, ...) takes at ``scale`` (the run's
  learning rate by default), normalized; ``y`` a random direction orthogonalized to
  it. ``update_step_x`` is where one mean update lands on the ``x`` axis;
* ``pca``: the first two principal components of the seed's checkpoints' actor
  parameters, centred on the plane's checkpoint; unit vectors, with the fraction of
  variance each explains and every checkpoint's place in the plane (the trajectory);
* ``file``: read from ``directions_file`` (``direction_files.py``).

Directions live in actor-parameter space; ``as_agent_states`` turns them into
agent-state trees that are zero everywhere but the actor.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes import rundir
from return_landscapes.conf import (
    BiasDirection,
    DirectionKind,
    Normalization,
    is_atari,
)
from return_landscapes.direction_files import read_directions
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.grid.vectors import (
    normalize,
    orthogonalize,
    pca_directions,
    random_direction,
    tree_dot,
)
from return_landscapes.landscape.hotpath.engine import checkpoint_source, engine_program
from return_landscapes.landscape.hotpath.keys import direction_key, sample_keys
from return_landscapes.landscape.job import make_engine
from return_landscapes.landscape.perturb import one_sample
from return_landscapes.pipeline import GROUP


class PlaneDirections(NamedTuple):
    """Two directions (actor-shaped trees), how they were made, extra arrays."""

    x: Any
    y: Any
    attrs: dict[str, Any]
    arrays: dict[str, np.ndarray]


def kind_of(cfg) -> str:
    """The ``directions`` option's value."""
    return DirectionKind(cfg.directions).value


def check_directions(cfg, job, anchor: tuple[int, int]) -> None:
    """One-line errors for direction options that cannot work, before any compute."""
    kind = kind_of(cfg)
    if cfg.update_batches < 1:
        raise LandscapeError(f"update_batches={cfg.update_batches} must be 1 or more")
    if kind == "file" and not cfg.directions_file:
        raise LandscapeError(
            "directions=file needs directions_file=<path> (a surface's directions.h5 "
            "or a file in the documented format)"
        )
    if kind != "file" and cfg.directions_file:
        raise LandscapeError(
            f"directions_file= is given but directions={kind}: pass directions=file "
            "to use it"
        )
    if kind == "file" and not Path(cfg.directions_file).is_file():
        raise LandscapeError(
            f"directions_file={cfg.directions_file} does not exist: give the path of "
            "a surface's directions.h5 or of a file you wrote"
        )
    if kind == "file":
        check_file(job, anchor)
    if kind == "update":
        check_update(job)
    if kind == "pca":
        steps = rundir.completed_checkpoints(job.run_dir)
        if len(steps) < 3:
            raise LandscapeError(
                f"directions=pca needs at least 3 checkpoints of a seed, {job.run_dir} "
                f"has {len(steps)}: use directions=random or update"
            )


def check_file(job, anchor: tuple[int, int]) -> None:
    """A directions file must hold every actor leaf in its shape (one line)."""
    engine = make_engine(job)
    source = checkpoint_source(engine.parts, job.run_cfg, job.run_dir, *anchor, None)
    actor = engine.agent.actor_params(source.agent_state)
    read_directions(Path(job.cfg.directions_file), template=actor)


def check_update(job) -> None:
    """``update`` needs a jitted update perturbation."""
    perturbation = job.perturbation
    if not perturbation.learning_rate:
        raise LandscapeError(
            f"directions=update takes the step of an update, and perturb="
            f"{perturbation.name} is not one: pass perturb=td3, sac or ppo (the "
            "run's algorithm) or drop perturb="
        )
    if is_atari(job.run_cfg.env):
        raise LandscapeError(
            "directions=update is not available on Atari (its ppo update is a host "
            "rollout): use directions=random, pca or file"
        )


def direction_settings(cfg, job) -> dict[str, Any]:
    """What a stored row records of its directions and a re-run must match."""
    kind = kind_of(cfg)
    settings: dict[str, Any] = {"directions": kind}
    if kind in ("random", "update"):
        settings["normalization"] = Normalization(cfg.normalization).value
        settings["bias"] = BiasDirection(cfg.bias).value
    if kind == "random":
        settings["orthogonalize"] = bool(cfg.orthogonalize)
    if kind == "update":
        settings["update_batches"] = cfg.update_batches
        settings["update_perturbation"] = job.perturbation.name
        settings["update_scale"] = job.scale_at(job_anchor(job)[1])
    if kind == "file":
        digest = hashlib.sha256(Path(cfg.directions_file).read_bytes()).hexdigest()
        settings["directions_sha256"] = digest
    if kind == "pca":
        settings["pca_checkpoints"] = rundir.completed_checkpoints(job.run_dir)
    return settings


def job_anchor(job) -> tuple[int, int]:
    """The ``(seed, checkpoint)`` a one-checkpoint plane or line goes through."""
    return job.anchors[0]


def make_directions(job, engine, source) -> PlaneDirections:
    """The two directions of ``job``'s plane through ``source`` (its checkpoint)."""
    cfg = job.cfg
    kind = kind_of(cfg)
    seed, step = job_anchor(job)
    actor = engine.agent.actor_params(source.agent_state)
    key = direction_key(cfg.sample_seed, seed, step)
    base = {"kind": kind, "seed": seed, "checkpoint": step,
            "sample_seed": cfg.sample_seed}  # fmt: skip
    norm = Normalization(cfg.normalization).value
    bias = BiasDirection(cfg.bias).value
    if kind == "random":
        x, y = (random_direction(jax.random.fold_in(key, i), actor, norm, bias)
                for i in range(2))  # fmt: skip
        if cfg.orthogonalize:
            y = orthogonalize(x, y, actor, norm, bias)
        attrs = {"normalization": norm, "bias": bias,
                 "orthogonalize": bool(cfg.orthogonalize)}  # fmt: skip
        return PlaneDirections(x, y, {**base, **attrs}, {})
    if kind == "update":
        return _update_directions(job, engine, source, actor, key, base)
    if kind == "pca":
        return _pca_directions(job, engine, base)
    return _file_directions(cfg, actor, base)


def _update_directions(job, engine, source, actor, key, base) -> PlaneDirections:
    cfg = job.cfg
    seed, step = job_anchor(job)
    norm = Normalization(cfg.normalization).value
    bias = BiasDirection(cfg.bias).value
    scale = job.scale_at(step)
    keys = job.perturbation.key_rows(
        sample_keys(cfg.sample_seed, seed, step, cfg.update_batches)
    )
    step_tree = mean_update(update_steps(engine), source, scale, keys, actor)
    moved = normalize(step_tree, actor, "none", bias)  # the step on moving leaves
    if tree_dot(moved, moved) == 0:
        raise LandscapeError(
            f"the mean {job.perturbation.name} update at seed {seed} checkpoint "
            f"{step} is zero on every leaf that moves: directions=update has no "
            "direction here (a larger scale= or bias=normalized may give one)"
        )
    x = normalize(step_tree, actor, norm, bias)
    y = orthogonalize(
        x, random_direction(jax.random.fold_in(key, 1), actor, norm, bias),
        actor, norm, bias,
    )  # fmt: skip
    attrs = {
        "normalization": norm,
        "bias": bias,
        "orthogonalize": True,
        "perturbation": job.perturbation.name,
        "scale": float(scale),
        "update_batches": cfg.update_batches,
        "update_step_x": float(tree_dot(moved, x) / tree_dot(x, x)),
        "update_step_norm": float(np.sqrt(tree_dot(moved, moved))),
    }
    return PlaneDirections(x, y, {**base, **attrs}, {})


def update_steps(engine):
    """``steps(source, scale, keys)``: the actor step of the engine's perturbation
    for each of ``keys``, jitted once per engine (and freed with it)."""
    return engine_program(engine, "update steps", lambda: _update_steps(engine))


def _update_steps(engine):
    agent, perturbation = engine.agent, engine.perturbation

    @jax.jit
    def steps(source, scale, keys):
        actor = agent.actor_params(source.agent_state)
        params = jax.vmap(
            lambda k: one_sample(perturbation, agent, source, scale, k)[0]
        )(keys)
        return jax.tree.map(lambda p, a: p - a[None], params, actor)

    return steps


def mean_update(steps, source, scale, keys, template):
    """The mean over ``keys`` of the actor steps ``steps`` (``update_steps``) takes
    from ``source`` (each key as sample ``j`` of a PURD draws it), summed in float64
    over groups of ``GROUP`` keys, cast to ``template``'s dtypes."""
    total = None
    scale = jnp.asarray(scale, jnp.float32)
    for start in range(0, keys.shape[0], GROUP):
        group = keys[start : start + GROUP]
        count = len(group)
        group = jnp.concatenate([group, group[:1].repeat(GROUP - count, 0)])
        part = jax.tree.map(
            lambda s, n=count: np.asarray(s, np.float64)[:n].sum(0),
            steps(source, scale, group),
        )
        total = part if total is None else jax.tree.map(np.add, total, part)
    return jax.tree.map(
        lambda t, a: (t / keys.shape[0]).astype(np.asarray(a).dtype), total, template
    )


def _pca_directions(job, engine, base) -> PlaneDirections:
    seed, step = job_anchor(job)
    steps = rundir.completed_checkpoints(job.run_dir)
    actors = [
        engine.agent.actor_params(
            checkpoint_source(engine.parts, job.run_cfg, job.run_dir, seed, s, None)
            .agent_state
        )
        for s in steps
    ]  # fmt: skip
    x, y, explained, trajectory = pca_directions(actors, steps.index(step))
    attrs = {"normalization": "none", "bias": "normalized", "orthogonalize": True,
             "explained_variance": explained}  # fmt: skip
    arrays = {"trajectory": trajectory, "trajectory_steps": np.asarray(steps)}
    return PlaneDirections(x, y, {**base, **attrs}, arrays)


def _file_directions(cfg, actor, base) -> PlaneDirections:
    path = Path(cfg.directions_file)
    read = read_directions(path, template=actor)
    attrs = {
        "normalization": str(read.attrs.get("normalization", "")) or "unknown",
        "bias": str(read.attrs.get("bias", "")) or "unknown",
        "orthogonalize": bool(read.attrs.get("orthogonalize", False)),
        "source": str(path.resolve()),
        "source_kind": str(read.attrs.get("kind", "")),
    }
    return PlaneDirections(read.x, read.y, {**base, **attrs}, dict(read.arrays))


def as_agent_states(agent, agent_state, directions: PlaneDirections) -> tuple:
    """``(x, y)`` as agent-state trees: zero on every leaf outside the actor."""
    zero = jax.tree.map(jnp.zeros_like, agent_state)
    return tuple(
        agent.with_actor_params(zero, jax.tree.map(jnp.asarray, d))
        for d in (directions.x, directions.y)
    )
