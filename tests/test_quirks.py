"""``original_quirks=true``: each reproduced accident of the paper's code changes what
it names and nothing else (recording fake agents, by value), and a perturbation the
paper's code had no accident in is refused in one line."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes.conf import AtariConfig, TrainConfig, resolve
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.job import original_variant
from return_landscapes.landscape.perturb import PERTURBATIONS, CheckpointSource
from return_landscapes.landscape.perturb.builtin import (
    ORIGINAL_PPO_CLIP,
    ORIGINAL_SAC_KEY,
    actor_update_perturbation,
    first_rows_ppo_update,
    ppo_update_perturbation,
    shared_key_actor_update,
)
from return_landscapes.replay import ReplayBuffer
from return_landscapes.types import Transition

pytestmark = pytest.mark.unit


class RecordingActorAgent:
    """An 'update' that returns what it was given: minibatch rewards, key, scale."""

    def actor_update(self, state, batch, key, scale):
        return {"rewards": batch.reward, "key": key, "scale": scale}

    def actor_params(self, state):
        return state


def replay_of(rows: int) -> ReplayBuffer:
    column = jnp.arange(rows, dtype=jnp.float32)
    data = Transition(column[:, None], column[:, None], column, column[:, None], column)
    return ReplayBuffer(data, jnp.asarray(0), jnp.asarray(rows))


def test_sac_original_shares_one_key_and_keeps_each_samples_minibatch():
    agent, source = RecordingActorAgent(), CheckpointSource(None, replay_of(500))
    keys = jax.random.split(jax.random.PRNGKey(9), 2)
    ours = [actor_update_perturbation(agent, source, k, 3e-4) for k in keys]
    quirk = [shared_key_actor_update(agent, source, k, 3e-4) for k in keys]
    shared = jax.random.PRNGKey(ORIGINAL_SAC_KEY)
    for mine, theirs in zip(ours, quirk, strict=True):
        np.testing.assert_array_equal(theirs["rewards"], mine["rewards"])
        np.testing.assert_array_equal(theirs["key"], shared)
        assert theirs["scale"] == mine["scale"] == 3e-4
    assert not np.array_equal(ours[0]["key"], ours[1]["key"])
    assert not np.array_equal(quirk[0]["rewards"], quirk[1]["rewards"])


class Batch(NamedTuple):
    advantage: jax.Array


class RecordingPPOAgent:
    """Experience = 8 uniform numbers from the rollout key; a 'step' returns its
    minibatch and gradient clip."""

    minibatch_size = 4

    def rollout(self, state, env, key):
        return env, key, None

    def make_batch(self, state, data):
        return Batch(jax.random.uniform(data, (8,)))

    def minibatch_step(self, state, minibatch, scale, max_grad_norm=None):
        return {"minibatch": minibatch, "clip": max_grad_norm, "scale": scale}, {}

    def actor_params(self, state):
        return state


def test_ppo_original_takes_the_first_rows_and_clips_at_a_tenth():
    agent, key = RecordingPPOAgent(), jax.random.PRNGKey(4)
    source = CheckpointSource(None, env=None)
    ours = ppo_update_perturbation(agent, source, key, 2.6e-3)
    quirk = first_rows_ppo_update(agent, source, key, 2.6e-3)
    batch = np.asarray(jax.random.uniform(jax.random.split(key)[0], (8,)))
    mine, theirs = ours["minibatch"].advantage, quirk["minibatch"].advantage
    np.testing.assert_array_equal(theirs, batch[:4])  # the same rollout, first rows
    assert set(np.asarray(mine).tolist()) <= set(batch.tolist())
    assert not np.array_equal(mine, batch[:4])  # a random half
    assert (ours["clip"], quirk["clip"]) == (None, ORIGINAL_PPO_CLIP)
    assert ours["scale"] == quirk["scale"] == 2.6e-3


def test_original_quirks_name_a_variant_or_refuse_in_one_line():
    brax = resolve(TrainConfig, algo="sac")
    assert original_variant(PERTURBATIONS["sac"], brax) == "sac_original"
    assert original_variant(PERTURBATIONS["ppo"], brax) == "ppo_original"
    assert original_variant(PERTURBATIONS["ppo_original"], brax) == "ppo_original"
    for name in ("td3", "param_noise", "action_noise", "init_state"):
        with pytest.raises(LandscapeError, match=f"nothing for perturb={name}"):
            original_variant(PERTURBATIONS[name], brax)
    atari = resolve(TrainConfig, env="atari:Pong-v5", algo="ppo")
    with pytest.raises(LandscapeError, match="on Atari applies to perturb=ppo"):
        original_variant(PERTURBATIONS["param_noise"], atari)


class ScriptedPool:
    """Stands in for an envpool Atari pool: rewards and ends from a script (per
    step, the same for every env), recording how it was made and the actions."""

    def __init__(self, count, episodic_life, reward_clip, script):
        self.count, self.script, self.t, self.actions = count, script, 0, []
        self.made = {"episodic_life": episodic_life, "reward_clip": reward_clip}

    def reset(self):
        return np.zeros((self.count, 4, 84, 84), np.uint8), {}

    def step(self, actions):
        self.actions.append(np.asarray(actions))
        reward, done = self.script[self.t % len(self.script)]
        self.t += 1
        ones = np.ones(self.count)
        observation = np.zeros((self.count, 4, 84, 84), np.uint8)
        return observation, reward * ones, done * ones > 0, 0 * ones > 0, {}


def test_original_atari_score_sums_clipped_rewards_across_lives(monkeypatch):
    """The paper's score: every step of the horizon (up to 10,001) in an env with
    episodic life and clipped rewards, ``reward * (1 - done)`` summed across ends."""
    from return_landscapes.envs import atari
    from return_landscapes.evaluation import EvaluationSetup

    # (clipped reward, episode or life ended) per step; a life ends on step 3, the
    # game on step 5, and play goes on
    script = [(1.0, 0), (0.0, 0), (1.0, 1), (1.0, 0), (-1.0, 1), (1.0, 0)]
    pools = []

    def scripted(task, count, max_steps, episodic_life, reward_clip, threads):
        pools.append(ScriptedPool(count, episodic_life, reward_clip, script))
        return pools[-1]

    monkeypatch.setattr(atari, "_cached_pool", scripted)
    env = atari.AtariEnv("atari:Breakout-v5", (4, 84, 84), 4, AtariConfig())
    greedy = lambda params, deterministic: lambda obs, key: jnp.int32(2)  # noqa: E731
    setup = EvaluationSetup(
        env, None, horizon=14, gamma=0.5, policy_factory=greedy, original_scoring=True
    )
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    stats = atari.AtariEpisodes(env, setup)((None,), (None, keys))
    counted = [r * (1 - d) for r, d in script] * 3  # 14 steps of the script
    assert pools[0].made == {"episodic_life": True, "reward_clip": True}
    assert len(pools[0].actions) == 14  # no stop at an end of life or game
    assert all((a == 2).all() for a in pools[0].actions)  # no no-op start
    np.testing.assert_array_equal(stats.undiscounted_return, [sum(counted[:14])] * 3)
    discounted = sum(0.5**t * r for t, r in enumerate(counted[:14]))
    np.testing.assert_allclose(stats.discounted_return, [discounted] * 3, rtol=1e-6)
    np.testing.assert_array_equal(stats.length, [14] * 3)


def test_atari_original_update_is_fresh_adam_on_a_hundredth_of_the_gradient():
    """ppo_original on Atari: a new Adam state, no clipping, the gradient / 100.

    After one step from a fresh state Adam's first moment is 0.1 x the gradient it
    saw, so the three variants' moments give the gradient and its scaled forms by
    value; the parameters move by ``lr * g / (|g| + eps)`` of the scaled gradient.
    """
    from return_landscapes.agents.ppo_atari import AtariBatch, make_atari_ppo
    from return_landscapes.landscape.perturb.atari import ORIGINAL_GRAD_SCALE

    cfg = AtariConfig(num_envs=2, unroll_length=4, num_minibatches=1, max_grad_norm=0.5)
    agent = make_atari_ppo(cfg, (4, 84, 84), 4)
    state = agent.init(jax.random.PRNGKey(0))
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    rows = 8
    batch = AtariBatch(
        jax.random.randint(keys[0], (rows, 4, 84, 84), 0, 255).astype(jnp.uint8),
        jax.random.randint(keys[1], (rows,), 0, 4),
        jnp.full((rows,), -1.4),
        jax.random.normal(keys[2], (rows,)),
        jax.random.normal(keys[3], (rows,)),
        jnp.ones((rows,)),
    )
    fresh = state.replace(opt_state=agent.fresh_opt_state(state.params))
    step = jax.jit(
        agent.minibatch_step, static_argnames=("max_grad_norm", "grad_scale")
    )
    lr = 2.5e-4
    plain, _ = step(fresh, batch, lr, max_grad_norm=float("inf"))
    quirk, _ = step(
        fresh, batch, lr, max_grad_norm=float("inf"), grad_scale=ORIGINAL_GRAD_SCALE
    )
    clipped, _ = step(fresh, batch, lr)  # the training clip, 0.5
    moment = lambda s: jax.tree.leaves(s.opt_state[1].mu)  # noqa: E731
    grads = [m / 0.1 for m in moment(plain)]
    norm = float(jnp.sqrt(sum(jnp.sum(g**2) for g in grads)))
    assert norm > 0.5  # so the training clip bites
    for g, m_quirk, m_clip in zip(grads, moment(quirk), moment(clipped), strict=True):
        np.testing.assert_allclose(m_quirk, 0.1 * g / 100, rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(m_clip, 0.1 * g * 0.5 / norm, rtol=1e-4, atol=1e-12)
    for p0, p1, g in zip(
        jax.tree.leaves(state.params), jax.tree.leaves(quirk.params), grads, strict=True
    ):
        scaled = g / 100
        step_size = lr * scaled / (jnp.abs(scaled) + cfg.adam_eps)
        # p0 - p1 in float32 resolves a step of at most lr to about 1e-8
        np.testing.assert_allclose(p0 - p1, step_size, rtol=1e-3, atol=5e-8)
    # the fresh state is Adam's initial state: zero moments, count 0
    assert int(fresh.opt_state[1].count) == 0
    assert all(
        float(jnp.abs(m).max()) == 0 for m in jax.tree.leaves(fresh.opt_state[1].mu)
    )
