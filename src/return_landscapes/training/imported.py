"""Runs of policies trained elsewhere: ``landscape import`` and their restore parts.

``import_policy`` turns a saved policy into a run directory of one seed and one
checkpoint, in the format every landscape command reads: the config (with
``imported`` set), the manifest and the checkpoint of the actor (the imported run's
whole agent state). ``imported_parts`` rebuilds the agent and the restore template
from the config. Sources (``SOURCES``): brax.training PPO / SAC parameter files
(the network rebuilt by brax.training, ``agents/brax_policy.py``), and MLP actors
read from Stable-Baselines3 zips and the neutral ``.npz`` (``formats/``,
``agents/mlp_actor.py``), which act on Brax envs, MuJoCo tasks and Gymnasium envs.

Pickles are read with only the globals their format needs (``safe_pickle``), after
every other check on the options has passed.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from return_landscapes.agents.brax_policy import (
    actor_state_from_brax,
    hidden_sizes_of,
    input_size_of,
    make_brax_policy_agent,
)
from return_landscapes.agents.mlp_actor import make_mlp_actor_agent, mlp_actor_state
from return_landscapes.conf import (
    Activation,
    Algo,
    ImportConfig,
    ImportedPolicy,
    ImportSource,
    TrainConfig,
    is_atari,
    is_gym,
    is_host_env,
    is_mujoco,
    resolve,
)
from return_landscapes.envs.brax import BACKENDS, env_names, import_quietly, make_env
from return_landscapes.envs.names import unknown_env
from return_landscapes.errors import LandscapeError
from return_landscapes.formats.cleanrl import CleanRLFormatError, read_cleanrl
from return_landscapes.formats.neutral import MlpActor, NeutralFormatError, read_actor
from return_landscapes.formats.normalizer import NormalizerFormatError, read_normalizer
from return_landscapes.formats.safe_pickle import (
    NUMPY_ARRAYS,
    RefusedGlobal,
    record,
    restricted_load,
)
from return_landscapes.formats.sb3 import SB3FormatError, read_sb3
from return_landscapes.provenance import check_writable
from return_landscapes.training.import_files import (
    check_finite as _check_finite,
)
from return_landscapes.training.import_files import (
    check_shapes as _check_shapes,
)
from return_landscapes.training.import_files import sha256 as _sha256
from return_landscapes.training.imported_sb3 import (
    imported_run_config,
    one_seed_checkpoint,
    write_run,
)
from return_landscapes.training.state import TrainingParts, TrainState

logger = logging.getLogger(__name__)


def imported_parts(cfg: TrainConfig, env) -> TrainingParts:
    """The env, agent and ``init`` (the restore template) of an imported run."""
    make = SOURCES[ImportSource(cfg.imported.source)].agent
    agent = make(cfg.imported, env.observation_size, env.action_size)

    def init(seed_keys: jax.Array) -> TrainState:
        return TrainState(
            agent=jax.vmap(agent.init)(seed_keys), replay=None, env=None, key=seed_keys
        )

    return TrainingParts(env, agent, init)


# ------------------------------------------------------------------------- import


def import_policy(config: ImportConfig | dict | None = None, **overrides) -> Path:
    """Write a run directory from a saved policy: a Stable-Baselines3 zip, a CleanRL
    model, a neutral actor file, or a brax.training parameter file or checkpoint.

    Args:
      config: an ``ImportConfig`` (or a mapping of its keys).
      **overrides: ``ImportConfig`` keys, e.g. ``source="sb3",
        params="td3.zip", env="gym:Pendulum-v1", out="runs/imported"``.

    Returns:
      The run directory: one seed, one checkpoint at ``step``, which ``purd``,
      ``interpolate``, ``surface``, ``stats`` and ``report`` accept.

    Raises:
      LandscapeError: a bad option, an unreadable file, a pickle naming a global
        its format never needs (nothing in it is run), or parameters that do not
        fit the env or the network sizes (the message names what was found).
    """
    cfg = resolve(ImportConfig, config, **overrides)
    params_path, out = _check_options(cfg)
    source = ImportSource(cfg.source)
    if cfg.replay is not None or cfg.training_state:
        return _import_training(cfg, params_path, out)
    declared = SOURCES[source]
    saved = (
        _load_orbax(params_path, source)
        if params_path.is_dir() and source in ORBAX_CONFIGS
        else declared.read(params_path)
    )
    env = _fixed_start_env(cfg)
    if isinstance(saved, MlpActor):
        saved = _prepared_actor(saved, cfg, env)
        state = mlp_actor_state(saved)
        imported = _mlp_description(cfg, saved, params_path)
        algo = FAMILY_ALGOS.get(saved.family, Algo.td3)
    else:
        state, imported = _brax_description(saved, cfg, params_path)
        algo = declared.algo
    run_cfg = imported_run_config(cfg, algo, cfg.step, out, {"imported": imported})
    parts = imported_parts(run_cfg, env)
    if isinstance(saved, MlpActor):
        _check_actor_fits(saved, env, cfg.env)
    else:
        _check_fits(state, parts, cfg.env, imported)
    _check_finite(state)
    _write_run(out, run_cfg, parts, state, params_path)
    logger.info(
        "imported the %s policy of %s into %s: landscape purd run=%s "
        "perturb=param_noise",
        source.value,
        params_path,
        out,
        out,
    )
    return out


def _import_training(cfg: ImportConfig, params_path: Path, out: Path) -> Path:
    """An SB3 TD3 or SAC with its replay buffer, or an SB3 PPO, as a run of its
    algorithm (``imported_sb3.py``)."""
    from return_landscapes.formats.sb3_training import SB3PPO
    from return_landscapes.training.imported_sb3 import (
        import_sb3_off_policy,
        read_model,
    )
    from return_landscapes.training.imported_sb3_ppo import import_sb3_ppo

    source = ImportSource(cfg.source)
    if source is not ImportSource.sb3:
        lacks = {
            ImportSource.cleanrl: "a .cleanrl_model holds the networks but no Adam "
            "state, which an update needs",
        }.get(source, f"a {source.value} file holds the policy only")
        option = "replay=" if cfg.replay is not None else "training_state=true"
        raise LandscapeError(
            f"{option} applies to source=sb3 TD3, SAC and PPO models ({lacks}): "
            f"drop {option} to import the policy"
        )
    if cfg.normalizer:
        raise LandscapeError(
            "replay= or training_state=true with normalizer=: a model trained on "
            "normalised observations is not read with its training state yet: drop "
            "one of them"
        )
    model = read_model(params_path)
    if not isinstance(model, SB3PPO):
        algo = import_sb3_off_policy(cfg, model, params_path, out)
    elif cfg.replay is not None:
        raise LandscapeError(
            "replay= with an SB3 PPO: PPO updates on fresh rollouts, not on a "
            "replay buffer: drop replay= (training_state=true reads its state)"
        )
    else:
        algo = import_sb3_ppo(cfg, model, params_path, out)
    logger.info(
        "imported the sb3 %s of %s with its training state into %s: landscape "
        "purd run=%s perturb=%s",
        algo.value.upper(),
        params_path,
        out,
        out,
        algo.value,
    )
    return out


def _prepared_actor(actor: MlpActor, cfg: ImportConfig, env) -> MlpActor:
    """The actor with ``normalizer=`` and the env's bounds where its file holds
    none; a warning where CleanRL's PPO script saved no normaliser."""
    unnormalised_ppo = ImportSource(cfg.source) is ImportSource.cleanrl and (
        actor.family == "ppo" and not cfg.normalizer
    )
    if unnormalised_ppo:
        logger.warning(
            "warning: %s: CleanRL's PPO script normalises observations "
            "(NormalizeObservation) and saves no statistics, so the policy reads "
            "raw observations here; pass normalizer= an .npz of mean and var if "
            "you kept them",
            cfg.params,
        )
    return _with_env_bounds(_with_normalizer(actor, cfg), env)


