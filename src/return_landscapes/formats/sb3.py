"""Stable-Baselines3 models: the deterministic actor of a ``model.save`` zip, as SB3
acts, read without torch or SB3.

An SB3 zip holds ``data`` (JSON: the spaces, ``policy_kwargs``, ``use_sde``) and
``policy.pth`` (the policy's state dict, read by ``torch_file``). The actor is an
MLP whose layers are found by their state-dict names:

- TD3 and DDPG: ``actor.mu`` (the last layer's output through tanh);
- SAC: ``actor.latent_pi`` then ``actor.mu`` (the Gaussian's mean through tanh);
- PPO and A2C: ``mlp_extractor.policy_net`` then ``action_net`` (the mean).

The hidden activation follows every layer but the last. SB3's ``predict`` then
rescales a tanh output from [-1, 1] to the action space's bounds, and clips an
unsquashed mean to them; ``MlpActor.act`` (``neutral.py``) does the same, in
float32 as SB3 does.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from return_landscapes.formats.neutral import MlpActor
from return_landscapes.formats.torch_file import TorchFileError, read_tensors

ACTIVATIONS = {
    "ReLU": "relu",
    "Tanh": "tanh",
    "ELU": "elu",
    "GELU": "gelu",
    "SiLU": "swish",
}
"""torch.nn activation classes SB3 policies use -> their names here."""

_ACTORS = (  # (family, layer prefixes in order, squash, default activation)
    ("sac", ("actor.latent_pi.", "actor.mu."), "tanh", "relu"),
    ("td3", ("actor.mu.",), "tanh", "relu"),
    ("ppo", ("mlp_extractor.policy_net.", "action_net."), "clip", "tanh"),
)


class SB3FormatError(ValueError):
    """The file is not an SB3 model this reader supports (the message says why)."""


def read_sb3(path: str | Path) -> MlpActor:
    """The actor of the SB3 model saved at ``path`` (``model.save``'s zip).

    Raises:
      SB3FormatError: not an SB3 zip, or a model this reader does not support
        (discrete or image spaces, gSDE, a features extractor with weights, an
        unknown activation); the message names what was found.
      safe_pickle.RefusedGlobal: ``policy.pth`` names a global a state dict never
        needs (nothing in it was run).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise SB3FormatError(f"not a zip archive ({err})") from None
    with archive:
        names = set(archive.namelist())
        if not {"data", "policy.pth"} <= names:
            raise SB3FormatError(
                "no 'data' and 'policy.pth' in the archive: not a file that "
                "Stable-Baselines3's model.save wrote"
            )
        try:
            data = json.loads(archive.read("data"))
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
            raise SB3FormatError(f"its 'data' entry is not JSON ({err})") from None
        try:
            tensors = read_tensors(io.BytesIO(archive.read("policy.pth")))
        except TorchFileError as err:
            raise SB3FormatError(f"policy.pth: {err}") from None
    low, high = _box_bounds(data, "action_space")
    _box_bounds(data, "observation_space")
    if data.get("use_sde"):
        raise SB3FormatError(
            "the model acts with generalized state-dependent exploration (gSDE, "
            "use_sde=True): only models trained without it are read"
        )
    return _actor(tensors, data, low, high)


def _actor(tensors: dict, data: dict, low, high) -> MlpActor:
    extractors = [k for k in tensors if "features_extractor." in k]
    if extractors:
        raise SB3FormatError(
            f"the policy has a features extractor with weights ({extractors[0]}): "
            "only MlpPolicy on flat Box observations is read"
        )
    for family, prefixes, squash, default in _ACTORS:
        if any(k.startswith(prefixes[0]) for k in tensors):
            layers = [layer for p in prefixes for layer in _linear_layers(tensors, p)]
            return MlpActor(
                kernels=tuple(w.T.astype(np.float32) for w, _ in layers),
                biases=tuple(b.astype(np.float32) for _, b in layers),
                activation=_activation(data, default),
                squash=squash,
                low=low,
                high=high,
                family=family,
            )
    raise SB3FormatError(
        "no actor of TD3/DDPG (actor.mu), SAC (actor.latent_pi) or PPO/A2C "
        f"(mlp_extractor.policy_net) among the policy's tensors "
        f"({', '.join(sorted(tensors)[:4])}, ...)"
    )


def _linear_layers(tensors: dict, prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(weight, bias)`` of each linear layer under ``prefix``, in order
    (``prefix.<i>.weight`` in a Sequential, or ``prefix.weight``)."""
    if f"{prefix}weight" in tensors:
        return [(tensors[f"{prefix}weight"], tensors[f"{prefix}bias"])]
    indices = sorted(
        {
            int(m.group(1))
            for k in tensors
            if (m := re.fullmatch(re.escape(prefix) + r"(\d+)\.weight", k))
        }
    )
    return [
        (tensors[f"{prefix}{i}.weight"], tensors[f"{prefix}{i}.bias"]) for i in indices
    ]


def _activation(data: dict, default: str) -> str:
    described = (data.get("policy_kwargs") or {}).get("activation_fn")
    if described is None:
        return default
    name = str(described).rstrip("'>").rsplit(".", 1)[-1]
    if name not in ACTIVATIONS:
        raise SB3FormatError(
            f"the policy's activation {name} is not one this reader knows "
            f"({', '.join(ACTIVATIONS)})"
        )
    return ACTIVATIONS[name]


def _box_bounds(data: dict, space: str) -> tuple[np.ndarray, np.ndarray]:
    described = data.get(space) or {}
    kind = str(described.get(":type:", "?"))
    if "spaces.box.Box" not in kind:
        raise SB3FormatError(
            f"the model's {space.replace('_', ' ')} is {kind}: only Box spaces are read"
        )
    shape = tuple(described.get("_shape") or ())
    if len(shape) != 1:
        raise SB3FormatError(
            f"the model's {space.replace('_', ' ')} has shape {list(shape)}: only "
            "flat (1-D) observations and actions are read, not images"
        )
    dtype = np.dtype(described.get("dtype", "float32"))
    return tuple(_numbers(described[b], shape, dtype) for b in ("low", "high"))


def _numbers(text: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A numpy array from its ``repr`` text, as SB3 writes a space's bounds."""
    values = np.array([float(v) for v in str(text).strip("[]").split()], dtype)
    if values.shape != shape:
        raise SB3FormatError(f"bounds {text!r} do not have the space's shape {shape}")
    return values
