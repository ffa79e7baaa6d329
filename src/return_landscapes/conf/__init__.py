"""Typed configs (Hydra structured configs) for every ``landscape`` command.

Defaults are the paper's hyper-parameters. Every option has a one-line docstring right
under it (``landscape <command> --help`` prints them). A typo in a key or an invalid
value fails at start-up with the valid choices listed. This module imports neither
Hydra nor JAX: the command line (``cli.register_configs``) registers them with Hydra.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from enum import Enum
from typing import ClassVar, NamedTuple

# The constants live in ``constants``; the ``as`` names re-export them from here.
from return_landscapes.conf.ranges import (
    AT_LEAST_ONE,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    UNIT,
    Range,
    range_problem,
)
from return_landscapes.constants import ATARI_EPISODE_STEPS, DEFAULT_GAMMA
from return_landscapes.constants import ATARI_FRAME_CAP as ATARI_FRAME_CAP
from return_landscapes.constants import ATARI_FRAME_SKIP as ATARI_FRAME_SKIP
from return_landscapes.constants import ATARI_PREFIX as ATARI_PREFIX
from return_landscapes.constants import DEFAULT_HORIZON as DEFAULT_HORIZON
from return_landscapes.constants import MUJOCO_PREFIX as MUJOCO_PREFIX

PAPER_STEPS = 1_000_000  # TD3 and SAC
PAPER_PPO_STEPS = 60_000_000
ATARI_STEPS = 10_000_000  # cleanrl's ppo_atari_envpool budget (agent steps)
BRAX_HORIZON = DEFAULT_HORIZON  # the old name, kept for importers
BRAX_EVAL_INTERVAL = 10_000
ATARI_EVAL_INTERVAL = 250_000

logger = logging.getLogger(__name__)


def is_atari(env: str) -> bool:
    """Whether ``env`` names an Atari game (``atari:Breakout-v5``)."""
    return str(env).startswith(ATARI_PREFIX)


def is_mujoco(env: str) -> bool:
    """Whether ``env`` names a Gymnasium MuJoCo task (``mujoco:Hopper-v5``)."""
    return str(env).startswith(MUJOCO_PREFIX)


def is_host_env(env: str) -> bool:
    """Whether ``env`` steps on the host (envpool: Atari games, MuJoCo tasks)."""
    return is_atari(env) or is_mujoco(env)


class Algo(Enum):
    """Training algorithms."""

    td3 = "td3"
    sac = "sac"
    ppo = "ppo"


# ------------------------------------------------------------- agent hyper-parameters


class Init(Enum):
    """How Dense kernels of the TD3, SAC and (Brax) PPO networks start."""

    # TD3 / SAC: gain sqrt(2), output layers included (jaxrl); PPO: cleanrl's
    # layer_init, sqrt(2) hidden, 0.01 policy output, 1.0 value output
    orthogonal = "orthogonal"
    lecun = "lecun"  # flax's default (LeCun normal); runs before this option


class PPOPolicy(Enum):
    """The action distribution of PPO on Brax envs."""

    # Gaussian, state-independent log std; env actions clipped to [-1, 1] (the
    # paper's cleanrl-style code)
    clipped_gaussian = "clipped_gaussian"
    # Gaussian on pre-tanh actions, state-dependent softplus std (Brax's PPO); runs
    # before this option
    tanh_gaussian = "tanh_gaussian"


class Autoreset(Enum):
    """Where a PPO training env starts after an episode ends."""

    # its own first state, drawn at the initial reset (Brax 0.0.13's
    # AutoResetWrapper, the paper's code)
    first_state = "first_state"
    fresh = "fresh"  # a new noisy start state each time; runs before this option


class ActorObjective(Enum):
    """What TD3's actor maximizes."""

    min_q = "min_q"  # the smaller of the twin critics (the paper's code)
    first_q = "first_q"  # the first critic (Fujimoto et al.); runs before the option


class TemperatureLoss(Enum):
    """SAC's temperature loss (the entropy gap ``H - target`` held fixed)."""

    temperature = "temperature"  # alpha * (H - target), H = -mean(log_prob) (paper's)
    log_temperature = "log_temperature"  # log(alpha) * (H - target); runs before


class FigureFormat(Enum):
    """File format of the report's figures."""

    png = "png"
    svg = "svg"
    pdf = "pdf"


class Heads(Enum):
    """How SAC's actor outputs its mean and log-std."""

    separate = "separate"  # two Dense layers on the last hidden layer (paper's code)
    joint = "joint"  # one Dense layer of 2 x action_size, split; runs before


@dataclass
class OffPolicyConfig:
    """Hyper-parameters shared by TD3 and SAC (paper defaults)."""

    RANGES: ClassVar[dict[str, Range]] = {
        "hidden_sizes": AT_LEAST_ONE,
        "actor_lr": POSITIVE,
        "critic_lr": POSITIVE,
        "tau": UNIT,
        "gamma": UNIT,
    }

    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])
    """Hidden layer widths of the actor and critic MLPs (ReLU)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-4
    """Adam learning rate of the twin critics."""
    batch_size: int = 256
    """Replay transitions per update (one update per env step)."""
    tau: float = 0.005
    """Target networks' Polyak rate: ``target <- (1 - tau) target + tau online``."""
    gamma: float = 0.99
    """Discount of the critic targets and of the recorded discounted returns."""
    random_start_steps: int = 10_000
    """First env steps with uniformly random actions and no update."""
    replay_capacity: int = 1_000_000
    """Replay buffer rows; must hold the steps between two checkpoints."""
    init: Init = Init.orthogonal
    """Dense kernels' init: orthogonal, gain sqrt(2), every layer (the paper's code)
    or lecun (flax's default)."""


