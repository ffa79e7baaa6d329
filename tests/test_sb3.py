"""Stable-Baselines3 models read without torch: torch's own tensors and SB3's own
deterministic actions (tests/fixtures/sb3, made by make_fixtures.py with SB3 and
torch in an environment of their own) are reproduced; files this reader cannot
take are refused, naming what was found."""

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from return_landscapes.formats.safe_pickle import RefusedGlobal
from return_landscapes.formats.sb3 import SB3FormatError, read_sb3
from return_landscapes.formats.torch_file import TorchFileError, read_tensors

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "sb3"
MODELS = ["td3", "sac", "ppo"]


def reference(name: str):
    return np.load(FIXTURES / f"{name}-reference.npz")


def policy_tensors(model: Path) -> dict:
    with zipfile.ZipFile(model) as archive:
        return read_tensors(io.BytesIO(archive.read("policy.pth")))


@pytest.mark.parametrize("name", MODELS)
def test_every_tensor_of_policy_pth_is_torch_s_own(name):
    ours = policy_tensors(FIXTURES / f"{name}.zip")
    saved = reference(name)
    theirs = {k.removeprefix("tensor:"): saved[k] for k in saved if "tensor:" in k}
    assert sorted(ours) == sorted(theirs)
    for key, value in ours.items():
        assert value.dtype == theirs[key].dtype and value.shape == theirs[key].shape
        np.testing.assert_array_equal(value, theirs[key], err_msg=key)


@pytest.mark.parametrize(
    "name, family, activation, squash, hidden",
    [
        ("td3", "td3", "relu", "tanh", [16, 16]),
        ("sac", "sac", "tanh", "tanh", [16, 16]),
        ("ppo", "ppo", "tanh", "clip", [16]),
    ],
)
def test_the_actor_acts_as_sb3_predict(name, family, activation, squash, hidden):
    actor = read_sb3(FIXTURES / f"{name}.zip")
    assert (actor.family, actor.activation, actor.squash) == (
        family,
        activation,
        squash,
    )
    assert [k.shape[1] for k in actor.kernels[:-1]] == hidden
    assert (actor.observation_size, actor.action_size) == (3, 1)
    np.testing.assert_array_equal(actor.low, [-2.0])
    np.testing.assert_array_equal(actor.high, [2.0])
    expected = reference(name)
    actions = actor.act(expected["observations"])
    assert actions.dtype == np.float32 and actions.shape == expected["actions"].shape
    np.testing.assert_allclose(actions, expected["actions"], rtol=0, atol=1e-5)
    assert np.ptp(expected["actions"]) > 1e-3  # the actions differ between states


def rewritten(model: Path, out: Path, **entries: bytes) -> Path:
    """A copy of the SB3 zip at ``model`` with ``entries`` replaced."""
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.namelist():
            target.writestr(item, entries.get(item, source.read(item)))
    return out


class _System:
    def __reduce__(self):
        import os

        return os.system, ("touch ran",)


def test_a_policy_pth_whose_pickle_runs_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as pth:
        pth.writestr("archive/data.pkl", pickle.dumps({"w": _System()}))
    model = rewritten(
        FIXTURES / "td3.zip",
        tmp_path / "evil.zip",
        **{"policy.pth": archive.getvalue()},
    )
    with pytest.raises(RefusedGlobal, match=r"posix\.system"):
        read_sb3(model)
    assert not (tmp_path / "ran").exists()


def edited_data(tmp_path: Path, edit) -> Path:
    with zipfile.ZipFile(FIXTURES / "ppo.zip") as source:
        data = json.loads(source.read("data"))
    edit(data)
    return rewritten(
        FIXTURES / "ppo.zip", tmp_path / "edited.zip", data=json.dumps(data).encode()
    )


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (
            lambda d: d["action_space"].update({":type:": "<class 'Discrete'>"}),
            "action space is <class 'Discrete'>: only Box spaces",
        ),
        (
            lambda d: d["observation_space"].update({"_shape": [84, 84, 3]}),
            "observation space has shape [84, 84, 3]: only flat",
        ),
        (lambda d: d.update({"use_sde": True}), "gSDE"),
        (
            lambda d: d.update(
                {"policy_kwargs": {"activation_fn": "<class 'torch.nn.Mish'>"}}
            ),
            "activation Mish is not one this reader knows",
        ),
    ],
)
def test_what_the_reader_cannot_take_is_named(tmp_path, edit, fragment):
    with pytest.raises(SB3FormatError) as refused:
        read_sb3(edited_data(tmp_path, edit))
    assert fragment in str(refused.value)


def test_files_of_other_kinds_are_named(tmp_path):
    (tmp_path / "model.zip").write_bytes(b"not a zip")
    with pytest.raises(SB3FormatError, match="not a zip archive"):
        read_sb3(tmp_path / "model.zip")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as other:
        other.writestr("weights.bin", b"")
    with pytest.raises(SB3FormatError, match="not a file that Stable-Baselines3"):
        read_sb3(tmp_path / "other.zip")
    broken = rewritten(FIXTURES / "td3.zip", tmp_path / "broken.zip", data=b"{oops")
    with pytest.raises(SB3FormatError, match="its 'data' entry is not JSON"):
        read_sb3(broken)
    with pytest.raises(TorchFileError, match=r"torch\.save's format since torch 1\.6"):
        read_tensors(io.BytesIO(pickle.dumps({"legacy": 1})))
