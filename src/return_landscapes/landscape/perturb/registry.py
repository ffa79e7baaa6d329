"""The registry of perturbations PURD draws its samples from, and how one sample is
drawn.

A ``Perturbation`` turns one seed's checkpoint and one sample key into the actor
parameters to evaluate (``perturb``), and declares what it reads of the checkpoint
(replay, env states), what it needs of the agent and how its size is chosen; what
it does to the evaluation episode is its ``episode`` effect (``episode.py``: action
noise, per-step parameter noise, start-state noise), which the engine, the checks
and the stored settings ask instead of reading flags. The built-in kinds are in
``builtin.py``; new kinds are added with ``register_perturbation``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from return_landscapes.agents.protocols import ActorAgent
from return_landscapes.conf import is_atari, is_host_env
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.perturb.episode import NO_EFFECT, EpisodeEffect
from return_landscapes.pipeline import group_map

MINIBATCH_SIZE = 256  # the paper's minibatch for the td3 / sac perturbation
MINIBATCH_ROWS = "nested"  # td3/sac minibatches: replay.nested_rows
ATARI_PPO_UPDATE = "iteration"  # Atari ppo: a whole PPO iteration per sample
HOST_PPO_EXPERIENCE = "fresh_starts"  # ppo on host envs: experience from resets


class CheckpointSource(NamedTuple):
    """What a perturbation may read of one seed's checkpoint (a pytree).

    ``replay`` is ``None`` unless the perturbation ``needs_replay``; ``env`` (the
    parallel training envs' carry) is ``None`` unless it ``needs_env_states``.
    """

    agent_state: Any
    replay: Any = None
    env: Any = None


PerturbFn = Callable[[Any, CheckpointSource, jax.Array, jax.Array], Any]
"""``perturb(agent, source, key, scale) -> actor params`` for one sample."""


@dataclasses.dataclass(frozen=True)
class Perturbation:
    """One registered perturbation kind.

    Attributes:
      name: the ``perturb=`` value.
      summary: one line for help texts.
      perturb: builds the sample's actor parameters.
      algos: training algorithms it applies to; empty for any.
      needs_replay: ``perturb`` reads ``source.replay``.
      needs_env_states: ``perturb`` reads ``source.env``.
      needs: the agent protocol ``perturb`` relies on (``agents/protocols.py``).
      learning_rate: ``scale`` is a learning rate; by default the run's own.
      default_scale: ``scale`` when none is given (noise kinds).
      original: the name of the kind that reproduces the paper's code's accidents
        (``original_quirks=true``); ``None`` if that code had none here.
      reproduces_original: this kind is such a reproduction.
      episode: what it does to its samples' evaluation episodes (none by default).
      rollouts_per_policy: consecutive samples that share one perturbed policy.
    """

    name: str
    summary: str
    perturb: PerturbFn
    algos: tuple[str, ...] = ()
    needs_replay: bool = False
    needs_env_states: bool = False
    needs: type = ActorAgent
    learning_rate: bool = False
    default_scale: float | None = None
    original: str | None = None
    reproduces_original: bool = False
    episode: EpisodeEffect = NO_EFFECT
    rollouts_per_policy: int = 1

    def episode_noise_std(self, scale) -> float:
        """The std of the evaluation episodes' noise (action or per-step
        parameter noise) for a perturbation of size ``scale``; 0 if none."""
        return self.episode.noise_std(scale)

    def settings(self, run_cfg) -> dict[str, Any]:
        """What a result of this perturbation's samples records about how they
        were drawn, beyond its name and size, and a re-run must match: the
        minibatch of an update that reads the replay, the whole iteration of
        Atari's ``ppo``, the fresh starts of ``ppo`` on other host envs, the
        episode effect's settings, the rollouts per policy."""
        settings: dict[str, Any] = {}
        if self.needs_replay:
            settings["minibatch_size"] = MINIBATCH_SIZE
            settings["minibatch_rows"] = MINIBATCH_ROWS
        if self.needs_env_states and is_atari(run_cfg.env):
            settings["update"] = ATARI_PPO_UPDATE
        elif self.needs_env_states and is_host_env(run_cfg.env):
            settings["experience"] = HOST_PPO_EXPERIENCE
        settings.update(self.episode.settings())
        if self.rollouts_per_policy > 1:
            settings["rollouts_per_policy"] = self.rollouts_per_policy
        return settings

    def key_rows(self, keys: jax.Array) -> jax.Array:
        """Sample keys ``(K, 2)`` as ``one_sample`` reads them: unchanged, or, when
        samples share a policy, rows ``[policy key, sample key]`` ``(K, 2, 2)``
        whose policy key is the key of the first sample of its group."""
        if self.rollouts_per_policy == 1:
            return keys
        index = jnp.arange(keys.shape[0])
        first = index // self.rollouts_per_policy * self.rollouts_per_policy
        return jnp.stack([keys[first], keys], axis=1)


PERTURBATIONS: dict[str, Perturbation] = {}


def register_perturbation(perturbation: Perturbation) -> Perturbation:
    """Add a perturbation kind to the registry (replacing one of the same name)."""
    PERTURBATIONS[perturbation.name] = perturbation
    return perturbation


def get_perturbation(name: str, algo: str | None = None) -> Perturbation:
    """The registered perturbation ``name``, checked against the run's ``algo``."""
    if name not in PERTURBATIONS:
        raise LandscapeError(
            f"unknown perturbation '{name}': choose one of "
            f"{', '.join(sorted(PERTURBATIONS))}"
        )
    perturbation = PERTURBATIONS[name]
    if algo is not None and perturbation.algos and algo not in perturbation.algos:
        fitting = [
            p.name for p in PERTURBATIONS.values() if not p.algos or algo in p.algos
        ]
        raise LandscapeError(
            f"perturbation '{name}' applies to {'/'.join(perturbation.algos)} runs, "
            f"this run is {algo}: choose one of {', '.join(sorted(fitting))}"
        )
    return perturbation


def one_sample(perturbation: Perturbation, agent, source, scale, sample_key):
    """One sample: ``(actor params, episode key)`` from the sample's key alone.

    The key splits into the perturbation's randomness and the episode's, so every
    command (PURDs, paths, surfaces, rejection) draws sample ``j`` the same way; a
    row of two keys (``Perturbation.key_rows``) takes the perturbation's randomness
    from the first and the episode's from the second.
    """
    if sample_key.ndim == 2:  # [policy key, sample key]: a policy several share
        perturb_key = jax.random.split(sample_key[0])[0]
        episode_key = jax.random.split(sample_key[1])[1]
    else:
        perturb_key, episode_key = jax.random.split(sample_key)
    return perturbation.perturb(agent, source, perturb_key, scale), episode_key


def make_perturb_stage(perturbation: Perturbation, agent) -> Callable:
    """The jitted stage ``stage((source, scale), sample_keys) -> (params, keys)``.

    Each sample key gives the perturbation's randomness and its episode key, so a
    sample's outcome depends on its key alone.
    """
    if not isinstance(agent, perturbation.needs):
        raise TypeError(
            f"perturbation {perturbation.name} needs an agent with "
            f"{perturbation.needs.__name__}, got {type(agent).__name__}"
        )

    def stage(shared, sample_keys):
        source, scale = shared
        # Groups of 8: the minibatch gradients contract over the batch, and XLA's code
        # for that depends on how many samples share a call.
        return group_map(
            lambda key: one_sample(perturbation, agent, source, scale, key),
            sample_keys,
        )

    return jax.jit(stage)
