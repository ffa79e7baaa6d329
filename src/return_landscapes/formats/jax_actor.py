"""An ``MlpActor`` as a JAX policy: the ``apply(params, observation)`` and
parameters that the policy API (``policy_purd``, ``policy_path``,
``policy_surface``, ``evaluate_policies``) takes."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from return_landscapes.formats.neutral import MlpActor

_ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "elu": jax.nn.elu,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "swish": jax.nn.swish,
}


def jax_policy(actor: MlpActor):
    """``(apply, params)`` acting as ``actor.act`` does, for one observation.

    ``params`` holds the layers (``{"kernels": [...], "biases": [...]}``), the
    parameters a perturbation moves; the normaliser and the action bounds are
    constants of ``apply``, as they are not trained weights.
    """
    activate = _ACTIVATIONS[actor.activation]
    low, high = jnp.asarray(actor.low), jnp.asarray(actor.high)
    mean = None if actor.obs_mean is None else jnp.asarray(actor.obs_mean)
    std = None if actor.obs_std is None else jnp.asarray(actor.obs_std)
    last = len(actor.kernels) - 1

    def apply(params, observation):
        x = jnp.asarray(observation, jnp.float32)
        if mean is not None:
            x = (x - mean) / std
            if actor.obs_clip is not None:
                x = jnp.clip(x, -actor.obs_clip, actor.obs_clip)
        for i, (kernel, bias) in enumerate(
            zip(params["kernels"], params["biases"], strict=True)
        ):
            x = x @ kernel + bias
            if i < last:
                x = activate(x)
        if actor.squash == "clip":
            return jnp.clip(x, low, high)
        return low + 0.5 * (jnp.tanh(x) + 1.0) * (high - low)

    params = {
        "kernels": [jnp.asarray(k) for k in actor.kernels],
        "biases": [jnp.asarray(b) for b in actor.biases],
    }
    return apply, params
