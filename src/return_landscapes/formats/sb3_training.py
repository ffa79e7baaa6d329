"""What a Stable-Baselines3 TD3 needs for one more update, read without torch or
SB3: the networks, target networks and Adam states of its ``model.save`` zip, and
the replay buffer ``model.save_replay_buffer`` pickled.

The zip holds ``policy.pth`` (every network's state dict: ``actor.mu``,
``actor_target.mu``, ``critic.qf0``/``qf1``, ``critic_target.qf0``/``qf1``),
``actor.optimizer.pth`` and ``critic.optimizer.pth`` (torch Adam state dicts: per
parameter, in the network's parameter order, ``step``, ``exp_avg`` and
``exp_avg_sq``; the learning rate, betas and epsilon in ``param_groups``) and
``data`` (JSON: the algorithm's hyper-parameters). The replay pickle is an SB3
``ReplayBuffer`` object: its arrays (``(buffer_size, n_envs, ...)``), write
position and ``full`` flag are read through ``safe_pickle`` with stand-ins for
SB3's, Gymnasium's and torch's classes, none of which is imported.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from return_landscapes.formats.safe_pickle import (
    NUMPY_ARRAYS,
    record,
    restricted_load,
)
from return_landscapes.formats.sb3 import SB3FormatError, _linear_layers
from return_landscapes.formats.torch_file import TorchFileError, read_tensors

TORCH_ADAM = {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0}
"""The Adam settings this reader takes (torch's defaults, SB3's too): the update
of the toolkit's TD3 is Adam with these."""


class SB3Adam(NamedTuple):
    """One torch Adam state: its step count, moments (parameter order) and rate."""

    step: int
    exp_avg: tuple[np.ndarray, ...]
    exp_avg_sq: tuple[np.ndarray, ...]
    learning_rate: float


class SB3TD3(NamedTuple):
    """An SB3 TD3's networks as ``(weight, bias)`` layers, Adam states and
    hyper-parameters (``data``)."""

    actor: list[tuple[np.ndarray, np.ndarray]]
    actor_target: list[tuple[np.ndarray, np.ndarray]]
    critics: list[list[tuple[np.ndarray, np.ndarray]]]  # qf0, qf1
    critic_targets: list[list[tuple[np.ndarray, np.ndarray]]]
    actor_adam: SB3Adam
    critic_adam: SB3Adam
    data: dict


class SB3Replay(NamedTuple):
    """An SB3 replay buffer's rows of one env (``n_envs == 1``), in buffer order."""

    observations: np.ndarray  # (buffer_size, observation_size)
    actions: np.ndarray
    rewards: np.ndarray  # (buffer_size,)
    next_observations: np.ndarray
    dones: np.ndarray
    timeouts: np.ndarray
    position: int  # the next row to write
    full: bool
    handle_timeout_termination: bool


