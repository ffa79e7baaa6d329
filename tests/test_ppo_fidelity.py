"""Brax PPO as the paper's cleanrl-style code by default, by value on hand-made inputs:
the clipped Gaussian and its log std parameter, orthogonal init, Adam's epsilon, no
bootstrap at the horizon, envs back to their own first state, a frozen normalizer,
and old runs loading with the Brax-style options they were trained with."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.base import State

from return_landscapes.agents.ppo import Batch, Rollout, make_ppo
from return_landscapes.conf import (
    Autoreset,
    Init,
    PPOConfig,
    PPOPolicy,
    TrainConfig,
    resolve,
)
from return_landscapes.envs.brax import autoreset_step, reset_carry
from return_landscapes.training.acting import with_rollout
from toy_env import PointReach

pytestmark = pytest.mark.unit

LOG_2PI = math.log(2 * math.pi)


class EchoAction:
    """Observation: the last action the env took (starts at 0); never terminates."""

    observation_size = 2
    action_size = 2

    def reset(self, key: jax.Array) -> State:
        del key
        return State(None, jnp.zeros(2), jnp.zeros(()), jnp.zeros(()))

    def step(self, state: State, action: jax.Array) -> State:
        return state.replace(obs=action, reward=jnp.zeros(()), done=jnp.zeros(()))


def with_policy_output(state, bias, log_std=(0.0, 0.0)):
    """``state`` whose policy mean is ``bias`` for every observation (zero output
    kernel) and whose log std parameter is ``log_std``."""
    params = jax.tree.map(lambda x: x, state.policy_params)
    inner = dict(params["params"])
    output = dict(inner["Dense_1"])
    output["kernel"] = jnp.zeros_like(output["kernel"])
    output["bias"] = jnp.asarray(bias, jnp.float32)
    inner["Dense_1"] = output
    inner["actor_logstd"] = jnp.asarray(log_std, jnp.float32)
    return state.replace(policy_params={"params": inner})


def test_clipped_gaussian_log_prob_is_the_normal_density_of_the_unclipped_sample():
    cfg = PPOConfig(hidden_sizes=[4])
    assert cfg.policy is PPOPolicy.clipped_gaussian
    agent = make_ppo(cfg, 2, 2)
    state = with_policy_output(agent.init(jax.random.PRNGKey(0)), [0.5, -0.2])
    observation = jnp.array([[0.3, -1.0]])
    mean, std = agent.distribution(state.policy_params, state.normalizer, observation)
    np.testing.assert_allclose(mean, [[0.5, -0.2]], atol=1e-7)
    np.testing.assert_allclose(std, [[1.0, 1.0]])

    sample = jnp.array([[1.7, -0.1]])
    np.testing.assert_allclose(agent.env_action(sample), [[1.0, -0.1]])
    # N(1.7; 0.5, 1) N(-0.1; -0.2, 1): -(1.2^2 + 0.1^2) / 2 - log(2 pi)
    expected = -(1.2**2 + 0.1**2) / 2 - LOG_2PI
    params, normalizer = state.policy_params, state.normalizer
    log_prob = agent.log_prob(params, normalizer, observation, sample)
    assert float(log_prob[0]) == pytest.approx(expected, rel=1e-6)
    clipped_density = -(0.5**2 + 0.1**2) / 2 - LOG_2PI  # not the clipped action's
    assert float(log_prob[0]) != pytest.approx(clipped_density, rel=1e-3)

    # evaluation: the clipped mean
    far = with_policy_output(state, [1.5, -0.2])
    act = agent.policy(agent.actor_params(far), True)
    np.testing.assert_allclose(act(observation, None), [[1.0, -0.2]], atol=1e-7)


def test_the_rollout_steps_the_env_with_the_clipped_sample_and_records_it_unclipped():
    env = EchoAction()
    cfg = PPOConfig(hidden_sizes=[4], num_envs=3, unroll_length=5)
    agent = with_rollout(make_ppo(cfg, 2, 2), env, horizon=100)
    state = with_policy_output(
        agent.init(jax.random.PRNGKey(0)), [0.5, -0.2], [math.log(2.0)] * 2
    )
    carry = jax.vmap(reset_carry, in_axes=(None, 0))(
        env, jax.random.split(jax.random.PRNGKey(1), 3)
    )
    _, data, _ = agent.rollout(state, carry, jax.random.PRNGKey(2))
    raw = np.asarray(data.raw_action)
    assert (np.abs(raw) > 1).any()  # std 2: some samples fall outside [-1, 1]
    np.testing.assert_allclose(data.next_observation, np.clip(raw, -1, 1))
    by_hand = (
        -0.5 * ((raw - np.array([0.5, -0.2])) / 2.0) ** 2 - math.log(2.0) - LOG_2PI / 2
    ).sum(-1)
    np.testing.assert_allclose(data.log_prob, by_hand, rtol=1e-5)


def test_the_log_std_parameter_starts_at_zero_and_ignores_the_observation():
    agent = make_ppo(PPOConfig(hidden_sizes=[8, 8]), 3, 2)
    state = agent.init(jax.random.PRNGKey(0))
    log_std = state.policy_params["params"]["actor_logstd"]
    np.testing.assert_array_equal(log_std, np.zeros(2))
    state = state.replace(
        policy_params={
            "params": {
                **state.policy_params["params"],
                "actor_logstd": jnp.array([0.3, -0.4]),
            }
        }
    )
    observations = jax.random.normal(jax.random.PRNGKey(1), (5, 3)) * 3
    mean, std = agent.distribution(state.policy_params, state.normalizer, observations)
    np.testing.assert_allclose(std, np.broadcast_to(np.exp([0.3, -0.4]), (5, 2)))
    assert len({tuple(row) for row in np.asarray(mean)}) == 5  # the mean does depend
    # the Brax-style policy's std is a function of the observation
    tanh = make_ppo(PPOConfig(hidden_sizes=[8, 8], policy="tanh_gaussian"), 3, 2)
    tanh_state = tanh.init(jax.random.PRNGKey(0))
    assert "actor_logstd" not in tanh_state.policy_params["params"]
    _, tanh_std = tanh.distribution(
        tanh_state.policy_params, tanh_state.normalizer, observations
    )
    assert len({tuple(row) for row in np.asarray(tanh_std)}) == 5


@pytest.mark.parametrize("width", [8, 16])
def test_orthogonal_init_is_cleanrls_layer_init(width):
    cfg = PPOConfig(hidden_sizes=[width, width])
    assert cfg.init is Init.orthogonal
    state = make_ppo(cfg, 5, 3).init(jax.random.PRNGKey(0))
    for params in (state.policy_params["params"], state.value_params["params"]):
        square = np.asarray(params["Dense_1"]["kernel"])
        np.testing.assert_allclose(square.T @ square, 2.0 * np.eye(width), atol=1e-5)
        for layer in ("Dense_0", "Dense_1", "Dense_2"):
            np.testing.assert_array_equal(params[layer]["bias"], 0.0)
    policy_out = np.linalg.svd(state.policy_params["params"]["Dense_2"]["kernel"])[1]
    np.testing.assert_allclose(policy_out, [0.01] * 3, rtol=1e-5)
    value_out = np.linalg.svd(state.value_params["params"]["Dense_2"]["kernel"])[1]
    np.testing.assert_allclose(value_out, [1.0], rtol=1e-5)

    lecun = make_ppo(PPOConfig(hidden_sizes=[width, width], init="lecun"), 5, 3)
    square = np.asarray(
        lecun.init(jax.random.PRNGKey(0)).policy_params["params"]["Dense_1"]["kernel"]
    )
    assert not np.allclose(square.T @ square, 2.0 * np.eye(width), atol=1e-2)


@pytest.mark.parametrize(("eps", "fraction"), [(1e-5, 1 / 11), (1e-8, 1 / 1.01)])
def test_adams_epsilon_sets_the_first_step_on_a_tiny_gradient(eps, fraction):
    """Zero advantages leave only the value loss; a linear value net (no hidden layer)
    at zero observations is its bias b, so d loss / d b = value_cost * mean(b - target)
    = 2 * 5e-7 = 1e-6, and Adam's first step is lr * g / (|g| + eps)."""
    cfg = PPOConfig(hidden_sizes=[], adam_eps=eps, learning_rate=1.0)
    assert PPOConfig().adam_eps == 1e-5
    agent = make_ppo(cfg, 2, 2)
    state = agent.init(jax.random.PRNGKey(0))
    batch = Batch(
        observation=jnp.zeros((4, 2)),
        raw_action=jnp.zeros((4, 2)),
        log_prob=jnp.zeros(4),
        advantage=jnp.zeros(4),
        value_target=jnp.full(4, -5e-7),
    )
    new, _ = agent.minibatch_step(state, batch, cfg.learning_rate)
    step = -float(new.value_params["params"]["Dense_0"]["bias"][0])
    g = 1e-6
    assert step == pytest.approx(g / (g + eps), rel=1e-3)
    assert step == pytest.approx(fraction, rel=2e-3)
    moved = jax.tree.map(
        lambda a, b: bool((a != b).any()), state.policy_params, new.policy_params
    )
    assert not any(jax.tree.leaves(moved))  # zero advantages: the policy stays


