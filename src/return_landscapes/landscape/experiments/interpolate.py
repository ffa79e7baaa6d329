"""``landscape interpolate``: returns along straight paths between two checkpoints.

The policy at ``a`` is ``theta(a) = a * theta1 + (1 - a) * theta2`` for ``points``
values of ``a`` from 0 to 1. At each point the plain return of ``theta(a)`` is
recorded and, with ``samples > 0``, a PURD of ``theta(a)``: every sample perturbed by
a registered perturbation and evaluated for one episode through the hot path
(``evaluation.py``), exactly as ``landscape purd`` does at a checkpoint.

What is interpolated: every floating-point leaf of the agent's state (actor, critics,
target networks, Adam moments, observation-normalizer statistics), so a perturbation
that reads more than the actor (the ``td3`` update reads the critic and Adam's
moments) sees a consistent state. What cannot be mixed comes from the nearer endpoint
(``theta1`` for ``a >= 0.5``): integer leaves such as Adam's step count, the replay
buffer, the parallel envs' states. At ``a = 1`` and ``a = 0`` the mixture is
bit-for-bit the endpoint itself (``1 * x + 0 * y == x``).

Randomness: sample ``j`` of a pair uses the same key at every point (common random
numbers along the path), so differences between points are not sampling noise in the
perturbation draws. One file per pair in the first endpoint's run
(``store/interpolation.py``), arrays ``(num_samples, num_points)``; finished pairs
are skipped on a re-run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.conf import (
    Algo,
    InterpolateConfig,
    PairKind,
    as_plain_dict,
    resolve,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.checks import (
    check_perturbation_off_checkpoints,
    check_reads_finite,
    chosen_checkpoints,
    chosen_seeds,
    is_finished,
    open_run,
)
from return_landscapes.landscape.hotpath.engine import (
    Engine,
    checkpoint_source,
    compiled_plan,
    engine_program,
    run_by_group,
)
from return_landscapes.landscape.hotpath.keys import pair_key, tagged_keys
from return_landscapes.landscape.hotpath.mixing import mix
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
from return_landscapes.landscape.perturb import CheckpointSource, one_sample
from return_landscapes.landscape.summary import Summary, plain_and_purd_range
from return_landscapes.pipeline import group_map
from return_landscapes.store import interpolation as path_store
from return_landscapes.store.interpolation import Endpoint
from return_landscapes.tracking import require_wandb, tracking
from return_landscapes.training.state import init_state
from return_landscapes.training.trainers import get_parts


def _path_headline(arrays) -> dict[str, float]:
    plain = np.asarray(arrays["plain_return"])  # alpha from 0 (second) to 1
    return {
        **plain_and_purd_range(arrays),
        "plain_at_first": float(plain[-1]),
        "plain_at_second": float(plain[0]),
    }


PATH_SUMMARY = Summary(
    ("pair_kind", "perturbation", "scale", "seed1", "checkpoint1", "seed2",
     "checkpoint2"),
    _path_headline,
)  # fmt: skip
"""A path's wandb row: its endpoints, its plain returns' range and ends, its
lowest PURD mean."""


def interpolate(config: InterpolateConfig | dict | None = None, **overrides) -> Path:
    """Compute and store interpolation paths between checkpoints.

    Args:
      config: an ``InterpolateConfig`` (or a mapping of its keys).
      **overrides: its keys, e.g. ``run="runs/h", pairs="cross_seed", points=21``.

    Returns:
      The folder holding this perturbation and scale's paths.

    Raises:
      LandscapeError: bad input; nothing stored is changed.
    """
    cfg = resolve(InterpolateConfig, config, **overrides)
    require_wandb(cfg)
    job = plan_interpolation(cfg)
    out = path_store.interpolation_dir(job.run_dir, job.perturb_name, job.scale)
    what = (
        "plain returns"
        if job.perturb_name is None
        else (f"PURDs of {cfg.samples} {job.perturb_name} samples at {scale_text(job)}")
    )
    kind = PairKind(cfg.pairs).value
    announce(
        f"interpolate {len(job.pairs)} pair(s) ({kind}), {cfg.points} points, "
        f"{what}: writing {out}",
        len(job.pairs) - len(job.todo),
        "pair(s)",
    )
    if not job.todo:
        return out
    engine = make_engine(job)
    loader = EndpointLoader(job)
    per_pair = cfg.points * (1 + cfg.samples)
    bar = progress_bar(per_pair * len(job.todo), cfg.progress, "interpolate", "episode")
    with bar, tracking(cfg, job.run_dir, "interpolate", as_plain_dict(cfg)):
        for pair in job.todo:
            bar.set_postfix_str(path_store.pair_name(*pair.ends))
            _compute_pair(job, engine, loader, pair, bar)
    return out


# ------------------------------------------------------------------------ the job


class Pair(NamedTuple):
    """Two endpoints and how they relate (``same_seed``, ``cross_seed``, ...)."""

    first: Endpoint  # theta1, at a = 1
    second: Endpoint  # theta2, at a = 0
    kind: str

    @property
    def ends(self) -> tuple[Endpoint, Endpoint]:
        return self.first, self.second


@dataclasses.dataclass
class InterpolateJob(LandscapeJob):
    """A checked interpolation request: the pairs, and those still to compute."""

    other_dir: Path
    other_cfg: Any
    perturb_name: str | None  # None: plain returns only (samples=0)
    pairs: list[Pair]
    todo: list[Pair]


def plan_interpolation(cfg: InterpolateConfig) -> InterpolateJob:
    """Check the request against the run(s); list the pairs still to compute."""
    base = open_job(cfg, cfg.perturb)
    run_dir, run_cfg = base.run_dir, base.run_cfg
    other_dir, other_cfg = run_dir, run_cfg
    if cfg.other_run:
        other_dir, other_cfg = open_run(cfg.other_run, "other_run")
        check_compatible(run_dir, run_cfg, other_dir, other_cfg)
    if cfg.points < 2:
        raise LandscapeError(
            f"points={cfg.points} must be at least 2 (the two endpoints)"
        )
    if cfg.samples < 0:
        raise LandscapeError(f"samples={cfg.samples} must be 0 (plain returns) or more")
    if cfg.samples:
        check_perturbation_off_checkpoints(base.perturbation, run_cfg)
    pairs = choose_pairs(cfg, run_dir, run_cfg, other_dir, other_cfg)
    job = InterpolateJob(
        **base.base(),
        other_dir=other_dir,
        other_cfg=other_cfg,
        perturb_name=base.perturbation.name if cfg.samples else None,
        pairs=pairs,
        todo=[],
    )
    for pair in pairs:
        path = path_store.interpolation_path(*pair.ends, job.perturb_name, job.scale)
        if not is_finished(path, _settings(job), cfg.overwrite):
            job.todo.append(pair)
    reads = [(e.run_dir, e.checkpoint, e.seed) for p in job.todo for e in p.ends]
    needs_replay = job.perturb_name is not None and job.perturbation.needs_replay
    check_reads_finite(reads, needs_replay)
    return job


def check_compatible(run_dir, run_cfg, other_dir, other_cfg) -> None:
    """Refuse to join runs whose policies do not live in the same parameter space."""
    differences = []
    if other_cfg.env != run_cfg.env:
        differences.append(f"env {other_cfg.env} vs {run_cfg.env}")
    if Algo(other_cfg.algo) is not Algo(run_cfg.algo):
        differences.append(
            f"algo {Algo(other_cfg.algo).value} vs {Algo(run_cfg.algo).value}"
        )
    if not differences:
        shapes = [_agent_shapes(c) for c in (other_cfg, run_cfg)]
        if shapes[0] != shapes[1]:
            differences.append("network sizes (hidden_sizes) differ")
    if differences:
        raise LandscapeError(
            f"other_run {other_dir} cannot be joined with {run_dir}: "
            f"{'; '.join(differences)}; interpolation needs the same env, algorithm "
            "and network sizes"
        )


def _agent_shapes(run_cfg):
    one_seed = dataclasses.replace(run_cfg, seeds=1)
    parts = get_parts(one_seed)
    shapes = jax.eval_shape(lambda: init_state(parts, one_seed))
    return jax.tree.map(lambda s: (s.shape, str(s.dtype)), shapes.agent)


def choose_pairs(cfg, run_dir, run_cfg, other_dir, other_cfg) -> list[Pair]:
    """The endpoint pairs a request names (see ``InterpolateConfig``)."""
    cross_run = other_dir.resolve() != run_dir.resolve()
    if cfg.between is not None:
        return [_given_pair(cfg.between, run_dir, run_cfg, other_dir, other_cfg)]
    steps = chosen_checkpoints(cfg.checkpoints, run_dir)
    other_steps = chosen_checkpoints(cfg.checkpoints, other_dir) if cross_run else steps
    seeds = chosen_seeds(cfg.seeds, run_cfg.seeds)
    pair_kind = PairKind(cfg.pairs)
    shift = 1 if pair_kind is PairKind.cross_seed else 0
    kind = "cross_run" if cross_run else pair_kind.value
    pairs = []
    for seed in seeds:
        partner = seed + shift
        if partner >= other_cfg.seeds:
            continue
        for c1 in steps:
            for c2 in other_steps:
                if _joins(c1, c2, cross_run, shift, cfg.include_equal_steps):
                    pairs.append(
                        Pair(
                            Endpoint(run_dir, seed, c1),
                            Endpoint(other_dir, partner, c2),
                            kind,
                        )
                    )
    if not pairs:
        raise LandscapeError(_no_pairs_message(cfg, steps, seeds, other_cfg.seeds))
    return pairs


def _joins(c1: int, c2: int, cross_run: bool, shift: int, equal: bool) -> bool:
    """Whether checkpoint ``c1`` of a seed is joined with ``c2`` of its partner.

    Same seed: the earlier checkpoint first (a path and its reverse are one path).
    Seed ``s`` with ``s + 1``: every ordered pair of different steps, as the paper's
    code, and equal steps too with ``include_equal_steps``. Another run: ``c1 <=
    c2``.
    """
    if cross_run:
        return c1 <= c2
    if shift:
        return c1 != c2 or equal
    return c1 < c2


def _no_pairs_message(cfg, steps, seeds, other_seeds) -> str:
    if PairKind(cfg.pairs) is PairKind.cross_seed:
        return (
            f"pairs=cross_seed joins seed s with seed s+1, but seeds {seeds} have no "
            f"partner below {other_seeds}: choose seeds with a next one, or "
            "pairs=same_seed"
        )
    return (
        f"pairs=same_seed needs two checkpoints, the run offers {steps}: choose at "
        "least two, or pairs=cross_seed"
    )


def _given_pair(between, run_dir, run_cfg, other_dir, other_cfg) -> Pair:
    if len(between) != 4:
        raise LandscapeError(
            f"between={list(between)} must be [seed1,checkpoint1,seed2,checkpoint2]"
        )
    seed1, step1, seed2, step2 = between
    chosen_seeds([seed1], run_cfg.seeds)
    chosen_seeds([seed2], other_cfg.seeds)
    chosen_checkpoints([step1], run_dir)
    chosen_checkpoints([step2], other_dir)
    first, second = Endpoint(run_dir, seed1, step1), Endpoint(other_dir, seed2, step2)
    if path_store.pair_name(first, second) == path_store.pair_name(first, first):
        raise LandscapeError(
            f"between={list(between)} joins a checkpoint with itself: choose two "
            "different checkpoints or seeds"
        )
    return Pair(first, second, "given")


def _settings(job: InterpolateJob) -> dict[str, Any]:
    """The settings a stored path must match to count as finished."""
    return {
        "points": job.cfg.points,
        **common_settings(job, perturbed=job.perturb_name is not None),
    }


# ----------------------------------------------------------------------- the path


def mix_states(state1, state2, nearer, a):
    """``a * state1 + (1 - a) * state2`` per leaf; integer leaves from ``nearer``."""
    return mix((state1, state2), nearer, (a, 1 - a))


class PathStages(NamedTuple):
    """Jitted stages building the parameter sets along a path."""

    plain: Any  # ((state1, state2, nearer), (alphas, keys)) -> (params, keys)
    perturbed: Any  # ((state1, state2, near source, scale), (alphas, keys)) -> ...


def path_stages(engine: Engine) -> PathStages:
    """The path stages of an engine's agent and perturbation (built once)."""
    return engine_program(engine, "path stages", lambda: _make_path_stages(engine))


