"""SAC as the paper's code (jaxrl's SAC) by default, by value on hand-made inputs;
each option's other value gives the behaviour of runs saved before it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes.agents.sac import (
    make_sac,
    make_sac_actor,
    sac_log_temperature_loss,
    sac_target_entropy,
    sac_temperature_loss,
    sample_action,
)
from return_landscapes.conf import Heads, Init, SACConfig, TemperatureLoss
from return_landscapes.networks import GaussianActor, bounded_log_std
from return_landscapes.types import Transition

pytestmark = pytest.mark.unit

OBS, ACT = 4, 3


def test_target_entropy_is_minus_half_the_action_size_by_default():
    assert sac_target_entropy(SACConfig(), 3) == -1.5
    assert sac_target_entropy(SACConfig(target_entropy_scale=1.0), 3) == -3.0
    # an explicit target wins over the scale
    assert sac_target_entropy(SACConfig(target_entropy=-0.25), 3) == -0.25


def test_log_std_is_tanh_squashed_into_minus_10_and_2_by_default():
    raw = jnp.array([1e3, -1e3, 0.0])
    default = np.asarray(bounded_log_std(raw, SACConfig().log_std_min))
    # tanh(0) = 0 puts the log-std at the middle of the range: -10 + 12 / 2 = -4
    np.testing.assert_array_equal(default, np.float32([2.0, -10.0, -4.0]))
    legacy = np.asarray(bounded_log_std(raw, -5.0))
    np.testing.assert_array_equal(legacy, np.float32([2.0, -5.0, -1.5]))
    # tanh-rescaled, not clipped: a raw 1 is -10 + 6 (tanh(1) + 1), inside the range
    one = float(bounded_log_std(jnp.float32(1.0), -10.0))
    assert one == pytest.approx(-10.0 + 6.0 * (np.tanh(1.0) + 1.0), rel=1e-6)


@pytest.mark.parametrize(
    ("heads", "log_std_min", "bounds"),
    [("separate", -10.0, (-10.0, 2.0)), ("joint", -5.0, (-5.0, 2.0))],
)
def test_the_actors_log_std_reaches_exactly_its_bounds(heads, log_std_min, bounds):
    # head biases of +-1e3 with zero kernels: the raw log-std is +-1e3 for every input
    cfg = SACConfig(hidden_sizes=[8], heads=heads, log_std_min=log_std_min)
    actor = make_sac_actor(cfg, ACT)
    params = actor.init(jax.random.PRNGKey(0), jnp.zeros((1, OBS)))
    observation = jnp.ones((2, OBS))
    for sign, bound in ((1.0, bounds[1]), (-1.0, bounds[0])):
        raw = jnp.full((ACT,), sign * 1e3)
        if heads == "separate":
            head = {"kernel": jnp.zeros((8, ACT)), "bias": raw}
            p = {"params": {**params["params"], "log_std": head}}
        else:
            out = {
                "kernel": jnp.zeros((8, 2 * ACT)),
                "bias": jnp.concatenate([jnp.zeros(ACT), raw]),
            }
            p = {"params": {"MLP_0": {**params["params"]["MLP_0"], "Dense_1": out}}}
        _, log_std = actor.apply(p, observation)
        np.testing.assert_array_equal(np.asarray(log_std), np.full((2, ACT), bound))


def test_temperature_gradient_is_alpha_times_the_entropy_gap():
    # entropy = -mean([1, 2]) = -1.5; target -3: gap 1.5; alpha = exp(log 0.5) = 0.5
    # loss = 0.5 * 1.5 = 0.75 and d/dlog_alpha = alpha * gap = 0.75
    log_prob = jnp.array([1.0, 2.0])
    log_alpha = jnp.log(jnp.float32(0.5))
    loss = sac_temperature_loss(log_alpha, log_prob, -3.0)
    grad = jax.grad(sac_temperature_loss)(log_alpha, log_prob, -3.0)
    assert float(loss) == pytest.approx(0.75)
    assert float(grad) == pytest.approx(0.5 * 1.5)
    # the log-probs are held fixed
    log_prob_grad = jax.grad(sac_temperature_loss, argnums=1)(log_alpha, log_prob, -3)
    np.testing.assert_array_equal(np.asarray(log_prob_grad), [0.0, 0.0])
    # the older loss has gradient (entropy - target) without the factor alpha
    old = jax.grad(sac_log_temperature_loss)(log_alpha, log_prob, -3.0)
    assert float(old) == pytest.approx(1.5)
    assert SACConfig().temperature_loss is TemperatureLoss.temperature


@pytest.mark.parametrize("temperature_loss", ["temperature", "log_temperature"])
def test_sac_update_steps_the_temperature_with_the_configured_loss(temperature_loss):
    cfg = SACConfig(
        hidden_sizes=[8], initial_temperature=0.5, temperature_loss=temperature_loss
    )
    agent = make_sac(cfg, OBS, ACT)
    state = agent.init(jax.random.PRNGKey(0))
    batch = Transition(
        observation=jnp.ones((5, OBS)),
        action=jnp.zeros((5, ACT)),
        reward=jnp.ones(5),
        next_observation=jnp.ones((5, OBS)),
        discount=jnp.ones(5),
    )
    key = jax.random.PRNGKey(1)
    new, _ = agent.update(state, batch, key, 0)
    # the actor step samples with the update's second key, from the actor before it
    _, actor_key = jax.random.split(key)
    actor = make_sac_actor(cfg, ACT)
    _, log_prob = sample_action(actor, state.actor_params, batch.observation, actor_key)
    gap = -float(jnp.mean(log_prob)) - (-1.5)  # entropy - target, target -3 / 2
    expected = 0.5 * gap if temperature_loss == "temperature" else gap
    # Adam's first moment after one step is (1 - b1) * grad = 0.1 * grad
    grad = float(new.temperature_opt_state.mu) / 0.1
    assert grad == pytest.approx(expected, rel=1e-4)


def test_separate_heads_are_two_dense_layers_on_the_last_hidden_layer():
    cfg = SACConfig(hidden_sizes=[8, 6])
    assert cfg.heads is Heads.separate
    params = make_sac_actor(cfg, ACT).init(jax.random.PRNGKey(0), jnp.zeros((1, OBS)))
    shapes = jax.tree_util.tree_map(jnp.shape, params["params"])
    assert shapes == {
        "Dense_0": {"kernel": (OBS, 8), "bias": (8,)},
        "Dense_1": {"kernel": (8, 6), "bias": (6,)},
        "mean": {"kernel": (6, ACT), "bias": (ACT,)},
        "log_std": {"kernel": (6, ACT), "bias": (ACT,)},
    }


def test_joint_heads_keep_the_old_parameter_tree():
    cfg = SACConfig(hidden_sizes=[8, 6], heads=Heads.joint)
    params = make_sac_actor(cfg, ACT).init(jax.random.PRNGKey(0), jnp.zeros((1, OBS)))
    old = GaussianActor((8, 6), ACT).init(jax.random.PRNGKey(0), jnp.zeros((1, OBS)))
    shapes = jax.tree_util.tree_map(jnp.shape, params["params"])
    assert shapes == {
        "MLP_0": {
            "Dense_0": {"kernel": (OBS, 8), "bias": (8,)},
            "Dense_1": {"kernel": (8, 6), "bias": (6,)},
            "Dense_2": {"kernel": (6, 2 * ACT), "bias": (2 * ACT,)},
        }
    }
    assert shapes == jax.tree_util.tree_map(jnp.shape, old["params"])


def test_both_heads_take_the_configured_kernel_init():
    # orthogonal: a head's kernel K (6 x 3) has K^T K = gain^2 I, gain sqrt(2) for
    # the mean and 1 for the log-std, as the paper's code
    cfg = SACConfig(hidden_sizes=[6], init=Init.orthogonal)
    params = make_sac_actor(cfg, ACT).init(jax.random.PRNGKey(0), jnp.zeros((1, OBS)))
    for head, gain_squared in (("mean", 2.0), ("log_std", 1.0)):
        kernel = np.asarray(params["params"][head]["kernel"])
        np.testing.assert_allclose(
            kernel.T @ kernel, gain_squared * np.eye(ACT), atol=1e-5
        )


def test_a_run_config_without_the_sac_fidelity_options_loads_the_old_behaviour(
    tmp_path,
):
    from omegaconf import OmegaConf

    from return_landscapes.conf import TrainConfig
    from return_landscapes.rundir import CONFIG, load_run_config

    new_options = ("target_entropy_scale", "log_std_min", "temperature_loss", "heads")
    plain = OmegaConf.to_container(
        OmegaConf.structured(TrainConfig()), enum_to_str=True
    )
    for name in new_options:
        del plain["sac"][name]
    (tmp_path / CONFIG).write_text(OmegaConf.to_yaml(OmegaConf.create(plain)))
    cfg = load_run_config(tmp_path).sac
    assert cfg.target_entropy_scale == 1.0
    assert cfg.log_std_min == -5.0
    assert cfg.temperature_loss is TemperatureLoss.log_temperature
    assert cfg.heads is Heads.joint
    # a config that has them keeps them
    plain["sac"].update(
        target_entropy_scale=0.5, log_std_min=-10.0, temperature_loss="temperature"
    )
    plain["sac"]["heads"] = "separate"
    (tmp_path / CONFIG).write_text(OmegaConf.to_yaml(OmegaConf.create(plain)))
    cfg = load_run_config(tmp_path).sac
    assert cfg.target_entropy_scale == 0.5 and cfg.log_std_min == -10.0
    assert cfg.temperature_loss is TemperatureLoss.temperature
    assert cfg.heads is Heads.separate
