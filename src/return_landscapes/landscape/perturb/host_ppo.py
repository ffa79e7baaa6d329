"""The ``ppo`` perturbation on envs stepped on the host (MuJoCo tasks in envpool,
Gymnasium envs): fresh experience, GAE, one PPO minibatch step.

Per sample: ``num_envs`` training envs (the run's start-state distribution, each env
seeded from the sample's key) run ``unroll_length`` steps of the checkpoint's
stochastic policy, restarting fresh after an episode as in training; then GAE as in
training, a random ``1 / num_minibatches`` of the batch, and one minibatch step with
the checkpoint's Adam state and learning rate ``scale`` (``builtin.ppo_step_on``),
as on Brax. The one difference from Brax: the experience starts from fresh start
states, not from the checkpoint's env states, which a host simulator cannot save,
so it holds the first ``unroll_length`` steps of episodes only (on Brax, states
of every phase of an episode).
``original=True`` (``ppo_original``) takes the paper's code's minibatch and gradient
clip (``builtin.first_rows_step_on``).

A chunk of K samples steps ``K x num_envs`` envs in one batch; the policy forward
and the update are jitted calls of 8 samples each on the CPU
(``pipeline.host_groups``), so a sample's parameters do not depend on the chunk it
is drawn in.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from return_landscapes.envs.host import episode_env_seeds
from return_landscapes.landscape.perturb.builtin import (
    first_rows_step_on,
    ppo_step_on,
)
from return_landscapes.pipeline import HostStage, host_groups
from return_landscapes.training.host_ppo import (
    HostEnvBatch,
    fresh_carry,
    make_actor,
    unroll,
)

ENV_BYTES = 100_000  # one env's simulator state on the host (MuJoCo data)


class HostPPOPerturbation(HostStage):
    """``stage((source, scale), sample_keys) -> (params, episode_keys)``."""

    def __init__(self, env, agent, num_envs: int, horizon: int, original: bool):
        """``env``: the run's training env (its start-state distribution);
        ``horizon``: the run's training horizon (where training envs truncate)."""
        self.env = env
        self.agent = agent
        self.num_envs = num_envs
        self.horizon = horizon
        actor = make_actor(agent)

        @jax.jit
        def act(agent_state, observation, step_keys):
            """The checkpoint's sampled actions for ``(rows, num_envs)`` envs."""
            return jax.vmap(actor, in_axes=(None, None, 0, 0))(
                agent_state.policy_params,
                agent_state.normalizer,
                observation,
                step_keys,
            )

        @jax.jit
        def update(agent_state, data, order_keys, scale):
            """Every row's actor after one step on its own experience."""

            def one(data, order_key):
                if original:
                    return first_rows_step_on(agent, agent_state, data, scale)
                return ppo_step_on(agent, agent_state, data, order_key, scale)

            return jax.vmap(one)(data, order_keys)

        self.act = act
        self.update = update

    def output_shape(self, shared, rows):
        source, _ = shared
        count = rows.shape[0]
        params = jax.eval_shape(self.agent.actor_params, source.agent_state)
        return (
            jax.tree.map(
                lambda p: jax.ShapeDtypeStruct((count, *p.shape), p.dtype), params
            ),
            jax.ShapeDtypeStruct(rows.shape, rows.dtype),
        )

    def bytes_per_row(self, shared, rows) -> int:
        # per env: its simulator, and the recorded steps on host and device
        values = 2 * (self.env.observation_size + self.env.action_size) + 4
        steps = self.agent.unroll_length * 4 * values
        return self.num_envs * (ENV_BYTES + 2 * steps)

    def __call__(self, shared, sample_keys):
        source, scale = shared
        perturb_keys, episode_keys = jax.vmap(jax.random.split, out_axes=1)(sample_keys)
        rollout_keys, order_keys, env_keys = jax.vmap(
            functools.partial(jax.random.split, num=3), out_axes=1
        )(perturb_keys)
        count = sample_keys.shape[0]
        batch = HostEnvBatch(
            self.env.training_pool(self._env_seeds(env_keys), self.horizon),
            (count, self.num_envs),
        )
        step_keys = jax.vmap(lambda k: jax.random.split(k, self.agent.unroll_length))(
            rollout_keys
        )
        state = source.agent_state
        data, _, _ = unroll(
            lambda *rows: host_groups(functools.partial(self.act, state), *rows),
            batch,
            fresh_carry(batch),
            np.asarray(step_keys),
            self.agent.unroll_length,
        )
        params = host_groups(
            functools.partial(self.update, state, scale=scale), data, order_keys
        )
        return params, np.asarray(episode_keys)

    def _env_seeds(self, env_keys: jax.Array) -> list[int]:
        """``num_envs`` env seeds per sample, from its key alone."""
        keys = jax.vmap(lambda k: jax.random.split(k, self.num_envs))(env_keys)
        return episode_env_seeds(keys.reshape(-1, *keys.shape[2:]))
