"""``landscape train`` and ``landscape import``: the run's config, env families' names
and the imported policy's description."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from return_landscapes.conf.agents import (
    Algo,
    AtariConfig,
    Autoreset,
    PPOConfig,
    SACConfig,
    TD3Config,
)
from return_landscapes.conf.options import WandbOptions
from return_landscapes.conf.ranges import (
    NON_NEGATIVE,
    Range,
)
from return_landscapes.constants import (
    ATARI_EPISODE_STEPS,
    ATARI_PREFIX,
    DEFAULT_HORIZON,
    GYM_PREFIX,
    MUJOCO_PREFIX,
)

PAPER_STEPS = 1_000_000  # TD3 and SAC
PAPER_PPO_STEPS = 60_000_000
ATARI_STEPS = 10_000_000  # cleanrl's ppo_atari_envpool budget (agent steps)
BRAX_HORIZON = DEFAULT_HORIZON  # the old name, kept for importers
BRAX_EVAL_INTERVAL = 10_000
ATARI_EVAL_INTERVAL = 250_000


def is_atari(env: str) -> bool:
    """Whether ``env`` names an Atari game (``atari:Breakout-v5``)."""
    return str(env).startswith(ATARI_PREFIX)


def is_mujoco(env: str) -> bool:
    """Whether ``env`` names a Gymnasium MuJoCo task (``mujoco:Hopper-v5``)."""
    return str(env).startswith(MUJOCO_PREFIX)


def is_gym(env: str) -> bool:
    """Whether ``env`` names a Gymnasium env (``gym:Pendulum-v1``)."""
    return str(env).startswith(GYM_PREFIX)


def is_host_env(env: str) -> bool:
    """Whether ``env`` steps on the host (Atari games and MuJoCo tasks in envpool,
    Gymnasium envs)."""
    return is_atari(env) or is_mujoco(env) or is_gym(env)


@dataclass
class GymOptions:
    """Options of a Gymnasium env (``env=gym:<id>``)."""

    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``gymnasium.make`` (e.g. ``{reset_noise_scale: 0}``)."""
    reset_seed: int = 0
    """The reset seed of a fixed start: every evaluation episode without start-state
    noise resets with it (``init_state`` gives each sample its own seed)."""


# ------------------------------------------------------------- imported policies


class ImportSource(Enum):
    """Libraries whose saved policies ``landscape import`` reads (each registered
    with its reader and network defaults in ``training/imported.py``)."""

    brax_ppo = "brax_ppo"
    brax_sac = "brax_sac"
    sb3 = "sb3"
    cleanrl = "cleanrl"
    npz = "npz"


class Activation(Enum):
    """Hidden-layer activations of an imported policy network (flax.linen's)."""

    swish = "swish"
    relu = "relu"
    tanh = "tanh"
    elu = "elu"
    gelu = "gelu"


def is_imported(cfg) -> bool:
    """Whether a run's ``TrainConfig`` is that of an imported policy."""
    return cfg.imported.source is not None


@dataclass
class ImportedPolicy:
    """How the policy of an imported run is rebuilt (written by ``landscape import``;
    a trained run has none)."""

    source: ImportSource | None = None
    """The library and algorithm that trained the policy; null: not imported."""
    hidden_sizes: list[int] = field(default_factory=list)
    """The policy network's hidden layers."""
    activation: Activation = Activation.swish
    """The policy network's hidden activation."""
    normalize_observations: bool = False
    """Observations pass the saved running normalizer (brax.training's
    ``normalize_observations``)."""
    params_sha256: str = ""
    """SHA-256 of the parameter file the run was imported from."""
    squash: str | None = None
    """An MLP actor's output map (sb3, npz): tanh (the output in [-1, 1]) or clip
    (the output clipped to the action bounds, then mapped to [-1, 1]); null for
    brax.training policies."""
    action_low: list[float] | None = None
    """An MLP actor's action bounds, low (those of the env it was trained on)."""
    action_high: list[float] | None = None
    """An MLP actor's action bounds, high."""
    observation_clip: float | None = None
    """An MLP actor's normalised observations are clipped to this bound (null:
    unclipped)."""