@dataclass
class TD3Config(OffPolicyConfig):
    """TD3 (Fujimoto et al., 2018)."""

    RANGES: ClassVar[dict[str, Range]] = {
        "target_noise": NON_NEGATIVE,
        "target_noise_clip": NON_NEGATIVE,
        "exploration_noise": NON_NEGATIVE,
    }

    policy_delay: int = 2
    """Critic updates per actor and target-network update."""
    target_noise: float = 0.2
    """Std of the Gaussian smoothing noise on the target policy's actions."""
    target_noise_clip: float = 0.5
    """The target smoothing noise is clipped to ``[-clip, clip]``."""
    exploration_noise: float = 0.1
    """Std of the Gaussian noise on the actor's actions while training."""
    actor_objective: ActorObjective = ActorObjective.min_q
    """Actor loss: -mean(min(Q1, Q2)) (min_q, the paper's code) or -mean(Q1)."""


@dataclass
class SACConfig(OffPolicyConfig):
    """SAC with twin critics and a learned temperature (Haarnoja et al., 2018)."""

    RANGES: ClassVar[dict[str, Range]] = {
        "temperature_lr": POSITIVE,
        "initial_temperature": POSITIVE,
    }

    temperature_lr: float = 3e-4
    """Adam learning rate of the log temperature."""
    initial_temperature: float = 1.0
    """Entropy temperature at the start of training."""
    target_entropy: float | None = None
    """Entropy the temperature steers the policy to; null: see target_entropy_scale."""
    target_entropy_scale: float = 0.5
    """Null target_entropy means ``-scale * action_size`` (0.5, the paper's code)."""
    log_std_min: float = -10.0
    """Actor log-std = min + (2 - min) (tanh(raw) + 1) / 2 (-10, the paper's code)."""
    temperature_loss: TemperatureLoss = TemperatureLoss.temperature
    """Loss alpha (H - target) (temperature, paper's code) or log alpha (H - target)."""
    heads: Heads = Heads.separate
    """Actor mean and log-std: separate Dense heads (the paper's code) or one joint."""


# The ranges PPO's options share on Brax and on Atari.
PPO_RANGES = {
    "learning_rate": POSITIVE,
    "adam_eps": POSITIVE,
    "gamma": UNIT,
    "gae_lambda": FRACTION,
    "clip": POSITIVE,
    "entropy_cost": NON_NEGATIVE,
    "value_cost": NON_NEGATIVE,
    "max_grad_norm": POSITIVE,
}


@dataclass
class PPOConfig:
    """PPO with GAE on Brax envs (paper defaults: its cleanrl-style PPO).

    One iteration collects ``unroll_length`` steps from each of ``num_envs`` envs
    (``num_envs * unroll_length`` env steps), then runs ``epochs`` passes over
    ``num_minibatches`` minibatches. The paper trains for 60M env steps. The defaults
    are the paper's code (cleanrl's continuous PPO, adapted to Brax): a Gaussian with a
    state-independent log std and clipped env actions, raw observations, Adam eps 1e-5,
    orthogonal init, no bootstrap at the horizon, envs back to their own first state;
    ``policy=tanh_gaussian normalize_observations=true adam_eps=1e-8 init=lecun
    bootstrap_truncation=true autoreset=fresh`` is the Brax-style PPO of runs trained
    before these options.
    """

    RANGES: ClassVar[dict[str, Range]] = {
        **PPO_RANGES,
        "hidden_sizes": AT_LEAST_ONE,
    }

    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden layer widths of the policy and value MLPs (tanh)."""
    num_envs: int = 2048
    """Parallel envs per seed."""
    unroll_length: int = 16
    """Steps each env runs per iteration."""
    num_minibatches: int = 2
    """Minibatches per epoch; must divide ``num_envs * unroll_length``."""
    epochs: int = 4
    """Passes over each iteration's experience."""
    learning_rate: float = 2.6e-3
    """Adam learning rate (after global-norm clipping)."""
    gamma: float = 0.99
    """Discount of the returns, of GAE and of the recorded discounted returns."""
    gae_lambda: float = 0.95
    """GAE's lambda."""
    clip: float = 0.2
    """Clip range of the probability ratio."""
    entropy_cost: float = 0.0
    """Weight of the entropy bonus in the loss."""
    value_cost: float = 2.0
    """Weight of the value loss in the loss."""
    max_grad_norm: float = 1.0
    """Global norm the gradient is clipped to."""
    policy: PPOPolicy = PPOPolicy.clipped_gaussian
    """Action distribution: clipped_gaussian (the paper's code) or tanh_gaussian."""
    normalize_observations: bool = False
    """Feed observations through a running mean / variance normalizer (Brax-style)."""
    adam_eps: float = 1e-5
    """Adam's epsilon (1e-5 in the paper's code, 1e-8 in Brax's PPO)."""
    init: Init = Init.orthogonal
    """Dense kernels' init: orthogonal (cleanrl's layer_init, zero biases) or lecun."""
    bootstrap_truncation: bool = False
    """At the horizon, bootstrap GAE from the true next observation's value."""
    autoreset: Autoreset = Autoreset.first_state
    """After an episode a training env restarts at first_state (its own) or fresh."""