def _brax_description(saved, cfg: ImportConfig, path: Path):
    """The agent state and config of a brax.training policy: from an orbax
    checkpoint's config, or from the options (a ``save_params`` pickle)."""
    source = ImportSource(cfg.source)
    if isinstance(saved, BraxCheckpoint):
        sizes, activation = saved.hidden_sizes, saved.activation
        normalize, saved = saved.normalize_observations, saved.params
    else:
        sizes, activation = SOURCES[source].hidden_sizes, SOURCES[source].activation
        normalize = cfg.normalize_observations
    imported = ImportedPolicy(
        source=source,
        hidden_sizes=list(cfg.hidden_sizes or sizes),
        activation=cfg.activation or activation,
        normalize_observations=normalize,
        params_sha256=_sha256(path),
    )
    return actor_state_from_brax(saved, source), imported


def _with_env_bounds(actor: MlpActor, env) -> MlpActor:
    """The actor with the env's action bounds where its file holds none (NaN)."""
    if not (np.isnan(actor.low).any() or np.isnan(actor.high).any()):
        return actor
    low, high = _env_bounds(env)
    if actor.action_size != low.size:
        return actor  # _check_actor_fits names the mismatch
    return dataclasses.replace(
        actor,
        low=np.where(np.isnan(actor.low), low, actor.low).astype(np.float32),
        high=np.where(np.isnan(actor.high), high, actor.high).astype(np.float32),
    )


