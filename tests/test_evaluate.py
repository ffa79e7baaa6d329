"""The evaluate hot path on tiny envs: exact episodes, chunking, early exit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes.envs.brax import run_episode
from return_landscapes.errors import LandscapeError
from return_landscapes.evaluation import EvaluationSetup, evaluate_parameter_sets
from return_landscapes.networks import DeterministicActor, make_policy
from toy_env import Countdown, PointReach

pytestmark = pytest.mark.unit

ACTOR = DeterministicActor((8,), 1)
K = 7


def apply(params, observation):
    return ACTOR.apply(params, observation)


@pytest.fixture(scope="module")
def parameter_sets():
    keys = jax.random.split(jax.random.PRNGKey(0), K)
    return jax.vmap(lambda k: ACTOR.init(k, jnp.zeros((1, 2))))(keys)


def test_each_episode_matches_a_single_episode_rollout(parameter_sets):
    setup = EvaluationSetup(PointReach(), apply, horizon=30, gamma=0.9)
    keys = jax.random.split(jax.random.PRNGKey(1), K)
    stats = evaluate_parameter_sets(setup, parameter_sets, keys)
    assert stats.undiscounted_return.shape == (K,)
    for i in range(K):
        params = jax.tree.map(lambda x, i=i: x[i], parameter_sets)
        # run_episode splits its key the same way: (reset, policy) keys.
        single = run_episode(
            PointReach(), make_policy(ACTOR, params), keys[i], horizon=30, gamma=0.9
        )
        np.testing.assert_allclose(stats.undiscounted_return[i], single[0], rtol=1e-6)
        np.testing.assert_allclose(stats.discounted_return[i], single[1], rtol=1e-6)
        assert stats.length[i] == 30
    assert len(set(stats.undiscounted_return.tolist())) == K  # distinct params


def test_terminated_episodes_stop_counting():
    setup = EvaluationSetup(Countdown(4), lambda p, o: p * o, horizon=10, gamma=0.5)
    stats = evaluate_parameter_sets(
        setup, jnp.ones((3, 1)), jnp.zeros((3, 2), jnp.uint32)
    )
    assert stats.length.tolist() == [4, 4, 4]
    assert stats.undiscounted_return.tolist() == [4.0, 4.0, 4.0]
    assert stats.discounted_return.tolist() == [1.875] * 3  # 1 + .5 + .25 + .125


@pytest.mark.parametrize("action_noise", [False, True])
def test_results_do_not_depend_on_the_chunk_size(parameter_sets, action_noise):
    setup = EvaluationSetup(PointReach(), apply, 20, action_noise=action_noise)
    keys = jax.random.split(jax.random.PRNGKey(2), K)
    whole = evaluate_parameter_sets(setup, parameter_sets, keys, 0.3)
    for chunk in (1, 3):
        parts = evaluate_parameter_sets(setup, parameter_sets, keys, 0.3, chunk=chunk)
        for a, b in zip(whole, parts, strict=True):
            np.testing.assert_array_equal(a, b)
    plain = evaluate_parameter_sets(
        setup._replace(action_noise=False), parameter_sets, keys
    )
    noisy_differs = not np.array_equal(
        plain.undiscounted_return, whole.undiscounted_return
    )
    assert noisy_differs == action_noise


def test_a_bad_chunk_size_is_one_line(parameter_sets):
    setup = EvaluationSetup(PointReach(), apply, 5)
    keys = jax.random.split(jax.random.PRNGKey(2), K)
    with pytest.raises(LandscapeError, match="chunk=0 must be at least 1"):
        evaluate_parameter_sets(setup, parameter_sets, keys, chunk=0)
