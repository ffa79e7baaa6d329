import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes.agents import make_sac, make_td3
from return_landscapes.conf import SACConfig, TD3Config
from return_landscapes.networks import GaussianActor, squashed_gaussian_sample
from return_landscapes.types import Transition

pytestmark = pytest.mark.unit

OBS, ACT, BATCH = 3, 2, 8


def batch(seed: int = 0) -> Transition:
    k = jax.random.split(jax.random.PRNGKey(seed), 3)
    return Transition(
        jax.random.normal(k[0], (BATCH, OBS)),
        jnp.tanh(jax.random.normal(k[1], (BATCH, ACT))),
        jnp.ones(BATCH),
        jax.random.normal(k[2], (BATCH, OBS)),
        jnp.ones(BATCH),
    )


def leaves_equal(a, b) -> bool:
    return all(
        np.array_equal(x, y)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


AGENTS = {
    "td3": make_td3(TD3Config(hidden_sizes=[8, 8]), OBS, ACT),
    "sac": make_sac(SACConfig(hidden_sizes=[8, 8]), OBS, ACT),
}


@pytest.fixture(scope="module", params=sorted(AGENTS))
def trained(request):
    """An agent after a few updates, so its Adam moments are non-trivial."""
    agent = AGENTS[request.param]
    state = agent.init(jax.random.PRNGKey(0))
    update = jax.jit(agent.update)
    for i in range(4):
        state, _ = update(state, batch(i), jax.random.PRNGKey(i), i)
    return agent, state


def test_td3_actor_and_targets_move_every_second_update():
    agent = AGENTS["td3"]
    state = agent.init(jax.random.PRNGKey(0))
    after_one, _ = agent.update(state, batch(), jax.random.PRNGKey(1), 0)
    assert leaves_equal(after_one.actor_params, state.actor_params)
    assert leaves_equal(after_one.target_critic_params, state.target_critic_params)
    assert not leaves_equal(after_one.critic_params, state.critic_params)
    after_two, _ = agent.update(after_one, batch(), jax.random.PRNGKey(2), 1)
    assert not leaves_equal(after_two.actor_params, after_one.actor_params)
    assert not leaves_equal(
        after_two.target_actor_params, after_one.target_actor_params
    )


def test_sac_update_learns_temperature():
    agent = AGENTS["sac"]
    state = agent.init(jax.random.PRNGKey(0))
    new, _metrics = agent.update(state, batch(), jax.random.PRNGKey(1), 0)
    assert float(new.log_temperature) != float(state.log_temperature)
    assert float(state.log_temperature) == 0.0  # initial temperature 1.0


def test_actor_update_with_zero_learning_rate_keeps_the_actor(trained):
    agent, state = trained
    new = agent.actor_update(state, batch(9), jax.random.PRNGKey(9), 0.0)
    assert leaves_equal(new.actor_params, state.actor_params)


def test_actor_update_changes_only_the_actor(trained):
    agent, state = trained
    new = agent.actor_update(state, batch(9), jax.random.PRNGKey(9), 3e-4)
    assert not leaves_equal(new.actor_params, state.actor_params)
    assert leaves_equal(new.critic_params, state.critic_params)
    if hasattr(state, "log_temperature"):
        assert float(new.log_temperature) == float(state.log_temperature)


def test_actor_update_uses_the_restored_adam_state(trained):
    agent, state = trained
    fresh = state.replace(
        actor_opt_state=jax.tree.map(jnp.zeros_like, state.actor_opt_state)
    )
    restored = agent.actor_update(state, batch(9), jax.random.PRNGKey(9), 3e-4)
    from_fresh = agent.actor_update(fresh, batch(9), jax.random.PRNGKey(9), 3e-4)
    assert not leaves_equal(restored.actor_params, from_fresh.actor_params)


def test_squashed_gaussian_log_prob_matches_change_of_variables():
    mean = jnp.array([[0.3, -1.0]])
    log_std = jnp.array([[-0.5, 0.2]])
    action, log_prob = squashed_gaussian_sample(mean, log_std, jax.random.PRNGKey(3))
    pre_tanh = jnp.arctanh(action)
    std = jnp.exp(log_std)
    gaussian = jax.scipy.stats.norm.logpdf(pre_tanh, mean, std)
    expected = jnp.sum(gaussian - jnp.log(1 - action**2), axis=-1)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-4)


def test_sb3s_tanh_epsilon_and_clipped_log_std_by_value():
    """``tanh_epsilon`` adds SB3's 1e-6 inside the log-determinant; the clipped
    log-std is ``clip(raw, min, 2)`` where the squashed one moves every value."""
    mean, log_std = jnp.array([[0.3, -1.0]]), jnp.array([[-0.5, 0.2]])
    key = jax.random.PRNGKey(3)
    action, exact = squashed_gaussian_sample(mean, log_std, key)
    same, shifted = squashed_gaussian_sample(mean, log_std, key, tanh_epsilon=1e-6)
    np.testing.assert_array_equal(action, same)
    gaussian = exact + jnp.sum(jnp.log(1 - action**2), axis=-1)
    expected = gaussian - jnp.sum(jnp.log(1 - action**2 + 1e-6), axis=-1)
    np.testing.assert_allclose(shifted, expected, rtol=1e-6)
    actor = GaussianActor((), 3, log_std_min=-20.0, clip_log_std=True)
    params = actor.init(key, jnp.zeros((1, 1)))
    raw = jnp.array([0.0, 0.0, 0.0, -30.0, -1.0, 3.0])  # mean, then log-std
    params = jax.tree.map(jnp.zeros_like, params)
    params["params"]["MLP_0"]["Dense_0"]["bias"] = raw
    _, clipped = actor.apply(params, jnp.ones((1, 1)))
    np.testing.assert_array_equal(clipped, [[-20.0, -1.0, 2.0]])