def _fixed_start_env(run_cfg: TrainConfig | ImportConfig):
    """The env of the run's evaluation episodes from a fixed start state."""
    if is_gym(run_cfg.env):
        from return_landscapes.envs.gym import make_gym_env

        return make_gym_env(run_cfg.env, run_cfg.gym.kwargs, run_cfg.gym.reset_seed)
    if is_mujoco(run_cfg.env):
        from return_landscapes.envs.mujoco import make_mujoco_env

        return make_mujoco_env(run_cfg.env, 0.0)
    return make_env(run_cfg.env, run_cfg.backend, 0.0)


def _with_normalizer(actor: MlpActor, cfg: ImportConfig) -> MlpActor:
    """The actor with the observation normaliser of ``normalizer=`` (one line if
    it does not fit)."""
    if not cfg.normalizer:
        return actor
    path = Path(cfg.normalizer)
    if not path.is_file():
        raise LandscapeError(
            f"normalizer={cfg.normalizer} is not a file: pass the vecnormalize.pkl "
            "saved with the model, or an .npz of mean and var"
        )
    if actor.obs_mean is not None:
        raise LandscapeError(
            f"params={cfg.params} holds its own observation normaliser: drop "
            "normalizer="
        )
    try:
        normalizer = read_normalizer(path)
    except RefusedGlobal as err:
        raise LandscapeError(
            f"normalizer={path} names the global {err.name}, which a VecNormalize "
            "file never does: not loaded (nothing in it was run); pass the file "
            "VecNormalize.save wrote"
        ) from None
    except NormalizerFormatError as err:
        raise LandscapeError(f"normalizer={path}: {err}") from None
    if normalizer.mean.shape != (actor.observation_size,):
        raise LandscapeError(
            f"normalizer={path} holds statistics of {normalizer.mean.size} "
            f"observations and the policy takes {actor.observation_size}: pass the "
            "normaliser saved with this model"
        )
    return dataclasses.replace(
        actor,
        obs_mean=normalizer.mean,
        obs_std=normalizer.std,
        obs_clip=normalizer.clip,
    )


FAMILY_ALGOS = {"td3": Algo.td3, "sac": Algo.sac, "ppo": Algo.ppo}
"""The run's ``algo`` label of an MLP actor by the family its file names (a neutral
file names none: td3, the label of a deterministic actor)."""