@dataclass
class TrainConfig(WandbOptions):
    """``landscape train``: N seeds of one algorithm on one env, vmapped.

    ``steps`` defaults to the paper's budget: 1M env steps for TD3 and SAC, 60M for
    PPO, 10M agent steps (40M frames) for PPO on Atari (``env=atari:Breakout-v5``).
    Gymnasium's MuJoCo tasks (``env=mujoco:Hopper-v5``) and Gymnasium envs
    (``env=gym:Pendulum-v1``) train TD3, SAC and PPO with the Brax defaults.
    ``horizon`` caps episodes: 1000 steps on Brax, 27,000 agent steps (108,000
    frames) on Atari; ``eval_interval`` defaults to 10k (Brax) or 250k (Atari) steps.
    ``checkpoints`` lists the checkpoint steps; ``num_checkpoints=N`` instead places N
    evenly spaced (``steps * k / N``); with neither, the paper's schedule scaled to
    ``steps`` (5%, 15%, ..., 95% of the budget). The final step is always
    checkpointed as well.
    """

    RANGES: ClassVar[dict[str, Range]] = {"reset_noise_scale": NON_NEGATIVE}

    env: str = "hopper"
    """A Brax env (hopper, walker2d, halfcheetah, ant, ...), ``atari:<Game>-v5``,
    ``mujoco:<Task>-v5`` or ``gym:<id>`` (any Gymnasium env with Box spaces)."""
    algo: Algo = Algo.td3
    """Training algorithm (Atari games: ppo only)."""
    seeds: int = 4
    """Seeds trained side by side in one vmapped computation."""
    seed: int = 0
    """Base random seed: seed ``i`` of the run derives its key from (seed, i)."""
    steps: int | None = None
    """Env steps per seed (agent steps on Atari); null: the paper's budget."""
    checkpoints: list[int] | None = None
    """Checkpoint steps; null: ``num_checkpoints`` or the paper's schedule."""
    num_checkpoints: int | None = None
    """Number of evenly spaced checkpoints (instead of ``checkpoints``)."""
    out: str | None = None
    """Run directory to write; null: ``runs/<env>-<algo>``."""
    resume: bool = False
    """Continue the run in ``out`` from its newest complete checkpoint."""
    allow_version_change: bool = False
    """Resume under other jax/jaxlib versions than the run's last part (refused
    otherwise: the continued part is then not bit-identical to an unbroken run)."""
    backend: str = "positional"
    """Brax physics pipeline: positional (position-based dynamics, the paper's
    engine), spring, generalized or mjx (MuJoCo tasks: MuJoCo itself, in envpool)."""
    horizon: int | None = None
    """Episode step cap; null: 1000 on Brax, 27,000 agent steps on Atari."""
    reset_noise_scale: float | None = None
    """Start-state noise of the Brax env or MuJoCo task; null: its own default."""
    eval_interval: int | None = None
    """Steps between evaluations; null: 10,000 on Brax, 250,000 on Atari."""
    eval_episodes: int = 5
    """Deterministic evaluation episodes per seed and evaluation (0: none)."""
    block: int = 1000
    """Env steps per compiled training call (rounded to whole PPO iterations)."""
    progress: bool | None = None
    """Progress on stderr: true a bar, false none; null a bar on a terminal, else
    (a SLURM log) a plain line every minute."""
    td3: TD3Config = field(default_factory=TD3Config)
    """TD3 hyper-parameters (``algo=td3``)."""
    sac: SACConfig = field(default_factory=SACConfig)
    """SAC hyper-parameters (``algo=sac``)."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO hyper-parameters (``algo=ppo`` on Brax envs, MuJoCo tasks and Gymnasium
    envs)."""
    atari: AtariConfig = field(default_factory=AtariConfig)
    """PPO hyper-parameters and env options on Atari (``env=atari:...``)."""
    gym: GymOptions = field(default_factory=GymOptions)
    """Options of a Gymnasium env (``env=gym:...``)."""
    imported: ImportedPolicy = field(default_factory=ImportedPolicy)
    """Set by ``landscape import`` on a run of a policy trained elsewhere; empty
    (``source: null``) for every run ``landscape train`` writes: not an option."""

    def __post_init__(self) -> None:
        atari = is_atari(self.env)
        if self.steps is None:
            ppo = Algo(self.algo) is Algo.ppo
            if atari:
                self.steps = ATARI_STEPS
            else:
                self.steps = PAPER_PPO_STEPS if ppo else PAPER_STEPS
        if self.horizon is None:
            self.horizon = ATARI_EPISODE_STEPS if atari else DEFAULT_HORIZON
        if self.eval_interval is None:
            self.eval_interval = ATARI_EVAL_INTERVAL if atari else BRAX_EVAL_INTERVAL
        if self.ppo.autoreset is None:
            # host simulators (envpool, Gymnasium) cannot return to a saved state
            host = is_mujoco(self.env) or is_gym(self.env)
            self.ppo.autoreset = Autoreset.fresh if host else Autoreset.first_state