@dataclass
class AtariConfig:
    """PPO on Atari (envpool), cleanrl's ``ppo_atari_envpool`` defaults.

    One iteration collects ``unroll_length`` steps from each of ``num_envs`` envs per
    seed; the learning rate falls linearly to 0 over the run when ``anneal_lr``.
    Training envs use envpool's v5 preprocessing (84x84 grey, 4 stacked frames, frame
    skip 4, up to ``noop_max`` no-op starts, no sticky actions) with episodic life and
    clipped rewards. Evaluation episodes play the full game with raw rewards and
    greedy actions, after a no-op start (its length derived from ``eval_env_seed``).
    """

    RANGES: ClassVar[dict[str, Range]] = PPO_RANGES

    num_envs: int = 8
    """Envs per seed (seeds share one envpool batch of ``seeds x num_envs``)."""
    unroll_length: int = 128
    """Agent steps each env runs per iteration."""
    num_minibatches: int = 4
    """Minibatches per epoch; must divide ``num_envs * unroll_length``."""
    epochs: int = 4
    """Passes over each iteration's experience."""
    learning_rate: float = 2.5e-4
    """Adam learning rate (the start of the schedule when ``anneal_lr``)."""
    anneal_lr: bool = True
    """Lower the learning rate linearly to 0 over the run."""
    adam_eps: float = 1e-5
    """Adam's epsilon."""
    gamma: float = 0.99
    """Discount of the returns, of GAE and of the recorded discounted returns."""
    gae_lambda: float = 0.95
    """GAE's lambda."""
    clip: float = 0.1
    """Clip range of the probability ratio (and of the value change)."""
    clip_value_loss: bool = True
    """Clip the value prediction's change, as the ratio is clipped."""
    entropy_cost: float = 0.01
    """Weight of the entropy bonus in the loss."""
    value_cost: float = 0.5
    """Weight of the value loss in the loss."""
    max_grad_norm: float = 0.5
    """Global norm the gradient is clipped to."""
    noop_max: int = 30
    """Most no-op steps at an episode's start (training and evaluation)."""
    episodic_life: bool = True
    """Training episodes end at each life lost (evaluation plays the full game)."""
    reward_clip: bool = True
    """Training rewards are clipped to their sign (evaluation records raw scores)."""
    eval_env_seed: int = 0
    """Seed of the no-op start that evaluation samples share by default."""
    num_threads: int = 0
    """Envpool worker threads; 0: envpool's default."""


# ------------------------------------------------------- options several commands share


@dataclass
class WandbOptions:
    """Mirroring to Weights & Biases (see ``tracking.py``)."""

    wandb: bool = False
    """Mirror metrics and results to Weights & Biases (``WANDB_MODE`` applies)."""
    wandb_project: str = "return-landscapes"
    """The wandb project."""
    wandb_entity: str | None = None
    """The wandb entity (user or team); null: wandb's default."""


@dataclass
class RunEpisodeOptions:
    """How a landscape command runs its evaluation episodes and stores them."""

    chunk: int | None = None
    """Episodes per compiled call; null: the most that fit the memory budget."""
    overwrite: bool = False
    """Recompute and replace stored results (also those with other settings)."""
    horizon: int | None = None
    """Steps an evaluation episode lasts at most; null: the run's training horizon."""
    gamma: float = DEFAULT_GAMMA
    """Discount of the stored discounted returns."""
    progress: bool | None = None
    """Progress on stderr: true a bar, false none; null a bar on a terminal, else
    (a SLURM log) a plain line every minute."""
    original_quirks: bool = False
    """Reproduce the paper's code's accidents (sac: one shared key; ppo: Brax clip
    0.1 and first unroll steps, Atari fresh Adam, no clip, gradient/100)."""


@dataclass
class AtariEpisodeOptions:
    """How Atari evaluation episodes act and start (refused on Brax runs)."""

    sampled_actions: bool = False
    """Atari: sample actions from the policy instead of the greedy ones."""
    per_sample_env_seeds: bool = False
    """Atari: each sample its own no-op start instead of one shared start."""


# ------------------------------------------------------------- imported policies


class ImportSource(Enum):
    """Libraries whose saved policies ``landscape import`` reads."""

    brax_ppo = "brax_ppo"
    brax_sac = "brax_sac"


class Activation(Enum):
    """Hidden-layer activations of an imported policy network (flax.linen's)."""

    swish = "swish"
    relu = "relu"
    tanh = "tanh"
    elu = "elu"
    gelu = "gelu"


BRAX_HIDDEN_SIZES = {"brax_ppo": [32, 32, 32, 32], "brax_sac": [256, 256]}
"""brax.training's default policy layers (``make_ppo_networks``,
``make_sac_networks``)."""
BRAX_ACTIVATIONS = {"brax_ppo": "swish", "brax_sac": "relu"}
"""brax.training's default activations of those networks."""


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


# ------------------------------------------------------------------------- commands


@dataclass
class TrainConfig(WandbOptions):
    """``landscape train``: N seeds of one algorithm on one env, vmapped.

    ``steps`` defaults to the paper's budget: 1M env steps for TD3 and SAC, 60M for
    PPO, 10M agent steps (40M frames) for PPO on Atari (``env=atari:Breakout-v5``).
    Gymnasium's MuJoCo tasks (``env=mujoco:Hopper-v5``) train TD3 and SAC with the
    Brax defaults.
    ``horizon`` caps episodes: 1000 steps on Brax, 27,000 agent steps (108,000
    frames) on Atari; ``eval_interval`` defaults to 10k (Brax) or 250k (Atari) steps.
    ``checkpoints`` lists the checkpoint steps; ``num_checkpoints=N`` instead places N
    evenly spaced (``steps * k / N``); with neither, the paper's schedule scaled to
    ``steps`` (5%, 15%, ..., 95% of the budget). The final step is always
    checkpointed as well.
    """

    RANGES: ClassVar[dict[str, Range]] = {"reset_noise_scale": NON_NEGATIVE}

    env: str = "hopper"
    """A Brax env (hopper, walker2d, halfcheetah, ant, ...), ``atari:<Game>-v5`` or
    ``mujoco:<Task>-v5``."""
    algo: Algo = Algo.td3
    """Training algorithm (Atari games: ppo only; MuJoCo tasks: td3 or sac)."""
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
    """PPO hyper-parameters (``algo=ppo`` on Brax)."""
    atari: AtariConfig = field(default_factory=AtariConfig)
    """PPO hyper-parameters and env options on Atari (``env=atari:...``)."""
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


