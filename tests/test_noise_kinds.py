"""The paper's two further noise types: parameter noise redrawn at every env step
(``param_noise_per_step``) and a TD3 update evaluated with action noise, 10 rollouts
per updated policy (``td3_action``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.base import State

from helpers import copy_run
from return_landscapes import LandscapeError, purd
from return_landscapes.conf import TrainConfig
from return_landscapes.evaluation import (
    PARAM_NOISE_TAG,
    EvaluationSetup,
    evaluate_parameter_sets,
    noisy_parameters,
)
from return_landscapes.landscape.checks import check_perturbation_fits
from return_landscapes.landscape.hotpath.engine import checkpoint_source
from return_landscapes.landscape.hotpath.keys import sample_keys
from return_landscapes.landscape.perturb import get_perturbation, make_perturb_stage
from return_landscapes.rundir import load_run_config
from return_landscapes.store import purd as purd_store
from return_landscapes.training.trainers import get_parts


class Echo:
    """Reward = the action's first entry; never ends; observation always 1."""

    observation_size = 1
    action_size = 1

    def reset(self, key):
        del key
        return State(None, jnp.ones(1), jnp.zeros(()), jnp.zeros(()))

    def step(self, state, action):
        return state.replace(reward=action[0], done=jnp.zeros(()))


def weight_policy(params, observation):
    return params["w"] * observation


HORIZON = 6


@pytest.mark.unit
def test_per_step_parameter_noise_draws_new_weights_at_every_step():
    """The return of ``a_t = w_t`` is ``sum_t w_t``, ``w_t`` the weight plus the
    draw of step ``t``'s key: different at every step, none at std 0."""
    setup = EvaluationSetup(Echo(), weight_policy, HORIZON, param_noise=True)
    params = {"w": jnp.array([[0.5], [0.0]])}  # two parameter sets
    keys = jax.random.split(jax.random.PRNGKey(3), 2)
    std = 0.2
    stats = evaluate_parameter_sets(setup, params, keys, std)
    for i in range(2):
        noise_key = jax.random.split(keys[i])[1]
        weights = []
        for t in range(HORIZON):
            step_key = jax.random.fold_in(
                jax.random.fold_in(noise_key, t), PARAM_NOISE_TAG
            )
            one = jax.tree.map(lambda x, i=i: x[i], params)
            weights.append(float(noisy_parameters(one, step_key, std)["w"][0]))
        assert len(set(weights)) == HORIZON  # redrawn at every step
        np.testing.assert_allclose(stats.undiscounted_return[i], sum(weights), 1e-6)
    quiet = evaluate_parameter_sets(setup, params, keys, 0.0)
    np.testing.assert_allclose(quiet.undiscounted_return, [0.5 * HORIZON, 0.0])


@pytest.mark.unit
def test_per_step_parameter_noise_is_the_same_in_any_chunk():
    setup = EvaluationSetup(Echo(), weight_policy, HORIZON, param_noise=True)
    params = {"w": jnp.linspace(-1, 1, 7)[:, None]}
    keys = jax.random.split(jax.random.PRNGKey(4), 7)
    whole = evaluate_parameter_sets(setup, params, keys, 0.1)
    for chunk in (1, 3):
        part = evaluate_parameter_sets(setup, params, keys, 0.1, chunk=chunk)
        np.testing.assert_array_equal(
            whole.undiscounted_return, part.undiscounted_return
        )


@pytest.mark.unit
def test_noisy_parameters_spare_the_normalizer():
    params = {"normalizer": {"mean": jnp.ones(3)}, "dense": {"kernel": jnp.ones(3)}}
    noisy = noisy_parameters(params, jax.random.PRNGKey(0), 0.5)
    np.testing.assert_array_equal(noisy["normalizer"]["mean"], jnp.ones(3))
    assert not np.array_equal(noisy["dense"]["kernel"], jnp.ones(3))


@pytest.mark.unit
@pytest.mark.unit
def test_equal_shaped_leaves_get_independent_noise():
    """A key per leaf: the paper's code drew every leaf's noise from one key, so
    leaves of equal shape got equal noise; here each leaf has its own draw."""
    params = {"a": jnp.zeros((4, 4)), "b": jnp.zeros((4, 4))}
    noisy = noisy_parameters(params, jax.random.PRNGKey(0), 1.0)
    assert not np.allclose(noisy["a"], noisy["b"])
    assert abs(np.corrcoef(np.ravel(noisy["a"]), np.ravel(noisy["b"]))[0, 1]) < 0.7


def test_per_step_parameter_noise_is_refused_on_atari_in_one_line():
    cfg = TrainConfig(env="atari:Breakout-v5", algo="ppo")
    with pytest.raises(LandscapeError, match="steps its episodes on the host"):
        check_perturbation_fits(get_perturbation("param_noise_per_step"), cfg)


def test_td3_action_shares_one_td3_update_among_ten_samples(tiny_td3_run):
    """Sample ``j`` of ``td3_action`` is the policy of ``td3`` sample ``10 (j // 10)``
    with sample ``j``'s own episode key."""
    run_cfg = load_run_config(tiny_td3_run)
    parts = get_parts(run_cfg)
    td3, td3_action = get_perturbation("td3"), get_perturbation("td3_action")
    source = checkpoint_source(parts, run_cfg, tiny_td3_run, 0, 300, td3)
    keys = sample_keys(0, 0, 300, 20)
    scale = jnp.float32(3e-4)
    plain_params, plain_keys = make_perturb_stage(td3, parts.agent)(
        (source, scale), keys
    )
    params, episode_keys = make_perturb_stage(td3_action, parts.agent)(
        (source, scale), td3_action.key_rows(keys)
    )
    np.testing.assert_array_equal(episode_keys, plain_keys)
    first = np.arange(20) // 10 * 10
    for leaf, plain in zip(
        jax.tree.leaves(params), jax.tree.leaves(plain_params), strict=True
    ):
        np.testing.assert_array_equal(leaf, np.asarray(plain)[first])
    kernel = np.asarray(jax.tree.leaves(params)[0])
    assert not np.array_equal(kernel[0], kernel[10])  # two updates, not one


def test_td3_action_purd_stores_its_settings_and_spreads(tiny_td3_run, tmp_path):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    purd(run=str(run), perturb="td3_action", samples=20, checkpoints=[300])
    lr = load_run_config(run).td3.actor_lr
    result = purd_store.load_purd_result(run, 300, "td3_action", lr)
    assert result.attrs["scale_source"] == "run"
    assert result.attrs["action_noise"] == 0.1
    assert result.attrs["rollouts_per_policy"] == 10
    returns = result.arrays["undiscounted_return"]
    assert returns.shape == (2, 20)
    assert (returns.std(axis=1) > 0).all()
