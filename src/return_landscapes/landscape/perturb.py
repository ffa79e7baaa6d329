"""Perturbations of a checkpoint's policy: the registry PURD draws its samples from.

A perturbation turns one seed's checkpoint and one sample key into the actor
parameters to evaluate, and may also change the evaluation episode (action noise,
start-state noise). Definitions:

* ``td3`` / ``sac``: one actor update of that algorithm with the checkpoint's Adam
  state, learning rate ``scale``, critics frozen, on a fresh minibatch drawn with the
  sample's key from the replay buffer as of the checkpoint step (rows that stay
  nearly the same as the buffer grows, ``replay.nested_rows``);
* ``ppo``: one PPO minibatch step with the checkpoint's Adam state, learning rate
  ``scale``, on fresh experience from the checkpoint's parallel envs (Atari: one
  whole PPO iteration, see ``perturb_atari.py``);
* ``param_noise``: Gaussian noise of std ``scale`` added to every actor weight;
* ``action_noise``: unperturbed actor, Gaussian noise of std ``scale`` on every action;
* ``init_state``: unperturbed actor, start-state noise of ``scale`` times the
  training start-state noise (1: the training start distribution);
* ``param_noise_per_step``: unperturbed actor, Gaussian noise of std ``scale`` added
  to every actor weight afresh at every env step of the episode (the paper's
  ``parameter`` noise);
* ``td3_action``: one ``td3`` update shared by ``rollouts_per_policy`` (10)
  consecutive samples, each evaluated with action noise of std 0.1 (the paper's
  ``td3_opt_with_action``): sample ``j`` takes the update of sample
  ``10 * (j // 10)`` of ``td3``, its own episode key.

An update's ``scale`` defaults to the learning rate the run trained with at the
checkpoint (``learning_rate=True``); a noise's to its ``default_scale``.

``sac_original`` and ``ppo_original`` (``original_quirks=true`` on the commands)
reproduce the accidents of the paper's published code that shaped its figures, one
point each: SAC's single reparameterization key shared by every sample; on Brax,
PPO's gradient clip of 0.1 (its restore template's, not training's 1.0) and its
minibatch of the first ``1 / num_minibatches`` of the unroll steps; on Atari, PPO's
fresh Adam state per sample, no gradient clipping and gradients scaled by 1/100.

New kinds are added with ``register_perturbation``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from return_landscapes.agents.protocols import ActorAgent, ActorUpdate, OnPolicyUpdate
from return_landscapes.errors import LandscapeError
from return_landscapes.evaluation import noisy_parameters
from return_landscapes.pipeline import group_map
from return_landscapes.replay import replay_sample_nested


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
      action_noise: evaluation adds Gaussian action noise of std ``scale``.
      start_state_noise: evaluation starts from ``scale`` times the training
        start-state noise.
      needs: the agent protocol ``perturb`` relies on (``agents/protocols.py``).
      learning_rate: ``scale`` is a learning rate; by default the run's own.
      default_scale: ``scale`` when none is given (noise kinds).
      original: the name of the kind that reproduces the paper's code's accidents
        (``original_quirks=true``); ``None`` if that code had none here.
      reproduces_original: this kind is such a reproduction.
      param_noise: evaluation redraws Gaussian parameter noise of std ``scale``
        at every step.
      fixed_action_noise: the std of the evaluation's action noise when it is not
        ``scale`` (``scale`` then sizes the update).
      rollouts_per_policy: consecutive samples that share one perturbed policy.
    """

    name: str
    summary: str
    perturb: PerturbFn
    algos: tuple[str, ...] = ()
    needs_replay: bool = False
    needs_env_states: bool = False
    action_noise: bool = False
    start_state_noise: bool = False
    needs: type = ActorAgent
    learning_rate: bool = False
    default_scale: float | None = None
    original: str | None = None
    reproduces_original: bool = False
    param_noise: bool = False
    fixed_action_noise: float | None = None
    rollouts_per_policy: int = 1

    def episode_noise_std(self, scale) -> float:
        """The std of the evaluation episodes' noise (action or per-step
        parameter noise) for a perturbation of size ``scale``; 0 if none."""
        if self.fixed_action_noise is not None:
            return self.fixed_action_noise
        return scale if self.action_noise or self.param_noise else 0.0

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


# ----------------------------------------------------------------- built-in kinds

MINIBATCH_SIZE = 256  # the paper's minibatch for the td3 / sac perturbation


def actor_update_perturbation(agent, source: CheckpointSource, key, scale):
    """One actor update of the agent's own algorithm, learning rate ``scale``.

    The minibatch rows are ``nested_rows`` of the sample's key: a key draws nearly
    the same rows from the buffer one insert later (rejection's checks).
    """
    batch_key, update_key = jax.random.split(key)
    batch = replay_sample_nested(source.replay, batch_key, MINIBATCH_SIZE)
    state = agent.actor_update(source.agent_state, batch, update_key, scale)
    return agent.actor_params(state)


def parameter_noise(agent, source: CheckpointSource, key, scale):
    """Every actor weight plus Gaussian noise of std ``scale``, once
    (``evaluation.noisy_parameters``: the normalizer's statistics stay)."""
    return noisy_parameters(agent.actor_params(source.agent_state), key, scale)