@dataclass
class PurdConfig(RunEpisodeOptions, AtariEpisodeOptions, WandbOptions):
    """``landscape purd``: post-update return distributions of a run's checkpoints.

    ``perturb`` defaults to the run's own algorithm (``td3``, ``sac`` or ``ppo``);
    ``checkpoints`` and ``seeds`` default to every checkpoint and seed of the run;
    ``horizon`` to the run's training horizon; ``chunk`` to the largest number of
    samples per compiled call that fits the memory budget. On Atari runs, episodes
    are greedy with one no-op start shared by all samples unless
    ``sampled_actions`` / ``per_sample_env_seeds``.
    """

    RANGES: ClassVar[dict[str, Range]] = {"samples": AT_LEAST_ONE}

    run: str | None = None
    """Run directory (the ``out`` of ``landscape train``); required."""
    perturb: str | None = None
    """td3, sac, ppo, param_noise, action_noise, init_state, param_noise_per_step or
    td3_action; null: the run's algo."""
    scale: float | None = None
    """Perturbation size: an update's learning rate, or the noise's std (init_state:
    a multiple of the training start noise); null: the run's learning rate for
    td3/sac/ppo/td3_action, 3e-4 for param_noise and param_noise_per_step, 0.1 for
    action_noise, 1 for init_state."""
    samples: int = 1000
    """Perturbed policies (one episode each) per seed and checkpoint."""
    checkpoints: list[int] | None = None
    """Checkpoint steps to perturb; null: every checkpoint of the run."""
    seeds: list[int] | None = None
    """Indices of the run's seeds to perturb; null: every seed."""
    sample_seed: int = 0
    """Random seed of the samples; a seed draws the same samples at every scale."""
    min_episode_steps: int = 0
    """Skip seeds x checkpoints whose unperturbed episode ends sooner (a policy that
    falls has a flat landscape); 0: compute them all. Flat policies are named in a
    warning either way."""


class PairKind(Enum):
    """Which checkpoint pairs an interpolation joins."""

    same_seed = "same_seed"
    cross_seed = "cross_seed"


@dataclass
class InterpolateConfig(RunEpisodeOptions, AtariEpisodeOptions, WandbOptions):
    """``landscape interpolate``: returns along straight paths between checkpoints.

    The policy at ``a`` is ``a * theta1 + (1 - a) * theta2`` for ``points`` values of
    ``a`` from 0 to 1. ``pairs=same_seed`` joins every two checkpoints of each seed
    (earlier checkpoint first); ``pairs=cross_seed`` joins seed ``s`` at step ``c1``
    with seed ``s+1`` at step ``c2`` for every ordered pair ``c1 != c2``, as the
    paper's code (``include_equal_steps`` adds ``c1 == c2``). ``other_run=DIR`` takes
    the second policy of each pair from another run (same env, algorithm and network
    sizes), joining steps ``c1 <= c2``.
    ``between=[seed1,checkpoint1,seed2,checkpoint2]`` asks for one pair. At each point:
    the plain return, and with ``samples > 0`` a PURD of that many samples under
    ``perturb`` at ``scale`` (paper: 100 samples of parameter noise at 3e-4).
    """

    run: str | None = None
    """Run directory (the ``out`` of ``landscape train``); required."""
    pairs: PairKind = PairKind.same_seed
    """Checkpoints of one seed, or of seed s and seed s+1."""
    other_run: str | None = None
    """Take each pair's second policy from this run (same env, algo, networks)."""
    between: list[int] | None = None
    """One pair ``[seed1,checkpoint1,seed2,checkpoint2]`` instead of ``pairs``."""
    include_equal_steps: bool = False
    """pairs=cross_seed: also join seed s and s+1 at the same checkpoint step."""
    points: int = 100
    """Points on each path, both checkpoints included."""
    samples: int = 100
    """PURD samples at every point; 0: plain returns only."""
    perturb: str = "param_noise"
    """Perturbation of the PURDs along the path."""
    scale: float | None = None
    """Perturbation size: an update's learning rate, or the noise's std (init_state:
    a multiple of the training start noise); null: the run's learning rate for
    td3/sac/ppo/td3_action, 3e-4 for param_noise and param_noise_per_step, 0.1 for
    action_noise, 1 for init_state."""
    checkpoints: list[int] | None = None
    """Checkpoint steps to pair; null: every checkpoint of the run."""
    seeds: list[int] | None = None
    """Indices of the run's seeds to pair; null: every seed."""
    sample_seed: int = 0
    """Random seed of the samples (sample j draws the same key at every point)."""


class Criterion(Enum):
    """When post-update rejection keeps a proposed update."""

    cvar = "cvar"  # the PURD's CVaR did not fall
    ltp = "ltp"  # the PURD's left-tail probability did not rise
    none = "none"  # always (plain continued training, PURDs recorded)


class RejectEnv(Enum):
    """Which env rejection's continued training steps."""

    fresh = "fresh"  # a new reset, 0.1x the training start noise (the paper's code)
    checkpoint = "checkpoint"  # the checkpointed training envs, training noise


