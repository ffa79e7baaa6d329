"""Perturbations: restored Adam state, fresh minibatches, the registry's checks."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.perturb import (
    CheckpointSource,
    get_perturbation,
    make_perturb_stage,
)
from return_landscapes.rundir import load_run_config
from return_landscapes.training.state import restore_state
from return_landscapes.training.trainers import get_trainer


@pytest.fixture(scope="module")
def checkpoint(tiny_td3_run):
    """(agent, source of seed 0 at step 200)."""
    cfg = load_run_config(tiny_td3_run)
    trainer = get_trainer(cfg)
    state = restore_state(trainer, cfg, tiny_td3_run, 200)
    seed0 = jax.tree.map(lambda x: x[0], state)
    return trainer.agent, CheckpointSource(seed0.agent, seed0.replay)


def perturbed(name, agent, source, scale, count=4):
    stage = make_perturb_stage(get_perturbation(name), agent)
    keys = jax.random.split(jax.random.PRNGKey(7), count)
    params, _ = stage((source, jnp.float32(scale)), keys)
    return params


def flat(params):
    return np.concatenate(
        [np.asarray(x).reshape(x.shape[0], -1) for x in jax.tree.leaves(params)], axis=1
    )


def test_td3_update_uses_the_restored_adam_state(checkpoint):
    agent, source = checkpoint
    assert int(source.agent_state.actor_opt_state.count) > 0
    fresh_adam = optax.scale_by_adam().init(source.agent_state.actor_params)
    fresh = source._replace(
        agent_state=source.agent_state.replace(actor_opt_state=fresh_adam)
    )
    restored = flat(perturbed("td3", agent, source, 1e-3))
    from_scratch = flat(perturbed("td3", agent, fresh, 1e-3))
    assert not np.allclose(restored, from_scratch)


def test_each_sample_sees_its_own_minibatch(checkpoint):
    agent, source = checkpoint
    params = flat(perturbed("td3", agent, source, 1e-3))
    original = flat(jax.tree.map(lambda x: x[None], source.agent_state.actor_params))
    assert not np.array_equal(params[0], original[0])
    assert len({row.tobytes() for row in params}) == len(params)


@pytest.mark.parametrize("name", ["td3", "param_noise"])
def test_scale_zero_leaves_the_actor_unchanged(checkpoint, name):
    agent, source = checkpoint
    params = flat(perturbed(name, agent, source, 0.0))
    original = flat(jax.tree.map(lambda x: x[None], source.agent_state.actor_params))
    np.testing.assert_array_equal(params, np.repeat(original, len(params), axis=0))


def test_param_noise_has_the_requested_std(checkpoint):
    agent, source = checkpoint
    params = flat(perturbed("param_noise", agent, source, 0.5, count=8))
    original = flat(jax.tree.map(lambda x: x[None], source.agent_state.actor_params))
    assert np.std(params - original) == pytest.approx(0.5, rel=0.05)


@pytest.mark.unit
def test_registry_refuses_unknown_names_and_other_algorithms():
    with pytest.raises(LandscapeError, match="unknown perturbation 'tdd3': choose one"):
        get_perturbation("tdd3")
    with pytest.raises(LandscapeError, match="applies to sac runs, this run is td3"):
        get_perturbation("sac", "td3")
    assert get_perturbation("param_noise", "sac").name == "param_noise"