def _mlp_description(cfg: ImportConfig, actor: MlpActor, path: Path) -> ImportedPolicy:
    """The config of an MLP actor's run: its network, output map and bounds."""
    if cfg.hidden_sizes is not None or cfg.activation is not None:
        logger.warning(
            "warning: hidden_sizes= and activation= are read from %s itself: the "
            "options are ignored",
            path,
        )
    if actor.squash == "clip" and not (
        np.isfinite(actor.low).all() and np.isfinite(actor.high).all()
    ):
        raise LandscapeError(
            f"params={path}: the actor clips its output to unbounded actions "
            f"({actor.low.tolist()} to {actor.high.tolist()}), which cannot be mapped "
            "to the toolkit's [-1, 1]: export it with finite action bounds"
        )
    return ImportedPolicy(
        source=ImportSource(cfg.source),
        hidden_sizes=[int(k.shape[1]) for k in actor.kernels[:-1]],
        activation=Activation(actor.activation),
        normalize_observations=actor.obs_mean is not None,
        params_sha256=_sha256(path),
        squash=actor.squash,
        action_low=[float(x) for x in actor.low],
        action_high=[float(x) for x in actor.high],
        observation_clip=actor.obs_clip,
    )


def _check_actor_fits(actor: MlpActor, env, name: str) -> None:
    """One line naming the mismatch if the actor's sizes do not fit the env; a
    warning if its action bounds are not the env's."""
    if actor.observation_size != env.observation_size:
        raise LandscapeError(
            f"the saved policy takes observations of {actor.observation_size} numbers "
            f"and env '{name}' gives {env.observation_size}: pass the env= it was "
            "trained on"
        )
    if actor.action_size != env.action_size:
        raise LandscapeError(
            f"the saved policy gives {actor.action_size} actions and env '{name}' "
            f"takes {env.action_size}: pass the env= it was trained on"
        )
    low, high = _env_bounds(env)
    if not (np.allclose(actor.low, low) and np.allclose(actor.high, high)):
        logger.warning(
            "warning: the saved policy's action bounds (%s to %s) are not those of "
            "%s (%s to %s): its actions in [-1, 1] are rescaled to the env's",
            actor.low.tolist(),
            actor.high.tolist(),
            name,
            np.asarray(low).tolist(),
            np.asarray(high).tolist(),
        )


def _env_bounds(env) -> tuple[np.ndarray, np.ndarray]:
    """A Gymnasium env's action bounds; [-1, 1] for Brax envs and MuJoCo tasks
    (which take the toolkit's actions as they are)."""
    if hasattr(env, "low"):
        return np.asarray(env.low), np.asarray(env.high)
    ones = np.ones(env.action_size)
    return -ones, ones


def _check_options(cfg: ImportConfig) -> tuple[Path, Path]:
    choices = ", ".join(s.value for s in ImportSource)
    if cfg.source is None:
        raise LandscapeError(f"source= is required: one of {choices}")
    if not cfg.params:
        raise LandscapeError(
            f"params= is required: {SOURCES[ImportSource(cfg.source)].what}"
        )
    params_path = Path(cfg.params)
    folder_ok = params_path.is_dir() and ImportSource(cfg.source) in ORBAX_CONFIGS
    if not (params_path.is_file() or folder_ok):
        raise LandscapeError(f"params={cfg.params} is not a file: pass the saved file")
    if not os.access(params_path, os.R_OK):
        raise LandscapeError(f"cannot read params={cfg.params}: check its permissions")
    _check_env(cfg)
    if (
        cfg.normalizer
        and SOURCES[ImportSource(cfg.source)].agent is make_brax_policy_agent
    ):
        raise LandscapeError(
            "normalizer= applies to sb3, cleanrl and npz policies; a "
            f"{ImportSource(cfg.source).value} file holds its own "
            "(normalize_observations=true reads it): drop normalizer="
        )
    return params_path, _check_numbers(cfg)


