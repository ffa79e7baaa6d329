"""``landscape demo``: the whole pipeline, small."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from return_landscapes.conf.agents import Algo
from return_landscapes.conf.ranges import (
    LAYER_WIDTHS,
    Range,
)


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

    RANGES: ClassVar[dict[str, Range]] = {"hidden_sizes": LAYER_WIDTHS}

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