def hand_rollout(observations, rewards, next_observations, finished, discount=None):
    """One env's unroll ``(T, 1, ...)`` with one-feature observations."""
    column = lambda x: jnp.asarray(x, jnp.float32)[:, None]  # noqa: E731
    steps = len(observations)
    return Rollout(
        observation=column(observations)[..., None],
        raw_action=jnp.zeros((steps, 1, 1)),
        log_prob=jnp.zeros((steps, 1)),
        reward=column(rewards),
        next_observation=column(next_observations)[..., None],
        discount=column([1.0] * steps if discount is None else discount),
        finished=jnp.asarray(finished, bool)[:, None],
    )


@pytest.mark.parametrize(
    ("bootstrap", "advantages"),
    [(False, [0.75, -1.0, 1.25]), (True, [1.25, 1.0, 1.25])],
)
def test_gae_counts_the_horizon_as_done_unless_bootstrapping(bootstrap, advantages):
    """Three steps, step 2 ends the episode at the horizon (not a termination, so its
    env discount is 1). V(o) = o (a linear value net), gamma = lambda = 0.5:

    values [1, 2, 0.5], next values [2, 4, 1.5], rewards 1;
    deltas: 1 + 0.5 * 2 - 1 = 1; step 2: 1 + 0.5 * 4 - 2 = 1 with the bootstrap, or
    1 - 2 = -1 without (cleanrl: nextnonterminal = 1 - done); 1 + 0.5 * 1.5 - 0.5 =
    1.25. Advantages, cut after step 2: A3 = 1.25, A2 = delta2, A1 = 1 + 0.25 * A2.
    """
    cfg = PPOConfig(
        hidden_sizes=[], gamma=0.5, gae_lambda=0.5, bootstrap_truncation=bootstrap
    )
    assert PPOConfig().bootstrap_truncation is False
    agent = make_ppo(cfg, 1, 1)
    state = agent.init(jax.random.PRNGKey(0))
    state = state.replace(
        value_params={
            "params": {"Dense_0": {"kernel": jnp.ones((1, 1)), "bias": jnp.zeros(1)}}
        }
    )
    data = hand_rollout(
        observations=[1.0, 2.0, 0.5],  # 0.5: the next episode's start
        rewards=[1.0, 1.0, 1.0],
        next_observations=[2.0, 4.0, 1.5],  # 4.0: the true last observation
        finished=[0, 1, 0],
    )
    batch = agent.make_batch(state, data)
    np.testing.assert_allclose(batch.advantage, advantages, rtol=1e-6)
    np.testing.assert_allclose(
        batch.value_target, np.add(advantages, [1.0, 2.0, 0.5]), rtol=1e-6
    )
    # a termination never bootstraps, either way
    terminated = data._replace(discount=jnp.array([[1.0], [0.0], [1.0]]))
    np.testing.assert_allclose(
        agent.make_batch(state, terminated).advantage, [0.75, -1.0, 1.25], rtol=1e-6
    )