@dataclass
class RejectConfig(RunEpisodeOptions, WandbOptions):
    """``landscape reject``: post-update CVaR rejection (Algorithm 1 of the paper).

    From checkpoint ``checkpoint`` of the run's seed ``seed_index``, continue training
    and, every ``check_interval`` proposed updates, estimate the PURD of the new
    policy (``samples`` samples of ``perturb``, default the run's algorithm, at
    ``scale``); keep the updates if ``criterion`` holds against the last kept point,
    else restore it. ``max_steps`` proposed updates per repeat; ``repeats``
    independent repeats. ``alpha`` is the CVaR level, ``threshold`` and ``bins``
    define LTP. TD3 and SAC runs only.
    """

    RANGES: ClassVar[dict[str, Range]] = {
        "samples": AT_LEAST_ONE,
        "repeats": AT_LEAST_ONE,
        "max_steps": AT_LEAST_ONE,
        "check_interval": AT_LEAST_ONE,
        "bins": AT_LEAST_ONE,
        "alpha": UNIT,
        "threshold": FRACTION,
    }

    run: str | None = None
    """Run directory (the ``out`` of ``landscape train``); required."""
    checkpoint: int | None = None
    """Checkpoint step to continue training from; required."""
    seed_index: int = 0
    """Which of the run's seeds to continue (0 to seeds - 1)."""
    criterion: Criterion = Criterion.cvar
    """Keep an update if CVaR did not fall (cvar), LTP did not rise (ltp), or always."""
    alpha: float = 0.1
    """CVaR level: the mean of the worst ``alpha`` fraction of returns."""
    threshold: float = 0.5
    """LTP counts returns below ``threshold x mode``."""
    bins: int = 100
    """Histogram bins of the mode that LTP uses."""
    max_steps: int = 40
    """Proposed updates per repeat."""
    check_interval: int = 1
    """Proposed updates between two PURD checks."""
    samples: int = 1000
    """PURD samples per check."""
    repeats: int = 10
    """Independent repeats from the checkpoint, each with its own training key."""
    reject_env: RejectEnv = RejectEnv.fresh
    """Continue training in a fresh env with 0.1x the training start noise (the
    paper's code), or in the checkpointed training envs (checkpoint)."""
    perturb: str | None = None
    """Perturbation of the PURD checks; null: the run's algorithm."""
    scale: float | None = None
    """Perturbation size: an update's learning rate, or the noise's std (init_state:
    a multiple of the training start noise); null: the run's learning rate for
    td3/sac/ppo/td3_action, 3e-4 for param_noise and param_noise_per_step, 0.1 for
    action_noise, 1 for init_state."""
    sample_seed: int = 0
    """Random seed of the PURD samples and of each repeat's training key."""


class DirectionKind(Enum):
    """How the directions of a surface or line through a checkpoint are made."""

    random = "random"  # two Gaussian directions, normalized (Li et al., 2018)
    update = "update"  # x: the run's own mean update; y: random, orthogonal to it
    pca = "pca"  # the first two principal components of the seed's checkpoints
    file = "file"  # read from directions_file (an earlier surface's or a user's)


class Normalization(Enum):
    """The groups a direction is rescaled to the parameters' norm over."""

    filter = "filter"  # each output unit (Li et al.'s filter normalization)
    layer = "layer"  # each parameter leaf
    model = "model"  # the whole actor
    none = "none"  # not rescaled


class BiasDirection(Enum):
    """Whether directions move biases (and other one-axis parameters)."""

    ignore = "ignore"  # zero on biases (Li et al.'s ignore='biasbn')
    normalized = "normalized"  # moved, normalized as the weights


@dataclass
class DirectionOptions:
    """How a surface's or line's directions through one checkpoint are made."""

    directions: DirectionKind = DirectionKind.random
    """``random`` (two random directions), ``update`` (x: the run's own mean update
    at the checkpoint, y: random and orthogonal to it), ``pca`` (the first two
    principal components of the seed's checkpoints) or ``file``
    (``directions_file``)."""
    normalization: Normalization = Normalization.filter
    """random and update: rescale each ``filter`` (output unit), ``layer``,
    the whole ``model``, or ``none``, to the parameters' norm."""
    bias: BiasDirection = BiasDirection.ignore
    """random and update: ``ignore`` (biases stay) or ``normalized`` (they move)."""
    orthogonalize: bool = False
    """random: make the second direction orthogonal to the first (Gram-Schmidt per
    normalization group, norms kept); update always does."""
    update_batches: int = 100
    """update: minibatches (the PURD's first samples) the mean update averages."""
    directions_file: str | None = None
    """file: the HDF5 file of the directions (an earlier surface's directions.h5 or
    one written by hand, see docs/directions.md)."""


@dataclass
class LineConfig(
    RunEpisodeOptions, AtariEpisodeOptions, WandbOptions, DirectionOptions
):
    """``landscape line``: returns along one direction through a checkpoint.

    ``points`` points ``theta + x d`` for ``x`` in ``[-span, span]`` (``points`` odd,
    so the checkpoint is the middle point, bit for bit). ``d`` is the first direction
    of ``directions`` (random, update, PC1 or a file's ``x``). At every point the
    plain return and, with ``samples > 0``, a PURD of that many samples under
    ``perturb`` at ``scale`` (the middle point's samples are those of ``landscape
    purd sample_seed=<sample_seed>``).
    """

    RANGES: ClassVar[dict[str, Range]] = {"span": POSITIVE}

    run: str | None = None
    """Run directory (the ``out`` of ``landscape train``); required."""
    checkpoint: int | None = None
    """Checkpoint step the line goes through; null for pca: the last."""
    seed_index: int = 0
    """Which of the run's seeds the line goes through (0 to seeds - 1)."""
    points: int = 21
    """Points along the line (odd, at least 3)."""
    span: float = 1.0
    """The line covers ``[-span, span]`` along the direction."""
    samples: int = 0
    """PURD samples at every point; 0: plain returns only."""
    perturb: str | None = None
    """Perturbation of the PURDs; null: the run's algorithm."""
    scale: float | None = None
    """Perturbation size, as for ``landscape surface``; null: the perturbation's
    default."""
    sample_seed: int = 0
    """Random seed of the random directions and of the samples."""


