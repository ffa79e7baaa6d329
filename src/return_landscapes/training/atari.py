"""The Atari PPO trainer: N seeds, one envpool pool, a host loop around jitted steps.

Same shape as the Brax trainers (``Trainer``: init, run_block, evaluate), so the run
directory, manifest, checkpoints, resume and the landscape commands are shared. The
envs step on the host: each iteration runs ``unroll_length`` steps of every seed's
``num_envs`` envs (one envpool batch of ``seeds x num_envs``), the policy of every seed
acting in one jitted call per step, then each seed's minibatch steps, one jitted call
each.

Why a host loop: envpool's XLA interface does run a rollout inside ``jit``/``scan``
with this JAX, and runs a bare rollout faster, but it binds the compiled program to
one pool, so every new pool (each checkpoint, each evaluation batch) would recompile;
and the CNN's minibatch updates, not the rollout, bound the training rate
(``benchmarks/atari_throughput.py`` measures both ways).

Envpool's env states cannot be saved, so every checkpoint step starts fresh envs
seeded from (seed, step) alone. A run that resumes from a checkpoint therefore
continues exactly as the uninterrupted run does.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.agents import make_agent
from return_landscapes.agents.ppo_atari import AtariRollout
from return_landscapes.conf import TrainConfig
from return_landscapes.envs.atari import (
    env_seed_list,
    make_atari_env,
    training_pool,
)
from return_landscapes.evaluation import EvaluationSetup, seed_episodes
from return_landscapes.training.schedule import learning_rate_at
from return_landscapes.training.state import Trainer, TrainingParts, TrainState


class AtariCarry(NamedTuple):
    """The training envs of one seed: last frames, done flags, episode counters."""

    observation: jax.Array  # (num_envs, 4, 84, 84) uint8
    done: jax.Array  # the last step ended a life or a game
    episode_return: jax.Array  # raw game score so far
    episode_length: jax.Array


def atari_parts(cfg: TrainConfig) -> TrainingParts:
    """The Atari PPO agent and its initial state (envs restarted by the trainer)."""
    hyper = cfg.atari
    env = make_atari_env(cfg.env, hyper)
    agent = make_agent(cfg, env.observation_shape, env.num_actions)

    def init_seed(key: jax.Array):
        agent_key, loop_key = jax.random.split(key)
        shape = (hyper.num_envs, *env.observation_shape)
        carry = AtariCarry(
            jnp.zeros(shape, jnp.uint8),
            jnp.zeros(hyper.num_envs, bool),
            jnp.zeros(hyper.num_envs, jnp.float32),
            jnp.zeros(hyper.num_envs, jnp.int32),
        )
        return TrainState(agent.init(agent_key), None, carry, loop_key)

    return TrainingParts(env, agent, jax.jit(lambda keys: jax.lax.map(init_seed, keys)))


def make_atari_trainer(cfg: TrainConfig, parts: TrainingParts):
    """The ``Trainer`` of PPO on the Atari game ``cfg.env`` (``atari_parts``)."""
    hyper = cfg.atari
    env, agent = parts.env, parts.agent
    unit = hyper.num_envs * hyper.unroll_length
    pool = {}  # the live envpool pool, replaced at every checkpoint step

    def restart_envs(state, step: int):
        """Fresh envs for every seed, seeded from (seed, step); counters zeroed."""
        seeds = [
            s
            for index in range(cfg.seeds)
            for s in env_seed_list(cfg.seed, index, hyper.num_envs, step)
        ]
        pool["envs"] = training_pool(cfg.env, hyper, seeds)
        observation, _ = pool["envs"].reset()
        shape = (cfg.seeds, hyper.num_envs)
        carry = AtariCarry(
            observation.reshape(*shape, *env.observation_shape),
            np.zeros(shape, bool),
            np.zeros(shape, np.float32),
            np.zeros(shape, np.int32),
        )
        return state.replace(env=carry)

    @jax.jit
    def split_keys(keys):
        return jax.vmap(lambda k: jax.random.split(k, 3))(keys)

    @jax.jit
    def act(agent_state, observation, rollout_keys, t):
        def one(agent_state, observation, key):
            return agent.act(
                agent_state.params, observation, jax.random.fold_in(key, t)
            )

        return jax.lax.map(lambda x: one(*x), (agent_state, observation, rollout_keys))

    @jax.jit
    def prepare(agent_state, data, next_observation, next_done, key):
        """One seed's batch (GAE, flattened) and its minibatch row orders."""
        next_value = agent.value(agent_state.params, next_observation)
        batch = agent.make_batch(data, next_value, next_done)
        return batch, agent.minibatch_orders(key)

    @jax.jit
    def minibatch_step(agent_state, batch, rows, learning_rate):
        minibatch = jax.tree.map(lambda x: x[rows], batch)
        return agent.minibatch_step(agent_state, minibatch, learning_rate)

    def update(agent_state, data, next_observation, next_done, keys, learning_rate):
        """Every seed's epochs x minibatches steps, one jitted step at a time.

        Seeds and steps are host loops: XLA's CPU backend runs CNN gradients inside
        ``scan``/``while`` loops about 30x slower than the same step on its own, and
        stalls on convolutions vmapped over several weight sets (JAX 0.10.2).
        """
        states, metrics = [], []
        for seed in range(cfg.seeds):
            state = jax.tree.map(lambda x, s=seed: x[s], agent_state)
            batch, orders = prepare(
                state,
                jax.tree.map(lambda x, s=seed: x[s], data),
                next_observation[seed],
                next_done[seed],
                keys[seed],
            )
            seed_metrics = []
            for rows in orders.reshape(-1, orders.shape[-1]):
                state, step_metrics = minibatch_step(state, batch, rows, learning_rate)
                seed_metrics.append(step_metrics)
            states.append(state)
            metrics.append(
                jax.tree.map(lambda *x: jnp.mean(jnp.stack(x)), *seed_metrics)
            )
        stack = functools.partial(jax.tree.map, lambda *x: jnp.stack(x))
        return stack(*states), stack(*metrics)

    def rollout(state, rollout_keys):
        """``unroll_length`` steps of every env; host numpy ``(seeds, T, envs, ...)``.

        Also returns the new carry and, per seed, the scores of the games that ended.
        """
        carry = state.env
        observation, done = np.asarray(carry.observation), np.asarray(carry.done)
        episode_return = np.array(carry.episode_return)
        episode_length = np.array(carry.episode_length)
        records, scores = [], [[] for _ in range(cfg.seeds)]
        for t in range(hyper.unroll_length):
            action, log_prob, value = jax.device_get(
                act(state.agent, observation, rollout_keys, t)
            )
            step = pool["envs"].step(action.reshape(-1))
            next_observation, reward, terminated, truncated, info = step
            shape = done.shape
            records.append(
                (observation, action, log_prob, value, done, reward.reshape(shape))
            )
            observation = next_observation.reshape(observation.shape)
            done = (terminated | truncated).reshape(shape)
            episode_return += info["reward"].reshape(shape)
            episode_length += 1
            # A game is over when its last life is lost (terminated in info) or the
            # pool truncates it; ``done`` alone also marks every lost life.
            game_over = (info["terminated"].astype(bool) | truncated).reshape(shape)
            for seed in np.flatnonzero(game_over.any(axis=1)):
                scores[seed].extend(episode_return[seed][game_over[seed]].tolist())
            episode_return[game_over] = 0.0
            episode_length[game_over] = 0
        columns = [np.stack(c, axis=1) for c in zip(*records, strict=True)]
        observations, actions, log_probs, values, dones, rewards = columns
        data = AtariRollout(
            observations, actions, log_probs, values, rewards.astype(np.float32), dones
        )
        carry = AtariCarry(observation, done, episode_return, episode_length)
        return data, carry, scores

    def iteration(state, index: int):
        """One PPO iteration of every seed; ``index`` counts iterations from 0."""
        keys = split_keys(state.key)
        data, carry, scores = rollout(state, keys[:, 1])
        rate = learning_rate_at(cfg, index * unit)
        agent_state, metrics = update(
            state.agent,
            data,
            carry.observation,
            carry.done,
            keys[:, 2],
            jnp.float32(rate),
        )
        state = state.replace(agent=agent_state, env=carry, key=keys[:, 0])
        return state, metrics, scores

    def run_block(state, block):
        """``block.length`` steps (whole iterations) of every seed.

        Returns the state and per-seed metrics: mean losses, games finished and their
        mean score (NaN if none finished).
        """
        losses, scores = [], [[] for _ in range(cfg.seeds)]
        for i in range(block.length // unit):
            state, metrics, finished = iteration(state, block.start // unit + i)
            losses.append(jax.device_get(metrics))
            for seed in range(cfg.seeds):
                scores[seed].extend(finished[seed])
        summary = jax.tree.map(lambda *x: np.mean(np.stack(x), axis=0), *losses)
        summary["episodes"] = np.array([len(s) for s in scores], np.float32)
        summary["episode_return"] = np.array(
            [np.mean(s) if s else np.nan for s in scores], np.float32
        )
        return state, summary

    setup = EvaluationSetup(
        env,
        lambda params, observation: agent.policy(params, True)(observation, None),
        cfg.horizon,
        hyper.gamma,
        policy_factory=agent.policy,
        per_sample_env_seeds=True,
    )

    def evaluate(state, keys):
        """Greedy episodes with per-episode no-op starts: ``(num_seeds, episodes)``."""
        return seed_episodes(setup, state.agent.params, keys)

    return Trainer(
        env,
        agent,
        parts.init,
        run_block,
        None,
        evaluate,
        None,
        restart_envs=restart_envs,
    )
