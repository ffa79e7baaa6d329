"""Environments behind one interface: ``reset(key)``, ``step(state, action)``."""

from return_landscapes.envs.brax import env_names, make_env, run_episode
from return_landscapes.types import EpisodeStats, Transition

__all__ = ["EpisodeStats", "Transition", "env_names", "make_env", "run_episode"]