@dataclass
class SurfaceConfig(
    RunEpisodeOptions, AtariEpisodeOptions, WandbOptions, DirectionOptions
):
    """``landscape surface``: returns on a ``grid x grid`` lattice in a plane.

    By default the plane goes through checkpoint ``checkpoint`` of the run's seed
    ``seed_index`` and is spanned by two directions (``directions``: random ones
    normalized filter-wise as Li et al., 2018, the run's own update, the PCA of the
    seed's checkpoints, or a file's); the points are ``theta + x d1 + y d2`` for
    ``x, y`` in ``[-span, span]`` (``grid`` odd, so the checkpoint is the centre
    point).
    ``through=[seed1,checkpoint1,seed2,checkpoint2,seed3,checkpoint3]`` takes the
    plane through three checkpoints instead: ``(1-x-y) theta1 + x theta2 + y theta3``
    for ``x, y`` in ``[0, 1]``, the checkpoints at three corners. At every point: the
    plain return, and with ``samples > 0`` a PURD of that many samples under
    ``perturb`` (default the run's algorithm) at ``scale``. ``sample_seed`` seeds
    the directions and the samples (the centre's samples are those of ``landscape
    purd sample_seed=<sample_seed>``).
    """

    RANGES: ClassVar[dict[str, Range]] = {"span": POSITIVE}

    run: str | None = None
    """Run directory (the ``out`` of ``landscape train``); required."""
    checkpoint: int | None = None
    """Checkpoint step at the centre of the plane (unless ``through``); null for
    pca: the last."""
    seed_index: int = 0
    """Which of the run's seeds the random plane goes through (0 to seeds - 1)."""
    through: list[int] | None = None
    """Three checkpoints ``[seed1,ckpt1,seed2,ckpt2,seed3,ckpt3]`` span the plane."""
    grid: int = 21
    """Points per side of the lattice (odd for a random plane)."""
    span: float = 1.0
    """A plane through one checkpoint covers ``[-span, span]`` along each
    direction."""
    samples: int = 0
    """PURD samples at every point; 0: plain returns only."""
    perturb: str | None = None
    """Perturbation of the PURDs; null: the run's algorithm."""
    scale: float | None = None
    """Perturbation size: an update's learning rate, or the noise's std (init_state:
    a multiple of the training start noise); null: the run's learning rate for
    td3/sac/ppo/td3_action, 3e-4 for param_noise and param_noise_per_step, 0.1 for
    action_noise, 1 for init_state."""
    sample_seed: int = 0
    """Random seed of the random directions and of the samples."""


@dataclass
class StatsConfig:
    """``landscape stats``: a table of PURD statistics, written to ``stats.csv``.

    ``threshold`` and ``bins`` define LTP (mode from a ``bins``-bin histogram);
    ``alpha`` the CVaR level; ``confidence`` and ``resamples`` the bootstrap intervals
    across seeds. ``out`` defaults to ``<run>/landscape/stats.csv``.
    """

    RANGES: ClassVar[dict[str, Range]] = {"threshold": FRACTION}

    run: str | None = None
    """Run directory whose stored PURDs to summarize; required."""
    threshold: float = 0.5
    """LTP counts returns below ``threshold x mode``."""
    bins: int = 100
    """Histogram bins of the mode that LTP uses."""
    alpha: float = 0.1
    """CVaR level: the mean of the worst ``alpha`` fraction of returns."""
    confidence: float = 0.95
    """Level of the bootstrap confidence intervals across seeds."""
    resamples: int = 10_000
    """Bootstrap resamples of the confidence intervals."""
    out: str | None = None
    """CSV file of the table; null: ``<run>/landscape/stats.csv``."""


@dataclass
class ReportConfig:
    """``landscape report``: an HTML page with figures, the PNGs and the stats CSV.

    ``runs`` lists run directories; ``out`` is the report folder (``index.html``, one
    file per figure in ``format``, ``stats.csv`` and ``stats_summary.csv``).
    ``threshold``, ``bins`` and ``alpha`` define LTP and CVaR as for ``landscape
    stats``; ``confidence`` and ``resamples`` the bootstrap intervals across seeds;
    ``max_seeds`` how many seeds a PURD histogram figure shows; ``surface_3d`` adds a
    3-D view to each return surface. Runs of two or more envs also get statistics
    across envs (``aggregate``: IQM and probability of improvement with
    stratified-bootstrap intervals, written to ``aggregate.csv``; needs the
    ``rliable`` extra).
    """

    RANGES: ClassVar[dict[str, Range]] = {"threshold": FRACTION}

    runs: list[str] = field(default_factory=list)
    """Run directories to report on."""
    out: str = "report"
    """Folder of ``index.html``, the PNGs and the stats CSVs."""
    threshold: float = 0.5
    """LTP counts returns below ``threshold x mode``."""
    bins: int = 100
    """Histogram bins of the mode that LTP uses."""
    alpha: float = 0.1
    """CVaR level: the mean of the worst ``alpha`` fraction of returns."""
    confidence: float = 0.95
    """Level of the bootstrap confidence intervals across seeds."""
    resamples: int = 10_000
    """Bootstrap resamples of the confidence intervals."""
    max_seeds: int = 4
    """Seeds (columns) a PURD histogram figure shows."""
    surface_3d: bool = False
    """Add a 3-D view to every return surface figure."""
    format: FigureFormat = FigureFormat.png
    """Figure files: png, svg or pdf (the page shows pdf figures as PNG, linked)."""
    aggregate: bool = True
    """Runs of two or more envs: IQM and P(improvement) across envs (rliable)."""
    aggregate_reps: int = 2_000
    """Stratified-bootstrap resamples of each interval across envs."""
    aggregate_seed: int = 0
    """Seed of those resamples (0 to 2**32 - 1), so aggregate.csv is reproducible."""