def read_sb3_td3(path: str | Path) -> SB3TD3:
    """The TD3 training state in SB3's ``model.save`` zip at ``path``.

    Raises:
      SB3FormatError: not an SB3 zip, not a TD3 with twin critics (DDPG has one),
        Adam settings other than ``TORCH_ADAM``, or entries that are not what SB3
        writes (the message names what was found).
      safe_pickle.RefusedGlobal: a state dict names a global it never needs.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise SB3FormatError(f"not a zip archive ({err})") from None
    with archive:
        names = set(archive.namelist())
        wanted = {"data", "policy.pth", "actor.optimizer.pth", "critic.optimizer.pth"}
        if not wanted <= names:
            kind = "a PPO or A2C model" if "policy.optimizer.pth" in names else None
            missing = ", ".join(sorted(wanted - names))
            raise SB3FormatError(
                f"no {missing} in the archive ({kind or 'not a model.save zip'}): "
                "only TD3 models are read with their training state so far"
            )
        try:
            data = json.loads(archive.read("data"))
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
            raise SB3FormatError(f"its 'data' entry is not JSON ({err})") from None
        tensors, actor_opt, critic_opt = (
            _torch(archive, name)
            for name in ("policy.pth", "actor.optimizer.pth", "critic.optimizer.pth")
        )
    if not isinstance(data, dict) or not isinstance(tensors, dict):
        raise SB3FormatError("its 'data' or 'policy.pth' is not what SB3 writes")
    if any(name.startswith("actor.latent_pi.") for name in tensors):
        raise SB3FormatError(
            "a SAC model: only TD3 models are read with their training state so far"
        )
    critics = [_linear_layers(tensors, f"critic.qf{i}.") for i in range(2)]
    if not all(critics) or not _linear_layers(tensors, "actor.mu."):
        raise SB3FormatError(
            "no actor.mu and critic.qf0 / critic.qf1 among the policy's tensors: "
            "only TD3 models (twin critics) are read with their training state so far"
        )
    if _linear_layers(tensors, "critic.qf2."):
        raise SB3FormatError(
            "the model has more than two critics (n_critics > 2): only TD3's twin "
            "critics are read"
        )
    try:
        actor_adam, critic_adam = _adam(actor_opt, "actor"), _adam(critic_opt, "critic")
    except (KeyError, TypeError, ValueError) as err:
        raise SB3FormatError(
            f"an optimizer state is not a torch Adam state dict ({err!r})"
        ) from None
    return SB3TD3(
        _linear_layers(tensors, "actor.mu."),
        _linear_layers(tensors, "actor_target.mu."),
        critics,
        [_linear_layers(tensors, f"critic_target.qf{i}.") for i in range(2)],
        actor_adam,
        critic_adam,
        data,
    )


class _NamedTupleRecord:
    """A stand-in for a pickled named tuple (rebuilt by ``cls.__new__(cls,
    *fields)``): keeps the fields under ``args``."""

    def __new__(cls, *args):
        instance = object.__new__(cls)
        instance.args = args
        return instance


TRAIN_FREQ_GLOBALS = {
    ("stable_baselines3.common.type_aliases", "TrainFreq"): _NamedTupleRecord,
    ("stable_baselines3.common.type_aliases", "TrainFrequencyUnit"): record(
        "TrainFrequencyUnit"
    ),
}
"""The globals of the pickled ``TrainFreq`` in an SB3 model's ``data``."""


def train_frequency(data: dict) -> tuple[int, str] | None:
    """``(frequency, unit)`` of an off-policy model's ``train_freq`` (``(1,
    "step")``: an update round every env step); ``None`` if it cannot be read."""
    import base64
    import pickle

    saved = data.get("train_freq")
    try:
        if isinstance(saved, dict) and ":serialized:" in saved:
            raw = base64.b64decode(saved[":serialized:"])
            saved = restricted_load(io.BytesIO(raw), TRAIN_FREQ_GLOBALS).args
        frequency, unit = saved
        unit = getattr(unit, "args", (unit,))[0]
        return int(frequency), str(unit)
    except (ValueError, TypeError, AttributeError, IndexError, pickle.PickleError):
        return None


def _torch(archive: zipfile.ZipFile, name: str):
    try:
        return read_tensors(io.BytesIO(archive.read(name)))
    except TorchFileError as err:
        raise SB3FormatError(f"{name}: {err}") from None


