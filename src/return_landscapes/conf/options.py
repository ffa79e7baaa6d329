"""Options several commands share: wandb, how landscape episodes run and are
stored, Atari episode options."""

from __future__ import annotations

from dataclasses import dataclass

from return_landscapes.constants import DEFAULT_GAMMA


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
