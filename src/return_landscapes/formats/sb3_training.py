"""What a Stable-Baselines3 TD3 or SAC needs for one more update, read without
torch or SB3: the networks, target networks and Adam states of its ``model.save``
zip, and the replay buffer ``model.save_replay_buffer`` pickled.

The zip holds ``policy.pth`` (every network's state dict: TD3's ``actor.mu`` and
``actor_target.mu``, or SAC's ``actor.latent_pi``, ``actor.mu`` and
``actor.log_std``; ``critic.qf0``/``qf1``, ``critic_target.qf0``/``qf1``),
``actor.optimizer.pth`` and ``critic.optimizer.pth`` (torch Adam state dicts: per
parameter, in the network's parameter order, ``step``, ``exp_avg`` and
``exp_avg_sq``; the learning rate, betas and epsilon in ``param_groups``), for a
SAC also ``pytorch_variables.pth`` (``log_ent_coef``) and
``ent_coef_optimizer.pth``, and ``data`` (JSON: the algorithm's hyper-parameters).
The replay pickle is an SB3 ``ReplayBuffer`` object: its arrays (``(buffer_size,
n_envs, ...)``), write position and ``full`` flag are read through ``safe_pickle``
with stand-ins for SB3's, Gymnasium's and torch's classes, none of which is
imported.
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
    eps: float = TORCH_ADAM["eps"]


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


class SB3SAC(NamedTuple):
    """An SB3 SAC (``ent_coef="auto"``): its actor's hidden layers and mean and
    log-std heads, critics, Adam states, log entropy coefficient and ``data``."""

    latent: list[tuple[np.ndarray, np.ndarray]]
    mean: tuple[np.ndarray, np.ndarray]
    log_std: tuple[np.ndarray, np.ndarray]
    critics: list[list[tuple[np.ndarray, np.ndarray]]]  # qf0, qf1
    critic_targets: list[list[tuple[np.ndarray, np.ndarray]]]
    actor_adam: SB3Adam
    critic_adam: SB3Adam
    temperature_adam: SB3Adam
    log_temperature: float
    data: dict


class SB3PPO(NamedTuple):
    """An SB3 PPO (a Gaussian ``MlpPolicy``): its parameters by state-dict name in
    the optimizer's order (``log_std``, ``mlp_extractor.policy_net``,
    ``mlp_extractor.value_net``, ``action_net``, ``value_net``), their one Adam
    state, its clip range and ``data``."""

    tensors: dict[str, np.ndarray]
    adam: SB3Adam
    clip_range: float
    data: dict


TRAINED = "only TD3, SAC and PPO models are read with their training state so far"


def read_sb3_training(path: str | Path) -> SB3TD3 | SB3SAC | SB3PPO:
    """The TD3, SAC or PPO training state in SB3's ``model.save`` zip at ``path``.

    Raises:
      SB3FormatError: not an SB3 zip, not a TD3 or SAC with twin critics (DDPG has
        one) or a PPO (A2C), a SAC with a fixed ``ent_coef``, gSDE, Adam settings
        other than ``TORCH_ADAM`` (a PPO's epsilon is read), a PPO clip range
        that is not constant, or entries that are not what SB3 writes (the
        message names what was found).
      safe_pickle.RefusedGlobal: a state dict names a global it never needs.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise SB3FormatError(f"not a zip archive ({err})") from None
    with archive:
        names = set(archive.namelist())
        on_policy = {"data", "policy.pth", "policy.optimizer.pth"}
        wanted = {"data", "policy.pth", "actor.optimizer.pth", "critic.optimizer.pth"}
        if not wanted <= names and not on_policy <= names:
            missing = ", ".join(sorted(wanted - names))
            raise SB3FormatError(
                f"no {missing} in the archive (not a model.save zip): {TRAINED}"
            )
        try:
            data = json.loads(archive.read("data"))
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
            raise SB3FormatError(f"its 'data' entry is not JSON ({err})") from None
        if on_policy <= names:
            return _ppo(archive, data)
        tensors, actor_opt, critic_opt = (
            _torch(archive, name)
            for name in ("policy.pth", "actor.optimizer.pth", "critic.optimizer.pth")
        )
        sac = isinstance(tensors, dict) and any(
            name.startswith("actor.latent_pi.") for name in tensors
        )
        temperature = _temperature_files(archive, names) if sac else None
    if not isinstance(data, dict) or not isinstance(tensors, dict):
        raise SB3FormatError("its 'data' or 'policy.pth' is not what SB3 writes")
    critics = [_linear_layers(tensors, f"critic.qf{i}.") for i in range(2)]
    if not all(critics):
        raise SB3FormatError(
            f"no critic.qf0 / critic.qf1 among the policy's tensors: {TRAINED} "
            "(twin critics)"
        )
    if _linear_layers(tensors, "critic.qf2."):
        raise SB3FormatError(
            "the model has more than two critics (n_critics > 2): only twin "
            "critics are read"
        )
    critic_targets = [_linear_layers(tensors, f"critic_target.qf{i}.") for i in (0, 1)]
    actor_adam = _checked_adam(actor_opt, "actor")
    critic_adam = _checked_adam(critic_opt, "critic")
    if sac:
        return _sac(
            tensors, data, critics, critic_targets, actor_adam, critic_adam, temperature
        )
    if not _linear_layers(tensors, "actor.mu."):
        raise SB3FormatError(f"no actor.mu among the policy's tensors: {TRAINED}")
    return SB3TD3(
        _linear_layers(tensors, "actor.mu."),
        _linear_layers(tensors, "actor_target.mu."),
        critics,
        critic_targets,
        actor_adam,
        critic_adam,
        data,
    )


def _temperature_files(archive: zipfile.ZipFile, names: set[str]):
    """A SAC's ``log_ent_coef`` and its Adam state dict, or one line why not."""
    if "ent_coef_optimizer.pth" not in names:
        raise SB3FormatError(
            "a SAC with a fixed ent_coef: only SAC models that learn it "
            '(ent_coef="auto", SB3\'s default) are read with their training state'
        )
    variables = _torch(archive, "pytorch_variables.pth")
    if not isinstance(variables, dict) or "log_ent_coef" not in variables:
        raise SB3FormatError("its pytorch_variables.pth holds no log_ent_coef")
    log_ent_coef = np.asarray(variables["log_ent_coef"], np.float32).reshape(-1)
    if log_ent_coef.shape != (1,):
        raise SB3FormatError("its log_ent_coef is not one number")
    return float(log_ent_coef[0]), _torch(archive, "ent_coef_optimizer.pth")


def _sac(tensors, data, critics, critic_targets, actor_adam, critic_adam, temperature):
    if data.get("use_sde") or "actor.log_std.weight" not in tensors:
        raise SB3FormatError(
            "a SAC with gSDE (use_sde=True): only SAC models with a log-std head "
            "are read with their training state"
        )
    (mean,) = _linear_layers(tensors, "actor.mu.")
    (log_std,) = _linear_layers(tensors, "actor.log_std.")
    log_temperature, temperature_opt = temperature
    return SB3SAC(
        _linear_layers(tensors, "actor.latent_pi."),
        mean,
        log_std,
        critics,
        critic_targets,
        actor_adam,
        critic_adam,
        _checked_adam(temperature_opt, "ent_coef"),
        log_temperature,
        data,
    )


def _ppo(archive: zipfile.ZipFile, data) -> SB3PPO:
    """A PPO's parameters, their Adam state and its constant clip range."""
    if not isinstance(data, dict) or "clip_range" not in data:
        raise SB3FormatError(f"an A2C model (no clip_range): {TRAINED}")
    if data.get("use_sde"):
        raise SB3FormatError(
            "a PPO with gSDE (use_sde=True): only PPO models with a state-independent "
            "log_std are read with their training state"
        )
    tensors = _torch(archive, "policy.pth")
    optimizer = _torch(archive, "policy.optimizer.pth")
    if not isinstance(tensors, dict) or "log_std" not in tensors:
        raise SB3FormatError(
            "no log_std among the policy's tensors (a discrete-action PPO?): only "
            "PPO models of continuous actions are read with their training state"
        )
    adam = _checked_adam(optimizer, "policy", eps=None)
    if adam.step and [a.shape for a in adam.exp_avg] != [
        np.shape(t) for t in tensors.values()
    ]:
        raise SB3FormatError(
            "the policy optimizer's moments do not follow the policy's parameters "
            "(a features extractor with weights, or not what SB3 writes)"
        )
    clip_range = _constant(data["clip_range"])
    if clip_range is None:
        raise SB3FormatError(
            "the PPO's clip_range is a schedule: only a constant clip range is read "
            "with the training state"
        )
    return SB3PPO(
        {k: np.asarray(v, np.float32) for k, v in tensors.items()},
        adam,
        clip_range,
        data,
    )


SCHEDULE_GLOBALS = {
    ("stable_baselines3.common.utils", "FloatSchedule"): record("FloatSchedule"),
    ("stable_baselines3.common.utils", "ConstantSchedule"): record("ConstantSchedule"),
}
"""The globals of a constant schedule that SB3 pickles in ``data``."""


def _constant(saved) -> float | None:
    """A pickled ``FloatSchedule(ConstantSchedule(val))``'s value, a plain number
    as is; ``None`` for anything else (a schedule that changes)."""
    if isinstance(saved, int | float):
        return float(saved)
    schedule = _serialized(saved, SCHEDULE_GLOBALS)
    constant = getattr(schedule, "value_schedule", schedule)
    if type(constant).__name__ != "ConstantSchedule":
        return None
    try:
        return float(constant.val)
    except (AttributeError, TypeError, ValueError):
        return None


def _serialized(saved, allowed: dict):
    """What SB3 pickled into a ``data`` entry (``{":serialized:": base64}``), read
    with only the ``allowed`` globals; ``None`` where it is not one or cannot be
    read (a refused global included: nothing it names is called)."""
    import base64
    import binascii
    import pickle

    if not isinstance(saved, dict) or ":serialized:" not in saved:
        return None
    try:
        raw = base64.b64decode(saved[":serialized:"])
        return restricted_load(io.BytesIO(raw), allowed)
    except (binascii.Error, ValueError, TypeError, EOFError, pickle.PickleError):
        return None


def _checked_adam(state_dict, which: str, eps: float | None = 1e-8) -> SB3Adam:
    try:
        return _adam(state_dict, which, eps)
    except (KeyError, TypeError, ValueError) as err:
        raise SB3FormatError(
            f"the {which} optimizer state is not a torch Adam state dict ({err!r})"
        ) from None


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
    saved = data.get("train_freq")
    if isinstance(saved, dict):
        saved = getattr(_serialized(saved, TRAIN_FREQ_GLOBALS), "args", None)
    try:
        frequency, unit = saved
        unit = getattr(unit, "args", (unit,))[0]
        return int(frequency), str(unit)
    except (ValueError, TypeError, AttributeError, IndexError):
        return None


def _torch(archive: zipfile.ZipFile, name: str):
    try:
        return read_tensors(io.BytesIO(archive.read(name)))
    except TorchFileError as err:
        raise SB3FormatError(f"{name}: {err}") from None


def _adam(state_dict: dict, which: str, eps: float | None) -> SB3Adam:
    """The Adam state of one torch optimizer state dict, its settings checked
    (``TORCH_ADAM``; its epsilon ``eps``, any when ``None``)."""
    groups = state_dict["param_groups"]
    if len(groups) != 1:
        raise SB3FormatError(
            f"the {which} optimizer has {len(groups)} parameter groups, not one"
        )
    (group,) = groups
    settings = {**TORCH_ADAM, "eps": eps}
    if eps is None:
        del settings["eps"]
    for option, value in settings.items():
        if tuple(np.atleast_1d(group.get(option))) != tuple(np.atleast_1d(value)):
            raise SB3FormatError(
                f"the {which} optimizer has {option}={group.get(option)}: only "
                f"torch's default Adam ({option}={value}) is read"
            )
    if group.get("amsgrad") or group.get("maximize"):
        raise SB3FormatError(f"the {which} optimizer is not plain Adam (amsgrad)")
    states = [state_dict["state"].get(i) for i in group["params"]]
    rate, epsilon = float(group["lr"]), float(group["eps"])
    if any(s is None for s in states):  # never stepped: fresh moments
        return SB3Adam(0, (), (), rate, epsilon)
    steps = {int(np.asarray(s["step"])) for s in states}
    if len(steps) != 1:
        raise SB3FormatError(f"the {which} optimizer's parameters differ in steps")
    return SB3Adam(
        steps.pop(),
        tuple(np.asarray(s["exp_avg"], np.float32) for s in states),
        tuple(np.asarray(s["exp_avg_sq"], np.float32) for s in states),
        rate,
        epsilon,
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
