"""Policies trained by brax.training (PPO, SAC), rebuilt with brax.training's own code.

An imported run (``landscape import``) holds one policy per seed as the agent state
``{"normalizer": {"mean", "std"}, "policy": <flax params>}``. The network and the
deterministic action come from brax.training itself (``make_ppo_networks`` /
``make_sac_networks`` and their ``make_inference_fn``: ``tanh`` of the Gaussian's
location), so the imported policy acts exactly as it did where it was trained. The
normalizer's statistics sit under a ``normalizer`` key: parameter noise and random
directions leave them as they are, as for this package's own PPO.

``BraxPolicyAgent`` implements ``ActorAgent`` only: there is no optimizer state,
critic or replay, so update perturbations do not apply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.agents.common import ParamsAsState
from return_landscapes.conf import ImportedPolicy, ImportSource
from return_landscapes.envs.brax import import_quietly
from return_landscapes.errors import LandscapeError

PPO_NETWORKS = "brax.training.agents.ppo.networks"
SAC_NETWORKS = "brax.training.agents.sac.networks"
RUNNING_STATISTICS = "brax.training.acme.running_statistics"


def _activation(name: str):
    import flax.linen as nn

    return getattr(nn, name)


def brax_networks(imported: ImportedPolicy, observation_size: int, action_size: int):
    """brax.training's PPO or SAC networks of these sizes (no parameters yet)."""
    normalize = (
        import_quietly(RUNNING_STATISTICS).normalize
        if imported.normalize_observations
        else (lambda observation, _params: observation)
    )
    options = {
        "preprocess_observations_fn": normalize,
        "activation": _activation(imported.activation.value),
    }
    sizes = tuple(imported.hidden_sizes)
    if ImportSource(imported.source) is ImportSource.brax_ppo:
        return import_quietly(PPO_NETWORKS).make_ppo_networks(
            observation_size, action_size, policy_hidden_layer_sizes=sizes, **options
        )
    return import_quietly(SAC_NETWORKS).make_sac_networks(
        observation_size, action_size, hidden_layer_sizes=sizes, **options
    )


def inference_factory(imported: ImportedPolicy, networks):
    """brax.training's ``make_policy(params, deterministic)`` for these networks."""
    ppo = ImportSource(imported.source) is ImportSource.brax_ppo
    module = import_quietly(PPO_NETWORKS if ppo else SAC_NETWORKS)
    return module.make_inference_fn(networks)


@dataclasses.dataclass(frozen=True, eq=False)
class BraxPolicyAgent(ParamsAsState):
    """An imported brax.training policy as an ``ActorAgent``.

    The agent state is the actor's parameters themselves (``{"normalizer",
    "policy"}``); ``init(key)`` builds a state of the right structure (random
    weights, identity normalizer), the template a checkpoint is restored into.
    """

    imported: ImportedPolicy
    networks: Any
    observation_size: int

    def policy(self, actor_params, deterministic: bool = True):
        """``policy(observation, key) -> action`` through brax.training's inference
        function (deterministic: ``tanh`` of the location)."""
        statistics = import_quietly(RUNNING_STATISTICS)
        normalizer = actor_params["normalizer"]
        brax_params = (
            statistics.NestedMeanStd(mean=normalizer["mean"], std=normalizer["std"]),
            actor_params["policy"],
        )
        act = inference_factory(self.imported, self.networks)(
            brax_params, deterministic
        )
        return lambda observation, key: act(observation, key)[0]

    def init(self, key: jax.Array):
        """A state of the right structure: fresh weights, identity normalizer."""
        size = self.observation_size
        return {
            "normalizer": {
                "mean": jnp.zeros((size,), jnp.float32),
                "std": jnp.ones((size,), jnp.float32),
            },
            "policy": self.networks.policy_network.init(key),
        }


def make_brax_policy_agent(
    imported: ImportedPolicy, observation_size: int, action_size: int
) -> BraxPolicyAgent:
    """The agent of an imported brax.training policy for an env of these sizes."""
    networks = brax_networks(imported, observation_size, action_size)
    return BraxPolicyAgent(imported, networks, int(observation_size))


# ------------------------------------------------------------ reading a saved file


def actor_state_from_brax(saved, source: ImportSource):
    """The agent state of a policy from what ``brax.io.model.save_params`` saved.

    brax.training's PPO saves ``(normalizer, policy, value)``, its SAC
    ``(normalizer, policy)``; the normalizer is a ``RunningStatisticsState`` (mean
    and std are what the policy reads). Raises ``LandscapeError`` for anything else.
    """
    name = ImportSource(source).value
    expected = (
        "(normalizer, policy, value)"
        if name == "brax_ppo"
        else ("(normalizer, policy)")
    )
    if not isinstance(saved, tuple | list) or len(saved) < 2:
        raise LandscapeError(
            f"the file holds a {type(saved).__name__}, not brax.training's {name} "
            f"parameters {expected}: pass the params that train() returned, saved "
            "with brax.io.model.save_params"
        )
    normalizer, policy = saved[0], saved[1]
    if not (hasattr(normalizer, "mean") and hasattr(normalizer, "std")):
        raise LandscapeError(
            f"the file's first entry ({type(normalizer).__name__}) is not a running "
            f"normalizer with mean and std: expected brax.training's {name} "
            f"parameters {expected}"
        )
    if not isinstance(policy, Mapping):
        raise LandscapeError(
            f"the file's second entry ({type(policy).__name__}) is not the policy's "
            f"flax parameters: expected brax.training's {name} parameters {expected}"
        )
    return {
        "normalizer": {
            "mean": np.asarray(normalizer.mean, np.float32),
            "std": np.asarray(normalizer.std, np.float32),
        },
        "policy": jax.tree.map(np.asarray, _plain_dicts(policy)),
    }


def _plain_dicts(tree):
    """Nested mappings (flax ``FrozenDict`` included) as plain dicts."""
    if isinstance(tree, Mapping):
        return {key: _plain_dicts(value) for key, value in tree.items()}
    return tree


def hidden_sizes_of(policy) -> list[int]:
    """The hidden layer widths of brax.training policy parameters (Dense kernels
    ``hidden_0`` .. ``hidden_n``, the last one being the output layer)."""
    layers = policy.get("params", policy)
    widths = []
    index = 0
    while f"hidden_{index}" in layers:
        widths.append(int(np.shape(layers[f"hidden_{index}"]["kernel"])[-1]))
        index += 1
    return widths[:-1]


def input_size_of(policy) -> int | None:
    """The observation size brax.training policy parameters take (``None`` if the
    first layer is not found)."""
    layers = policy.get("params", policy)
    first = layers.get("hidden_0")
    if not isinstance(first, Mapping) or "kernel" not in first:
        return None
    return int(np.shape(first["kernel"])[0])
