"""The built-in perturbations, registered on import. Definitions:

* ``td3`` / ``sac``: one actor update of that algorithm with the checkpoint's Adam
  state, learning rate ``scale``, critics frozen, on a fresh minibatch drawn with the
  sample's key from the replay buffer as of the checkpoint step (rows that stay
  nearly the same as the buffer grows, ``replay.nested_rows``);
* ``ppo``: one PPO minibatch step with the checkpoint's Adam state, learning rate
  ``scale``, on fresh experience from the checkpoint's parallel envs (Atari: one
  whole PPO iteration, see ``perturb/atari.py``; MuJoCo tasks and Gymnasium envs:
  experience from fresh starts, see ``perturb/host_ppo.py``);
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
"""

from __future__ import annotations

import jax

from return_landscapes.agents.protocols import ActorUpdate, OnPolicyUpdate
from return_landscapes.evaluation import noisy_parameters
from return_landscapes.landscape.perturb.episode import (
    ActionNoise,
    ParameterNoisePerStep,
    StartStateNoise,
)
from return_landscapes.landscape.perturb.registry import (
    MINIBATCH_SIZE,
    CheckpointSource,
    Perturbation,
    register_perturbation,
)
from return_landscapes.replay import replay_sample_nested


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
    return ppo_step_on(agent, source.agent_state, data, order_key, scale)


def ppo_step_on(agent, agent_state, data, order_key, scale):
    """The ``ppo`` perturbation's step on recorded experience ``data``: GAE as in
    training, a random ``1/num_minibatches`` of it (``order_key``), one minibatch
    step with the state's Adam and learning rate ``scale``; the actor parameters."""
    batch = agent.make_batch(agent_state, data)
    rows = jax.random.permutation(order_key, batch.advantage.shape[0])
    minibatch = jax.tree.map(lambda x: x[rows[: agent.minibatch_size]], batch)
    state, _ = agent.minibatch_step(agent_state, minibatch, scale)
    return agent.actor_params(state)


def first_rows_step_on(agent, agent_state, data, scale):
    """``ppo_step_on`` as the paper's code ran it on Brax: the minibatch is the
    first ``minibatch_size`` rows of the batch (the first unroll steps of every
    env), and the gradient is clipped to a global norm of 0.1."""
    batch = agent.make_batch(agent_state, data)
    minibatch = jax.tree.map(lambda x: x[: agent.minibatch_size], batch)
    state, _ = agent.minibatch_step(
        agent_state, minibatch, scale, max_grad_norm=ORIGINAL_PPO_CLIP
    )
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
    return first_rows_step_on(agent, source.agent_state, data, scale)


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
        episode=ActionNoise(),
        default_scale=0.1,  # TD3's exploration noise
    )
)
register_perturbation(
    Perturbation(
        "init_state",
        "start-state noise of scale x the training noise, unperturbed policy",
        unperturbed_actor,
        episode=StartStateNoise(),
        default_scale=1.0,  # the training start distribution
    )
)

register_perturbation(
    Perturbation(
        "param_noise_per_step",
        "Gaussian noise of std=scale added to every actor weight at every env step",
        unperturbed_actor,
        episode=ParameterNoisePerStep(),
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
        episode=ActionNoise(std=TD3_ACTION_NOISE),
        rollouts_per_policy=TD3_ACTION_ROLLOUTS,
    )
)
