"""The ``ppo`` perturbation on Atari: fresh experience, GAE, one PPO iteration.

Per sample (the ``ppo`` perturbation): ``num_envs`` envs of the training setup
(episodic life, clipped rewards) start from the deterministic reset, take up to
``noop_max`` NOOPs drawn from the sample's key and then the checkpoint's sampled
actions until ``noop_max`` steps have passed, so every sample starts from its own
states; then ``unroll_length`` steps of the checkpoint's stochastic policy are
recorded, GAE is computed as in training, and one whole PPO iteration with the
restored Adam state and learning rate ``scale`` follows: ``epochs`` passes of
``num_minibatches`` minibatch steps, as training and the paper's
``update_vmapped_agent`` do. ``original=True`` (``ppo_original``) reproduces that
code's accidents: a fresh Adam state per sample, no gradient clipping and gradients
scaled by 1/100 (its loss was a mean over 100 policies).

A chunk of K samples steps ``K x num_envs`` envs in one envpool batch, one jitted
policy call per step for all of them.

The same ``HostStage`` interface as the episode stage, so ``landscape purd`` and
``landscape interpolate`` run it unchanged.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.agents.ppo_atari import AtariRollout
from return_landscapes.envs.atari import NOOP, AtariEnv, landscape_pool, noop_counts
from return_landscapes.pipeline import HostStage

TRAINING_EPISODE_STEPS = 27_000  # envpool's v5 default, as in training
ORIGINAL_GRAD_SCALE = 1 / 100  # the paper's code: a mean loss over 100 policies


class AtariPPOPerturbation(HostStage):
    """``stage((source, scale), sample_keys) -> (params, episode_keys)`` on Atari."""

    def __init__(self, env: AtariEnv, agent, original: bool = False):
        self.env = env
        self.agent = agent
        self.original = original
        cfg = env.cfg
        self.num_envs = cfg.num_envs

        @jax.jit
        def act(params, observation, keys, t):
            """The checkpoint's sampled actions for ``(K, num_envs)`` envs."""
            flat = observation.reshape(-1, *observation.shape[2:])
            logits, value = agent.network.apply(params, flat)
            logits = logits.reshape(*observation.shape[:2], -1)
            step_keys = jax.vmap(jax.random.fold_in, (0, None))(keys, t)
            action = jax.vmap(jax.random.categorical)(step_keys, logits)
            log_prob = jnp.take_along_axis(
                jax.nn.log_softmax(logits), action[..., None], axis=-1
            )[..., 0]
            return action, log_prob, value.reshape(observation.shape[:2])

        @jax.jit
        def prepare(agent_state, data, next_observation, next_done, key):
            """One sample's batch (GAE, flattened) and its minibatch row orders."""
            next_value = agent.value(agent_state.params, next_observation)
            batch = agent.make_batch(data, next_value, next_done)
            return batch, agent.minibatch_orders(key)

        @jax.jit
        def step(agent_state, batch, rows, scale):
            minibatch = jax.tree.map(lambda x: x[rows], batch)
            if not original:
                return agent.minibatch_step(agent_state, minibatch, scale)[0]
            return agent.minibatch_step(
                agent_state,
                minibatch,
                scale,
                max_grad_norm=float("inf"),
                grad_scale=ORIGINAL_GRAD_SCALE,
            )[0]

        self.act = act
        self.prepare = prepare
        self.step = step

    def update(self, agent_state, data, next_observation, next_done, key, scale):
        """One sample's PPO iteration: ``epochs x num_minibatches`` steps, each a
        jitted call as in training (CNN gradients inside a ``scan`` are slow on
        XLA's CPU backend); its actor parameters."""
        batch, orders = self.prepare(
            agent_state, data, next_observation, next_done, key
        )
        if self.original:  # the paper's code started each sample from a new Adam
            agent_state = agent_state.replace(
                opt_state=self.agent.fresh_opt_state(agent_state.params)
            )
        for rows in orders.reshape(-1, orders.shape[-1]):
            agent_state = self.step(agent_state, batch, rows, scale)
        return self.agent.actor_params(agent_state)

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
        cfg = self.env.cfg
        frames = cfg.num_envs * cfg.unroll_length * self.env.observation_size
        return 2 * frames  # recorded frames on the host and their device copy

    def __call__(self, shared, sample_keys):
        source, scale = shared
        perturb_keys, episode_keys = jax.vmap(jax.random.split, out_axes=1)(sample_keys)
        rollout_keys, order_keys, noop_keys = jax.vmap(
            functools.partial(jax.random.split, num=3), out_axes=1
        )(perturb_keys)
        data, next_observation, next_done = self._experience(
            source.agent_state.params, rollout_keys, noop_keys
        )
        params = [
            self.update(
                source.agent_state,
                jax.tree.map(lambda x, i=i: x[:, :, i], data),
                next_observation[i],
                next_done[i],
                order_keys[i],
                scale,
            )
            for i in range(sample_keys.shape[0])
        ]
        return jax.tree.map(lambda *p: np.stack(p), *params), episode_keys

    def _experience(self, params, rollout_keys, noop_keys):
        """Recorded steps ``(T, envs, K, ...)`` (sample axis third) and the last
        frames and done flags ``(K, envs, ...)``."""
        cfg, count, envs = self.env.cfg, rollout_keys.shape[0], self.num_envs
        pool = landscape_pool(
            self.env.name, count * envs, TRAINING_EPISODE_STEPS, True, cfg
        )
        observation, _ = pool.reset()
        shape = (count, envs)
        observation = observation.reshape(*shape, *observation.shape[1:])
        env_noop_keys = jax.vmap(lambda k: jax.random.split(k, envs))(noop_keys)
        noops = noop_counts(
            env_noop_keys.reshape(-1, *env_noop_keys.shape[2:]), cfg.noop_max
        )
        noops = noops.reshape(shape)
        warmup_keys = jax.vmap(jax.random.fold_in, (0, None))(rollout_keys, 1)
        for t in range(cfg.noop_max):
            action, _, _ = self.act(params, observation, warmup_keys, t)
            action = np.where(t < noops, NOOP, np.asarray(action))
            observation = pool.step(action.reshape(-1))[0].reshape(observation.shape)
        done = np.zeros(shape, bool)
        records = []
        for t in range(cfg.unroll_length):
            action, log_prob, value = jax.device_get(
                self.act(params, observation, rollout_keys, t)
            )
            next_observation, reward, terminated, truncated, _ = pool.step(
                action.reshape(-1)
            )
            records.append(
                (observation, action, log_prob, value, reward.reshape(shape), done)
            )
            observation = next_observation.reshape(observation.shape)
            done = (terminated | truncated).reshape(shape)
        # (T, K, envs, ...) -> (T, envs, K, ...): a sample's slice is then [:, :, i]
        columns = [np.swapaxes(np.stack(c), 1, 2) for c in zip(*records, strict=True)]
        observations, actions, log_probs, values, rewards, dones = columns
        data = AtariRollout(
            observations, actions, log_probs, values, rewards.astype(np.float32), dones
        )
        return data, observation, done
