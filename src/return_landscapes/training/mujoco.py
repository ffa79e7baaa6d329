"""TD3 and SAC on envs stepped on the host: Gymnasium's MuJoCo tasks (N seeds, one
envpool batch) and Gymnasium envs (``gym:<id>``, one env per seed in a ``GymBatch``
with envpool's interface), in a host loop.

Same shape as the Brax trainers (``Trainer``: init, run_block, evaluate), so the run
directory, manifest, checkpoints, resume and the landscape commands are shared. One
env per seed, all in one envpool batch. The order is the Brax trainer's: act, step,
insert, sample, update. Every env step is two calls: the envpool step on the host,
then one jitted call (vmapped over seeds, the state donated so the replay buffer is
written in place) that inserts every seed's transition, updates every seed's agent
and computes the next step's actions; a block's first action and last update are
calls of their own (a checkpoint may restart the envs between blocks).

An env whose episode ends (terminated, or truncated at ``horizon``) is reset at once
on its own; the transition keeps the episode's last observation and ``discount = 0``
only on termination, as on Brax.

Envpool's env states cannot be saved, so, as on Atari, every checkpoint step starts
fresh envs seeded from (seed, step) alone (the episode running at a checkpoint is cut
there). A run that resumes from a checkpoint therefore continues exactly as the
uninterrupted run does.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.agents import make_agent
from return_landscapes.conf import TrainConfig, is_gym
from return_landscapes.envs.host import in_env_order
from return_landscapes.envs.mujoco import make_mujoco_env, training_env_seed
from return_landscapes.evaluation import EvaluationSetup, seed_episodes
from return_landscapes.replay import replay_init, replay_insert, replay_sample_seeds
from return_landscapes.training.schedule import agent_config
from return_landscapes.training.state import Trainer, TrainingParts, TrainState
from return_landscapes.types import EpisodeStats, Transition


def pack_step(transition: Transition, observation: np.ndarray) -> np.ndarray:
    """A step's host inputs, every seed's transition and next observation, as one
    float32 array ``(seeds, 3 * observation_size + action_size + 2)``: one
    transfer instead of six."""
    columns = (
        transition.observation,
        transition.action,
        transition.reward[:, None],
        transition.next_observation,
        transition.discount[:, None],
        observation,
    )
    return np.concatenate(columns, axis=1, dtype=np.float32)


def unpack_step(packed, observation_size: int, action_size: int):
    """``(transition, observation)`` of a ``pack_step`` array, bit for bit."""
    widths = (observation_size, action_size, 1, observation_size, 1)
    ends = np.cumsum(widths)
    observation, action, reward, next_observation, discount, following = jnp.split(
        packed, ends, axis=1
    )
    transition = Transition(
        observation, action, reward[:, 0], next_observation, discount[:, 0]
    )
    return transition, following


class MujocoCarry(NamedTuple):
    """The training env of one seed: its last observation and episode counters."""

    observation: jax.Array  # (observation_size,) float32
    episode_step: jax.Array
    episode_return: jax.Array


def training_env(cfg: TrainConfig):
    """The env of training: a ``MujocoEnv`` with the run's start-state noise, or a
    ``GymEnv`` whose every episode resets with its own seed."""
    if is_gym(cfg.env):
        from return_landscapes.envs.gym import make_gym_env

        return make_gym_env(
            cfg.env, cfg.gym.kwargs, cfg.gym.reset_seed, seeded_starts=True
        )
    return make_mujoco_env(cfg.env, cfg.reset_noise_scale)


def mujoco_parts(cfg: TrainConfig) -> TrainingParts:
    """The TD3 / SAC agent and its initial state (empty replay, one env per seed).

    Keys are split as on Brax (agent, env, loop), so seed ``i`` starts with the
    networks it would have on a Brax env of the same sizes.
    """
    from return_landscapes.training.brax import seed_by_seed

    env = training_env(cfg)
    agent = make_agent(cfg, env.observation_size, env.action_size)
    hyper = agent_config(cfg)

    def init_seed(key: jax.Array) -> TrainState:
        agent_key, _, loop_key = jax.random.split(key, 3)
        carry = MujocoCarry(
            jnp.zeros(env.observation_size, jnp.float32),
            jnp.zeros((), jnp.int32),
            jnp.zeros((), jnp.float32),
        )
        return TrainState(
            agent=agent.init(agent_key),
            replay=replay_init(
                hyper.replay_capacity, env.observation_size, env.action_size
            ),
            env=carry,
            key=loop_key,
        )

    return TrainingParts(env, agent, seed_by_seed(init_seed))


def make_mujoco_trainer(cfg: TrainConfig, parts: TrainingParts) -> Trainer:
    """The ``Trainer`` of TD3 / SAC on the host-stepped env ``cfg.env``."""
    from return_landscapes.training.brax import make_replay_rows, summarize_block

    env, agent = parts.env, parts.agent
    hyper = agent_config(cfg)
    pool = {}  # the live envpool batch, replaced at every checkpoint step

    def seeded_envs(state: TrainState, env_seeds: list[int]) -> TrainState:
        """Fresh training envs, one per seed with these envpool seeds; counters 0."""
        pool["envs"] = env.training_pool(env_seeds, cfg.horizon)
        observation, info = pool["envs"].reset()
        (observation,) = in_env_order((observation,), info)
        count = len(env_seeds)
        carry = MujocoCarry(
            observation.astype(np.float32),
            np.zeros(count, np.int32),
            np.zeros(count, np.float32),
        )
        return state.replace(env=carry)

    def restart_envs(state: TrainState, step: int) -> TrainState:
        """Fresh envs for every seed, seeded from (seed, step) alone."""
        count = state.key.shape[0]
        return seeded_envs(
            state, [training_env_seed(cfg.seed, i, step) for i in range(count)]
        )

    def actions(agent_state, observation, keys, learning: bool):
        """Every seed's action; its next loop key and its sample / update keys."""

        def one(agent_state, observation, key):
            key, action_key, sample_key, update_key = jax.random.split(key, 4)
            if learning:
                action = agent.act(agent_state, observation, action_key)
            else:
                action = jax.random.uniform(
                    action_key, (env.action_size,), minval=-1.0, maxval=1.0
                )
            return action, key, jnp.stack([sample_key, update_key])

        return jax.vmap(one)(agent_state, observation, keys)

    act = jax.jit(actions, static_argnames="learning")

    def update_seed(agent_state, batch, update_key, step):
        return agent.update(
            agent_state, batch, update_key, step - hyper.random_start_steps
        )

    def insert_and_update(state: TrainState, transition, keys, step, learning: bool):
        """Insert every seed's transition; with ``learning``, one update each."""
        # the row index is shared by the seeds, so the write stays in place
        replay = replay_insert(state.replay, transition, step)
        metrics = {}
        if learning:
            batch = replay_sample_seeds(replay, keys[:, 0], hyper.batch_size)
            agent_state, metrics = jax.vmap(update_seed, in_axes=(0, 0, 0, None))(
                state.agent, batch, keys[:, 1], step
            )
            state = state.replace(agent=agent_state)
        return state.replace(replay=replay), metrics

    # The device state travels between steps as its list of leaves (with its
    # treedef static): the dispatch of a call then flattens a list in C++ rather
    # than the state's dataclasses in Python. A step's host inputs come as one
    # packed array (``pack_step``). Neither changes a number.
    @functools.partial(
        jax.jit, static_argnames=("treedef", "learning"), donate_argnums=0
    )
    def learn(leaves, treedef, packed, keys, step, learning: bool):
        """``insert_and_update`` on a state passed as leaves."""
        transition, _ = unpack_step(packed, env.observation_size, env.action_size)
        state, metrics = insert_and_update(
            treedef.unflatten(leaves), transition, keys, step, learning
        )
        return jax.tree.leaves(state), metrics

    @functools.partial(
        jax.jit, static_argnames=("treedef", "learning"), donate_argnums=0
    )
    def learn_then_act(leaves, treedef, packed, keys, step, learning: bool):
        """``learn``, then the next step's ``act`` on the updated agent: one call
        (and one wait for its action) a step instead of two."""
        transition, observation = unpack_step(
            packed, env.observation_size, env.action_size
        )
        state, metrics = insert_and_update(
            treedef.unflatten(leaves), transition, keys, step, learning
        )
        action, key, next_keys = actions(state.agent, observation, state.key, learning)
        return jax.tree.leaves(state.replace(key=key)), metrics, action, next_keys

    def env_step(carry: MujocoCarry, action: np.ndarray):
        """Step every env; reset the finished ones. Host numpy throughout."""
        next_observation, reward, terminated, truncated, info = pool["envs"].step(
            action.astype(np.float64)
        )
        next_observation, reward, terminated, truncated = in_env_order(
            (next_observation, reward, terminated, truncated), info
        )
        next_observation = next_observation.astype(np.float32)
        reward = reward.astype(np.float32)
        transition = Transition(
            carry.observation,
            action,
            reward,
            next_observation,
            1.0 - terminated.astype(np.float32),
        )
        episode_return = carry.episode_return + reward
        episode_step = carry.episode_step + 1
        finished = terminated | truncated
        finished_return = np.where(finished, episode_return, 0.0)
        observation = next_observation.copy()
        if finished.any():
            ids = np.flatnonzero(finished)
            restart, reset_info = pool["envs"].reset(ids.astype(np.int32))
            order = np.asarray(reset_info["env_id"])
            observation[order] = restart.astype(np.float32)
            episode_return = np.where(finished, 0.0, episode_return).astype(np.float32)
            episode_step = np.where(finished, 0, episode_step).astype(np.int32)
        carry = MujocoCarry(observation, episode_step, episode_return)
        return carry, transition, finished, finished_return

    def run_block(state: TrainState, block):
        """``block.length`` env steps of every seed; per-seed metrics as on Brax."""
        carry = MujocoCarry(*(np.asarray(x) for x in state.env))
        device_state = state.replace(env=None)
        action, key, keys = act(
            device_state.agent, carry.observation, device_state.key, block.learning
        )
        leaves, treedef = jax.tree.flatten(device_state.replace(key=key))
        steps = []
        last = block.start + block.length - 1
        for step in range(block.start, last + 1):
            carry, transition, finished, finished_return = env_step(
                carry, np.asarray(action)
            )
            packed = pack_step(transition, carry.observation)
            arguments = (leaves, treedef, packed, keys, np.int32(step))
            if step < last:  # the next action in the same call
                leaves, metrics, action, keys = learn_then_act(
                    *arguments, block.learning
                )
            else:  # a checkpoint may restart the envs before the next action
                leaves, metrics = learn(*arguments, block.learning)
            metrics["episodes"] = finished.astype(np.float32)
            metrics["episode_return"] = finished_return
            steps.append(metrics)
        device_state = treedef.unflatten(leaves)
        # on the host: stacking device scalars is a dispatch per scalar
        stacked = jax.tree.map(lambda *x: np.stack([np.asarray(v) for v in x]), *steps)
        summary = jax.vmap(summarize_block, in_axes=1)(stacked)
        return device_state.replace(env=carry), summary

    setup = EvaluationSetup(
        env,
        lambda params, observation: agent.policy(params, True)(observation, None),
        cfg.horizon,
        agent_config(cfg).gamma,
    )

    def evaluate(state: TrainState, keys: jax.Array) -> EpisodeStats:
        """Deterministic episodes from the training start distribution, each its own
        envpool seed (from its key): ``(num_seeds, episodes)``."""
        return seed_episodes(setup, agent.actor_params(state.agent), keys)

    return Trainer(
        env,
        agent,
        parts.init,
        run_block,
        None,
        evaluate,
        make_replay_rows(hyper),
        restart_envs=restart_envs,
        seeded_envs=seeded_envs,
    )