def _check_env(cfg: ImportConfig) -> None:
    source = ImportSource(cfg.source)
    if is_atari(cfg.env):
        raise LandscapeError(
            f"env={cfg.env}: imported policies act in continuous actions, not an "
            "Atari game's: pass a Brax env, mujoco:<Task>-v5 or gym:<id>"
        )
    if is_host_env(cfg.env) and SOURCES[source].agent is make_brax_policy_agent:
        raise LandscapeError(
            f"env={cfg.env}: brax.training policies act on Brax envs; pass the Brax "
            "env the policy was trained on (on other envs, evaluate it with "
            "return_landscapes.policy_purd)"
        )
    if is_gym(cfg.env):
        from return_landscapes.envs.gym import make_gym_env

        make_gym_env(cfg.env, cfg.gym.kwargs)
        return
    if is_mujoco(cfg.env):
        from return_landscapes.envs.mujoco import task_id

        task_id(cfg.env)
        return
    if cfg.env not in env_names():
        raise unknown_env(cfg.env, env_names())
    if cfg.backend not in BACKENDS:
        raise LandscapeError(
            f"unknown backend '{cfg.backend}': choose one of {', '.join(BACKENDS)}"
        )


def _check_numbers(cfg: ImportConfig) -> Path:
    """Checks of the numeric options and ``out``; the run directory to write."""
    if cfg.step < 0:
        raise LandscapeError(f"step={cfg.step} must be at least 0")
    if cfg.horizon < 1:
        raise LandscapeError(f"horizon={cfg.horizon} must be at least 1")
    if cfg.hidden_sizes is not None and (
        not cfg.hidden_sizes or min(cfg.hidden_sizes) < 1
    ):
        raise LandscapeError(
            f"hidden_sizes={cfg.hidden_sizes} must list positive layer widths"
        )
    out = Path(cfg.out or f"runs/{cfg.env}-{ImportSource(cfg.source).value}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LandscapeError(
            f"{out} already exists: choose another out= (an import never writes "
            "over a folder)"
        )
    check_writable(out, "choose an out= you may write to")
    return out


BRAX_PARAMS_GLOBALS = {
    **NUMPY_ARRAYS,
    ("brax.training.acme.running_statistics", "RunningStatisticsState"): record(
        "RunningStatisticsState"
    ),
    ("brax.training.acme.running_statistics", "NormalizationMode"): int,
    ("brax.training.types", "UInt64"): record("UInt64"),
}
"""The globals a ``brax.io.model.save_params`` file names: arrays and the
normalizer's state (read as plain records; brax is not imported)."""


def _load_pickle(path: Path):
    """The object ``brax.io.model.save_params`` pickled, read with only the
    globals such a file needs (a file naming any other is refused, unrun)."""
    try:
        with open(path, "rb") as f:
            return restricted_load(f, BRAX_PARAMS_GLOBALS)
    except RefusedGlobal as err:
        raise LandscapeError(
            f"params={path} names the global {err.name}, which a brax.io.model."
            "save_params file never does: not loaded (nothing in it was run); pass "
            "the file save_params wrote"
        ) from None
    except Exception as err:  # pickle raises many types for foreign files
        raise LandscapeError(
            f"params={path} cannot be read as brax.io.model.save_params output "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
            ": pass the file save_params wrote"
        ) from None


def _read_sb3(path: Path) -> MlpActor:
    """The actor of a Stable-Baselines3 zip; one line for anything else."""
    try:
        return read_sb3(path)
    except RefusedGlobal as err:
        raise LandscapeError(
            f"params={path}: its policy.pth names the global {err.name}, which an "
            "SB3 state dict never does: not loaded (nothing in it was run); pass "
            "the zip model.save wrote"
        ) from None
    except SB3FormatError as err:
        raise LandscapeError(f"params={path}: {err}") from None


def _read_cleanrl(path: Path) -> MlpActor:
    """The actor of a CleanRL model; one line for anything else."""
    try:
        actor = read_cleanrl(path)
    except RefusedGlobal as err:
        raise LandscapeError(
            f"params={path} names the global {err.name}, which a CleanRL model never "
            "does: not loaded (nothing in it was run); pass the .cleanrl_model the "
            "script saved"
        ) from None
    except CleanRLFormatError as err:
        raise LandscapeError(f"params={path}: {err}") from None
    return actor