def ppo_update_perturbation(agent, source: CheckpointSource, key, scale):
    """One PPO minibatch step (lr ``scale``) on fresh experience from the checkpoint.

    The experience: one unroll of every parallel env from its checkpointed state with
    the stochastic policy, GAE as in training; the minibatch: a random
    ``1/num_minibatches`` of it; the step: the training loss and the restored Adam
    state. The observation normalizer stays as it was, so the update alone is the
    perturbation.
    """
    rollout_key, order_key = jax.random.split(key)
    _, data, _ = agent.rollout(source.agent_state, source.env, rollout_key)
    batch = agent.make_batch(source.agent_state, data)
    rows = jax.random.permutation(order_key, batch.advantage.shape[0])
    minibatch = jax.tree.map(lambda x: x[rows[: agent.minibatch_size]], batch)
    state, _ = agent.minibatch_step(source.agent_state, minibatch, scale)
    return agent.actor_params(state)


ORIGINAL_SAC_KEY = 0  # sac_original: the one reparameterization key, PRNGKey(0)
ORIGINAL_PPO_CLIP = 0.1  # ppo_original on Brax: the gradient clip that code applied


def shared_key_actor_update(agent, source: CheckpointSource, key, scale):
    """``actor_update_perturbation`` with one reparameterization key for every
    sample, as the paper's SAC PURD (its vmapped update shared a key per batch of
    samples): the minibatch is the sample's own, as without the quirk."""
    batch_key, _ = jax.random.split(key)
    batch = replay_sample_nested(source.replay, batch_key, MINIBATCH_SIZE)
    shared = jax.random.PRNGKey(ORIGINAL_SAC_KEY)
    state = agent.actor_update(source.agent_state, batch, shared, scale)
    return agent.actor_params(state)


def first_rows_ppo_update(agent, source: CheckpointSource, key, scale):
    """``ppo_update_perturbation`` as the paper's code ran it on Brax: the minibatch
    is the first ``minibatch_size`` rows of the batch (the first unroll steps of
    every env), and the gradient is clipped to a global norm of 0.1; the fresh
    experience is the sample's own, as without the quirks."""
    rollout_key, _ = jax.random.split(key)
    _, data, _ = agent.rollout(source.agent_state, source.env, rollout_key)
    batch = agent.make_batch(source.agent_state, data)
    minibatch = jax.tree.map(lambda x: x[: agent.minibatch_size], batch)
    state, _ = agent.minibatch_step(
        source.agent_state, minibatch, scale, max_grad_norm=ORIGINAL_PPO_CLIP
    )
    return agent.actor_params(state)


def unperturbed_actor(agent, source: CheckpointSource, key, scale):
    """The checkpoint's actor as it is (the episode carries the perturbation)."""
    del key, scale
    return agent.actor_params(source.agent_state)


register_perturbation(
    Perturbation(
        "td3",
        "one TD3 actor update (restored Adam state, lr=scale, fresh minibatch)",
        actor_update_perturbation,
        algos=("td3",),
        needs_replay=True,
        needs=ActorUpdate,
        learning_rate=True,
    )
)
register_perturbation(
    Perturbation(
        "sac",
        "one SAC actor update (restored Adam state, lr=scale, fresh minibatch)",
        actor_update_perturbation,
        algos=("sac",),
        needs_replay=True,
        needs=ActorUpdate,
        learning_rate=True,
        original="sac_original",
    )
)
register_perturbation(
    Perturbation(
        "sac_original",
        "sac with one reparameterization key for every sample (the paper's code)",
        shared_key_actor_update,
        algos=("sac",),
        needs_replay=True,
        needs=ActorUpdate,
        learning_rate=True,
        reproduces_original=True,
    )
)
register_perturbation(
    Perturbation(
        "ppo",
        "one PPO minibatch step (restored Adam state, lr=scale, fresh experience)",
        ppo_update_perturbation,
        algos=("ppo",),
        needs_env_states=True,
        needs=OnPolicyUpdate,
        learning_rate=True,
        original="ppo_original",
    )
)
register_perturbation(
    Perturbation(
        "ppo_original",
        "ppo as the paper's code: Brax clip 0.1 and first unroll steps; Atari fresh "
        "Adam, no clip, gradient / 100",
        first_rows_ppo_update,
        algos=("ppo",),
        needs_env_states=True,
        needs=OnPolicyUpdate,
        learning_rate=True,
        reproduces_original=True,
    )
)
register_perturbation(
    Perturbation(
        "param_noise",
        "Gaussian noise of std=scale added to every actor weight",
        parameter_noise,
        default_scale=3e-4,  # the paper's noise along interpolation paths
    )
)
register_perturbation(
    Perturbation(
        "action_noise",
        "Gaussian noise of std=scale added to every action",
        unperturbed_actor,
        action_noise=True,
        default_scale=0.1,  # TD3's exploration noise
    )
)
register_perturbation(
    Perturbation(
        "init_state",
        "start-state noise of scale x the training noise, unperturbed policy",
        unperturbed_actor,
        start_state_noise=True,
        default_scale=1.0,  # the training start distribution
    )
)

register_perturbation(
    Perturbation(
        "param_noise_per_step",
        "Gaussian noise of std=scale added to every actor weight at every env step",
        unperturbed_actor,
        param_noise=True,
        default_scale=3e-4,
    )
)
TD3_ACTION_NOISE = 0.1  # td3_action's evaluation noise: TD3's exploration noise
TD3_ACTION_ROLLOUTS = 10  # td3_action: samples per updated policy
register_perturbation(
    Perturbation(
        "td3_action",
        "one td3 update per 10 samples, each evaluated with action noise 0.1",
        actor_update_perturbation,
        algos=("td3",),
        needs_replay=True,
        needs=ActorUpdate,
        learning_rate=True,
        action_noise=True,
        fixed_action_noise=TD3_ACTION_NOISE,
        rollouts_per_policy=TD3_ACTION_ROLLOUTS,
    )
)


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
