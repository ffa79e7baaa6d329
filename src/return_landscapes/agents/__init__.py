"""Agents as pure functions; ``make_agent`` picks one by algorithm name."""

from __future__ import annotations

from return_landscapes.agents.common import OffPolicyAgent
from return_landscapes.agents.ppo import PPOAgent, make_ppo
from return_landscapes.agents.ppo_atari import make_atari_ppo
from return_landscapes.agents.sac import SACState, make_sac
from return_landscapes.agents.td3 import TD3State, make_td3
from return_landscapes.conf import Algo, TrainConfig, is_atari


def make_agent(cfg: TrainConfig, observation_size, action_size: int):
    """The agent named by ``cfg.algo`` with its hyper-parameters from ``cfg``.

    Brax envs: TD3, SAC or PPO (whose env stepping the trainer binds,
    ``training.acting.with_rollout``), for ``observation_size`` features. Atari
    games: the Nature-CNN PPO of ``cfg.atari``, ``observation_size`` the stacked
    frames' shape and ``action_size`` the number of actions.
    """
    if is_atari(cfg.env):
        return make_atari_ppo(cfg.atari, observation_size, action_size)
    algo = Algo(cfg.algo)
    if algo is Algo.td3:
        return make_td3(cfg.td3, observation_size, action_size)
    if algo is Algo.sac:
        return make_sac(cfg.sac, observation_size, action_size)
    return make_ppo(cfg.ppo, observation_size, action_size)


__all__ = [
    "OffPolicyAgent",
    "PPOAgent",
    "SACState",
    "TD3State",
    "make_agent",
    "make_ppo",
    "make_sac",
    "make_td3",
]
