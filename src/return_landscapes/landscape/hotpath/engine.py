"""The engine of the landscape commands: a run's agent and the jitted stages.

PURD, interpolation, surfaces and rejection restore agents of a trained run and send
batches of parameter sets through the one evaluation hot path (``evaluation.py``
through ``pipeline.py``). ``Engine`` / ``get_engine`` hold the agent, the
perturbation stage and the two episode stages (perturbed samples, plain policies) of
one run x perturbation x episode setup, compiled once per process and shape; the
agent and the restore template come from the run's ``TrainingParts``, not from a
whole trainer. ``checkpoint_source`` / ``seed_source`` restore what a perturbation
reads; ``run_by_group`` runs rows that share different states through one program.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.caches import compiled_cache
from return_landscapes.conf import TrainConfig, is_atari, is_host_env
from return_landscapes.evaluation import EvaluationSetup, make_episode_stage
from return_landscapes.landscape.checks import EpisodeOptions, check_finite
from return_landscapes.landscape.perturb import (
    CheckpointSource,
    Perturbation,
    make_perturb_stage,
)
from return_landscapes.pipeline import plan_chunks, run_chunks
from return_landscapes.replay import ReplayBuffer
from return_landscapes.training.families import family_of
from return_landscapes.training.schedule import run_identity
from return_landscapes.training.state import (
    Trainer,
    TrainingParts,
    restore_replay_rows,
    restore_without_replay_rows,
)
from return_landscapes.training.trainers import get_parts, get_trainer

# ------------------------------------------------------------------- the engine


class Engine(NamedTuple):
    """The agent and the jitted stages of one run x perturbation x episode setup."""

    run_cfg: TrainConfig
    parts: TrainingParts  # env, agent and init (the restore template) of the run
    perturbation: Perturbation
    perturb_stage: Any  # (source, scale), sample keys -> (params, episode keys)
    sample_stage: Any  # evaluation of perturbed samples
    plain_stage: Any  # evaluation of unperturbed policies (no noise of any kind)
    programs: dict  # this engine's own compiled programs: stages, chunk plans

    @property
    def agent(self):
        """The run's agent (pure functions)."""
        return self.parts.agent

    @property
    def trainer(self) -> Trainer:
        """The run's whole trainer, built on first use (rejection trains on)."""
        return get_trainer(self.run_cfg)


_ENGINES: dict[str, Engine] = compiled_cache("landscape engines")


def get_engine(
    run_cfg,
    perturbation: Perturbation,
    horizon: int,
    gamma: float,
    start_noise: float | None = None,
    options: EpisodeOptions | None = None,
) -> Engine:
    """Build (or reuse, within this process) the jitted stages of one setup.

    ``start_noise`` is the start-state noise of perturbed samples, a multiple of the
    run's training start-state noise (``init_state``); ``None`` otherwise.
    """
    options = options or EpisodeOptions()
    if start_noise is not None:  # only an episode effect that moves starts has one
        start_noise = perturbation.episode.start_noise(start_noise)
    key = json.dumps(
        [
            run_identity(run_cfg),
            perturbation.name,
            horizon,
            gamma,
            start_noise,
            options,
        ],
        sort_keys=True,
    )
    if key not in _ENGINES:
        _ENGINES[key] = _make_engine(
            run_cfg, perturbation, horizon, gamma, start_noise, options
        )
    return _ENGINES[key]


def evaluation_env(run_cfg, start_noise: float | None = None):
    """The env of evaluation episodes: a fixed start state unless ``start_noise``,
    a multiple of the run's training start-state noise (1: the same noise); the
    run's env family builds it."""
    return family_of(run_cfg.env).evaluation_env(run_cfg, start_noise)


def policy_apply(agent):
    """``policy_apply(params, observation)`` of the agent's deterministic policy."""
    return lambda params, observation: agent.policy(params, True)(observation, None)


def _make_engine(
    run_cfg, perturbation, horizon, gamma, start_noise, options: EpisodeOptions
) -> Engine:
    parts = get_parts(run_cfg)
    apply = policy_apply(parts.agent)
    plain = EvaluationSetup(
        evaluation_env(run_cfg),
        apply,
        horizon,
        gamma,
        policy_factory=parts.agent.policy,
        sampled_actions=options.sampled_actions,
        per_sample_env_seeds=options.per_sample_env_seeds,
        # the paper's Atari score comes with the paper's Atari update (ppo_original)
        original_scoring=is_atari(run_cfg.env) and perturbation.reproduces_original,
    )
    sample = perturbation.episode.evaluation(
        plain, lambda: evaluation_env(run_cfg, start_noise)
    )
    perturb_stage = host_perturb_stage(run_cfg, perturbation, parts.agent, plain.env)
    if perturb_stage is None:
        perturb_stage = make_perturb_stage(perturbation, parts.agent)
    return Engine(
        run_cfg,
        parts,
        perturbation,
        perturb_stage,
        *episode_stages(sample, plain),
        {},
    )


def host_perturb_stage(run_cfg, perturbation: Perturbation, agent, episode_env):
    """The host stage of a perturbation that steps host envs for its experience
    (``ppo`` on Atari games, MuJoCo tasks and Gymnasium envs); ``None`` for the
    jitted kinds."""
    if not (perturbation.needs_env_states and is_host_env(run_cfg.env)):
        return None
    original = perturbation.reproduces_original
    if is_atari(run_cfg.env):
        from return_landscapes.landscape.perturb.atari import AtariPPOPerturbation

        return AtariPPOPerturbation(episode_env, agent, original=original)
    from return_landscapes.landscape.perturb.host_ppo import HostPPOPerturbation
    from return_landscapes.training.mujoco import training_env

    return HostPPOPerturbation(
        training_env(run_cfg),
        agent,
        run_cfg.ppo.num_envs,
        run_cfg.horizon,
        original,
    )