def run_steps(carry, env, count, horizon=3):
    step = jax.vmap(autoreset_step, in_axes=(None, 0, 0, 0, None))
    for i in range(count):
        keys = jax.random.split(jax.random.PRNGKey(100 + i), 2)
        carry, out = step(env, carry, jnp.full((2, 1), 0.7), keys, horizon)
    return carry, out


def test_autoreset_first_state_returns_each_env_to_its_own_first_state():
    env = PointReach()  # starts uniformly in [-1, 1]: every env its own start
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    carry = jax.vmap(lambda k: reset_carry(env, k, keep_first=True))(keys)
    first = np.asarray(carry.state.obs)
    assert not np.allclose(first[0], first[1])
    moved, out = run_steps(carry, env, 2)
    assert not out.finished.any()
    assert not np.allclose(moved.state.obs, first)
    back, out = run_steps(carry, env, 3)  # the horizon: both episodes end
    assert out.finished.all()
    np.testing.assert_array_equal(back.state.obs, first)
    np.testing.assert_array_equal(back.first_state.obs, first)
    np.testing.assert_array_equal(back.episode_step, [0, 0])
    np.testing.assert_array_equal(back.episode_return, [0.0, 0.0])
    again, _ = run_steps(back, env, 3)
    np.testing.assert_array_equal(again.state.obs, first)

    # fresh (and TD3 / SAC, whose carries keep no first state): a new start
    fresh = jax.vmap(lambda k: reset_carry(env, k))(keys)
    assert fresh.first_state is None
    anew, _ = run_steps(fresh, env, 3)
    assert not np.allclose(anew.state.obs[:, 0], first[:, 0])