@dataclass
class ImportConfig:
    """``landscape import``: a run directory from a policy trained elsewhere.

    Sources (``source=``):

    - ``sb3``: a Stable-Baselines3 ``model.save`` zip (TD3, DDPG, SAC, PPO, A2C with
      an MLP policy and Box actions), read without torch;
    - ``cleanrl``: a ``.cleanrl_model`` of CleanRL's continuous-action TD3, DDPG
      and PPO scripts (torch or JAX), read without torch;
    - ``npz``: the neutral actor file (``docs/import.md``), which any framework
      writes with numpy;
    - ``brax_ppo`` / ``brax_sac``: a ``brax.io.model.save_params`` file.

    Pickles are read with only the globals their format needs; a file that names
    any other global is refused unrun. The run holds the policy only (no optimizer
    state, replay or env states): ``param_noise``, ``param_noise_per_step``,
    ``action_noise`` and ``init_state`` PURDs, plain paths and surfaces apply; the
    ``td3``, ``sac`` and ``ppo`` updates and rejection do not. An sb3 TD3 or SAC
    with ``replay=`` is the exception: it becomes a TD3 or SAC run with SB3's
    critics, Adam states and replay, to which ``td3`` / ``sac`` PURDs and rejection
    apply; so does an sb3 PPO with ``training_state=true`` (``ppo`` PURDs on fresh
    rollouts).
    """

    source: ImportSource | None = None
    """What wrote the file: sb3, cleanrl, npz, brax_ppo or brax_sac."""
    params: str | None = None
    """The file: an SB3 zip, a .cleanrl_model, a neutral .npz, a
    brax.io.model.save_params file or a brax.training checkpoint step folder."""
    env: str = "hopper"
    """The env to evaluate the policy on: a Brax env, ``mujoco:<Task>-v5`` or
    ``gym:<id>`` (sb3, cleanrl and npz policies on any of them; brax_* on Brax
    envs)."""
    gym: GymOptions = field(default_factory=GymOptions)
    """Options of a Gymnasium env (``env=gym:...``)."""
    replay: str | None = None
    """An sb3 TD3's or SAC's replay buffer (the file ``model.save_replay_buffer``
    wrote): the run then holds the model's critics, target networks, Adam states
    and replay as a TD3 or SAC run of its own, so ``td3`` / ``sac`` PURDs and
    ``reject`` apply; null: the policy alone."""
    training_state: bool = False
    """Read an sb3 model's optimizer state too: an sb3 PPO becomes a PPO run of its
    own (``ppo`` PURDs on fresh rollouts, ``reject``); TD3 and SAC need
    ``replay=``, which implies this."""
    normalizer: str | None = None
    """The observation normaliser of an sb3 policy (or a cleanrl one): rl-zoo's
    ``vecnormalize.pkl``, or an .npz with ``mean`` and ``var`` (optionally
    ``epsilon``, ``clip_obs``); null: the policy reads raw observations."""
    backend: str = "positional"
    """Brax physics pipeline of the evaluation episodes."""
    out: str | None = None
    """Run directory to write; null: ``runs/<env>-<source>``."""
    step: int = 0
    """The training step the policy was saved at (the run's one checkpoint)."""
    hidden_sizes: list[int] | None = None
    """Policy hidden layers of a brax.training ``save_params`` file (every other
    file holds its own); null: brax.training's defaults ([32,32,32,32] for PPO,
    [256,256] for SAC)."""
    activation: Activation | None = None
    """Hidden activation of a brax.training ``save_params`` file; null:
    brax.training's defaults (swish for PPO, relu for SAC)."""
    normalize_observations: bool = False
    """A brax.training ``save_params`` policy was trained with
    ``normalize_observations=True``: observations pass the saved running normalizer
    (brax.training's default is false; a checkpoint folder's config says it)."""
    horizon: int = DEFAULT_HORIZON
    """Episode step cap of the run's evaluation episodes."""
