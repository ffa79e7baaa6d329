"""A deterministic MLP actor in a form no library owns, and its file: the neutral
format any framework can export to in a few lines of numpy.

The file is an ``.npz`` (read with ``allow_pickle=False``), version 1:

| key | value |
|---|---|
| ``format`` | the string ``return-landscapes-mlp-actor`` |
| ``version`` | 1 |
| ``kernel_0`` ... ``kernel_{L-1}`` | each layer's weights, ``[inputs, outputs]`` |
| ``bias_0`` ... ``bias_{L-1}`` | each layer's bias, ``[outputs]`` |
| ``activation`` | after every layer but the last: relu, tanh, elu, gelu or swish |
| ``squash`` | ``tanh`` (then rescaled from [-1, 1] to the bounds) or ``clip`` |
| ``action_low``, ``action_high`` | the action bounds, ``[actions]`` |
| ``obs_mean``, ``obs_std`` | optional: the network reads ``(obs - mean) / std`` |
| ``obs_clip`` | optional: that normalised observation clipped to ``+-obs_clip`` |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from return_landscapes.conf import Activation

FORMAT = "return-landscapes-mlp-actor"
VERSION = 1
ACTIVATIONS = tuple(activation.value for activation in Activation)
"""The hidden activations an actor may name (those of an imported policy)."""
SQUASHES = ("tanh", "clip")


class NeutralFormatError(ValueError):
    """The file is not a neutral actor file this version reads (the message says
    what was found and what to do)."""


@dataclass(frozen=True)
class MlpActor:
    """A deterministic MLP policy, in a form no library owns.

    Attributes:
      kernels: each layer's weights, ``[inputs, outputs]``.
      biases: each layer's bias.
      activation: the activation after every layer but the last (relu, tanh, elu,
        gelu).
      squash: ``tanh``: the last layer's output through tanh, rescaled from
        [-1, 1] to ``[low, high]``; ``clip``: the output clipped to ``[low, high]``.
      low: the action space's lower bounds.
      high: its upper bounds.
      family: the algorithm family that trained it (td3, sac or ppo; DDPG reads as
        td3, A2C as ppo).
      obs_mean: the observation normaliser's mean, or None (no normaliser): the
        network reads ``(obs - obs_mean) / obs_std``, clipped to ``+-obs_clip``.
      obs_std: the normaliser's standard deviation (its epsilon included).
      obs_clip: the normalised observation's bound, or None (unclipped).
    """

    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activation: str
    squash: str
    low: np.ndarray
    high: np.ndarray
    family: str
    obs_mean: np.ndarray | None = None
    obs_std: np.ndarray | None = None
    obs_clip: float | None = None

    @property
    def observation_size(self) -> int:
        return self.kernels[0].shape[0]

    @property
    def action_size(self) -> int:
        return self.kernels[-1].shape[1]

    def act(self, observations: np.ndarray) -> np.ndarray:
        """The actions for a batch of observations, in float32 (numpy)."""
        x = np.asarray(observations, np.float32)
        if self.obs_mean is not None:
            x = (x - self.obs_mean) / self.obs_std
            if self.obs_clip is not None:
                x = np.clip(x, -self.obs_clip, self.obs_clip)
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases, strict=True)):
            x = x @ kernel + bias
            if i < len(self.kernels) - 1:
                x = _activate(self.activation, x)
        if self.squash == "clip":
            return np.clip(x, self.low, self.high)
        x = np.tanh(x)
        return self.low + (
            np.float32(0.5) * (x + np.float32(1.0)) * (self.high - self.low)
        )


def _activate(name: str, x: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, np.float32(0))
    if name == "tanh":
        return np.tanh(x)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(x)).astype(np.float32)
    if name == "swish":
        return x / (np.float32(1) + np.exp(-x))
    if name == "gelu":  # torch's exact gelu: x * Phi(x)
        from math import erf

        phi = np.vectorize(lambda v: 0.5 * (1.0 + erf(v / np.sqrt(2.0))))(x)
        return (x * phi).astype(np.float32)
    raise ValueError(f"unknown activation {name!r}")


def save_actor(path: str | Path, actor: MlpActor) -> Path:
    """Write ``actor`` to ``path`` in the neutral format (returns the path)."""
    arrays = {
        "format": np.array(FORMAT),
        "version": np.array(VERSION),
        "activation": np.array(actor.activation),
        "squash": np.array(actor.squash),
        "action_low": np.asarray(actor.low, np.float32),
        "action_high": np.asarray(actor.high, np.float32),
    }
    for i, (kernel, bias) in enumerate(zip(actor.kernels, actor.biases, strict=True)):
        arrays[f"kernel_{i}"] = np.asarray(kernel, np.float32)
        arrays[f"bias_{i}"] = np.asarray(bias, np.float32)
    if actor.obs_mean is not None:
        arrays["obs_mean"] = np.asarray(actor.obs_mean, np.float32)
        arrays["obs_std"] = np.asarray(actor.obs_std, np.float32)
        if actor.obs_clip is not None:
            arrays["obs_clip"] = np.array(actor.obs_clip, np.float32)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def read_actor(path: str | Path, family: str = "imported") -> MlpActor:
    """The actor in a neutral-format file.

    Raises:
      NeutralFormatError: not such a file, a newer version, or arrays that do not
        fit together (the message names what was found).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as err:
        raise NeutralFormatError(f"not an .npz file numpy reads ({err})") from None
    if str(arrays.get("format", "")) != FORMAT:
        raise NeutralFormatError(
            f"no format={FORMAT!r} entry: not a neutral actor file (see "
            "docs/import.md for the keys it holds)"
        )
    version = int(arrays.get("version", -1))
    if version != VERSION:
        raise NeutralFormatError(
            f"format version {version}; this release reads version {VERSION}"
            + (": upgrade return-landscapes" if version > VERSION else "")
        )
    actor = _actor(arrays, family)
    _check(actor)
    return actor


