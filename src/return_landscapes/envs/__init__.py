"""Environments behind one interface: ``reset(key)``, ``step(state, action)``."""

from return_landscapes.envs.brax import (
    EpisodeStats,
    Transition,
    env_names,
    make_env,
    run_episode,
)

__all__ = ["EpisodeStats", "Transition", "env_names", "make_env", "run_episode"]