def episode_stages(sample: EvaluationSetup, plain: EvaluationSetup) -> tuple:
    """The episode stages of perturbed samples and of plain policies: one stage
    when a perturbation leaves the episode as it is (its programs then compile
    once for both)."""
    plain_stage = make_episode_stage(plain)
    return (plain_stage if sample is plain else make_episode_stage(sample)), plain_stage


def engine_program(engine: Engine, name, build: Callable[[], Any]):
    """The engine's own program ``name`` (a jitted stage, a chunk plan), built once
    by ``build()``. It lives on the engine, so it is freed with the engine when
    ``caches.drop_compiled_programs()`` forgets it."""
    if name not in engine.programs:
        engine.programs[name] = build()
    return engine.programs[name]


def compiled_plan(engine: Engine, name, stages, shared, rows, total, chunk, bar=None):
    """``plan_chunks`` for these stages, compiled once per (name, total, chunk)."""

    def build():
        if bar is not None:
            bar.set_postfix_str("compiling", refresh=True)
        return plan_chunks(stages, shared, rows, total, chunk)

    return engine_program(engine, ("plan", name, total, chunk), build)


def sample_shared(engine: Engine, source: CheckpointSource, scale: float):
    """The per-call arguments of the perturb-then-evaluate pipeline."""
    noise = jnp.asarray(engine.perturbation.episode_noise_std(scale), jnp.float32)
    return ((source, jnp.asarray(scale, jnp.float32)), noise)


def perturbed_returns(
    engine: Engine,
    source: CheckpointSource,
    scale: float,
    keys: jax.Array,
    chunk: int | None = None,
    bar=None,
):
    """Perturb ``source`` once per key and run one episode each: numpy ``(K,)``."""
    keys = engine.perturbation.key_rows(keys)
    shared = sample_shared(engine, source, scale)
    stages = (engine.perturb_stage, engine.sample_stage)
    total = keys.shape[0]
    plan = compiled_plan(engine, "samples", stages, shared, keys, total, chunk, bar)
    on_chunk = bar.update if bar is not None else None
    return run_chunks(plan, shared, keys, on_chunk=on_chunk)


def plain_returns(engine: Engine, params, keys: jax.Array, chunk: int | None = None):
    """One noise-free episode per parameter set (leading axis ``K``): numpy ``(K,)``."""
    zero = jnp.zeros((), jnp.float32)
    rows = (params, keys)
    total = keys.shape[0]
    plan = compiled_plan(
        engine, "plain", (engine.plain_stage,), (zero,), rows, total, chunk
    )
    return run_chunks(plan, (zero,), rows)


def run_by_group(plan, shared_for, rows, groups: np.ndarray, on_chunk=None):
    """Run ``rows`` through ``plan``, one call per group, merged back in row order.

    Rows of a group share their ``shared`` argument (``shared_for(group)``): points
    of a path or a surface that take what cannot be mixed from different
    checkpoints. The calls share one compiled program; a row's numbers do not depend
    on which rows share its call.
    """
    total = groups.shape[0]
    parts = []
    for group in np.unique(groups):
        mask = groups == group
        part = jax.tree.map(lambda x, m=mask: np.asarray(x)[m], rows)
        parts.append((mask, run_chunks(plan, shared_for(int(group)), part, on_chunk)))
    merged = []
    for field in range(len(parts[0][1])):
        values = np.empty(total, parts[0][1][field].dtype)
        for mask, stats in parts:
            values[mask] = stats[field]
        merged.append(values)
    return type(parts[0][1])(*merged)


def checkpoint_source(
    parts: TrainingParts,
    run_cfg,
    run_dir: Path,
    seed: int,
    step: int,
    perturbation: Perturbation | None,
) -> CheckpointSource:
    """One seed's checkpoint as a ``CheckpointSource``, its actor checked finite.

    ``perturbation`` says what the source must hold (replay rows, env states);
    ``None`` for plain returns only.
    """
    state = restore_without_replay_rows(parts, run_cfg, run_dir, step)
    agent_state = jax.tree.map(lambda x: x[seed], state.agent)
    params = parts.agent.actor_params(agent_state)
    check_finite(jax.tree.map(lambda x: x[None], params), run_dir, step, [seed])
    rows = None
    if perturbation is None:
        perturbation = Perturbation("plain", "", None)
    elif perturbation.needs_replay:
        rows = restore_replay_rows(parts, run_cfg, run_dir, step, [seed])
    agent_state = jax.tree.map(jnp.asarray, agent_state)
    return seed_source(perturbation, agent_state, state, rows, 0, seed)


def seed_source(
    perturbation: Perturbation, agent_state, state, rows, index: int, seed: int
) -> CheckpointSource:
    """One seed's ``CheckpointSource`` from a restored (numpy) training state.

    Args:
      perturbation: what the source must hold (replay rows, env states).
      agent_state: the seed's agent state (no seed axis).
      state: the restored training state of every seed (replay rows left out).
      rows: replay rows of the chosen seeds, or ``None`` if not needed.
      index: the seed's position in ``rows``.
      seed: the seed's index in the run.
    """
    source = CheckpointSource(agent_state)
    if perturbation.needs_env_states:
        source = source._replace(
            env=jax.tree.map(lambda x: jnp.asarray(x[seed]), state.env)
        )
    if perturbation.needs_replay:
        source = source._replace(
            replay=ReplayBuffer(
                jax.tree.map(lambda x: jnp.asarray(x[index]), rows),
                jnp.asarray(state.replay.position[seed]),
                jnp.asarray(state.replay.size[seed]),
            )
        )
    return source
