"""The neutral actor file: what any framework exports to with numpy alone."""

import re

import jax
import numpy as np
import pytest

from return_landscapes.formats.jax_actor import jax_policy
from return_landscapes.formats.neutral import (
    MlpActor,
    NeutralFormatError,
    read_actor,
    save_actor,
)
from return_landscapes.formats.sb3 import read_sb3
from test_sb3 import FIXTURES, MODELS, reference

pytestmark = pytest.mark.unit


def export(path, **changes):
    """The export lines of docs/import.md, for a 2-2-1 network with known weights."""
    arrays = {
        "format": "return-landscapes-mlp-actor",
        "version": 1,
        "kernel_0": np.array([[1.0, -1.0], [0.5, 2.0]], np.float32),  # [in, out]
        "bias_0": np.array([0.0, -1.0], np.float32),
        "kernel_1": np.array([[1.0], [1.0]], np.float32),
        "bias_1": np.array([0.0], np.float32),
        "activation": "relu",
        "squash": "tanh",
        "action_low": np.array([0.0], np.float32),
        "action_high": np.array([4.0], np.float32),
    }
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_a_hand_made_file_acts_by_value(tmp_path):
    actor = read_actor(export(tmp_path / "actor.npz"))
    obs = np.array([[2.0, 2.0], [-1.0, 0.0]], np.float32)
    # hidden: relu([2+1, -2+4-1]) = [3, 1]; relu([-1, 1-1]) = [0, 0]
    expected = 0.0 + 0.5 * (np.tanh([[4.0], [0.0]]) + 1.0) * 4.0
    np.testing.assert_allclose(actor.act(obs), expected, rtol=1e-6)
    clipped = read_actor(export(tmp_path / "clip.npz", squash="clip"))
    np.testing.assert_array_equal(clipped.act(obs), [[4.0], [0.0]])


def test_the_normaliser_is_applied_and_clipped(tmp_path):
    normalised = export(
        tmp_path / "actor.npz",
        obs_mean=np.array([1.0, 0.0], np.float32),
        obs_std=np.array([0.5, 1.0], np.float32),
        obs_clip=np.float32(1.5),
        squash="clip",
        action_high=np.array([100.0], np.float32),
    )
    actor = read_actor(normalised)
    # (obs - mean) / std = [4, 2] -> clipped [1.5, 1.5]; hidden relu([2.25, 0.5])
    np.testing.assert_allclose(actor.act(np.array([[3.0, 2.0]])), [[2.75]])


@pytest.mark.parametrize("name", MODELS)
def test_an_sb3_actor_survives_the_round_trip(tmp_path, name):
    actor = read_sb3(FIXTURES / f"{name}.zip")
    again = read_actor(save_actor(tmp_path / f"{name}.npz", actor), family=name)
    expected = reference(name)
    np.testing.assert_array_equal(
        again.act(expected["observations"]), actor.act(expected["observations"])
    )
    np.testing.assert_allclose(
        again.act(expected["observations"]), expected["actions"], rtol=0, atol=1e-5
    )


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"format": None}, "not a neutral actor file"),
        ({"version": 2}, "format version 2; this release reads version 1: upgrade"),
        ({"bias_1": None}, "missing entries: bias_1"),
        ({"kernel_1": np.ones((3, 1), np.float32)}, "kernel_1 [3, 1] and bias_1 [1]"),
        ({"action_low": np.zeros(2, np.float32)}, "action_low has shape [2]"),
        ({"activation": "mish"}, "activation 'mish': choose one of"),
        ({"squash": "sigmoid"}, "squash 'sigmoid': choose one of tanh, clip"),
        ({"bias_0": np.array([np.nan, 0.0], np.float32)}, "non-finite"),
        ({"action_high": np.array([np.inf], np.float32)}, "infinite under squash"),
        ({"obs_mean": np.zeros(3), "obs_std": np.ones(3)}, "obs_mean [3] and obs_std"),
    ],
)
def test_a_file_that_does_not_fit_is_named(tmp_path, changes, fragment):
    with pytest.raises(NeutralFormatError) as refused:
        read_actor(export(tmp_path / "actor.npz", **changes))
    assert fragment in str(refused.value)


def test_other_files_and_pickles_are_refused(tmp_path):
    (tmp_path / "text.npz").write_text("weights")
    with pytest.raises(NeutralFormatError, match=r"not an \.npz file"):
        read_actor(tmp_path / "text.npz")
    np.savez(tmp_path / "objects.npz", format=np.array([{"a": 1}], dtype=object))
    with pytest.raises(NeutralFormatError, match=r"not an \.npz file"):
        read_actor(tmp_path / "objects.npz")


