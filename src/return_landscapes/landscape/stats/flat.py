"""Policies whose landscape is flat: named, never analysed as if they had one.

A policy that falls within a few steps of its start returns nearly the same value
whatever one update does to it: its PURD is a spike whose whole spread is float
noise, and its LTP and CVaR describe nothing. The analyses call ``flat_reason`` and
warn (or skip) instead of plotting noise as signal.
"""

from __future__ import annotations

import numpy as np

MIN_EPISODE_STEPS = 100
"""An unperturbed episode shorter than this (when the env could run longer) is a
fall: the policy has no landscape to measure."""

NOISE_SPREAD = 1e-4
"""A spread below this fraction of ``max(1, |mean|)`` is float noise, not spread."""


def is_noise(values) -> bool:
    """Whether the whole range of ``values`` is float noise (or empty)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return True
    scale = max(1.0, float(np.abs(values).max()))
    return float(np.ptp(values)) <= NOISE_SPREAD * scale


def flat_reason(
    unperturbed_length: float,
    horizon: int,
    returns=None,
    min_steps: int = MIN_EPISODE_STEPS,
) -> str | None:
    """Why this policy's landscape is flat, in words; ``None`` when it is not.

    Args:
      unperturbed_length: steps of the policy's unperturbed evaluation episode.
      horizon: the episode horizon (an episode this long did not fall).
      returns: optionally, PURD samples of the policy: a zero spread is flat too.
      min_steps: an episode shorter than ``min(min_steps, horizon)`` is a fall.
    """
    if returns is not None and not np.isfinite(returns).all():
        bad = int(np.size(returns) - np.isfinite(returns).sum())
        return (
            f"{bad} of {np.size(returns)} PURD samples are not finite (a result stored "
            "before PURDs were checked): no statistics; recompute it with "
            "overwrite=true"
        )
    length = round(float(unperturbed_length))
    if length < min(min_steps, horizon):
        return f"policy falls at step {length}: its landscape is flat"
    if returns is not None and np.size(returns) > 1 and is_noise(returns):
        value = float(np.mean(returns))
        return (
            f"its {np.size(returns)} PURD samples all equal {value:.6g} (spread is "
            "float noise): its landscape is flat"
        )
    return None