def _read_npz(path: Path) -> MlpActor:
    """The actor of a neutral actor file; one line for anything else."""
    try:
        return read_actor(path)
    except NeutralFormatError as err:
        raise LandscapeError(f"params={path}: {err}") from None


class BraxCheckpoint(NamedTuple):
    """What a brax.training orbax checkpoint folder holds: the parameters and the
    network its config JSON describes."""

    params: Any
    hidden_sizes: list[int]
    activation: Activation
    normalize_observations: bool


ORBAX_CONFIGS = {
    ImportSource.brax_ppo: ("ppo_network_config.json", "policy_hidden_layer_sizes"),
    ImportSource.brax_sac: ("sac_network_config.json", "hidden_layer_sizes"),
}
"""Each brax.training source's checkpoint config file and its policy-size key."""

_ACTING_KWARGS_KEPT = ("activation", "kernel_init", "value_", "q_network", "_obs_key")
"""Network options that do not change how the policy acts on flat observations
(or that are read: the activation); any other differing from brax.training's
default is refused by name."""

_BRAX_ACTIVATIONS = {"silu": "swish", "swish": "swish", "relu": "relu", "tanh": "tanh"}
_BRAX_ACTIVATIONS |= {"elu": "elu", "gelu": "gelu"}


def _load_orbax(path: Path, source: ImportSource) -> BraxCheckpoint:
    """The parameters and network of a brax.training checkpoint folder, read by
    brax.training's own ``checkpoint.load`` (orbax's array files, no pickle)."""
    import json

    name, sizes_key = ORBAX_CONFIGS[source]
    config_path = path / name
    if not config_path.is_file():
        raise LandscapeError(
            f"params={path} is a folder without {name}: pass the step folder "
            f"brax.training's {source.value.removeprefix('brax_')} checkpoint.save "
            "wrote (it holds that file)"
        )
    try:
        config = json.loads(config_path.read_text())
        kwargs = dict(config["network_factory_kwargs"])
        normalize = bool(config["normalize_observations"])
    except (ValueError, KeyError, TypeError) as err:
        raise LandscapeError(
            f"{config_path} is not a brax.training network config ({err})"
        ) from None
    _check_brax_kwargs(kwargs, source, config_path)
    defaults = SOURCES[source]
    activation = kwargs.get(
        "activation", "swish" if defaults.algo is Algo.ppo else "relu"
    )
    if activation not in _BRAX_ACTIVATIONS:
        raise LandscapeError(
            f"{config_path}: activation {activation!r} is not one an import rebuilds "
            f"({', '.join(sorted(_BRAX_ACTIVATIONS))})"
        )
    checkpoint = import_quietly("brax.training.checkpoint")
    try:
        params = checkpoint.load(path)
    except Exception as err:  # orbax raises many kinds for a damaged folder
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise LandscapeError(
            f"params={path}: orbax cannot restore the checkpoint ({text})"
        ) from None
    return BraxCheckpoint(
        params,
        list(kwargs.get(sizes_key, defaults.hidden_sizes)),
        Activation(_BRAX_ACTIVATIONS[activation]),
        normalize,
    )