def _make_path_stages(engine: Engine) -> PathStages:
    agent, perturbation = engine.agent, engine.perturbation

    def plain(shared, rows):
        state1, state2, nearer = shared
        alphas, keys = rows

        def point(a):
            return agent.actor_params(mix_states(state1, state2, nearer, a))

        return jax.vmap(point)(alphas), keys

    def sample_at(shared, a, sample_key):
        state1, state2, near, scale = shared
        source = near._replace(
            agent_state=mix_states(state1, state2, near.agent_state, a)
        )
        return one_sample(perturbation, agent, source, scale, sample_key)

    def perturbed(shared, rows):
        # Groups of 8, as for checkpoint PURDs: per-sample numbers must not depend
        # on how many samples share a call.
        return group_map(lambda a, k: sample_at(shared, a, k), *rows)

    return PathStages(jax.jit(plain), jax.jit(perturbed))


def path_alphas(points: int) -> np.ndarray:
    """``points`` values of ``a`` from 0 to 1, both included exactly (float32)."""
    return np.linspace(0.0, 1.0, points).astype(np.float32)


class EndpointLoader:
    """Restores endpoints' checkpoint sources, keeping the last few in memory."""

    KEEP = 4

    def __init__(self, job: InterpolateJob):
        self.job = job
        self.sources: dict[Endpoint, CheckpointSource] = {}

    def __call__(self, end: Endpoint) -> CheckpointSource:
        if end not in self.sources:
            if len(self.sources) >= self.KEEP:
                self.sources.pop(next(iter(self.sources)))
            self.sources[end] = self._load(end)
        return self.sources[end]

    def _load(self, end: Endpoint) -> CheckpointSource:
        job = self.job
        same = end.run_dir.resolve() == job.run_dir.resolve()
        run_cfg = job.run_cfg if same else job.other_cfg
        perturbation = None if job.perturb_name is None else job.perturbation
        return checkpoint_source(
            get_parts(run_cfg),
            run_cfg,
            end.run_dir,
            end.seed,
            end.checkpoint,
            perturbation,
        )


