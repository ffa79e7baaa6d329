"""The training state, the trainer interface, and restoring a state from a run.

``restore_*`` rebuild a checkpoint's exact state from the run directory, with the
structure of the trainer's own initial state (``jax.eval_shape`` of ``init``: no
computation, no compile).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.conf import TrainConfig
from return_landscapes.replay import ReplayBuffer
from return_landscapes.rundir import load_checkpoint, load_replay_rows
from return_landscapes.training.schedule import Block, agent_config, seed_key
from return_landscapes.types import EnvCarry, EpisodeStats


@flax.struct.dataclass
class TrainState:
    """The full training state of one seed (stacked over seeds in practice)."""

    agent: Any
    replay: ReplayBuffer
    env: EnvCarry
    key: jax.Array


class TrainingParts(NamedTuple):
    """What restoring and evaluating a run needs of a trainer, without its blocks.

    ``init(seed_keys)`` builds the initial state stacked over seeds; restoring a
    checkpoint takes its structure (``jax.eval_shape``: nothing is computed).
    """

    env: Any
    agent: Any
    init: Any


class Trainer(NamedTuple):
    """The jitted pieces of one training configuration.

    Attributes:
      env: the env (Brax, or the Atari or MuJoCo spec).
      agent: the agent's pure functions (``agents/protocols.py``).
      init: ``init(seed_keys) -> TrainState`` stacked over seeds.
      run_block: ``run_block(state, block) -> (state, metrics)``.
      compiled_block: ``compiled_block(length, learning)`` -> the jitted block
        function (``None`` for host-loop trainers).
      evaluate: ``evaluate(state, keys) -> EpisodeStats`` of shape
        ``(num_seeds, episodes)``.
      replay_rows: ``replay_rows(state, start, end)`` -> rows ``(num_seeds, n, ...)``
        written in ``[start, end)``; ``None`` without a replay buffer.
      restart_envs: ``restart_envs(state, step) -> state`` with fresh envs seeded
        from (seed, step), for envs whose state cannot be saved (Atari), at the
        start and every checkpoint; ``None`` otherwise.
      seeded_envs: ``seeded_envs(state, env_seeds) -> state`` with fresh envs, one
        per seed of ``state`` with these env seeds (host envs of off-policy
        agents; rejection continues training on them); ``None`` otherwise.
    """

    env: Any
    agent: Any
    init: Callable[[jax.Array], TrainState]
    run_block: Callable[[TrainState, Block], tuple[TrainState, dict]]
    compiled_block: Callable[[int, bool], Callable] | None
    evaluate: Callable[[TrainState, jax.Array], EpisodeStats]
    replay_rows: Callable[[TrainState, int, int], Any] | None
    restart_envs: Callable[[TrainState, int], TrainState] | None = None
    seeded_envs: Callable[[TrainState, list[int]], TrainState] | None = None


def init_state(trainer: Trainer, cfg: TrainConfig) -> TrainState:
    """Initial state of seeds ``0 .. cfg.seeds - 1``, stacked."""
    keys = jnp.stack([seed_key(cfg.seed, i) for i in range(cfg.seeds)])
    return trainer.init(keys)


def host(tree) -> Any:
    """Copy a pytree of device arrays to numpy."""
    return jax.tree.map(np.asarray, jax.device_get(tree))


def without_replay_rows(state: TrainState) -> TrainState:
    """The state with the replay rows dropped (they are saved separately)."""
    if state.replay is None:
        return state
    return state.replace(replay=state.replay.replace(data=None))


def restore_state(trainer: Trainer, cfg: TrainConfig, run_dir, step: int) -> TrainState:
    """The exact training state of every seed at checkpoint ``step`` of ``run_dir``."""
    state = restore_without_replay_rows(trainer, cfg, run_dir, step)
    if state.replay is not None:
        data = restore_replay_rows(trainer, cfg, run_dir, step)
        state = state.replace(replay=state.replay.replace(data=data))
    return jax.tree.map(jnp.asarray, state)


def restore_without_replay_rows(
    trainer: Trainer, cfg: TrainConfig, run_dir, step: int
) -> TrainState:
    """The state of every seed at ``step`` (numpy), replay rows left out (``None``)."""
    shapes = jax.eval_shape(lambda: init_state(trainer, cfg))
    return load_checkpoint(run_dir, step, without_replay_rows(shapes))


def restore_replay_rows(
    trainer: Trainer, cfg: TrainConfig, run_dir, step: int, seeds=None
):
    """The replay rows at ``step`` of the given seeds (all by default), numpy."""
    shapes = jax.eval_shape(lambda: init_state(trainer, cfg))
    row_template = jax.tree.map(
        lambda t: jax.ShapeDtypeStruct((t.shape[0], 0, *t.shape[2:]), t.dtype),
        shapes.replay.data,
    )
    capacity = agent_config(cfg).replay_capacity
    return load_replay_rows(run_dir, step, row_template, capacity, seeds)
