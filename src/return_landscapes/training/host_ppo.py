"""PPO on envs stepped on the host: Gymnasium's MuJoCo tasks (envpool) and
Gymnasium envs (``gym:<id>``), N seeds of ``num_envs`` envs each, in a host loop.

Same shape as the Brax trainers (``Trainer``: init, run_block, evaluate), so the run
directory, manifest, checkpoints, resume and the landscape commands are shared. An
iteration is the Brax PPO trainer's: ``unroll_length`` steps of every env with the
stochastic policy (one jitted call per step for every seed's envs, then one batch
step of all ``seeds x num_envs`` envs on the host), then one jitted call that runs
every seed's PPO update (normalizer, GAE, ``epochs`` x ``num_minibatches`` steps),
vmapped over seeds as on Brax. The keys are split as on Brax: a seed's loop key
gives its rollout and update keys, and step ``t``'s action noise is drawn from the
``t``-th key of the rollout key, so a seed starts with the networks it would have
on a Brax env of the same sizes.

An env whose episode ends (terminated, or truncated at ``horizon``) is reset at once
with a fresh start state (``ppo.autoreset=fresh``: a host simulator cannot return
to a saved state); the rollout records the episode's last observation as the next
observation and ``discount = 0`` only on termination, as on Brax.

Envpool's env states cannot be saved, so, as for TD3 and SAC on these envs, every
checkpoint step starts fresh envs seeded from (seed, env, step) alone. A run that
resumes from a checkpoint therefore continues exactly as the uninterrupted run does.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.agents import make_agent
from return_landscapes.agents.ppo import Rollout, gaussian_log_prob
from return_landscapes.conf import TrainConfig
from return_landscapes.envs.host import episode_env_seeds, in_env_order
from return_landscapes.evaluation import EvaluationSetup, seed_episodes
from return_landscapes.training.state import Trainer, TrainingParts, TrainState
from return_landscapes.types import EpisodeStats


class HostPPOCarry(NamedTuple):
    """The training envs of one seed: last observations, and the steps and return
    so far of the episode each env is in (episodes run on across iterations)."""

    observation: jax.Array  # (num_envs, observation_size) float32
    episode_step: jax.Array  # (num_envs,) int32
    episode_return: jax.Array  # (num_envs,) float32


def training_env_seeds(
    base_seed: int, seed_count: int, num_envs: int, step: int
) -> list[int]:
    """The env seeds of every seed's ``num_envs`` training envs from ``step`` on,
    seed after seed, from (base seed, seed index, env index, step) alone."""
    base = jax.random.PRNGKey(base_seed)

    def seed_keys(index):
        key = jax.random.fold_in(jax.random.fold_in(base, index), step)
        return jax.random.split(key, num_envs)

    keys = jax.vmap(seed_keys)(jnp.arange(seed_count))
    return episode_env_seeds(keys.reshape(-1, *keys.shape[2:]))


def host_ppo_parts(cfg: TrainConfig) -> TrainingParts:
    """The PPO agent and its initial state (envs started by the trainer)."""
    from return_landscapes.training.brax import seed_by_seed
    from return_landscapes.training.mujoco import training_env

    env = training_env(cfg)
    agent = make_agent(cfg, env.observation_size, env.action_size)
    count = cfg.ppo.num_envs

    def init_seed(key: jax.Array) -> TrainState:
        agent_key, _, loop_key = jax.random.split(key, 3)
        carry = HostPPOCarry(
            jnp.zeros((count, env.observation_size), jnp.float32),
            jnp.zeros(count, jnp.int32),
            jnp.zeros(count, jnp.float32),
        )
        return TrainState(agent.init(agent_key), None, carry, loop_key)

    return TrainingParts(env, agent, seed_by_seed(init_seed))


class HostEnvBatch:
    """Host envs in one batch with envpool's interface, seen as ``(rows, envs)``:
    ``step`` resets every env whose episode ended and returns what a rollout
    records."""

    def __init__(self, pool, shape: tuple[int, int]):
        self.pool = pool
        self.shape = shape

    def reset(self) -> np.ndarray:
        """Every env's first observation, ``(rows, envs, observation_size)``."""
        observation, info = self.pool.reset()
        (observation,) = in_env_order((observation,), info)
        return observation.astype(np.float32).reshape(*self.shape, -1)

    def step(self, action: np.ndarray):
        """Step every env with ``action`` ``(rows, envs, action_size)``.

        Returns ``(observation, reward, next_observation, terminated, finished)``:
        ``observation`` the next step's (a fresh start where an episode ended),
        ``next_observation`` the step's outcome (the last one where it ended).
        """
        flat = action.reshape(-1, action.shape[-1]).astype(np.float64)
        *outputs, info = self.pool.step(flat)
        next_observation, reward, terminated, truncated = in_env_order(outputs, info)
        next_observation = next_observation.astype(np.float32)
        finished = terminated | truncated
        observation = next_observation.copy()
        if finished.any():
            ids = np.flatnonzero(finished).astype(np.int32)
            restart, reset_info = self.pool.reset(ids)
            observation[np.asarray(reset_info["env_id"])] = restart.astype(np.float32)

        def rows(x):
            return x.reshape(*self.shape, *x.shape[1:])

        return (
            rows(observation),
            rows(reward.astype(np.float32)),
            rows(next_observation),
            rows(terminated),
            rows(finished),
        )


def make_actor(agent):
    """``act(params, normalizer, observation, step_keys)``: the sampled raw actions,
    their log-densities and the env actions of ``(rows, envs)`` envs, one row per
    parameter set (leading axis), each row's noise from its own step key."""

    def one(policy_params, normalizer, observation, step_key):
        action_key, _ = jax.random.split(step_key)
        mean, std = agent.distribution(policy_params, normalizer, observation)
        raw = mean + std * jax.random.normal(action_key, mean.shape)
        return raw, gaussian_log_prob(mean, std, raw), agent.env_action(raw)

    return one


