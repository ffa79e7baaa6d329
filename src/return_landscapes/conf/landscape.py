"""The landscape commands: ``purd``, ``interpolate``, ``reject``, ``surface`` and
``line``, with their choices."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from return_landscapes.conf.options import (
    AtariEpisodeOptions,
    RunEpisodeOptions,
    WandbOptions,
)
from return_landscapes.conf.ranges import (
    AT_LEAST_ONE,
    FRACTION,
    POSITIVE,
    UNIT,
    Range,
)


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


class CheckNoise(Enum):
    """Which random draws rejection's PURD checks use."""

    fresh = "fresh"  # new draws at every check (the paper's Algorithm 1)
    common = "common"  # the same draws at every check of a repeat (CRN)


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
    check_noise: CheckNoise = CheckNoise.fresh
    """The PURD checks' draws: fresh at every check (the paper's Algorithm 1), or
    common to every check of a repeat (common random numbers: two checks differ by
    the update, not by the draws, which changes which updates pass)."""
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


class SelectCriterion(Enum):
    """What ``landscape select`` ranks checkpoints by."""

    mean = "mean"  # the PURD's mean return, highest first
    cvar = "cvar"  # the PURD's CVaR (its left tail), highest first
    ltp = "ltp"  # the PURD's left-tail probability, lowest first
    floored_mean = "floored_mean"  # the mean, among checkpoints with CVaR >= cvar_floor


@dataclass
class SelectConfig:
    """``landscape select``: rank a run's checkpoints by their PURDs, then confirm.

    For one seed (``seed_index``) or across seeds (null): every checkpoint's PURD
    statistics with bootstrap intervals (over the PURD's samples for one seed, over
    seeds across seeds), ranked by ``criterion``. The best-mean checkpoint is marked
    where it is not the most robust (highest CVaR). Then the chosen and the
    best-mean checkpoints get a PURD on ``confirm_samples`` fresh draws (sample seed
    ``confirm_seed``, which no stored PURD used), so the choice is judged on numbers
    that did not make it. Writes ``out`` (default
    ``<run>/landscape/select_<criterion>_<seed0|all_seeds>.csv``) and prints the
    table.
    """

    RANGES: ClassVar[dict[str, Range]] = {
        "bins": AT_LEAST_ONE,
        "alpha": UNIT,
        "threshold": FRACTION,
        "confidence": FRACTION,
        "resamples": AT_LEAST_ONE,
    }

    run: str | None = None
    """Run directory whose stored PURDs rank its checkpoints; required."""
    criterion: SelectCriterion = SelectCriterion.cvar
    """Rank by mean, CVaR, LTP, or the mean among checkpoints whose CVaR reaches
    ``cvar_floor`` (floored_mean)."""
    cvar_floor: float | None = None
    """criterion=floored_mean: the CVaR a checkpoint must reach to be chosen."""
    seed_index: int | None = None
    """Rank one seed's checkpoints; null: across seeds (the mean over seeds)."""
    perturb: str | None = None
    """Which stored PURDs to read; null: the only perturbation stored, else the
    run's algorithm."""
    scale: float | None = None
    """Their scale; null: the only one stored for ``perturb``."""
    alpha: float = 0.1
    """CVaR level: the mean of the worst ``alpha`` fraction of returns."""
    threshold: float = 0.5
    """LTP counts returns below ``threshold x mode``."""
    bins: int = 100
    """Histogram bins of the mode that LTP uses."""
    confidence: float = 0.95
    """Level of the bootstrap intervals."""
    resamples: int = 2_000
    """Bootstrap resamples of the intervals."""
    confirm_samples: int | None = None
    """Samples of each fresh confirming PURD; null: as many as the stored PURDs;
    0: no confirmation."""
    confirm_seed: int | None = None
    """Sample seed of the confirming PURDs; null: the stored PURDs' plus one."""
    chunk: int | None = None
    """Episodes per compiled call of the confirming PURDs; null: the most that fit."""
    progress: bool | None = None
    """Progress on stderr: true a bar, false none; null a bar on a terminal, else
    a plain line every minute."""
    out: str | None = None
    """CSV file of the table; null:
    ``<run>/landscape/select_<criterion>_<seed0|all_seeds>.csv``."""
