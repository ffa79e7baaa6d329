"""Brax trainers: N seeds of TD3, SAC or PPO in one process, vmapped, one jitted block
at a time.

The host loop only walks a fixed plan of blocks. Each block is one jitted call that
runs ``length`` env steps for every seed with ``lax.scan`` (env step, replay insert,
agent update) on a donated state; block edges fall on every checkpoint, evaluation
and the end of the random-action phase, so the plan, and therefore every number, is the
same whether a run goes in one go or resumes after a crash. With several devices the
seeds are split over them (``seed_devices.py``), each running the same program.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from return_landscapes.agents import make_agent
from return_landscapes.conf import Autoreset, TrainConfig
from return_landscapes.envs.brax import autoreset_step, reset_carry, run_episode
from return_landscapes.replay import replay_init, replay_insert, replay_sample_seeds
from return_landscapes.seed_devices import split_seeds
from return_landscapes.training.acting import with_rollout
from return_landscapes.training.schedule import Block, agent_config, step_unit
from return_landscapes.training.state import Trainer, TrainingParts, TrainState


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


def seed_by_seed(init_seed):
    """``init_seed`` over a batch of seed keys, one seed after another (jitted).

    Not vmapped: orthogonal init factors each kernel with LAPACK's QR, whose batched
    kernel waits on XLA's intra-op thread pool; two of them running at once on a
    2-core CPU then wait on each other forever (jaxlib 0.10.2, 256x256 kernels).
    """
    return jax.jit(lambda keys: jax.lax.map(init_seed, keys))


def ppo_parts(cfg: TrainConfig, env) -> TrainingParts:
    """The PPO agent and its initial state (``num_envs`` parallel envs per seed)."""
    hyper = cfg.ppo
    agent = make_agent(cfg, env.observation_size, env.action_size)
    agent = with_rollout(agent, env, cfg.horizon)
    # first_state: each env keeps its initial start state and returns to it after
    # every episode (Brax 0.0.13's AutoResetWrapper); fresh: a new reset each time
    keep_first = Autoreset(hyper.autoreset) is Autoreset.first_state

    def init_seed(key: jax.Array) -> TrainState:
        agent_key, env_key, loop_key = jax.random.split(key, 3)
        env_keys = jax.random.split(env_key, hyper.num_envs)
        reset = functools.partial(reset_carry, env, keep_first=keep_first)
        carry = jax.vmap(reset)(env_keys)
        return TrainState(agent.init(agent_key), None, carry, loop_key)

    return TrainingParts(env, agent, split_seeds(seed_by_seed(init_seed)))


def make_ppo_trainer(cfg: TrainConfig, parts: TrainingParts) -> Trainer:
    """The PPO trainer: blocks of whole iterations (rollout, GAE, epochs)."""
    env, agent = parts.env, parts.agent
    unit = step_unit(cfg)

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

    evaluate = make_evaluate(cfg, env, agent)
    return Trainer(env, agent, parts.init, run_block, compiled_block, evaluate, None)


def off_policy_parts(cfg: TrainConfig, env) -> TrainingParts:
    """The TD3 / SAC agent and its initial state (empty replay, one env per seed)."""
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

    return TrainingParts(env, agent, split_seeds(seed_by_seed(init_seed)))


def make_off_policy_trainer(cfg: TrainConfig, parts: TrainingParts) -> Trainer:
    """The TD3 / SAC trainer: blocks of env steps, one update per step."""
    env, agent = parts.env, parts.agent
    hyper = agent_config(cfg)

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

    return Trainer(
        env,
        agent,
        parts.init,
        run_block,
        compiled_block,
        evaluate,
        make_replay_rows(hyper),
    )


def make_replay_rows(hyper):
    """``replay_rows(state, start, end)``: every seed's replay rows written in
    ``[start, end)`` (the rows a checkpoint adds), one jitted gather."""

    @functools.partial(jax.jit, static_argnums=2)
    def gather_rows(state: TrainState, start: jax.Array, count: int):
        positions = (start + jnp.arange(count)) % hyper.replay_capacity
        return jax.tree.map(lambda rows: rows[:, positions], state.replay.data)

    def replay_rows(state: TrainState, start: int, end: int):
        return gather_rows(state, jnp.asarray(start, jnp.int32), end - start)

    return replay_rows


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
