"""Actor and critic networks (flax.linen) shared by the agents.

Every actor maps observations to actions in [-1, 1]. ``make_policy`` turns actor
parameters into a ``policy(observation, key) -> action`` function, the form every
rollout in the package consumes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

LOG_STD_MIN = -5.0  # SAC's lower log-std bound before sac.log_std_min (-10 now)
LOG_STD_MAX = 2.0


INIT_SCHEMES = ("orthogonal", "lecun")


def kernel_init(scheme: str):
    """Dense kernels' initializer: ``orthogonal`` with gain sqrt(2) (the paper's
    code, jaxrl's ``default_init``) or ``lecun`` (flax's default, LeCun normal).
    Biases start at zero either way."""
    if scheme == "orthogonal":
        return nn.initializers.orthogonal(math.sqrt(2.0))
    if scheme == "lecun":
        return nn.initializers.lecun_normal()
    raise ValueError(f"unknown init scheme {scheme!r}: one of {INIT_SCHEMES}")


def log_std_init(scheme: str):
    """The SAC log-std head's kernels: ``orthogonal`` with gain 1 (the paper's code
    gives that one layer gain 1, every other gain sqrt(2)) or ``lecun``."""
    if scheme == "orthogonal":
        return nn.initializers.orthogonal(1.0)
    return kernel_init(scheme)


class MLP(nn.Module):
    """ReLU multilayer perceptron with a linear output layer.

    ``init_scheme`` initializes every Dense kernel, the output layer's included.
    """

    hidden_sizes: Sequence[int]
    output_size: int
    init_scheme: str = "lecun"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = kernel_init(self.init_scheme)
        for width in self.hidden_sizes:
            x = nn.relu(nn.Dense(width, kernel_init=init)(x))
        return nn.Dense(self.output_size, kernel_init=init)(x)


class DeterministicActor(nn.Module):
    """TD3 actor: ``tanh(MLP(observation))``."""

    hidden_sizes: Sequence[int]
    action_size: int
    init_scheme: str = "lecun"

    @nn.compact
    def __call__(self, observation: jax.Array) -> jax.Array:
        mlp = MLP(self.hidden_sizes, self.action_size, self.init_scheme)
        return jnp.tanh(mlp(observation))


def bounded_log_std(raw: jax.Array, log_std_min: float) -> jax.Array:
    """Squash a raw log-std into ``[log_std_min, LOG_STD_MAX]`` the paper's code's
    way (jaxrl's ``NormalTanhPolicy``): ``min + (max - min) (tanh(raw) + 1) / 2``."""
    return log_std_min + 0.5 * (LOG_STD_MAX - log_std_min) * (jnp.tanh(raw) + 1.0)


class GaussianActor(nn.Module):
    """SAC actor: mean and log-std of a Gaussian squashed by tanh.

    ``separate_heads``: the mean and the log-std are two Dense layers (``mean``,
    ``log_std``, orthogonal gain 1 under ``orthogonal``) on the last ReLU hidden
    layer, as in the paper's code; otherwise one
    ``MLP`` of output ``2 * action_size`` split in two (the parameter tree of runs
    saved before the option). The log-std is squashed into ``[log_std_min, 2]``
    (``bounded_log_std``), or clipped there with ``clip_log_std`` (SB3's SAC).
    """

    hidden_sizes: Sequence[int]
    action_size: int
    init_scheme: str = "lecun"
    log_std_min: float = LOG_STD_MIN
    separate_heads: bool = False
    clip_log_std: bool = False

    @nn.compact
    def __call__(self, observation: jax.Array) -> tuple[jax.Array, jax.Array]:
        if self.separate_heads:
            init = kernel_init(self.init_scheme)
            x = observation
            for width in self.hidden_sizes:
                x = nn.relu(nn.Dense(width, kernel_init=init)(x))
            head = functools.partial(nn.Dense, self.action_size)
            mean = head(kernel_init=init, name="mean")(x)
            raw_log_std = head(
                kernel_init=log_std_init(self.init_scheme), name="log_std"
            )(x)
        else:
            out = MLP(self.hidden_sizes, 2 * self.action_size, self.init_scheme)(
                observation
            )
            mean, raw_log_std = jnp.split(out, 2, axis=-1)
        if self.clip_log_std:
            return mean, jnp.clip(raw_log_std, self.log_std_min, LOG_STD_MAX)
        # Smoothly bounded log-std keeps the entropy term finite early in training.
        return mean, bounded_log_std(raw_log_std, self.log_std_min)


class TwinCritic(nn.Module):
    """Two independent Q-networks; returns Q-values stacked as ``(2, *batch)``."""

    hidden_sizes: Sequence[int]
    init_scheme: str = "lecun"

    @nn.compact
    def __call__(self, observation: jax.Array, action: jax.Array) -> jax.Array:
        x = jnp.concatenate([observation, action], axis=-1)
        q1 = MLP(self.hidden_sizes, 1, self.init_scheme)(x)[..., 0]
        q2 = MLP(self.hidden_sizes, 1, self.init_scheme)(x)[..., 0]
        return jnp.stack([q1, q2])


def squashed_gaussian_sample(
    mean: jax.Array, log_std: jax.Array, key: jax.Array, tanh_epsilon: float = 0.0
) -> tuple[jax.Array, jax.Array]:
    """Sample ``tanh(mean + std * eps)`` and its log-probability (summed over dims).

    ``tanh_epsilon`` 0 takes the exact log-determinant of tanh; otherwise
    ``log(1 - tanh(u)^2 + tanh_epsilon)`` (SB3's SAC, 1e-6).
    """
    pre_tanh = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
    gaussian_log_prob = -0.5 * (
        ((pre_tanh - mean) / jnp.exp(log_std)) ** 2 + 2 * log_std + jnp.log(2 * jnp.pi)
    )
    action = jnp.tanh(pre_tanh)
    if tanh_epsilon:
        log_det = jnp.log(1.0 - action**2 + tanh_epsilon)
    else:  # log(1 - tanh(u)^2) written stably as 2 * (log 2 - u - softplus(-2u))
        log_det = 2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh))
    log_prob = jnp.sum(gaussian_log_prob - log_det, axis=-1)
    return action, log_prob


def make_policy(
    actor: nn.Module, params, deterministic: bool = True
) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """Bind actor parameters into ``policy(observation, key) -> action``.

    Deterministic: the TD3 actor output, or ``tanh(mean)`` for a Gaussian actor.
    Stochastic (Gaussian actors only): a squashed-Gaussian sample.
    """

    def policy(observation: jax.Array, key: jax.Array) -> jax.Array:
        out = actor.apply(params, observation)
        if not isinstance(actor, GaussianActor):
            return out
        mean, log_std = out
        if deterministic:
            return jnp.tanh(mean)
        return squashed_gaussian_sample(mean, log_std, key)[0]

    return policy
