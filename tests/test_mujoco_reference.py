"""envpool's MuJoCo tasks against Gymnasium's own (the ``mujoco`` Python bindings).

The same deterministic policies, from the same start state (reset noise 0), roll in
Gymnasium's ``Hopper-v5`` and through the toolkit's evaluation of ``mujoco:Hopper-v5``
(envpool, K policies in one batch). Short episodes (random linear policies that fall
within a few dozen steps) must agree tightly; a 1000-step episode (a PD controller
that keeps the hopper standing) within what float32 reward sums change.
"""

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes.envs.mujoco import make_mujoco_env
from return_landscapes.evaluation import EvaluationSetup, evaluate_parameter_sets

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def policy_apply(params, observation):
    """A linear feedback policy: ``clip(tanh(W obs) + PD on the joints)``."""
    joints, velocities = observation[2:5], observation[8:11]
    feedback = -params["kp"] * joints - params["kd"] * velocities
    return jnp.clip(jnp.tanh(params["w"] @ observation) + feedback, -1.0, 1.0)


def policies() -> dict:
    """Six random linear policies (they fall) and two PD controllers (they stand)."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 3, 11)).astype(np.float32) * 0.5
    w[6:] = 0.0
    kp = np.array([0, 0, 0, 0, 0, 0, 0.5, 0.6], np.float32)
    kd = np.array([0, 0, 0, 0, 0, 0, 0.3, 0.3], np.float32)
    return {"w": w, "kp": kp, "kd": kd}


def gymnasium_episode(params, horizon: int = 1000):
    """One episode of Gymnasium's Hopper-v5 with the same jitted policy."""
    env = gymnasium.make("Hopper-v5", reset_noise_scale=0.0)
    observation, _ = env.reset(seed=0)
    act = jax.jit(policy_apply)
    rewards = []
    for _ in range(horizon):
        action = np.asarray(act(params, observation.astype(np.float32)))
        observation, reward, terminated, truncated, _ = env.step(
            action.astype(np.float64)
        )
        rewards.append(reward)
        if terminated or truncated:
            break
    env.close()
    return float(np.sum(rewards)), len(rewards)


def test_envpool_hopper_v5_matches_gymnasium_hopper_v5():
    params = policies()
    env = make_mujoco_env("mujoco:Hopper-v5", 0.0)
    setup = EvaluationSetup(env, policy_apply, 1000, 0.99)
    keys = jax.random.split(jax.random.PRNGKey(0), 8)
    ours = evaluate_parameter_sets(setup, params, keys)
    for k in range(8):
        expected_return, expected_length = gymnasium_episode(
            jax.tree.map(lambda x, k=k: x[k], params)
        )
        assert ours.length[k] == expected_length, k
        # float32 rewards summed in float32 against float64: ~1e-7 per step
        tolerance = 1e-6 if expected_length < 100 else 2e-5
        assert ours.undiscounted_return[k] == pytest.approx(
            expected_return, rel=tolerance
        ), k
    lengths = ours.length.tolist()
    assert max(lengths[:6]) < 100 and lengths[6:] == [1000, 1000], lengths