def _adam(state_dict: dict, which: str) -> SB3Adam:
    """The Adam state of one torch optimizer state dict, its settings checked."""
    groups = state_dict["param_groups"]
    if len(groups) != 1:
        raise SB3FormatError(
            f"the {which} optimizer has {len(groups)} parameter groups, not one"
        )
    (group,) = groups
    for option, value in TORCH_ADAM.items():
        if tuple(np.atleast_1d(group.get(option))) != tuple(np.atleast_1d(value)):
            raise SB3FormatError(
                f"the {which} optimizer has {option}={group.get(option)}: only "
                f"torch's default Adam ({option}={value}) is read"
            )
    if group.get("amsgrad") or group.get("maximize"):
        raise SB3FormatError(f"the {which} optimizer is not plain Adam (amsgrad)")
    states = [state_dict["state"].get(i) for i in group["params"]]
    if any(s is None for s in states):  # never stepped: fresh moments
        return SB3Adam(0, (), (), float(group["lr"]))
    steps = {int(np.asarray(s["step"])) for s in states}
    if len(steps) != 1:
        raise SB3FormatError(f"the {which} optimizer's parameters differ in steps")
    return SB3Adam(
        steps.pop(),
        tuple(np.asarray(s["exp_avg"], np.float32) for s in states),
        tuple(np.asarray(s["exp_avg_sq"], np.float32) for s in states),
        float(group["lr"]),
    )


def _frombuffer(buffer, dtype, shape, order, axis_order=None):
    """numpy's ``_frombuffer`` (how protocol-5 pickles rebuild arrays), a copy."""
    array = np.frombuffer(buffer, dtype=dtype)
    if order == "K" and axis_order is not None:
        return array.reshape(shape, order="C").transpose(axis_order).copy()
    return array.reshape(shape, order=order).copy()


REPLAY_GLOBALS = {
    **NUMPY_ARRAYS,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("stable_baselines3.common.buffers", "ReplayBuffer"): record("ReplayBuffer"),
    ("gymnasium.spaces.box", "Box"): record("Box"),
    ("torch", "device"): record("device"),
    # the spaces' random generators: kept as records, never built
    ("numpy.random._pickle", "__generator_ctor"): record("Generator"),
    ("numpy.random._pickle", "__bit_generator_ctor"): record("BitGenerator"),
    ("numpy.random._pcg64", "PCG64"): record("PCG64"),
    ("numpy.random.bit_generator", "SeedSequence"): record("SeedSequence"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"): record(
        "SeedSequence"
    ),
}
"""Every global an SB3 ``ReplayBuffer`` pickle of Box spaces names."""


def read_sb3_replay(path: str | Path) -> SB3Replay:
    """The rows of the SB3 replay buffer pickled at ``path``.

    Raises:
      SB3FormatError: not a pickled SB3 ``ReplayBuffer`` of one env with stored
        next observations (the message names what was found).
      safe_pickle.RefusedGlobal: the pickle names a global outside
        ``REPLAY_GLOBALS`` (nothing it names was called).
    """
    with open(path, "rb") as file:
        buffer = restricted_load(file, REPLAY_GLOBALS)
    fields = ("observations", "next_observations", "actions", "rewards", "dones")
    fields += ("timeouts", "pos", "full", "n_envs")
    if type(buffer).__name__ != "ReplayBuffer" or not all(
        hasattr(buffer, name) for name in fields
    ):
        raise SB3FormatError(
            "not a replay buffer that Stable-Baselines3's save_replay_buffer wrote "
            f"(a ReplayBuffer with {', '.join(fields)})"
        )
    if int(buffer.n_envs) != 1:
        raise SB3FormatError(
            f"the replay buffer holds {buffer.n_envs} envs' rows: only buffers of "
            "one env (n_envs=1) are read"
        )
    if getattr(buffer, "optimize_memory_usage", False):
        raise SB3FormatError(
            "the replay buffer was saved with optimize_memory_usage=True (no next "
            "observations): only buffers that store them are read"
        )

    def rows(name):
        return np.asarray(getattr(buffer, name), np.float32)[:, 0]

    return SB3Replay(
        rows("observations"),
        rows("actions"),
        rows("rewards"),
        rows("next_observations"),
        rows("dones"),
        rows("timeouts"),
        int(buffer.pos),
        bool(buffer.full),
        bool(getattr(buffer, "handle_timeout_termination", True)),
    )