def test_an_actor_keeps_its_shapes():
    actor = MlpActor(
        kernels=(np.zeros((5, 4), np.float32), np.zeros((4, 2), np.float32)),
        biases=(np.zeros(4, np.float32), np.zeros(2, np.float32)),
        activation="tanh",
        squash="clip",
        low=-np.ones(2, np.float32),
        high=np.ones(2, np.float32),
        family="ppo",
    )
    assert (actor.observation_size, actor.action_size) == (5, 2)


@pytest.mark.parametrize("name", MODELS)
def test_the_jax_policy_acts_as_sb3(name):
    """``jax_policy`` gives the policy API's ``(apply, params)`` of an actor."""
    apply, params = jax_policy(read_sb3(FIXTURES / f"{name}.zip"))
    expected = reference(name)
    actions = jax.vmap(apply, in_axes=(None, 0))(params, expected["observations"])
    np.testing.assert_allclose(actions, expected["actions"], rtol=0, atol=1e-5)


def test_the_jax_policy_normalises_clips_and_squashes_as_act(tmp_path):
    for squash in ("tanh", "clip"):
        actor = read_actor(
            export(
                tmp_path / f"{squash}.npz",
                squash=squash,
                obs_mean=np.array([1.0, 0.0], np.float32),
                obs_std=np.array([0.5, 1.0], np.float32),
                obs_clip=np.float32(1.5),
            )
        )
        apply, params = jax_policy(actor)
        obs = np.array([[3.0, 2.0], [0.2, -0.3], [1.0, 0.1]], np.float32)
        np.testing.assert_allclose(
            jax.vmap(apply, in_axes=(None, 0))(params, obs), actor.act(obs), rtol=1e-6
        )


def test_the_docs_export_lines_write_the_flax_network_they_read(tmp_path, monkeypatch):
    """docs/import.md's export of a flax MLP, run as printed."""
    import flax.linen as nn

    from helpers import REPOSITORY

    guide = (REPOSITORY / "docs" / "import.md").read_text()
    (block,) = [
        b
        for b in re.findall(r"```python\n(.*?)```", guide, re.S)
        if "np.savez" in b and "Dense_" in b
    ]

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Dense(8)(x))
            return nn.Dense(2)(x)

    params = Net().init(jax.random.PRNGKey(0), np.zeros(4, np.float32))["params"]
    monkeypatch.chdir(tmp_path)
    exec(block, {"params": params, "action_size": 2})
    obs = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (16, 4)))
    expected = np.tanh(Net().apply({"params": params}, obs))
    np.testing.assert_allclose(read_actor("actor.npz").act(obs), expected, atol=1e-6)


def test_the_docs_torch_export_lines_write_the_layers_they_read(tmp_path, monkeypatch):
    """docs/import.md's export of a torch actor, run as printed on stand-ins for
    torch's Linear modules (torch is not a dependency of the suite)."""
    import sys
    import types

    from helpers import REPOSITORY

    guide = (REPOSITORY / "docs" / "import.md").read_text()
    (block,) = [
        b
        for b in re.findall(r"```python\n(.*?)```", guide, re.S)
        if "np.savez" in b and "torch.nn.Linear" in b
    ]

    class Tensor:  # what .detach().cpu().numpy() gives back
        def __init__(self, array):
            self.array = np.asarray(array, np.float32)

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.array

    class Linear:
        def __init__(self, weight, bias):  # torch's weight is [outputs, inputs]
            self.weight, self.bias = Tensor(weight), Tensor(bias)

    class ReLU:
        pass

    rng = np.random.default_rng(0)
    layers = [
        Linear(rng.normal(size=(8, 4)), rng.normal(size=8)),
        ReLU(),
        Linear(rng.normal(size=(2, 8)), rng.normal(size=2)),
    ]
    actor = types.SimpleNamespace(modules=lambda: [object(), *layers])
    torch = types.ModuleType("torch")
    torch.nn = types.SimpleNamespace(Linear=Linear)
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.chdir(tmp_path)
    space = types.SimpleNamespace(low=np.full(2, -2.0), high=np.full(2, 2.0))
    exec(block, {"actor": actor, "action_space": space})
    obs = rng.normal(size=(16, 4)).astype(np.float32)
    first, last = layers[0], layers[2]
    hidden = np.maximum(obs @ first.weight.array.T + first.bias.array, 0)
    expected = 2.0 * np.tanh(hidden @ last.weight.array.T + last.bias.array)
    np.testing.assert_allclose(read_actor("actor.npz").act(obs), expected, atol=1e-5)
