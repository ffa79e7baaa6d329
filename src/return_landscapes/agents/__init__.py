"""Agents as pure functions; ``make_agent`` picks one by algorithm name."""

from __future__ import annotations

from return_landscapes.agents.common import OffPolicyAgent
from return_landscapes.agents.ppo import PPOAgent, make_ppo
from return_landscapes.agents.sac import SACState, make_sac
from return_landscapes.agents.td3 import TD3State, make_td3
from return_landscapes.conf import Algo, TrainConfig


def make_agent(cfg: TrainConfig, observation_size: int, action_size: int):
    """The agent named by ``cfg.algo`` with its hyper-parameters from ``cfg``.

    Brax envs: TD3, SAC or PPO (whose env stepping the trainer binds,
    ``training.acting.with_rollout``). Atari games take ``make_atari_ppo`` with the
    frame shape and action count instead of sizes.
    """
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