@dataclass
class DemoConfig:
    """``landscape demo``: train, PURD, interpolate, reject and report, small.

    The defaults finish in under 10 minutes on a 2-core CPU: TD3 on hopper with the
    paper's learning rates and update and [64, 64] networks, ``seeds`` seeds for
    ``steps`` env steps (``random_start_steps`` of them random), checkpoints at
    ``checkpoints``; a PURD of ``samples`` samples of the run's own update at
    ``scale`` for every seed and checkpoint whose policy does not fall before
    ``min_episode_steps``; same-seed and cross-seed paths of ``points`` points (plain
    returns, or ``path_samples`` parameter-noise samples each); ``cvar`` and ``none``
    rejection of ``reject_steps`` proposed updates, ``reject_samples`` samples per
    check, ``repeats`` repeats, from the policy with the heaviest left tail; a
    ``surface_grid x surface_grid`` return surface around it (random plane, span 1)
    with ``surface_samples`` samples per point. Writes ``<out>/<env>-<algo>`` (the
    run) and ``<out>/report``; a re-run reuses what is done.
    """

    RANGES: ClassVar[dict[str, Range]] = {"hidden_sizes": AT_LEAST_ONE}

    out: str = "demo"
    """Folder of the run (``<out>/<env>-<algo>``) and the report (``<out>/report``)."""
    env: str = "hopper"
    """Brax env to train on."""
    algo: Algo = Algo.td3
    """Training algorithm (ppo skips the rejection stage)."""
    seeds: int = 3
    """Seeds to train (at least 2, for cross-seed paths)."""
    steps: int = 50_000
    """Env steps per seed."""
    checkpoints: list[int] | None = field(
        default_factory=lambda: [20_000, 30_000, 40_000, 50_000]
    )
    """Checkpoint steps (at least 2, for same-seed paths; the defaults skip the
    first 20k steps, where the hopper still stands still or falls); null:
    ``num_checkpoints`` evenly spaced up to ``steps``."""
    num_checkpoints: int = 4
    """Evenly spaced checkpoints when ``checkpoints`` is null (at least 2)."""
    random_start_steps: int = 4_000
    """First env steps with random actions (TD3 and SAC)."""
    hidden_sizes: list[int] | None = field(default_factory=lambda: [64, 64])
    """Hidden layers of the actor and critic(s): [64, 64] trains about 3x faster on a
    CPU than the paper's [256, 256] and hops by 20k steps; null: the algorithm's
    own (the paper's)."""
    samples: int = 100
    """PURD samples per seed and checkpoint."""
    min_episode_steps: int = 100
    """PURDs, rejection and the surface only of policies whose unperturbed episode
    lasts this many steps (or the whole horizon): one that falls sooner has a flat
    landscape and is named in a warning instead; 0: analyse every policy."""
    scale: float | None = None
    """Perturbation size of the PURDs, rejection checks and surface; null: the run's
    learning rate."""
    points: int = 11
    """Points on each interpolation path."""
    path_samples: int = 0
    """Parameter-noise samples at every path point; 0: the plain return only."""
    reject_steps: int = 10
    """Proposed updates per rejection repeat."""
    reject_samples: int = 30
    """PURD samples per rejection check."""
    repeats: int = 2
    """Rejection repeats per criterion."""
    surface_grid: int = 9
    """Points per side of the return surface (odd)."""
    surface_samples: int = 8
    """PURD samples at every surface point; 0: plain returns only."""
    progress: bool | None = None
    """Progress on stderr: true bars, false none; null a bar on a terminal, else
    (a SLURM log) a plain line every minute."""


@dataclass
class ImportConfig:
    """``landscape import``: a run directory from a policy trained elsewhere.

    Reads a parameter file that brax.training's PPO or SAC saved
    (``brax.io.model.save_params``): a pickle, and loading a pickle runs code, so
    import only files you trust. The run holds the policy only (no optimizer state,
    replay or env states): ``param_noise``, ``param_noise_per_step``,
    ``action_noise`` and ``init_state`` PURDs, plain paths and surfaces apply; the
    ``td3``, ``sac`` and ``ppo`` updates and rejection do not.
    """

    source: ImportSource | None = None
    """What trained the policy: brax_ppo or brax_sac."""
    params: str | None = None
    """The parameter file (``brax.io.model.save_params``)."""
    env: str = "hopper"
    """The Brax env the policy was trained on."""
    backend: str = "positional"
    """Brax physics pipeline of the evaluation episodes."""
    out: str | None = None
    """Run directory to write; null: ``runs/<env>-<source>``."""
    step: int = 0
    """The training step the policy was saved at (the run's one checkpoint)."""
    hidden_sizes: list[int] | None = None
    """Policy hidden layers; null: brax.training's defaults ([32,32,32,32] for PPO,
    [256,256] for SAC)."""
    activation: Activation | None = None
    """Hidden activation; null: brax.training's defaults (swish for PPO, relu for
    SAC)."""
    normalize_observations: bool = False
    """The policy was trained with ``normalize_observations=True``: observations pass
    the saved running normalizer (brax.training's default is false)."""
    horizon: int = DEFAULT_HORIZON
    """Episode step cap of the run's evaluation episodes."""


SCHEMAS: dict[str, type] = {
    "train": TrainConfig,
    "import": ImportConfig,
    "purd": PurdConfig,
    "interpolate": InterpolateConfig,
    "reject": RejectConfig,
    "surface": SurfaceConfig,
    "line": LineConfig,
    "stats": StatsConfig,
    "report": ReportConfig,
    "demo": DemoConfig,
}
"""Each command's schema; ``conf/<command>.yaml`` extends ``<command>_schema``."""

RENAMED: dict[type, dict[str, str]] = {
    PurdConfig: {"seed": "sample_seed"},
    InterpolateConfig: {"seed": "sample_seed"},
    RejectConfig: {"seed": "seed_index"},
    SurfaceConfig: {"seed": "seed_index"},
    LineConfig: {"seed": "seed_index"},
}
"""Old option names still accepted (with a note on stderr), per schema: old -> new."""


