"""The schedule of a training run: units, checkpoints, evaluations, blocks, keys.

Pure functions of the ``TrainConfig`` (and, for keys, of the seed and step), shared by
the Brax and Atari trainers, the host loop and rejection, which continues training.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from return_landscapes.conf import Algo, TrainConfig, is_atari


class Block(NamedTuple):
    """``length`` env steps starting at ``start``; ``learning`` after random steps."""

    start: int
    length: int
    learning: bool


def agent_config(cfg: TrainConfig):
    """The hyper-parameter node of the configured algorithm (``atari`` on Atari)."""
    if is_atari(cfg.env):
        return cfg.atari
    return {Algo.td3: cfg.td3, Algo.sac: cfg.sac, Algo.ppo: cfg.ppo}[Algo(cfg.algo)]


def is_on_policy(cfg: TrainConfig) -> bool:
    return Algo(cfg.algo) is Algo.ppo


def step_unit(cfg: TrainConfig) -> int:
    """Env steps that cannot be split: one PPO iteration, or one off-policy step."""
    if is_on_policy(cfg):
        hyper = agent_config(cfg)
        return hyper.num_envs * hyper.unroll_length
    return 1


def _round_up(step: int, unit: int) -> int:
    return -(-step // unit) * unit


def total_steps(cfg: TrainConfig) -> int:
    """``cfg.steps`` rounded up to whole units (PPO iterations)."""
    return _round_up(cfg.steps, step_unit(cfg))


def learning_rate_at(cfg: TrainConfig, step: int) -> float:
    """The learning rate the run trains its policy with at env step ``step``.

    TD3 and SAC: the actor's learning rate; PPO on Brax: its constant rate; PPO on
    Atari: the rate of the iteration that starts at ``step`` (annealed linearly to 0
    over the run when ``anneal_lr``), the number the trainer uses.
    """
    hyper = agent_config(cfg)
    if not is_on_policy(cfg):
        return float(hyper.actor_lr)
    rate = float(hyper.learning_rate)
    if is_atari(cfg.env) and hyper.anneal_lr:
        unit = step_unit(cfg)
        rate *= 1.0 - (step // unit) / (total_steps(cfg) // unit)
    return rate


def checkpoint_steps(cfg: TrainConfig) -> list[int]:
    """The run's checkpoint steps, ascending; the final step is always among them.

    ``cfg.checkpoints`` if given, else ``cfg.num_checkpoints`` evenly spaced, else the
    paper's schedule (50k, 150k, ..., 950k of 1M) scaled to ``cfg.steps``. For PPO
    every step is rounded up to a whole iteration.
    """
    if cfg.checkpoints is not None:
        scheduled = list(cfg.checkpoints)
    elif cfg.num_checkpoints:
        count = cfg.num_checkpoints
        scheduled = [round(cfg.steps * k / count) for k in range(1, count + 1)]
    else:
        scheduled = [round(cfg.steps * (2 * k + 1) / 20) for k in range(10)]
    unit = step_unit(cfg)
    rounded = {_round_up(s, unit) for s in scheduled if s > 0}
    return sorted(rounded | {total_steps(cfg)})


def evaluation_steps(cfg: TrainConfig) -> list[int]:
    """Steps at which every seed is evaluated: 0, each interval, and the end."""
    if cfg.eval_episodes == 0:
        return []
    unit, end = step_unit(cfg), total_steps(cfg)
    steps = {_round_up(s, unit) for s in range(0, end, cfg.eval_interval)}
    return sorted(steps | {end})


def plan_blocks(cfg: TrainConfig) -> list[Block]:
    """Cut ``[0, steps)`` into blocks of at most ``cfg.block`` steps (whole units).

    Every checkpoint, evaluation step and the end of the random phase is a block edge.
    """
    unit, end = step_unit(cfg), total_steps(cfg)
    learning_starts = 0 if is_on_policy(cfg) else agent_config(cfg).random_start_steps
    edges = {0, end, *checkpoint_steps(cfg), *evaluation_steps(cfg)}
    if learning_starts < end:
        edges.add(learning_starts)
    edges = sorted(edges)
    block = max(unit, cfg.block // unit * unit)
    blocks = []
    for start, stop in itertools.pairwise(edges):
        for block_start in range(start, stop, block):
            length = min(block, stop - block_start)
            blocks.append(Block(block_start, length, block_start >= learning_starts))
    return blocks


def seed_key(base_seed: int, seed_index: int) -> jax.Array:
    """The root key of one seed; independent of how many seeds run beside it."""
    return jax.random.fold_in(jax.random.PRNGKey(base_seed), seed_index)


def evaluation_keys(cfg: TrainConfig, step: int) -> jax.Array:
    """Keys ``(num_seeds, eval_episodes)`` for the evaluation at ``step``.

    Derived from the seed and step alone, so evaluating never changes training.
    """

    def seed_keys(i: int) -> jax.Array:
        key = jax.random.fold_in(jax.random.fold_in(seed_key(cfg.seed, i), 1), step)
        return jax.random.split(key, cfg.eval_episodes)

    return jnp.stack([seed_keys(i) for i in range(cfg.seeds)])


# Settings that change how a run is watched or stored, not what it computes.
NON_IDENTITY_KEYS = (
    "resume",
    "allow_version_change",
    "progress",
    "out",
    "wandb",
    "wandb_project",
    "wandb_entity",
)


def run_identity(cfg: TrainConfig) -> dict:
    """The settings that determine a run's numbers (all but ``NON_IDENTITY_KEYS``)."""
    from return_landscapes.conf import as_plain_dict

    plain = as_plain_dict(cfg)
    return {k: v for k, v in plain.items() if k not in NON_IDENTITY_KEYS}
