"""Training: N seeds of TD3 or SAC in one process, vmapped, one jitted block at a time.

The host loop only walks a fixed plan of blocks. Each block is one jitted call that
runs ``length`` env steps for every seed with ``lax.scan`` (env step, replay insert,
agent update) on a donated state; block edges fall on every checkpoint, evaluation
and the end of the random-action phase, so the plan, and therefore every number, is the
same whether a run goes in one go or resumes after a crash. With several devices the
seeds are split over them (``seed_devices.py``), each running the same program.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.agents import make_agent
from return_landscapes.conf import Algo, TrainConfig, is_atari
from return_landscapes.envs.brax import (
    EnvCarry,
    autoreset_step,
    make_env,
    reset_carry,
    run_episode,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.replay import (
    ReplayBuffer,
    replay_init,
    replay_insert,
    replay_sample_seeds,
)
from return_landscapes.seed_devices import split_seeds
from return_landscapes.tracking import require_wandb


@flax.struct.dataclass
class TrainState:
    """The full training state of one seed (stacked over seeds in practice)."""

    agent: Any
    replay: ReplayBuffer
    env: EnvCarry
    key: jax.Array


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


class Trainer(NamedTuple):
    """The jitted pieces of one training configuration."""

    env: Any
    agent: Any
    init: Any  # init(seed_keys) -> TrainState stacked over seeds
    run_block: Any  # run_block(state, block) -> (state, metrics)
    compiled_block: Any  # compiled_block(length, learning) -> jitted block function
    evaluate: Any  # evaluate(state, keys) -> EpisodeStats (num_seeds, episodes)
    replay_rows: Any  # replay_rows(state, start, end) -> rows (num_seeds, n, ...)
    # restart_envs(state, step) -> state with fresh envs seeded from (seed, step):
    # for envs whose state cannot be saved (Atari), at the start and every checkpoint.
    restart_envs: Any = None


def make_trainer(cfg: TrainConfig, env=None) -> Trainer:
    """Build the env, the agent and the jitted init / block / evaluation functions.

    ``env`` replaces the Brax env named by ``cfg`` (any object with ``reset``,
    ``step``, ``observation_size`` and ``action_size`` in Brax's form).
    """
    if is_atari(cfg.env):
        from return_landscapes.train_atari import make_atari_trainer

        return make_atari_trainer(cfg)
    if env is None:
        env = make_env(cfg.env, cfg.backend, cfg.reset_noise_scale)
    if is_on_policy(cfg):
        return make_ppo_trainer(cfg, env)
    return make_off_policy_trainer(cfg, env)


def block_runners(block_all):
    """``(compiled_block, run_block)`` for ``block_all(state, start, length, ...)``.

    One jitted function per (length, learning), compiled once and cached; the state is
    donated so its buffers are updated in place.
    """

    @functools.cache
    def compiled_block(length: int, learning: bool):
        block = functools.partial(block_all, length=length, learning=learning)
        return jax.jit(block, donate_argnums=0)

    @split_seeds
    def run_block(state: TrainState, block: Block):
        return compiled_block(block.length, block.learning)(
            state, jnp.asarray(block.start, jnp.int32)
        )

    return compiled_block, run_block


def make_evaluate(cfg: TrainConfig, env, agent):
    """``evaluate(state, keys)``: deterministic episodes, ``(num_seeds, episodes)``."""
    gamma = agent_config(cfg).gamma

    @jax.jit
    def evaluate(state: TrainState, keys: jax.Array):
        def seed_episodes(agent_state, seed_keys):
            policy = agent.policy(agent.actor_params(agent_state), True)
            return jax.vmap(lambda k: run_episode(env, policy, k, cfg.horizon, gamma))(
                seed_keys
            )

        return jax.vmap(seed_episodes)(state.agent, keys)

    return split_seeds(evaluate, 2)


def make_ppo_trainer(cfg: TrainConfig, env) -> Trainer:
    """The PPO trainer: blocks of whole iterations (rollout, GAE, epochs)."""
    from return_landscapes.agents.ppo import make_ppo

    hyper = cfg.ppo
    agent = make_ppo(hyper, env.observation_size, env.action_size, env, cfg.horizon)
    unit = step_unit(cfg)

    def init_seed(key: jax.Array) -> TrainState:
        agent_key, env_key, loop_key = jax.random.split(key, 3)
        env_keys = jax.random.split(env_key, hyper.num_envs)
        carry = jax.vmap(functools.partial(reset_carry, env))(env_keys)
        return TrainState(agent.init(agent_key), None, carry, loop_key)

    def iteration_seed(state: TrainState):
        key, rollout_key, update_key = jax.random.split(state.key, 3)
        carry, data, episodes = agent.rollout(state.agent, state.env, rollout_key)
        agent_state, metrics = agent.update(state.agent, data, update_key)
        return state.replace(agent=agent_state, env=carry, key=key), {
            **metrics,
            **episodes,
        }

    def block_all(state: TrainState, start: jax.Array, length: int, learning: bool):
        del start, learning

        def body(state, _):
            return jax.vmap(iteration_seed)(state)

        state, metrics = jax.lax.scan(body, state, None, length // unit)
        episodes = metrics.pop("episodes").sum(axis=0)
        returns = metrics.pop("episode_return_sum").sum(axis=0)
        summary = {name: value.mean(axis=0) for name, value in metrics.items()}
        summary["episodes"] = episodes
        summary["episode_return"] = jnp.where(
            episodes > 0, returns / jnp.maximum(episodes, 1), jnp.nan
        )
        return state, summary

    compiled_block, run_block = block_runners(block_all)

    init = split_seeds(jax.jit(jax.vmap(init_seed)))
    evaluate = make_evaluate(cfg, env, agent)
    return Trainer(env, agent, init, run_block, compiled_block, evaluate, None)


def make_off_policy_trainer(cfg: TrainConfig, env) -> Trainer:
    """The TD3 / SAC trainer: blocks of env steps, one update per step."""
    agent = make_agent(cfg, env.observation_size, env.action_size)
    hyper = agent_config(cfg)

    def init_seed(key: jax.Array) -> TrainState:
        agent_key, env_key, loop_key = jax.random.split(key, 3)
        return TrainState(
            agent=agent.init(agent_key),
            replay=replay_init(
                hyper.replay_capacity, env.observation_size, env.action_size
            ),
            env=reset_carry(env, env_key),
            key=loop_key,
        )

    def act_and_step(state: TrainState, learning: bool):
        """One seed: choose an action, step its env; keys for the update after."""
        key, action_key, reset_key, sample_key, update_key = jax.random.split(
            state.key, 5
        )
        if learning:
            action = agent.act(state.agent, state.env.state.obs, action_key)
        else:
            action = jax.random.uniform(
                action_key, (env.action_size,), minval=-1.0, maxval=1.0
            )
        env_carry, out = autoreset_step(env, state.env, action, reset_key, cfg.horizon)
        return state.replace(env=env_carry, key=key), out, (sample_key, update_key)

    def update_seed(agent_state, batch, update_key, step: jax.Array):
        """One seed: one agent update on its minibatch."""
        return agent.update(
            agent_state, batch, update_key, step - hyper.random_start_steps
        )

    def block_all(state: TrainState, start: jax.Array, length: int, learning: bool):
        """``length`` steps of every seed; the state has a leading seed axis."""

        def body(state: TrainState, step: jax.Array):
            state, out, keys = jax.vmap(
                functools.partial(act_and_step, learning=learning)
            )(state)
            # Outside vmap: the row index is shared, so the write stays in place.
            replay = replay_insert(state.replay, out.transition, step)
            metrics = {}
            if learning:
                batch = replay_sample_seeds(replay, keys[0], hyper.batch_size)
                agent_state, metrics = jax.vmap(update_seed, in_axes=(0, 0, 0, None))(
                    state.agent, batch, keys[1], step
                )
                state = state.replace(agent=agent_state)
            metrics["episodes"] = out.finished.astype(jnp.float32)
            metrics["episode_return"] = jnp.where(
                out.finished, out.finished_return, 0.0
            )
            return state.replace(replay=replay), metrics

        state, metrics = jax.lax.scan(body, state, start + jnp.arange(length))
        return state, jax.vmap(summarize_block, in_axes=1)(metrics)

    compiled_block, run_block = block_runners(block_all)

    evaluate = make_evaluate(cfg, env, agent)

    @functools.partial(jax.jit, static_argnums=2)
    def gather_rows(state: TrainState, start: jax.Array, count: int):
        positions = (start + jnp.arange(count)) % hyper.replay_capacity
        return jax.tree.map(lambda rows: rows[:, positions], state.replay.data)

    def replay_rows(state: TrainState, start: int, end: int):
        return gather_rows(state, jnp.asarray(start, jnp.int32), end - start)

    init = split_seeds(jax.jit(jax.vmap(init_seed)))
    return Trainer(env, agent, init, run_block, compiled_block, evaluate, replay_rows)


# Settings that change how a run is watched or stored, not what it computes.
NON_IDENTITY_KEYS = (
    "resume",
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


_TRAINERS: dict[str, Trainer] = {}


def get_trainer(cfg: TrainConfig) -> Trainer:
    """``make_trainer(cfg)``, reused across calls with the same run identity.

    Reuse keeps XLA's compiled blocks, so a second run of a config in one process
    (a resume, a sweep over output directories) starts without compiling again.
    """
    import json

    key = json.dumps(run_identity(cfg), sort_keys=True)
    if key not in _TRAINERS:
        _TRAINERS[key] = make_trainer(cfg)
    return _TRAINERS[key]


def summarize_block(metrics: dict) -> dict:
    """Per-seed block summary: mean losses, and finished episodes and their mean."""
    episodes = metrics.pop("episodes").sum()
    returns = metrics.pop("episode_return").sum()
    summary = {name: value.mean() for name, value in metrics.items()}
    summary["episodes"] = episodes
    summary["episode_return"] = jnp.where(
        episodes > 0, returns / jnp.maximum(episodes, 1), jnp.nan
    )
    return summary


def init_state(trainer: Trainer, cfg: TrainConfig) -> TrainState:
    """Initial state of seeds ``0 .. cfg.seeds - 1``, stacked."""
    keys = jnp.stack([seed_key(cfg.seed, i) for i in range(cfg.seeds)])
    return trainer.init(keys)


def evaluation_keys(cfg: TrainConfig, step: int) -> jax.Array:
    """Keys ``(num_seeds, eval_episodes)`` for the evaluation at ``step``.

    Derived from the seed and step alone, so evaluating never changes training.
    """

    def seed_keys(i: int) -> jax.Array:
        key = jax.random.fold_in(jax.random.fold_in(seed_key(cfg.seed, i), 1), step)
        return jax.random.split(key, cfg.eval_episodes)

    return jnp.stack([seed_keys(i) for i in range(cfg.seeds)])


def validate(cfg: TrainConfig) -> None:
    """Check sizes and schedules; raise a one-line ``LandscapeError`` if wrong."""
    require_wandb(cfg)
    check_env_fits_algo(cfg)
    hyper = agent_config(cfg)
    name = "atari" if is_atari(cfg.env) else Algo(cfg.algo).value
    positive = {
        "seeds": cfg.seeds,
        "steps": cfg.steps,
        "block": cfg.block,
        "horizon": cfg.horizon,
        "eval_interval": cfg.eval_interval,
    }
    if is_on_policy(cfg):
        positive.update(
            {
                f"{name}.num_envs": hyper.num_envs,
                f"{name}.unroll_length": hyper.unroll_length,
                f"{name}.num_minibatches": hyper.num_minibatches,
                f"{name}.epochs": hyper.epochs,
            }
        )
    else:
        positive.update(
            {
                f"{name}.batch_size": hyper.batch_size,
                f"{name}.replay_capacity": hyper.replay_capacity,
            }
        )
    for key, value in positive.items():
        if value <= 0:
            raise LandscapeError(f"{key}={value} must be at least 1")
    if cfg.eval_episodes < 0:
        raise LandscapeError(
            f"eval_episodes={cfg.eval_episodes} is negative: use 0 to turn "
            "evaluation off, or more"
        )
    if cfg.checkpoints is not None and cfg.num_checkpoints is not None:
        raise LandscapeError(
            "checkpoints and num_checkpoints are both set: give the list of steps or "
            "the count of evenly spaced checkpoints, not both"
        )
    if cfg.num_checkpoints is not None and cfg.num_checkpoints <= 0:
        raise LandscapeError(
            f"num_checkpoints={cfg.num_checkpoints} must be at least 1 (or unset)"
        )
    for step in cfg.checkpoints or []:
        if not 0 < step <= cfg.steps:
            raise LandscapeError(
                f"checkpoint step {step} is outside the budget steps={cfg.steps}: "
                "use steps between 1 and the budget, or raise steps"
            )
    if is_on_policy(cfg):
        batch = hyper.num_envs * hyper.unroll_length
        if batch % hyper.num_minibatches:
            raise LandscapeError(
                f"{name}.num_envs x {name}.unroll_length = {batch} does not split "
                f"into {name}.num_minibatches={hyper.num_minibatches}: choose a "
                "divisor"
            )
        return
    _validate_replay(cfg, hyper)


def check_env_fits_algo(cfg: TrainConfig) -> None:
    """Atari games train with PPO only; unknown games are named with the choices."""
    if not is_atari(cfg.env):
        return
    from return_landscapes.envs.atari import task_id

    task_id(cfg.env)
    if Algo(cfg.algo) is not Algo.ppo:
        raise LandscapeError(
            f"algo={Algo(cfg.algo).value} does not apply to {cfg.env} (discrete "
            "actions): use algo=ppo, the one algorithm for Atari games"
        )


def _validate_replay(cfg: TrainConfig, hyper) -> None:
    if hyper.random_start_steps < 0:
        raise LandscapeError("random_start_steps must be 0 or more")
    steps = [0, *checkpoint_steps(cfg)]
    widest = max(b - a for a, b in itertools.pairwise(steps))
    if widest > hyper.replay_capacity:
        raise LandscapeError(
            f"checkpoints lie up to {widest} steps apart but the replay buffer holds "
            f"{hyper.replay_capacity}: add checkpoints or raise replay_capacity"
        )


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
    from return_landscapes.checkpoint import load_checkpoint

    shapes = jax.eval_shape(lambda: init_state(trainer, cfg))
    return load_checkpoint(run_dir, step, without_replay_rows(shapes))


def restore_replay_rows(
    trainer: Trainer, cfg: TrainConfig, run_dir, step: int, seeds=None
):
    """The replay rows at ``step`` of the given seeds (all by default), numpy."""
    from return_landscapes.checkpoint import load_replay_rows

    shapes = jax.eval_shape(lambda: init_state(trainer, cfg))
    row_template = jax.tree.map(
        lambda t: jax.ShapeDtypeStruct((t.shape[0], 0, *t.shape[2:]), t.dtype),
        shapes.replay.data,
    )
    capacity = agent_config(cfg).replay_capacity
    return load_replay_rows(run_dir, step, row_template, capacity, seeds)