# --------------------------------------------------------------------- old names


def command_name(schema: type) -> str:
    """The ``landscape`` command a schema configures (its class name otherwise)."""
    for command, known in SCHEMAS.items():
        if known is schema:
            return command
    return schema.__name__


def renames(schema: type, keys: Iterable[str]) -> dict[str, str]:
    """The old option names among ``keys`` mapped to their new names.

    Logs one ``note:`` line (a warning, so it reaches stderr) per old name. Raises
    ``LandscapeError`` if a key and its old name are both given. The command line
    and ``resolve`` both call this, so an old name means the same in both.
    """
    from return_landscapes.errors import LandscapeError

    keys = set(keys)
    found = {old: new for old, new in RENAMED.get(schema, {}).items() if old in keys}
    command = command_name(schema)
    for old, new in found.items():
        if new in keys:
            raise LandscapeError(
                f"{old}= and {new}= are both given: {old}= is the old name of "
                f"{new}= for landscape {command}; pass {new}= only"
            )
        logger.warning(
            "note: %s= is deprecated for landscape %s, use %s=", old, command, new
        )
    return found


def _renamed(schema: type, values):
    """``values`` (a mapping or None) with old option names replaced by new ones."""
    if values is None or is_dataclass(values):
        return values
    found = renames(schema, values.keys())
    if not found:
        return values
    from omegaconf import DictConfig, OmegaConf

    if isinstance(values, DictConfig):
        values = OmegaConf.to_container(values)
    return {found.get(key, key): value for key, value in values.items()}


# ---------------------------------------------------------------------- resolution


def resolve(schema: type, config=None, **overrides):
    """A typed config object from a dataclass instance, a DictConfig or a dict.

    ``overrides`` are merged on top (nested nodes as dicts), so
    ``resolve(TrainConfig, env="ant", td3={"actor_lr": 1e-3})`` works. Old option
    names (``RENAMED``) are accepted with a note on stderr. Unknown keys and
    ill-typed values raise ``LandscapeError`` naming the valid choices, and a number
    outside the range its config class declares (``RANGES``) one naming the range.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from return_landscapes.errors import LandscapeError

    config = _renamed(schema, config)
    overrides = _renamed(schema, overrides)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), config or {}, overrides)
        resolved = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        message = str(err).splitlines()[0]
        if "not in struct" in message or "Key '" in message:
            valid = ", ".join(option_names(schema))
            raise LandscapeError(f"{message}; valid keys: {valid}") from None
        raise LandscapeError(message) from None
    problem = range_problem(resolved)
    if problem:
        raise LandscapeError(problem)
    return resolved


def as_plain_dict(config) -> dict:
    """A config object as nested plain Python values (enums as their names)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(
        OmegaConf.structured(config), enum_to_str=True, resolve=True
    )


# ---------------------------------------------------------------- documentation


class Option(NamedTuple):
    """One option of a command, as ``--help`` shows it."""

    key: str  # td3.actor_lr; a config group ends in .*
    kind: str  # its type: float, int | None, td3|sac|ppo (an enum's choices)
    default: str | None  # as typed on the command line (null, true); None for a group
    doc: str  # the field's docstring


def field_docs(schema: type) -> dict[str, str]:
    """Each field's attribute docstring (the string literal right under it), bases
    included; a docstring of several lines is joined into one."""
    docs: dict[str, str] = {}
    for klass in reversed(schema.__mro__):
        if is_dataclass(klass):
            docs.update(_own_field_docs(klass))
    return docs


def _own_field_docs(klass: type) -> dict[str, str]:
    import ast
    import inspect
    import itertools
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
    body = tree.body[0].body
    docs = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def option_names(schema: type) -> list[str]:
    """The fields of ``schema`` in reading order: its own first, then its bases'."""
    names = [f.name for f in fields(schema)]
    ordered = []
    for klass in schema.__mro__:
        for name in vars(klass).get("__annotations__", {}):
            if name in names and name not in ordered:
                ordered.append(name)
    return ordered


def describe_options(schema: type, prefix: str = "") -> list[Option]:
    """Every option of ``schema`` in ``option_names`` order, nested config groups
    (``td3.*``) followed by their options (``td3.actor_lr``)."""
    import typing

    hints = typing.get_type_hints(schema)
    docs = field_docs(schema)
    by_name = {f.name: f for f in fields(schema)}
    rows = []
    for item in (by_name[name] for name in option_names(schema)):
        key, hint = prefix + item.name, hints[item.name]
        doc = docs.get(item.name, "")
        if is_dataclass(hint):
            rows.append(Option(f"{key}.*", hint.__name__, None, doc))
            rows.extend(describe_options(hint, f"{key}."))
        else:
            rows.append(Option(key, _type_name(hint), _default(item), doc))
    return rows


def _type_name(hint) -> str:
    """``int | None``, ``list[int]``, or an enum's choices ``td3|sac|ppo``."""
    import types
    import typing

    if isinstance(hint, type) and issubclass(hint, Enum):
        return "|".join(member.name for member in hint)
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return " | ".join(_type_name(arg) for arg in args)
    if args:
        inner = ", ".join(_type_name(arg) for arg in args)
        return f"{typing.get_origin(hint).__name__}[{inner}]"
    return "None" if hint is type(None) else hint.__name__


def _default(item) -> str:
    """A field's default as a command-line value (``null``, ``true``, ``[64,64]``)."""
    if item.default is not MISSING:
        value = item.default
    elif item.default_factory is not MISSING:
        value = item.default_factory()
    else:
        return "???"
    return _value_text(value)


def _value_text(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, list):
        return "[" + ",".join(_value_text(v) for v in value) + "]"
    return str(value)
