"""Deterministic MLP actors imported from other libraries' files (Stable-Baselines3
zips, the neutral ``.npz``), as agents of an imported run.

The agent state is ``{"normalizer": {"mean", "std"}, "policy": {"layer_i":
{"kernel", "bias"}}}``: the layers are the weights perturbations move; the
observation normaliser sits under ``normalizer``, which parameter noise and random
directions leave as it is (as for brax.training policies and this package's PPO).
The output map, the action bounds and the normaliser's clip are the run's config
(``ImportedPolicy``), not state.

Actions come out in the toolkit's units, [-1, 1] per dimension, which every env
family takes (a Gymnasium env rescales them to its bounds): ``tanh`` squashing gives
them directly (SB3's TD3, DDPG and SAC; the env's rescaling is SB3's own), ``clip``
clips the output to the saved bounds and maps it onto [-1, 1] (SB3's PPO and A2C).
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.agents.common import ParamsAsState
from return_landscapes.conf import Activation, ImportedPolicy

ACTIVATIONS = {
    Activation.relu: jax.nn.relu,
    Activation.tanh: jnp.tanh,
    Activation.elu: jax.nn.elu,
    Activation.gelu: lambda x: jax.nn.gelu(x, approximate=False),  # torch's gelu
    Activation.swish: jax.nn.swish,
}


@dataclasses.dataclass(frozen=True, eq=False)
class MlpActorAgent(ParamsAsState):
    """An imported MLP actor as an ``ActorAgent`` (no critic, optimizer or replay:
    update perturbations do not apply)."""

    imported: ImportedPolicy
    observation_size: int
    action_size: int

    @property
    def layer_sizes(self) -> list[int]:
        return [
            self.observation_size,
            *self.imported.hidden_sizes,
            self.action_size,
        ]

    def policy(self, actor_params, deterministic: bool = True):
        """``policy(observation, key) -> action`` in [-1, 1] (deterministic)."""
        del deterministic
        return lambda observation, key: normalised_action(
            self.imported, actor_params, observation
        )

    def init(self, key: jax.Array):
        """A state of the right structure: random layers, identity normaliser."""
        sizes = self.layer_sizes
        keys = jax.random.split(key, len(sizes) - 1)
        layers = {
            f"layer_{i}": {
                "kernel": jax.random.normal(keys[i], (fan_in, fan_out))
                / np.sqrt(fan_in),
                "bias": jnp.zeros((fan_out,), jnp.float32),
            }
            for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes))
        }
        return {
            "normalizer": {
                "mean": jnp.zeros((self.observation_size,), jnp.float32),
                "std": jnp.ones((self.observation_size,), jnp.float32),
            },
            "policy": layers,
        }


def normalised_action(imported: ImportedPolicy, actor_params, observation):
    """The actor's action for one observation, in [-1, 1] (see the module doc)."""
    x = jnp.asarray(observation, jnp.float32)
    if imported.normalize_observations:
        normalizer = actor_params["normalizer"]
        x = (x - normalizer["mean"]) / normalizer["std"]
        if imported.observation_clip is not None:
            bound = jnp.float32(imported.observation_clip)
            x = jnp.clip(x, -bound, bound)
    layers = actor_params["policy"]
    activate = ACTIVATIONS[Activation(imported.activation)]
    for i in range(len(layers)):
        x = x @ layers[f"layer_{i}"]["kernel"] + layers[f"layer_{i}"]["bias"]
        if i < len(layers) - 1:
            x = activate(x)
    if imported.squash == "tanh":
        return jnp.tanh(x)
    low = jnp.asarray(imported.action_low, jnp.float32)
    high = jnp.asarray(imported.action_high, jnp.float32)
    return 2.0 * (jnp.clip(x, low, high) - low) / (high - low) - 1.0


def make_mlp_actor_agent(
    imported: ImportedPolicy, observation_size: int, action_size: int
) -> MlpActorAgent:
    """The agent of an imported MLP actor for an env of these sizes."""
    return MlpActorAgent(imported, int(observation_size), int(action_size))


def mlp_actor_state(actor) -> dict:
    """The agent state of a ``formats.neutral.MlpActor`` (identity normaliser if it
    has none)."""
    size = actor.observation_size
    mean = np.zeros(size, np.float32) if actor.obs_mean is None else actor.obs_mean
    std = np.ones(size, np.float32) if actor.obs_std is None else actor.obs_std
    return {
        "normalizer": {
            "mean": np.asarray(mean, np.float32),
            "std": np.asarray(std, np.float32),
        },
        "policy": {
            f"layer_{i}": {
                "kernel": np.asarray(kernel, np.float32),
                "bias": np.asarray(bias, np.float32),
            }
            for i, (kernel, bias) in enumerate(
                zip(actor.kernels, actor.biases, strict=True)
            )
        },
    }