def _actor(arrays: dict, family: str) -> MlpActor:
    count = sum(1 for name in arrays if name.startswith("kernel_"))
    missing = [
        name
        for name in [
            *(f"{k}_{i}" for i in range(count) for k in ("kernel", "bias")),
            "activation",
            "squash",
            "action_low",
            "action_high",
        ]
        if name not in arrays
    ]
    if count == 0 or missing:
        raise NeutralFormatError(f"missing entries: {', '.join(missing) or 'kernel_0'}")
    normalised = "obs_mean" in arrays
    return MlpActor(
        kernels=tuple(arrays[f"kernel_{i}"].astype(np.float32) for i in range(count)),
        biases=tuple(arrays[f"bias_{i}"].astype(np.float32) for i in range(count)),
        activation=str(arrays["activation"]),
        squash=str(arrays["squash"]),
        low=arrays["action_low"].astype(np.float32),
        high=arrays["action_high"].astype(np.float32),
        family=family,
        obs_mean=arrays["obs_mean"].astype(np.float32) if normalised else None,
        obs_std=arrays["obs_std"].astype(np.float32) if normalised else None,
        obs_clip=float(arrays["obs_clip"]) if "obs_clip" in arrays else None,
    )


def _check(actor: MlpActor) -> None:
    if actor.activation not in ACTIVATIONS:
        raise NeutralFormatError(
            f"activation {actor.activation!r}: choose one of {', '.join(ACTIVATIONS)}"
        )
    if actor.squash not in SQUASHES:
        raise NeutralFormatError(
            f"squash {actor.squash!r}: choose one of {', '.join(SQUASHES)}"
        )
    size = actor.kernels[0].shape[0] if actor.kernels[0].ndim == 2 else None
    for i, (kernel, bias) in enumerate(zip(actor.kernels, actor.biases, strict=True)):
        if (
            kernel.ndim != 2
            or kernel.shape[0] != size
            or bias.shape != kernel.shape[1:]
        ):
            raise NeutralFormatError(
                f"kernel_{i} {list(kernel.shape)} and bias_{i} {list(bias.shape)} do "
                f"not follow a layer of {size} outputs: kernels are [inputs, outputs]"
            )
        size = kernel.shape[1]
    for name in ("low", "high"):
        if getattr(actor, name).shape != (size,):
            raise NeutralFormatError(
                f"action_{name} has shape {list(getattr(actor, name).shape)}, not the "
                f"last layer's [{size}]"
            )
    if actor.obs_mean is not None and not (
        actor.obs_mean.shape == actor.obs_std.shape == (actor.kernels[0].shape[0],)
    ):
        raise NeutralFormatError(
            f"obs_mean {list(actor.obs_mean.shape)} and obs_std "
            f"{list(actor.obs_std.shape)} are not the first layer's "
            f"[{actor.kernels[0].shape[0]}] inputs"
        )
    network = [*actor.kernels, *actor.biases]
    if actor.obs_mean is not None:
        network += [actor.obs_mean, actor.obs_std]
    if not all(np.isfinite(array).all() for array in network):
        raise NeutralFormatError("the network holds non-finite numbers (NaN or inf)")
    bounds = np.concatenate([actor.low, actor.high])
    if np.isnan(bounds).any() or (
        actor.squash == "tanh" and not np.isfinite(bounds).all()
    ):
        raise NeutralFormatError(
            "the action bounds hold NaN, or are infinite under squash='tanh' (which "
            "rescales to them)"
        )