def _compute_pair(job: InterpolateJob, engine: Engine, loader, pair: Pair, bar):
    cfg = job.cfg
    source1, source2 = loader(pair.first), loader(pair.second)
    alphas = path_alphas(cfg.points)
    base = pair_key(cfg.sample_seed, *pair.ends)
    stages = path_stages(engine)
    plain = _run_halves(
        engine,
        "path_plain",
        (stages.plain, engine.plain_stage),
        lambda near: (
            (source1.agent_state, source2.agent_state, near.agent_state),
            jnp.zeros((), jnp.float32),
        ),
        (source1, source2),
        (alphas, tagged_keys(base, 1, cfg.points)),
        cfg.chunk,
        bar,
    )
    samples = None
    if cfg.samples:
        noise = job.perturbation.episode_noise_std(job.scale)
        scale = jnp.asarray(job.scale, jnp.float32)
        keys = job.perturbation.key_rows(tagged_keys(base, 0, cfg.samples))
        rows = (
            np.repeat(alphas, cfg.samples),
            jnp.tile(keys, (cfg.points,) + (1,) * (keys.ndim - 1)),
        )
        samples = _run_halves(
            engine,
            "path_samples",
            (stages.perturbed, engine.sample_stage),
            lambda near: (
                (source1.agent_state, source2.agent_state, near, scale),
                jnp.asarray(noise, jnp.float32),
            ),
            (source1, source2),
            rows,
            cfg.chunk,
            bar,
        )
    _write_pair(job, pair, alphas, plain, samples)


