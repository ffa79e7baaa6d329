"""CleanRL models: the deterministic actor of a ``.cleanrl_model`` file that a
continuous-action script saved with ``--save-model``, read without torch.

- ``td3_continuous_action.py`` (and ``ddpg_continuous_action.py``): ``torch.save`` of
  ``(actor, qf1, qf2)`` state dicts; the actor is ``fc1``, ``fc2``, ``fc_mu`` with
  ReLU, ``tanh(fc_mu) * action_scale + action_bias`` (its buffers give the
  bounds: ``bias -+ scale``). A SAC actor's ``fc_mean`` reads the same way (the
  tanh of the Gaussian's mean).
- ``ppo_continuous_action.py``: ``torch.save`` of the agent's state dict; the actor
  is ``actor_mean`` (three linear layers, tanh between), the mean clipped to the
  env's bounds (the script's ``ClipAction``). The script normalises observations
  with Gymnasium's ``NormalizeObservation`` and saves no statistics.
- ``td3_continuous_action_jax.py`` (and ``ddpg_continuous_action_jax.py``): flax's
  msgpack of ``[actor, qf1, qf2]`` parameters (``Dense_0`` .. ``Dense_2``, ReLU);
  ``action_scale`` / ``action_bias`` are not saved: the bounds are the env's.

Bounds a file does not hold are NaN in the ``MlpActor``: the importer takes the
env's.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from return_landscapes.formats.neutral import MlpActor
from return_landscapes.formats.torch_file import TorchFileError, read_tensors


class CleanRLFormatError(ValueError):
    """The file is not a CleanRL model this reader supports (the message says
    why)."""


def read_cleanrl(path: str | Path) -> MlpActor:
    """The actor of the ``.cleanrl_model`` at ``path`` (torch or flax).

    Raises:
      CleanRLFormatError: neither format, or a network this reader does not know
        (the message names the entries found).
      safe_pickle.RefusedGlobal: a torch file names a global a state dict never
        needs (nothing in it was run).
    """
    if zipfile.is_zipfile(path):
        try:
            saved = read_tensors(path)
        except TorchFileError as err:
            raise CleanRLFormatError(f"a zip, but not torch.save's ({err})") from None
        return _torch_actor(saved)
    return _flax_actor(_msgpack(Path(path)))


def _msgpack(path: Path):
    from flax import serialization

    try:
        return serialization.msgpack_restore(path.read_bytes())
    except Exception as err:  # msgpack raises many kinds for foreign bytes
        raise CleanRLFormatError(
            "neither torch.save's zip nor flax's msgpack (as CleanRL's torch and JAX "
            f"scripts save): {type(err).__name__}"
        ) from None


def _torch_actor(saved) -> MlpActor:
    dicts = list(saved) if isinstance(saved, tuple | list) else [saved]
    for tensors in dicts:
        if not isinstance(tensors, Mapping):
            continue
        if "fc_mu.weight" in tensors or "fc_mean.weight" in tensors:
            return _tanh_actor(tensors)
        if "actor_mean.0.weight" in tensors:
            return _ppo_actor(tensors)
    found = sorted(k for t in dicts if isinstance(t, Mapping) for k in t)[:5]
    raise CleanRLFormatError(
        "no TD3/DDPG (fc_mu), SAC (fc_mean) or PPO (actor_mean) actor among the "
        f"saved tensors ({', '.join(found) or type(saved).__name__}, ...)"
    )


def _tanh_actor(tensors: Mapping) -> MlpActor:
    head = "fc_mu" if "fc_mu.weight" in tensors else "fc_mean"
    names = [*_numbered(tensors, "fc"), head]
    scale = np.asarray(tensors.get("action_scale", np.nan), np.float32).reshape(-1)
    bias = np.asarray(tensors.get("action_bias", np.nan), np.float32).reshape(-1)
    size = tensors[f"{head}.weight"].shape[0]
    return MlpActor(
        kernels=tuple(np.asarray(tensors[f"{n}.weight"], np.float32).T for n in names),
        biases=tuple(np.asarray(tensors[f"{n}.bias"], np.float32) for n in names),
        activation="relu",
        squash="tanh",
        low=np.broadcast_to(bias - scale, (size,)).astype(np.float32),
        high=np.broadcast_to(bias + scale, (size,)).astype(np.float32),
        family="td3" if head == "fc_mu" else "sac",
    )


def _numbered(tensors: Mapping, prefix: str) -> list[str]:
    """``fc1``, ``fc2``, ... as far as they go."""
    names, index = [], 1
    while f"{prefix}{index}.weight" in tensors:
        names.append(f"{prefix}{index}")
        index += 1
    return names


def _ppo_actor(tensors: Mapping) -> MlpActor:
    indices = sorted(
        int(k.split(".")[1])
        for k in tensors
        if k.startswith("actor_mean.") and k.endswith(".weight")
    )
    names = [f"actor_mean.{i}" for i in indices]
    kernels = [np.asarray(tensors[f"{n}.weight"]).T for n in names]
    biases = [tensors[f"{n}.bias"] for n in names]
    return _unbounded_actor(kernels, biases, "tanh", "clip", "ppo")


def _flax_actor(tree) -> MlpActor:
    actor = _flax_params(tree)
    layers = sorted(
        (k for k in actor if k.startswith("Dense_")), key=lambda k: int(k[6:])
    )
    if not layers:
        raise CleanRLFormatError(
            f"no Dense layers in the actor's parameters ({sorted(actor)[:5]})"
        )
    kernels = [actor[n]["kernel"] for n in layers]
    biases = [actor[n]["bias"] for n in layers]
    return _unbounded_actor(kernels, biases, "relu", "tanh", "td3")


def _unbounded_actor(kernels, biases, activation, squash, family) -> MlpActor:
    """An actor whose file holds no action bounds (NaN: the importer takes the
    env's); kernels ``[inputs, outputs]``."""
    missing = np.full(np.shape(kernels[-1])[1], np.nan, np.float32)
    return MlpActor(
        kernels=tuple(np.asarray(k, np.float32) for k in kernels),
        biases=tuple(np.asarray(b, np.float32) for b in biases),
        activation=activation,
        squash=squash,
        low=missing,
        high=missing,
        family=family,
    )


def _flax_params(tree) -> Mapping:
    """The actor's layers: ``[actor, qf1, qf2]`` (saved as keys "0", "1", "2"), or
    ``[vars(args), [actor, ...]]``."""
    if isinstance(tree, Mapping) and "0" in tree:
        first = tree["0"]
        if isinstance(first, Mapping) and "params" in first:
            return first["params"]
        nested = tree.get("1")
        if isinstance(nested, Mapping) and isinstance(nested.get("0"), Mapping):
            return _flax_params(nested)
    shown = sorted(tree)[:5] if isinstance(tree, Mapping) else type(tree).__name__
    raise CleanRLFormatError(
        f"flax msgpack, but not a CleanRL JAX actor's parameters (found {shown})"
    )
