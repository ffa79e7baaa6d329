"""CleanRL models read without torch: the tensors and parameters that CleanRL's own
scripts saved (tests/fixtures/cleanrl, made by make_fixtures.py in an environment
of their own) and their actors' actions are reproduced; other files are refused,
naming what was found."""

from pathlib import Path

import numpy as np
import pytest

from return_landscapes.formats.cleanrl import (
    CleanRLFormatError,
    _torch_actor,
    read_cleanrl,
)
from return_landscapes.formats.torch_file import read_tensors

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "cleanrl"
PENDULUM_BOUNDS = (np.full(1, -2.0, np.float32), np.full(1, 2.0, np.float32))


def reference(name: str):
    return np.load(FIXTURES / f"{name}-reference.npz")


def with_bounds(actor, low, high):
    import dataclasses

    return dataclasses.replace(actor, low=low, high=high)


def test_torch_files_hold_the_tensors_cleanrl_saved():
    saved = read_tensors(FIXTURES / "td3.cleanrl_model")
    assert isinstance(saved, tuple) and len(saved) == 3  # actor, qf1, qf2
    recorded = reference("td3")
    for index, tensors in enumerate(saved):
        for name, value in tensors.items():
            np.testing.assert_array_equal(value, recorded[f"tensor:{index}:{name}"])
    ppo = read_tensors(FIXTURES / "ppo.cleanrl_model")
    recorded = reference("ppo")
    assert sorted(f"tensor:{k}" for k in ppo) == sorted(
        k for k in recorded.files if k.startswith("tensor:")
    )


@pytest.mark.parametrize(
    ("name", "family", "squash", "bounds_saved"),
    [
        ("td3", "td3", "tanh", True),  # action_scale / action_bias buffers
        ("td3_jax", "td3", "tanh", False),  # flax: not saved, the env's
        ("ppo", "ppo", "clip", False),  # clipped by the env's ClipAction
    ],
)
def test_the_actor_acts_as_cleanrl_s_own(name, family, squash, bounds_saved):
    actor = read_cleanrl(FIXTURES / f"{name}.cleanrl_model")
    assert (actor.family, actor.squash) == (family, squash)
    if bounds_saved:
        np.testing.assert_array_equal(actor.low, PENDULUM_BOUNDS[0])
        np.testing.assert_array_equal(actor.high, PENDULUM_BOUNDS[1])
    else:
        assert np.isnan(actor.low).all() and np.isnan(actor.high).all()
        actor = with_bounds(actor, *PENDULUM_BOUNDS)
    recorded = reference(name)
    np.testing.assert_allclose(
        actor.act(recorded["observations"]), recorded["actions"], rtol=0, atol=1e-5
    )


def test_a_sac_actor_is_the_tanh_of_its_mean():
    """CleanRL's SAC actor (fc_mean beside fc_logstd), as its get_action's mean."""
    rng = np.random.default_rng(0)
    tensors = {
        "fc1.weight": rng.normal(size=(4, 3)),
        "fc1.bias": rng.normal(size=4),
        "fc2.weight": rng.normal(size=(4, 4)),
        "fc2.bias": rng.normal(size=4),
        "fc_mean.weight": rng.normal(size=(2, 4)),
        "fc_mean.bias": rng.normal(size=2),
        "fc_logstd.weight": rng.normal(size=(2, 4)),
        "fc_logstd.bias": rng.normal(size=2),
        "action_scale": np.array([1.0, 3.0]),
        "action_bias": np.array([0.0, 1.0]),
    }
    actor = _torch_actor((tensors, {}, {}))
    assert actor.family == "sac" and len(actor.kernels) == 3
    obs = rng.normal(size=(5, 3)).astype(np.float32)
    hidden = np.maximum(obs @ tensors["fc1.weight"].T + tensors["fc1.bias"], 0)
    hidden = np.maximum(hidden @ tensors["fc2.weight"].T + tensors["fc2.bias"], 0)
    mean = hidden @ tensors["fc_mean.weight"].T + tensors["fc_mean.bias"]
    expected = np.tanh(mean) * tensors["action_scale"] + tensors["action_bias"]
    np.testing.assert_allclose(actor.act(obs), expected, rtol=1e-5, atol=1e-5)


def test_files_of_other_kinds_are_named(tmp_path):
    sb3 = Path(__file__).parent / "fixtures" / "sb3" / "td3.zip"
    with pytest.raises(CleanRLFormatError, match=r"a zip, but not torch\.save's"):
        read_cleanrl(sb3)
    garbage = tmp_path / "model.cleanrl_model"
    garbage.write_bytes(b"\x00\x01 not a model")
    with pytest.raises(CleanRLFormatError, match=r"neither torch\.save's zip"):
        read_cleanrl(garbage)
    with pytest.raises(CleanRLFormatError, match="no TD3/DDPG"):
        _torch_actor({"critic.0.weight": np.zeros((2, 2))})
