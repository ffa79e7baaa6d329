"""Typed configs (Hydra structured configs) for every ``landscape`` command.

Defaults are the paper's hyper-parameters. Every option has a one-line docstring right
under it (``landscape <command> --help`` prints them). A typo in a key or an invalid
value fails at start-up with the valid choices listed. This package imports neither
Hydra nor JAX: the command line (``cli.register_configs``) registers the configs with
Hydra.

One module per command family, all names re-exported here:

* ``agents``: the algorithms' hyper-parameters (TD3, SAC, PPO, Atari PPO);
* ``options``: options several commands share (wandb, landscape episodes);
* ``train``: ``landscape train`` and ``landscape import``;
* ``landscape``: ``purd``, ``interpolate``, ``reject``, ``surface``, ``line``;
* ``report``: ``stats`` and ``report``; ``demo``: ``landscape demo``;
* ``commands``: the registry of commands and experiment kinds;
* ``resolve``, ``describe``, ``ranges``, ``quoting``: resolving, documenting and
  checking options.
"""

from __future__ import annotations

from return_landscapes.conf.agents import (
    PPO_RANGES,
    ActorObjective,
    Algo,
    AtariConfig,
    Autoreset,
    Heads,
    Init,
    LogStdBound,
    OffPolicyConfig,
    PPOConfig,
    PPOPolicy,
    SACConfig,
    TD3Config,
    TemperatureLoss,
)
from return_landscapes.conf.commands import COMMANDS, SCHEMAS
from return_landscapes.conf.demo import DemoConfig
from return_landscapes.conf.describe import (
    Option,
    describe_options,
    field_docs,
    option_names,
)
from return_landscapes.conf.landscape import (
    BiasDirection,
    CheckNoise,
    Criterion,
    DirectionKind,
    DirectionOptions,
    InterpolateConfig,
    LineConfig,
    Normalization,
    PairKind,
    PurdConfig,
    RejectConfig,
    RejectEnv,
    SelectConfig,
    SelectCriterion,
    SurfaceConfig,
)
from return_landscapes.conf.options import (
    AtariEpisodeOptions,
    RunEpisodeOptions,
    WandbOptions,
)
from return_landscapes.conf.report import FigureFormat, ReportConfig, StatsConfig
from return_landscapes.conf.resolve import (
    as_plain_dict,
    command_name,
    renamed_options,
    renames,
    resolve,
)
from return_landscapes.conf.train import (
    ATARI_EVAL_INTERVAL,
    ATARI_STEPS,
    BRAX_EVAL_INTERVAL,
    BRAX_HORIZON,
    PAPER_PPO_STEPS,
    PAPER_STEPS,
    Activation,
    GymOptions,
    ImportConfig,
    ImportedPolicy,
    ImportSource,
    TrainConfig,
    is_atari,
    is_gym,
    is_host_env,
    is_imported,
    is_mujoco,
)

# The constants live in ``constants``; these names re-export them from here.
from return_landscapes.constants import ATARI_FRAME_CAP as ATARI_FRAME_CAP
from return_landscapes.constants import ATARI_FRAME_SKIP as ATARI_FRAME_SKIP
from return_landscapes.constants import ATARI_PREFIX as ATARI_PREFIX
from return_landscapes.constants import DEFAULT_HORIZON as DEFAULT_HORIZON
from return_landscapes.constants import GYM_PREFIX as GYM_PREFIX
from return_landscapes.constants import MUJOCO_PREFIX as MUJOCO_PREFIX

__all__ = [
    "ATARI_EVAL_INTERVAL",
    "ATARI_FRAME_CAP",
    "ATARI_FRAME_SKIP",
    "ATARI_PREFIX",
    "ATARI_STEPS",
    "BRAX_EVAL_INTERVAL",
    "BRAX_HORIZON",
    "COMMANDS",
    "DEFAULT_HORIZON",
    "GYM_PREFIX",
    "MUJOCO_PREFIX",
    "PAPER_PPO_STEPS",
    "PAPER_STEPS",
    "PPO_RANGES",
    "SCHEMAS",
    "Activation",
    "ActorObjective",
    "Algo",
    "AtariConfig",
    "AtariEpisodeOptions",
    "Autoreset",
    "BiasDirection",
    "CheckNoise",
    "Criterion",
    "DemoConfig",
    "DirectionKind",
    "DirectionOptions",
    "FigureFormat",
    "GymOptions",
    "Heads",
    "ImportConfig",
    "ImportSource",
    "ImportedPolicy",
    "Init",
    "InterpolateConfig",
    "LineConfig",
    "LogStdBound",
    "Normalization",
    "OffPolicyConfig",
    "Option",
    "PPOConfig",
    "PPOPolicy",
    "PairKind",
    "PurdConfig",
    "RejectConfig",
    "RejectEnv",
    "ReportConfig",
    "RunEpisodeOptions",
    "SACConfig",
    "SelectConfig",
    "SelectCriterion",
    "StatsConfig",
    "SurfaceConfig",
    "TD3Config",
    "TemperatureLoss",
    "TrainConfig",
    "WandbOptions",
    "as_plain_dict",
    "command_name",
    "describe_options",
    "field_docs",
    "is_atari",
    "is_gym",
    "is_host_env",
    "is_imported",
    "is_mujoco",
    "option_names",
    "renamed_options",
    "renames",
    "resolve",
]
