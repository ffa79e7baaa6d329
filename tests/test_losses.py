"""The agents' losses by value, on hand-made batches and stand-in networks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes.agents.sac import (
    SACState,
    sac_actor_loss,
    sac_log_temperature_loss,
    sample_action,
)
from return_landscapes.agents.td3 import TD3State, td3_actor_loss, td3_critic_loss
from return_landscapes.conf import ActorObjective, Init, TD3Config
from return_landscapes.types import Transition

pytestmark = pytest.mark.unit


class LinearActor:
    """``action = params * observation``: a stand-in network with known outputs."""

    @staticmethod
    def apply(params, observation):
        return params * observation


class LinearTwinCritic:
    """``Q_i = params[i] * (observation + action)``, stacked as ``(2, batch)``."""

    @staticmethod
    def apply(params, observation, action):
        total = (observation + action)[..., 0]
        return jnp.stack([params[0] * total, params[1] * total])


BATCH = Transition(
    observation=jnp.array([[1.0], [2.0]]),
    action=jnp.array([[0.5], [-0.5]]),
    reward=jnp.array([1.0, 0.0]),
    next_observation=jnp.array([[0.0], [1.0]]),
    discount=jnp.array([1.0, 0.0]),
)


def td3_state():
    return TD3State(
        actor_params=jnp.float32(0.5),
        critic_params=jnp.array([3.0, 4.0]),
        target_actor_params=jnp.float32(0.5),
        target_critic_params=jnp.array([1.0, 2.0]),
        actor_opt_state=None,
        critic_opt_state=None,
    )


def test_td3_critic_loss_regresses_both_critics_on_the_clipped_double_q_target():
    # next actions 0.5 * [0, 1] = [0, 0.5]; target Q1 = [0, 1.5], Q2 = [0, 3], min
    # [0, 1.5]; target = reward + 0.99 * discount * min = [1, 0]; Q1 = 3 * 1.5 = 4.5,
    # Q2 = 4 * 1.5 = 6 for both rows: loss = mean(3.5^2 + 5^2, 4.5^2 + 6^2) = 46.75
    cfg = TD3Config(target_noise=0.0)
    state = td3_state()
    loss, mean_q = td3_critic_loss(
        LinearActor, LinearTwinCritic, cfg, state.critic_params, state, BATCH,
        jax.random.PRNGKey(0),
    )  # fmt: skip
    assert float(loss) == pytest.approx(46.75)
    assert float(mean_q) == pytest.approx(5.25)


def test_td3_critic_target_noise_is_clipped():
    # noise std 100 clipped to 0.5: next actions [0 +- 0.5, 0.5 +- 0.5] stay within
    # [-1, 1]; the loss can only take the values of the four clipped combinations
    cfg = TD3Config(target_noise=100.0, target_noise_clip=0.5)
    state = td3_state()
    loss, _ = td3_critic_loss(
        LinearActor, LinearTwinCritic, cfg, state.critic_params, state, BATCH,
        jax.random.PRNGKey(3),
    )  # fmt: skip
    # row 1 has discount 0: its target is 0 whatever the noise; row 0's next
    # observation is 0, so its next action is the clipped noise a = +-0.5 and its
    # target 1 + 0.99 * min(a, 2a): 1.495 for a = 0.5, 1 - 0.99 = 0.01 for a = -0.5
    candidates = [
        ((4.5 - t) ** 2 + (6 - t) ** 2 + 4.5**2 + 6**2) / 2 for t in (1.495, 0.01)
    ]
    assert min(abs(float(loss) - c) for c in candidates) < 1e-4


def actor_loss(objective, critic_params, actor_params=0.5):
    return td3_actor_loss(
        LinearActor, LinearTwinCritic, objective, actor_params, critic_params, BATCH
    )


def test_td3_actor_loss_first_q_is_minus_the_first_critics_mean_q():
    # actions 0.5 * [1, 2] = [0.5, 1]; Q1 = 3 * [1.5, 3] = [4.5, 9]; loss -6.75
    loss = actor_loss(ActorObjective.first_q, jnp.array([3.0, 4.0]))
    assert float(loss) == pytest.approx(-6.75)


def test_td3_actor_gradient_follows_the_smaller_critic_by_default():
    # critics built to disagree: Q1 = 3 t, Q2 = -t with t = obs + p * obs > 0, so
    # min(Q1, Q2) = Q2 and the loss is mean(t); d/dp = mean(obs) = 1.5, while the
    # first critic alone would give -3 * mean(obs) = -4.5
    critics = jnp.array([3.0, -1.0])
    grad_min = jax.grad(lambda p: actor_loss(ActorObjective.min_q, critics, p))(0.5)
    grad_first = jax.grad(lambda p: actor_loss(ActorObjective.first_q, critics, p))(0.5)

    def by_hand(p):  # -mean(min(Q1, Q2)) written out
        t = (BATCH.observation + p * BATCH.observation)[:, 0]
        return -jnp.mean(jnp.minimum(3.0 * t, -1.0 * t))

    assert float(grad_min) == pytest.approx(float(jax.grad(by_hand)(0.5)))
    assert float(grad_min) == pytest.approx(1.5)
    assert float(grad_first) == pytest.approx(-4.5)
    assert TD3Config().actor_objective is ActorObjective.min_q


def test_sac_log_temperature_loss_and_gradient_by_hand():
    # gap = log_prob + target_entropy = [0, 1]; loss = -mean(0.5 * gap) = -0.25;
    # d/dlog_t = -mean(gap) = -0.5 (the log-probs are held fixed)
    log_prob = jnp.array([1.0, 2.0])
    loss = sac_log_temperature_loss(0.5, log_prob, -1.0)
    assert float(loss) == pytest.approx(-0.25)
    grad = jax.grad(sac_log_temperature_loss)(0.5, log_prob, -1.0)
    assert float(grad) == pytest.approx(-0.5)


class GaussianStandIn:
    """Mean ``params * observation`` and log-std -1 for every action dimension."""

    @staticmethod
    def apply(params, observation):
        return params * observation, jnp.full_like(observation, -1.0)


def test_sac_actor_loss_weighs_log_probs_by_the_temperature_against_min_q():
    state = SACState(
        actor_params=jnp.float32(0.25),
        critic_params=jnp.array([3.0, 2.0]),
        target_critic_params=None,
        log_temperature=jnp.log(jnp.float32(0.2)),
        actor_opt_state=None,
        critic_opt_state=None,
        temperature_opt_state=None,
    )
    key = jax.random.PRNGKey(7)
    loss, log_prob = sac_actor_loss(
        GaussianStandIn, LinearTwinCritic, 0.0, state.actor_params, state, BATCH, key
    )
    action, expected_log_prob = sample_action(
        GaussianStandIn, state.actor_params, BATCH.observation, key
    )
    total = np.asarray(BATCH.observation + action)[:, 0]
    min_q = np.minimum(3.0 * total, 2.0 * total)
    expected = np.mean(0.2 * np.asarray(expected_log_prob) - min_q)
    np.testing.assert_allclose(np.asarray(log_prob), np.asarray(expected_log_prob))
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("width", [8, 16])
def test_orthogonal_init_gives_gain_squared_identity_for_square_layers(width):
    from return_landscapes.agents.td3 import make_td3

    cfg = TD3Config(hidden_sizes=[width, width], init=Init.orthogonal)
    state = make_td3(cfg, 5, 2).init(jax.random.PRNGKey(0))
    kernel = np.asarray(state.actor_params["params"]["MLP_0"]["Dense_1"]["kernel"])
    np.testing.assert_allclose(kernel.T @ kernel, 2.0 * np.eye(width), atol=1e-5)
    lecun = make_td3(TD3Config(hidden_sizes=[width, width], init="lecun"), 5, 2)
    other = lecun.init(jax.random.PRNGKey(0)).actor_params["params"]["MLP_0"]
    square = np.asarray(other["Dense_1"]["kernel"])
    assert not np.allclose(square.T @ square, 2.0 * np.eye(width), atol=1e-2)
