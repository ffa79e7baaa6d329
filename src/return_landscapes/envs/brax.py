"""Brax environments: a factory by name, auto-resetting training steps, and episodes.

Two things every experiment needs live here:

* ``make_env`` builds any registered Brax env by name with a chosen physics backend and
  start-state noise, failing with one line for an unknown name or backend.
* ``run_episode`` rolls one fixed-horizon episode of a policy inside jit and records the
  undiscounted return, the discounted return and the episode length, stopping the
  accumulation at termination.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings

import jax
import jax.numpy as jnp

from return_landscapes.constants import DEFAULT_GAMMA, DEFAULT_HORIZON
from return_landscapes.envs.names import unknown_env
from return_landscapes.errors import LandscapeError
from return_landscapes.types import (
    EnvCarry,
    EpisodeStats,
    Policy,
    StepOutput,
    Transition,
)

BACKENDS = ("spring", "positional", "generalized", "mjx")
# Position-based dynamics, as the paper's Brax 0.0.13: at equal TD3 budget it trains
# faster and learns hopper further than ``spring`` (benchmarks/physics_backends.py);
# ``spring`` steps random actions fastest (benchmarks/env_backends.py).
DEFAULT_BACKEND = "positional"


@contextlib.contextmanager
def _quiet():
    """Silence Python and C-level output (Brax and MuJoCo chatter on import / load)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _import_brax_envs():
    """Import ``brax.envs`` without its optional-backend chatter."""
    logging.getLogger("absl").setLevel(logging.ERROR)
    with _quiet():
        from brax import envs

    return envs


def import_quietly(module: str):
    """Import a Brax module (``brax.training...``) without its optional-backend
    chatter on stdout and stderr."""
    import importlib

    logging.getLogger("absl").setLevel(logging.ERROR)
    with _quiet():
        return importlib.import_module(module)


def env_names() -> list[str]:
    """Names of every registered Brax environment."""
    return sorted(_import_brax_envs()._envs)


def make_env(
    name: str,
    backend: str = DEFAULT_BACKEND,
    reset_noise_scale: float | None = None,
):
    """Build a Brax environment by name.

    Args:
      name: a registered Brax env, e.g. ``hopper``, ``halfcheetah``, ``walker2d``,
        ``ant``.
      backend: physics pipeline, one of ``BACKENDS``.
      reset_noise_scale: start-state noise; ``None`` keeps the env's own default and
        ``0`` gives a fixed start state. Only envs with that option accept a number.

    Returns:
      A ``brax.envs.Env`` with ``reset(key)`` and ``step(state, action)``.

    Raises:
      LandscapeError: unknown env, unknown backend, or a noise scale the env lacks.
    """
    envs = _import_brax_envs()
    if name not in envs._envs:
        raise unknown_env(name, env_names())
    if backend not in BACKENDS:
        raise LandscapeError(
            f"unknown backend '{backend}': choose one of {', '.join(BACKENDS)}"
        )
    kwargs = {"backend": backend}
    if reset_noise_scale is not None:
        if reset_noise_scale < 0:
            raise LandscapeError(
                f"reset_noise_scale={reset_noise_scale} is negative: use 0 or more"
            )
        if not _accepts(envs._envs[name], "reset_noise_scale"):
            raise LandscapeError(
                f"env '{name}' has no start-state noise option: leave "
                "reset_noise_scale unset (null)"
            )
        kwargs["reset_noise_scale"] = float(reset_noise_scale)
    with _quiet():  # brax warns that it is unmaintained; MuJoCo about settotalmass
        return envs.get_environment(name, **kwargs)


def has_start_state_noise(name: str) -> bool:
    """Whether env ``name`` takes a ``reset_noise_scale`` (start-state noise) option."""
    envs = _import_brax_envs()
    return name in envs._envs and _accepts(envs._envs[name], "reset_noise_scale")


def default_start_noise(name: str) -> float | None:
    """The default ``reset_noise_scale`` of env ``name`` (``None`` if it has none)."""
    import inspect

    envs = _import_brax_envs()
    if not has_start_state_noise(name):
        return None
    default = (
        inspect.signature(envs._envs[name].__init__)
        .parameters["reset_noise_scale"]
        .default
    )
    return None if default is inspect.Parameter.empty else float(default)


def _accepts(env_class, option: str) -> bool:
    import inspect

    return option in inspect.signature(env_class.__init__).parameters


def run_episode(
    env,
    policy: Policy,
    key: jax.Array,
    horizon: int = DEFAULT_HORIZON,
    gamma: float = DEFAULT_GAMMA,
) -> EpisodeStats:
    """Roll one episode of at most ``horizon`` steps; jit- and vmap-friendly.

    Rewards count until the first step that terminates the episode (that step's
    reward included); the remaining steps of the fixed-length scan are masked out.
    """
    reset_key, policy_key = jax.random.split(key)
    state = env.reset(reset_key)

    def step(carry, step_key):
        state, alive, total, discounted, discount, length = carry
        next_state = env.step(state, policy(state.obs, step_key))
        reward = jnp.where(alive, next_state.reward, 0.0)
        carry = (
            next_state,
            alive & (next_state.done == 0),
            total + reward,
            discounted + discount * reward,
            discount * gamma,
            length + alive.astype(jnp.int32),
        )
        return carry, None

    zero = jnp.zeros((), jnp.float32)
    one = jnp.ones((), jnp.float32)
    init = (state, jnp.array(True), zero, zero, one, jnp.zeros((), jnp.int32))
    keys = jax.random.split(policy_key, horizon)
    (_, _, total, discounted, _, length), _ = jax.lax.scan(step, init, keys)
    return EpisodeStats(total, discounted, length)


def reset_carry(env, key: jax.Array, keep_first: bool = False) -> EnvCarry:
    """A fresh episode's carry; ``keep_first`` also keeps its start state as the one
    ``autoreset_step`` returns to after every episode."""
    state = env.reset(key)
    return EnvCarry(
        state,
        jnp.zeros((), jnp.int32),
        jnp.zeros((), jnp.float32),
        state if keep_first else None,
    )


def autoreset_step(
    env, carry: EnvCarry, action: jax.Array, key: jax.Array, horizon: int
) -> tuple[EnvCarry, StepOutput]:
    """Step the env; on termination or at the horizon start a new episode.

    The new episode starts from the carry's ``first_state`` when it has one (Brax
    0.0.13's ``AutoResetWrapper``: each env back to its own first state), otherwise
    from a fresh noisy reset drawn with ``key``. Truncation at the horizon keeps
    ``discount = 1`` so value targets can still bootstrap.
    """
    next_state = env.step(carry.state, action)
    terminated = jnp.asarray(next_state.done) > 0
    episode_return = carry.episode_return + next_state.reward
    finished = terminated | (carry.episode_step + 1 >= horizon)
    transition = Transition(
        carry.state.obs,
        action,
        next_state.reward,
        next_state.obs,
        1.0 - terminated.astype(jnp.float32),
    )
    if carry.first_state is None:
        restart = reset_carry(env, key)
    else:
        restart = EnvCarry(
            carry.first_state,
            jnp.zeros((), jnp.int32),
            jnp.zeros((), jnp.float32),
            carry.first_state,
        )
    continued = EnvCarry(
        next_state, carry.episode_step + 1, episode_return, carry.first_state
    )
    new_carry = jax.tree.map(
        lambda new, old: jnp.where(finished, new, old), restart, continued
    )
    return new_carry, StepOutput(transition, finished, episode_return)
