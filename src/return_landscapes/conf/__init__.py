"""Typed configs (Hydra structured configs) for every ``landscape`` command.

Defaults are the paper's hyper-parameters. A typo in a key or an invalid value fails at
start-up with the valid choices listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum

from hydra.core.config_store import ConfigStore

PAPER_STEPS = 1_000_000  # TD3 and SAC
PAPER_PPO_STEPS = 60_000_000
ATARI_STEPS = 10_000_000  # cleanrl's ppo_atari_envpool budget (agent steps)
ATARI_PREFIX = "atari:"
ATARI_FRAME_SKIP = 4
BRAX_HORIZON = 1000
ATARI_FRAME_CAP = 108_000  # frames of an Atari evaluation episode at most
BRAX_EVAL_INTERVAL = 10_000
ATARI_EVAL_INTERVAL = 250_000


def is_atari(env: str) -> bool:
    """Whether ``env`` names an Atari game (``atari:Breakout-v5``)."""
    return str(env).startswith(ATARI_PREFIX)


class Algo(Enum):
    """Training algorithms."""

    td3 = "td3"
    sac = "sac"
    ppo = "ppo"


@dataclass
class OffPolicyConfig:
    """Hyper-parameters shared by TD3 and SAC (paper defaults)."""

    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    batch_size: int = 256
    tau: float = 0.005
    gamma: float = 0.99
    random_start_steps: int = 10_000
    replay_capacity: int = 1_000_000


@dataclass
class TD3Config(OffPolicyConfig):
    """TD3 (Fujimoto et al., 2018)."""

    policy_delay: int = 2
    target_noise: float = 0.2
    target_noise_clip: float = 0.5
    exploration_noise: float = 0.1


@dataclass
class SACConfig(OffPolicyConfig):
    """SAC with twin critics and a learned temperature (Haarnoja et al., 2018)."""

    temperature_lr: float = 3e-4
    initial_temperature: float = 1.0
    target_entropy: float | None = None  # None: -action_size


@dataclass
class PPOConfig:
    """PPO with GAE and observation normalization (paper defaults, Brax-style).

    One iteration collects ``unroll_length`` steps from each of ``num_envs`` envs
    (``num_envs * unroll_length`` env steps), then runs ``epochs`` passes over
    ``num_minibatches`` minibatches. The paper trains for 60M env steps.
    """

    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    num_envs: int = 2048
    unroll_length: int = 16
    num_minibatches: int = 2
    epochs: int = 4
    learning_rate: float = 2.6e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    entropy_cost: float = 0.0
    value_cost: float = 2.0
    max_grad_norm: float = 1.0


@dataclass
class AtariConfig:
    """PPO on Atari (envpool), cleanrl's ``ppo_atari_envpool`` defaults.

    One iteration collects ``unroll_length`` steps from each of ``num_envs`` envs per
    seed; the learning rate falls linearly to 0 over the run when ``anneal_lr``.
    Training envs use envpool's v5 preprocessing (84x84 grey, 4 stacked frames, frame
    skip 4, up to ``noop_max`` no-op starts, no sticky actions) with episodic life and
    clipped rewards. Evaluation episodes play the full game with raw rewards, greedy
    actions and ``eval_noops`` no-op steps first (derived from ``eval_env_seed``).
    """

    num_envs: int = 8
    unroll_length: int = 128
    num_minibatches: int = 4
    epochs: int = 4
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True
    adam_eps: float = 1e-5
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.1
    clip_value_loss: bool = True
    entropy_cost: float = 0.01
    value_cost: float = 0.5
    max_grad_norm: float = 0.5
    noop_max: int = 30
    episodic_life: bool = True
    reward_clip: bool = True
    eval_env_seed: int = 0
    num_threads: int = 0


@dataclass
class TrainConfig:
    """``landscape train``: N seeds of one algorithm on one env, vmapped.

    ``steps`` defaults to the paper's budget: 1M env steps for TD3 and SAC, 60M for
    PPO, 10M agent steps (40M frames) for PPO on Atari (``env=atari:Breakout-v5``).
    ``horizon`` caps evaluation episodes: 1000 steps on Brax, 27,000 agent steps
    (108,000 frames) on Atari; ``eval_interval`` defaults to 10k (Brax) or 250k
    (Atari) steps. ``checkpoints`` lists the checkpoint steps; ``num_checkpoints=N``
    instead places N evenly spaced (``steps * k / N``); with neither, the paper's
    schedule scaled to ``steps`` (5%, 15%, ..., 95% of the budget). The final step is
    always checkpointed as well.
    """

    env: str = "hopper"
    algo: Algo = Algo.td3
    seeds: int = 4
    seed: int = 0
    steps: int | None = None
    checkpoints: list[int] | None = None
    num_checkpoints: int | None = None
    out: str | None = None
    resume: bool = False
    backend: str = "spring"
    horizon: int | None = None
    reset_noise_scale: float | None = None
    eval_interval: int | None = None
    eval_episodes: int = 5
    block: int = 1000
    progress: bool = True
    td3: TD3Config = field(default_factory=TD3Config)
    sac: SACConfig = field(default_factory=SACConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    atari: AtariConfig = field(default_factory=AtariConfig)
    wandb: bool = False  # mirror to Weights & Biases (tracking.py); WANDB_MODE applies
    wandb_project: str = "return-landscapes"
    wandb_entity: str | None = None

    def __post_init__(self) -> None:
        atari = is_atari(self.env)
        if self.steps is None:
            ppo = Algo(self.algo) is Algo.ppo
            if atari:
                self.steps = ATARI_STEPS
            else:
                self.steps = PAPER_PPO_STEPS if ppo else PAPER_STEPS
        if self.horizon is None:
            self.horizon = (
                ATARI_FRAME_CAP // ATARI_FRAME_SKIP if atari else BRAX_HORIZON
            )
        if self.eval_interval is None:
            self.eval_interval = ATARI_EVAL_INTERVAL if atari else BRAX_EVAL_INTERVAL


@dataclass
class PurdConfig:
    """``landscape purd``: post-update return distributions of a run's checkpoints.

    ``perturb`` defaults to the run's own algorithm (``td3`` or ``sac``);
    ``checkpoints`` and ``seeds`` default to every checkpoint and seed of the run;
    ``horizon`` to the run's training horizon; ``chunk`` to the largest number of
    samples per compiled call that fits the memory budget. On Atari runs, episodes
    are greedy with one no-op start shared by all samples unless
    ``sampled_actions`` / ``per_sample_env_seeds``.
    """

    run: str | None = None
    perturb: str | None = None
    scale: float = 3e-4
    samples: int = 1000
    checkpoints: list[int] | None = None
    seeds: list[int] | None = None
    chunk: int | None = None
    overwrite: bool = False
    horizon: int | None = None
    gamma: float = 0.99
    seed: int = 0
    sampled_actions: bool = False
    per_sample_env_seeds: bool = False
    progress: bool = True
    wandb: bool = False  # mirror to Weights & Biases (tracking.py); WANDB_MODE applies
    wandb_project: str = "return-landscapes"
    wandb_entity: str | None = None


class PairKind(Enum):
    """Which checkpoint pairs an interpolation joins."""

    same_seed = "same_seed"
    cross_seed = "cross_seed"


@dataclass
class InterpolateConfig:
    """``landscape interpolate``: returns along straight paths between checkpoints.

    The policy at ``a`` is ``a * theta1 + (1 - a) * theta2`` for ``points`` values of
    ``a`` from 0 to 1. ``pairs=same_seed`` joins every two checkpoints of each seed
    (earlier checkpoint first); ``pairs=cross_seed`` joins seed ``s`` with seed ``s+1``
    at every two checkpoints, equal steps included. ``other_run=DIR`` takes the second
    policy of each pair from another run (same env, algorithm and network sizes).
    ``between=[seed1,checkpoint1,seed2,checkpoint2]`` asks for one pair. At each point:
    the plain return, and with ``samples > 0`` a PURD of that many samples under
    ``perturb`` at ``scale`` (paper: 100 samples of parameter noise at 3e-4).
    """

    run: str | None = None
    pairs: PairKind = PairKind.same_seed
    other_run: str | None = None
    between: list[int] | None = None
    points: int = 100
    samples: int = 100
    perturb: str = "param_noise"
    scale: float = 3e-4
    checkpoints: list[int] | None = None
    seeds: list[int] | None = None
    chunk: int | None = None
    overwrite: bool = False
    horizon: int | None = None
    gamma: float = 0.99
    seed: int = 0
    sampled_actions: bool = False
    per_sample_env_seeds: bool = False
    progress: bool = True
    wandb: bool = False  # mirror to Weights & Biases (tracking.py); WANDB_MODE applies
    wandb_project: str = "return-landscapes"
    wandb_entity: str | None = None


class Criterion(Enum):
    """When post-update rejection keeps a proposed update."""

    cvar = "cvar"  # the PURD's CVaR did not fall
    ltp = "ltp"  # the PURD's left-tail probability did not rise
    none = "none"  # always (plain continued training, PURDs recorded)


@dataclass
class RejectConfig:
    """``landscape reject``: post-update CVaR rejection (Algorithm 1 of the paper).

    From checkpoint ``checkpoint`` of training seed ``seed``, continue training and,
    every ``check_interval`` proposed updates, estimate the PURD of the new policy
    (``samples`` samples of ``perturb``, default the run's algorithm, at ``scale``);
    keep the updates if ``criterion`` holds against the last kept point, else restore
    it. ``max_steps`` proposed updates per repeat; ``repeats`` independent repeats.
    ``alpha`` is the CVaR level, ``threshold`` and ``bins`` define LTP.
    """

    run: str | None = None
    checkpoint: int | None = None
    seed: int = 0
    criterion: Criterion = Criterion.cvar
    alpha: float = 0.1
    threshold: float = 0.5
    bins: int = 100
    max_steps: int = 40
    check_interval: int = 1
    samples: int = 1000
    repeats: int = 10
    perturb: str | None = None
    scale: float = 3e-4
    chunk: int | None = None
    overwrite: bool = False
    horizon: int | None = None
    gamma: float = 0.99
    sample_seed: int = 0
    progress: bool = True
    wandb: bool = False  # mirror to Weights & Biases (tracking.py); WANDB_MODE applies
    wandb_project: str = "return-landscapes"
    wandb_entity: str | None = None


@dataclass
class SurfaceConfig:
    """``landscape surface``: returns on a ``grid x grid`` lattice in a plane.

    By default the plane goes through checkpoint ``checkpoint`` of training seed
    ``seed`` and is spanned by two random directions normalized filter-wise (Li et
    al., 2018); the points are ``theta + x d1 + y d2`` for ``x, y`` in
    ``[-span, span]`` (``grid`` odd, so the checkpoint is the centre point).
    ``through=[seed1,checkpoint1,seed2,checkpoint2,seed3,checkpoint3]`` takes the
    plane through three checkpoints instead: ``(1-x-y) theta1 + x theta2 + y theta3``
    for ``x, y`` in ``[0, 1]``, the checkpoints at three corners. At every point: the
    plain return, and with ``samples > 0`` a PURD of that many samples under
    ``perturb`` (default the run's algorithm) at ``scale``. ``sample_seed`` seeds
    the directions and the samples (the centre's samples are those of ``landscape
    purd seed=<sample_seed>``).
    """

    run: str | None = None
    checkpoint: int | None = None
    seed: int = 0
    through: list[int] | None = None
    grid: int = 21
    span: float = 1.0
    samples: int = 0
    perturb: str | None = None
    scale: float = 3e-4
    chunk: int | None = None
    overwrite: bool = False
    horizon: int | None = None
    gamma: float = 0.99
    sample_seed: int = 0
    sampled_actions: bool = False
    per_sample_env_seeds: bool = False
    progress: bool = True
    wandb: bool = False  # mirror to Weights & Biases (tracking.py); WANDB_MODE applies
    wandb_project: str = "return-landscapes"
    wandb_entity: str | None = None


@dataclass
class StatsConfig:
    """``landscape stats``: a table of PURD statistics, written to ``stats.csv``.

    ``threshold`` and ``bins`` define LTP (mode from a ``bins``-bin histogram);
    ``alpha`` the CVaR level; ``confidence`` and ``resamples`` the bootstrap intervals
    across seeds. ``out`` defaults to ``<run>/landscape/stats.csv``.
    """

    run: str | None = None
    threshold: float = 0.5
    bins: int = 100
    alpha: float = 0.1
    confidence: float = 0.95
    resamples: int = 10_000
    out: str | None = None


@dataclass
class ReportConfig:
    """``landscape report``: an HTML page with figures, the PNGs and the stats CSV.

    ``runs`` lists run directories; ``out`` is the report folder (``index.html``, one
    PNG per figure, ``stats.csv`` and ``stats_summary.csv``). ``threshold``, ``bins``
    and ``alpha`` define LTP and CVaR as for ``landscape stats``; ``confidence`` and
    ``resamples`` the bootstrap intervals across seeds; ``max_seeds`` how many seeds a
    PURD histogram figure shows; ``surface_3d`` adds a 3-D view to each return
    surface.
    """

    runs: list[str] = field(default_factory=list)
    out: str = "report"
    threshold: float = 0.5
    bins: int = 100
    alpha: float = 0.1
    confidence: float = 0.95
    resamples: int = 10_000
    max_seeds: int = 4
    surface_3d: bool = False  # add a 3-D view to every return surface figure


@dataclass
class DemoConfig:
    """``landscape demo``: train, PURD, interpolate, reject and report, small.

    The defaults finish in minutes on a 2-core CPU: TD3 on hopper with the paper's
    networks and learning rates, ``seeds`` seeds for ``steps`` env steps
    (``random_start_steps`` of them random), ``num_checkpoints`` checkpoints; a PURD
    of ``samples`` samples of the run's own update at ``scale`` for every seed and
    checkpoint; same-seed and cross-seed paths of ``points`` points with
    ``path_samples`` parameter-noise samples each; ``cvar`` and ``none`` rejection of
    ``reject_steps`` proposed updates, ``reject_samples`` samples per check,
    ``repeats`` repeats, from the seed and checkpoint with the largest LTP; a
    ``surface_grid x surface_grid`` return surface around that checkpoint (random
    plane, span 1) with ``surface_samples`` samples per point. Writes
    ``<out>/<env>-<algo>`` (the run) and ``<out>/report``; a re-run reuses what is
    done.
    """

    out: str = "demo"
    env: str = "hopper"
    algo: Algo = Algo.td3
    seeds: int = 3
    steps: int = 20_000
    num_checkpoints: int = 4
    random_start_steps: int = 4_000
    samples: int = 200
    scale: float = 3e-4
    points: int = 11
    path_samples: int = 10
    reject_steps: int = 10
    reject_samples: int = 100
    repeats: int = 2
    surface_grid: int = 11
    surface_samples: int = 10
    progress: bool = True


def register_configs() -> None:
    """Register the schemas that ``conf/<command>.yaml`` files extend."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    store.store(name="purd_schema", node=PurdConfig)
    store.store(name="stats_schema", node=StatsConfig)
    store.store(name="interpolate_schema", node=InterpolateConfig)
    store.store(name="reject_schema", node=RejectConfig)
    store.store(name="surface_schema", node=SurfaceConfig)
    store.store(name="report_schema", node=ReportConfig)
    store.store(name="demo_schema", node=DemoConfig)


def resolve(schema: type, config=None, **overrides):
    """A typed config object from a dataclass instance, a DictConfig or a dict.

    ``overrides`` are merged on top (nested nodes as dicts), so
    ``resolve(TrainConfig, env="ant", td3={"actor_lr": 1e-3})`` works. Unknown keys and
    ill-typed values raise ``LandscapeError`` naming the valid choices.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from return_landscapes.errors import LandscapeError

    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), config or {}, overrides)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        message = str(err).splitlines()[0]
        if "not in struct" in message or "Key '" in message:
            valid = ", ".join(f.name for f in fields(schema))
            raise LandscapeError(f"{message}; valid keys: {valid}") from None
        raise LandscapeError(message) from None


def as_plain_dict(config) -> dict:
    """A config object as nested plain Python values (enums as their names)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(
        OmegaConf.structured(config), enum_to_str=True, resolve=True
    )