def fresh_carry(batch: HostEnvBatch) -> HostPPOCarry:
    """Every env of ``batch`` reset, its counters at 0 (host numpy)."""
    return HostPPOCarry(
        batch.reset(),
        np.zeros(batch.shape, np.int32),
        np.zeros(batch.shape, np.float32),
    )


def unroll(act, batch: HostEnvBatch, carry: HostPPOCarry, step_keys, length: int):
    """``length`` steps of every env; ``act(observation, step_keys[:, t])`` gives
    ``(raw, log_prob, env_action)``.

    Returns the ``Rollout`` (host numpy, row axis first: ``(rows, length, envs,
    ...)``), the carry after it (episodes run on across calls) and, per row and
    step, the return of each episode that ended there (0 elsewhere).
    """
    observation = carry.observation
    episode_step, episode_return = carry.episode_step, carry.episode_return
    records, finished_returns = [], []
    for t in range(length):
        raw, log_prob, env_action = jax.device_get(act(observation, step_keys[:, t]))
        step = batch.step(env_action)
        next_start, reward, next_observation, terminated, finished = step
        records.append(
            Rollout(
                observation,
                raw,
                log_prob,
                reward,
                next_observation,
                1.0 - terminated.astype(np.float32),
                finished,
            )
        )
        episode_return = episode_return + reward
        finished_returns.append(np.where(finished, episode_return, 0.0))
        episode_return = np.where(finished, 0.0, episode_return).astype(np.float32)
        episode_step = np.where(finished, 0, episode_step + 1).astype(np.int32)
        observation = next_start
    data = Rollout(*(np.stack(field, axis=1) for field in zip(*records, strict=True)))
    carry = HostPPOCarry(observation, episode_step, episode_return)
    return data, carry, np.stack(finished_returns, axis=1)


def make_host_ppo_trainer(cfg: TrainConfig, parts: TrainingParts) -> Trainer:
    """The ``Trainer`` of PPO on the host-stepped env ``cfg.env``."""
    env, agent = parts.env, parts.agent
    hyper = cfg.ppo
    unit = hyper.num_envs * hyper.unroll_length
    pool = {}  # the live env batch, replaced at every checkpoint step

    def restart_envs(state: TrainState, step: int) -> TrainState:
        """Fresh envs for every seed, seeded from (seed, env, step) alone."""
        count = state.key.shape[0]
        seeds = training_env_seeds(cfg.seed, count, hyper.num_envs, step)
        batch = HostEnvBatch(
            env.training_pool(seeds, cfg.horizon), (count, hyper.num_envs)
        )
        pool["envs"] = batch
        return state.replace(env=fresh_carry(batch))

    @jax.jit
    def split_keys(keys):
        """Every seed's next loop key, rollout step keys and update key."""

        def one(key):
            key, rollout_key, update_key = jax.random.split(key, 3)
            return key, jax.random.split(rollout_key, hyper.unroll_length), update_key

        return jax.vmap(one)(keys)

    actor = make_actor(agent)

    @jax.jit
    def act(agent_state, observation, step_keys):
        return jax.vmap(actor)(
            agent_state.policy_params, agent_state.normalizer, observation, step_keys
        )

    @functools.partial(jax.jit, donate_argnums=0)
    def learn(agent_state, data, update_keys):
        return jax.vmap(agent.update)(agent_state, data, update_keys)

    def iteration(state: TrainState):
        """One PPO iteration of every seed: its state, losses and episodes."""
        key, step_keys, update_keys = split_keys(state.key)
        data, carry, finished_returns = unroll(
            functools.partial(act, state.agent),
            pool["envs"],
            HostPPOCarry(*(np.asarray(x) for x in state.env)),
            np.asarray(step_keys),
            hyper.unroll_length,
        )
        agent_state, metrics = learn(state.agent, data, update_keys)
        finished = data.finished.reshape(data.finished.shape[0], -1)
        episodes = {
            "episodes": finished.sum(axis=1).astype(np.float32),
            "episode_return_sum": finished_returns.reshape(finished.shape).sum(axis=1),
        }
        return state.replace(agent=agent_state, env=carry, key=key), metrics, episodes

    def run_block(state: TrainState, block):
        """``block.length`` env steps (whole iterations) of every seed; per-seed
        mean losses, finished episodes and their mean return (NaN if none)."""
        state = state.replace(env=HostPPOCarry(*(np.asarray(x) for x in state.env)))
        losses, episodes, returns = [], 0.0, 0.0
        for _ in range(block.length // unit):
            state, metrics, finished = iteration(state)
            losses.append(jax.device_get(metrics))
            episodes = episodes + finished["episodes"]
            returns = returns + finished["episode_return_sum"]
        summary = jax.tree.map(lambda *x: np.mean(np.stack(x), axis=0), *losses)
        summary["episodes"] = np.asarray(episodes, np.float32)
        summary["episode_return"] = np.where(
            episodes > 0, returns / np.maximum(episodes, 1), np.nan
        ).astype(np.float32)
        return state, summary

    setup = EvaluationSetup(
        env,
        lambda params, observation: agent.policy(params, True)(observation, None),
        cfg.horizon,
        hyper.gamma,
    )

    def evaluate(state: TrainState, keys: jax.Array) -> EpisodeStats:
        """Deterministic episodes from the training start distribution, each its
        own env seed (from its key): ``(num_seeds, episodes)``."""
        return seed_episodes(setup, agent.actor_params(state.agent), keys)

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