def _check_brax_kwargs(kwargs: dict, source: ImportSource, where: Path) -> None:
    """One line naming a network option that changes how the policy acts and that
    an import does not rebuild (e.g. ``distribution_type='normal'``)."""
    import inspect

    module = "ppo" if source is ImportSource.brax_ppo else "sac"
    factory = getattr(
        import_quietly(f"brax.training.agents.{module}.networks"),
        f"make_{module}_networks",
    )
    defaults = {
        name: p.default
        for name, p in inspect.signature(factory).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    sizes_key = ORBAX_CONFIGS[source][1]
    for name, value in kwargs.items():
        if name == sizes_key or any(k in name for k in _ACTING_KWARGS_KEPT):
            continue
        default = defaults.get(name)
        if isinstance(default, tuple):
            value = tuple(value)
        if value != default:
            raise LandscapeError(
                f"{where}: the policy network was made with {name}={value!r}, which "
                "an import does not rebuild (only the layer sizes, the activation "
                "and the normalizer): evaluate it with return_landscapes.policy_purd"
            )


class Source(NamedTuple):
    """A format ``landscape import source=<name>`` reads.

    Attributes:
      algo: the algorithm that trained the policy (the run's ``algo``; an MLP
        actor's file names its own).
      hidden_sizes: the policy network's hidden layers by default (brax.training;
        an MLP actor's file holds its own).
      activation: its hidden activation by default.
      read: ``read(path)``: the saved parameters, or an ``MlpActor`` (one-line
        error for a file of another kind).
      agent: ``agent(imported, observation_size, action_size)``: the run's agent.
      what: the file ``params=`` names, for messages.
    """

    algo: Algo
    hidden_sizes: tuple[int, ...]
    activation: Activation
    read: Callable[[Path], Any]
    agent: Callable[[ImportedPolicy, int, int], Any]
    what: str


_BRAX_FILE = (
    "the file brax.io.model.save_params wrote, or a step folder of brax.training's "
    "checkpoint.save"
)
SOURCES: dict[ImportSource, Source] = {
    # brax.training's make_ppo_networks / make_sac_networks defaults
    ImportSource.brax_ppo: Source(
        Algo.ppo,
        (32, 32, 32, 32),
        Activation.swish,
        _load_pickle,
        make_brax_policy_agent,
        _BRAX_FILE,
    ),
    ImportSource.brax_sac: Source(
        Algo.sac,
        (256, 256),
        Activation.relu,
        _load_pickle,
        make_brax_policy_agent,
        _BRAX_FILE,
    ),
    ImportSource.sb3: Source(
        Algo.td3,
        (),
        Activation.relu,
        _read_sb3,
        make_mlp_actor_agent,
        "the zip Stable-Baselines3's model.save wrote",
    ),
    ImportSource.cleanrl: Source(
        Algo.td3,
        (),
        Activation.relu,
        _read_cleanrl,
        make_mlp_actor_agent,
        "the .cleanrl_model a CleanRL script saved with --save-model",
    ),
    ImportSource.npz: Source(
        Algo.td3,
        (),
        Activation.relu,
        _read_npz,
        make_mlp_actor_agent,
        "a neutral actor file (.npz, see docs/import.md)",
    ),
}
"""Every import source, registered once (``ImportSource`` lists their names)."""


def _check_fits(state, parts: TrainingParts, env: str, imported: ImportedPolicy):
    """One line naming the mismatch if the saved policy does not fit env and sizes."""
    policy = state["policy"]
    size = int(parts.env.observation_size)
    given = input_size_of(policy)
    if given is not None and given != size:
        raise LandscapeError(
            f"the saved policy takes observations of {given} numbers and env "
            f"'{env}' gives {size}: pass the env= it was trained on"
        )
    found = hidden_sizes_of(policy)
    if found and found != list(imported.hidden_sizes):
        sizes = ",".join(map(str, found))
        raise LandscapeError(
            f"the saved policy has hidden layers {found}, not "
            f"{list(imported.hidden_sizes)}: pass hidden_sizes=[{sizes}]"
        )
    template = jax.eval_shape(parts.agent.init, jax.random.PRNGKey(0))
    _check_shapes(
        template,
        state,
        f"{imported.source.value} policy",
        "hidden_sizes, normalize_observations",
    )


def _write_run(out: Path, run_cfg: TrainConfig, parts, state, params) -> None:
    """The run of an imported policy, written atomically."""
    provenance = {
        "source": run_cfg.imported.source.value,
        "params": str(Path(params).absolute()),
        "sha256": run_cfg.imported.params_sha256,
    }
    checkpoint = one_seed_checkpoint(parts, run_cfg.seed, state)
    write_run(out, run_cfg, parts, checkpoint, None, provenance)