def _run_halves(engine, name, stages, shared_for, sources, rows, chunk, bar):
    """Run ``rows`` (first leaf: the ``a`` of each row) in two calls by nearer end.

    Rows with ``a >= 0.5`` take what cannot be mixed from the first endpoint, the
    others from the second; the two calls share one compiled program.
    """
    alphas = np.asarray(rows[0])
    total = alphas.shape[0]
    plan = compiled_plan(
        engine, name, stages, shared_for(sources[0]), rows, total, chunk, bar
    )
    # group 0: a >= 0.5, nearer the first endpoint; group 1: the others
    groups = (alphas < 0.5).astype(np.int64)
    return run_by_group(
        plan, lambda g: shared_for(sources[g]), rows, groups, bar.update
    )


def _write_pair(job: InterpolateJob, pair: Pair, alphas, plain, samples) -> None:
    cfg = job.cfg
    arrays = {
        "alpha": alphas,
        "plain_return": plain.undiscounted_return,
        "plain_discounted_return": plain.discounted_return,
        "plain_length": plain.length,
    }
    shape = (max(cfg.samples, 0), cfg.points)
    for name in ("undiscounted_return", "discounted_return", "length"):
        if samples is None:
            dtype = np.int32 if name == "length" else np.float32
            arrays[name] = np.zeros(shape, dtype)
        else:
            # rows are point-major: (points, samples) -> (samples, points)
            arrays[name] = getattr(samples, name).reshape(cfg.points, -1).T
    attrs = result_attrs(
        job,
        "interpolation",
        pair_kind=pair.kind,
        run=str(pair.first.run_dir.resolve()),
        other_run=str(pair.second.run_dir.resolve()),
        perturbation=job.perturb_name,
        scale=job.scale,
        scale_source=job.scale_source,
        seed1=pair.first.seed,
        checkpoint1=pair.first.checkpoint,
        seed2=pair.second.seed,
        checkpoint2=pair.second.checkpoint,
        **_settings(job),
    )
    path = path_store.interpolation_path(*pair.ends, job.perturb_name, job.scale)
    write_result(path, arrays, attrs, PATH_SUMMARY)
