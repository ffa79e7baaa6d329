"""Acting in envs for on-policy training: PPO's rollout of its parallel Brax envs.

The agent stays pure of envs (``agents/ppo.py``); the trainer and the ``ppo``
perturbation, which collect experience, bind the rollout to their env here.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from return_landscapes.agents.ppo import PPOAgent, PPOState, Rollout, gaussian_log_prob
from return_landscapes.envs.brax import autoreset_step
from return_landscapes.types import EnvCarry


def ppo_rollout(
    agent: PPOAgent, env, horizon: int, state: PPOState, carry: EnvCarry, key
):
    """``agent.unroll_length`` steps of every env with the stochastic policy.

    The env takes ``agent.env_action`` of the Gaussian sample (tanh or clipped); the
    rollout records the sample itself and its log-density. Envs restart after an
    episode as their carry says (``envs.brax.autoreset_step``).

    Returns the new env carry, the ``Rollout`` (time-major) and the finished
    episodes' count and return sum.
    """

    def step(carry, step_key):
        action_key, reset_key = jax.random.split(step_key)
        observation = carry.state.obs
        mean, std = agent.distribution(
            state.policy_params, state.normalizer, observation
        )
        raw = mean + std * jax.random.normal(action_key, mean.shape)
        reset_keys = jax.random.split(reset_key, observation.shape[0])
        carry, out = jax.vmap(autoreset_step, in_axes=(None, 0, 0, 0, None))(
            env, carry, agent.env_action(raw), reset_keys, horizon
        )
        record = Rollout(
            observation,
            raw,
            gaussian_log_prob(mean, std, raw),
            out.transition.reward,
            out.transition.next_observation,
            out.transition.discount,
            out.finished,
        )
        return carry, (record, out.finished, out.finished_return)

    keys = jax.random.split(key, agent.unroll_length)
    carry, (data, finished, returns) = jax.lax.scan(step, carry, keys)
    episodes = {
        "episodes": finished.sum().astype(jnp.float32),
        "episode_return_sum": jnp.where(finished, returns, 0.0).sum(),
    }
    return carry, data, episodes


def with_rollout(agent: PPOAgent, env, horizon: int) -> PPOAgent:
    """``agent`` with ``rollout(state, env_carry, key)`` stepping ``env``."""
    return agent._replace(rollout=functools.partial(ppo_rollout, agent, env, horizon))