def test_ppo_training_envs_keep_their_first_state_by_default():
    from return_landscapes.training.brax import off_policy_parts, ppo_parts

    small = {"num_envs": 2, "unroll_length": 4, "hidden_sizes": [4]}
    keys = jax.random.split(jax.random.PRNGKey(0), 1)
    cfg = resolve(TrainConfig, algo="ppo", ppo=small)
    assert cfg.ppo.autoreset is Autoreset.first_state
    carry = ppo_parts(cfg, PointReach()).init(keys).env
    np.testing.assert_array_equal(carry.first_state.obs, carry.state.obs)
    fresh = resolve(TrainConfig, algo="ppo", ppo={**small, "autoreset": "fresh"})
    assert ppo_parts(fresh, PointReach()).init(keys).env.first_state is None
    tiny_td3 = {"hidden_sizes": [4], "replay_capacity": 10}
    td3 = resolve(TrainConfig, algo="td3", td3=tiny_td3)
    assert off_policy_parts(td3, PointReach()).init(keys).env.first_state is None


def test_the_normalizer_stays_frozen_and_unused_unless_normalizing():
    data = hand_rollout([1.0, 2.0, 3.0, 4.0], [1.0] * 4, [2.0, 3.0, 4.0, 5.0], [0] * 4)
    for normalize, count in ((False, 0.0), (True, 4.0)):
        cfg = PPOConfig(
            hidden_sizes=[4], num_minibatches=1, normalize_observations=normalize
        )
        agent = make_ppo(cfg, 1, 1)
        state = agent.init(jax.random.PRNGKey(0))
        new, _ = agent.update(state, data, jax.random.PRNGKey(1))
        assert float(new.normalizer.count) == count
    # not normalizing: statistics in the normalizer change nothing
    agent = make_ppo(PPOConfig(hidden_sizes=[4]), 1, 1)
    state = agent.init(jax.random.PRNGKey(0))
    odd = state.normalizer.replace(
        count=jnp.float32(3.0), mean=jnp.ones(1), sum_squares=jnp.full(1, 12.0)
    )
    observation = jnp.array([[2.0]])
    np.testing.assert_array_equal(
        agent.distribution(state.policy_params, state.normalizer, observation)[0],
        agent.distribution(state.policy_params, odd, observation)[0],
    )


def test_an_old_ppo_config_loads_with_the_brax_style_options(tmp_path):
    from omegaconf import OmegaConf

    from return_landscapes.rundir import CONFIG, LEGACY_OPTIONS, load_run_config

    saved = OmegaConf.structured(TrainConfig(algo="ppo"))
    plain = OmegaConf.to_container(saved, enum_to_str=True)
    for name in LEGACY_OPTIONS["ppo"]:
        del plain["ppo"][name]
    (tmp_path / CONFIG).write_text(OmegaConf.to_yaml(OmegaConf.create(plain)))
    cfg = load_run_config(tmp_path).ppo
    assert cfg.policy is PPOPolicy.tanh_gaussian
    assert cfg.normalize_observations is True
    assert cfg.adam_eps == 1e-8
    assert cfg.init is Init.lecun
    assert cfg.bootstrap_truncation is True
    assert cfg.autoreset is Autoreset.fresh
    # a config that has them keeps them
    (tmp_path / CONFIG).write_text(OmegaConf.to_yaml(saved))
    cfg = load_run_config(tmp_path).ppo
    assert cfg.policy is PPOPolicy.clipped_gaussian
    assert cfg.normalize_observations is False
    assert cfg.adam_eps == 1e-5
    assert cfg.init is Init.orthogonal
    assert cfg.bootstrap_truncation is False
    assert cfg.autoreset is Autoreset.first_state
