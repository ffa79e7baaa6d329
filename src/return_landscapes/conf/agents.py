"""The algorithms' hyper-parameters: TD3, SAC, PPO on Brax and PPO on Atari
(paper defaults), and their choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

from return_landscapes.conf.ranges import (
    FRACTION,
    LAYER_WIDTHS,
    NON_NEGATIVE,
    POSITIVE,
    UNIT,
    Range,
)


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


class Heads(Enum):
    """How SAC's actor outputs its mean and log-std."""

    separate = "separate"  # two Dense layers on the last hidden layer (paper's code)
    joint = "joint"  # one Dense layer of 2 x action_size, split; runs before


class LogStdBound(Enum):
    """How SAC's actor bounds its log-std into ``[log_std_min, 2]``."""

    squash = "squash"  # min + (2 - min) (tanh(raw) + 1) / 2 (the paper's code)
    clip = "clip"  # clip(raw, min, 2) (Stable-Baselines3's SAC)


@dataclass
class OffPolicyConfig:
    """Hyper-parameters shared by TD3 and SAC (paper defaults)."""

    RANGES: ClassVar[dict[str, Range]] = {
        "hidden_sizes": LAYER_WIDTHS,
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
        "tanh_epsilon": NON_NEGATIVE,
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
    log_std_bound: LogStdBound = LogStdBound.squash
    """Log-std into [log_std_min, 2]: tanh-squashed (paper's code) or clipped (SB3)."""
    tanh_epsilon: float = 0.0
    """0: the exact tanh log-det; else log(1 - tanh(u)^2 + eps) (SB3's SAC: 1e-6)."""


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
        "hidden_sizes": LAYER_WIDTHS,
        "advantage_ddof": FRACTION,  # 0 or 1
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
    autoreset: Autoreset | None = None
    """After an episode a training env restarts at first_state (its own) or fresh;
    null: first_state on Brax envs, fresh on host-stepped envs (``mujoco:``,
    ``gym:``), whose simulators cannot return to a saved state."""
    advantage_ddof: int = 0
    """Minibatch advantages are divided by their std with this ddof: 0 (the paper's
    code, jnp.std) or 1 (torch's std: Stable-Baselines3, cleanrl)."""


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
