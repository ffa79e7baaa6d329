"""Landscapes of any policy: returns, PURDs, paths and surfaces of plain parameters.

For policies trained elsewhere (brax.training, rejax, cleanrl, your own code): give
an ``apply(params, observation) -> action`` function (actions in [-1, 1], one
observation at a time; it is vmapped) and its parameters (any pytree), and these
functions send them through the same hot path as the ``landscape`` commands:
chunked to the memory budget, split over every device, the same episode definition
and the same sample keys.

* ``evaluate_policies``: one noise-free episode for each of K parameter sets;
* ``policy_purd``: the returns of ``samples`` perturbed copies of one policy under
  ``param_noise``, ``param_noise_per_step``, ``action_noise`` or ``init_state``
  (section 2 of the docs; update perturbations need an optimizer and replay, which
  plain parameters do not have);
* ``policy_path``: returns along the straight line between two parameter sets;
* ``policy_surface``: returns on a plane through a policy along two random
  filter-normalized directions (Li et al., 2018).

Example::

    import jax, jax.numpy as jnp
    from return_landscapes import policy_purd

    def apply(params, observation):
        return jnp.tanh(observation @ params["w"])

    params = {"w": 0.1 * jax.random.normal(jax.random.PRNGKey(0), (11, 3))}
    returns = policy_purd(apply, params, "hopper", scale=1e-2, samples=64)

A leaf whose path contains ``normalizer`` (observation statistics) is not a weight:
parameter noise and random directions leave it as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.agents.common import ParamsAsState
from return_landscapes.caches import compiled_cache
from return_landscapes.conf import is_gym, is_mujoco
from return_landscapes.constants import DEFAULT_GAMMA, DEFAULT_HORIZON
from return_landscapes.envs.brax import (
    DEFAULT_BACKEND,
    has_start_state_noise,
    make_env,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.evaluation import EvaluationSetup
from return_landscapes.landscape.checks import (
    check_episode_options,
    check_params_finite,
    policy_only_perturbations,
)
from return_landscapes.landscape.grid.plane import (
    DIRECTIONS_PLANE,
    coordinates,
)
from return_landscapes.landscape.grid.vectors import filter_normalized_direction
from return_landscapes.landscape.hotpath.engine import (
    Engine,
    episode_stages,
    perturbed_returns,
    plain_returns,
)
from return_landscapes.landscape.hotpath.keys import (
    direction_key,
    plain_key,
    sample_keys,
)
from return_landscapes.landscape.hotpath.mixing import mix
from return_landscapes.landscape.perturb import (
    CheckpointSource,
    get_perturbation,
    make_perturb_stage,
)
from return_landscapes.training.families import family_of
from return_landscapes.training.state import TrainingParts
from return_landscapes.types import EpisodeStats

Apply = Callable[[Any, jax.Array], jax.Array]


class ApplyAgent(ParamsAsState):
    """An ``apply(params, observation)`` policy as an ``ActorAgent`` (its state is
    its parameters)."""

    def __init__(self, apply: Apply):
        self.apply = apply

    def policy(self, actor_params, deterministic: bool = True):
        del deterministic
        return lambda observation, key: self.apply(actor_params, observation)


_POLICY_ENGINES = compiled_cache("policy engines")
"""Engines of the policy API by setup: ``(apply, env, perturb, horizon, gamma,
backend, start_noise)``, the function and env objects themselves (held, so never
freed and their addresses reused); ``drop_compiled_programs`` empties it."""


def _engine(
    apply: Apply,
    env,
    perturb: str,
    horizon: int,
    gamma: float,
    backend: str,
    start_noise: float | None = None,
) -> Engine:
    """The stages of one setup, as the ``landscape`` commands build them; built
    once per setup in a process, so a second call with the same ``apply``, env and
    options reuses the compiled programs (the seed, scale, sample count and the
    parameters' values are data)."""
    if perturb not in policy_only_perturbations():
        raise LandscapeError(
            f"perturb={perturb} does not apply to plain parameters (it needs an "
            f"optimizer state, replay or env states): choose one of "
            f"{', '.join(policy_only_perturbations())}"
        )
    setup = (apply, env, perturb, horizon, float(gamma), backend, start_noise)
    try:
        hash(setup)
    except TypeError:  # an env object that cannot be a key: built for this call
        return _make_engine(*setup)
    if setup not in _POLICY_ENGINES:
        _POLICY_ENGINES[setup] = _make_engine(*setup)
    return _POLICY_ENGINES[setup]


def _make_engine(apply, env, perturb, horizon, gamma, backend, start_noise) -> Engine:
    """``_engine``'s setup built (its arguments, checked)."""
    perturbation = get_perturbation(perturb)
    agent = ApplyAgent(apply)
    plain_env = _env(env, backend, 0.0)
    plain = EvaluationSetup(plain_env, apply, horizon, gamma)
    sample = perturbation.episode.evaluation(
        plain, lambda: _env(env, backend, start_noise)
    )
    return Engine(
        None,
        TrainingParts(plain_env, agent, None),
        perturbation,
        make_perturb_stage(perturbation, agent),
        *episode_stages(sample, plain),
        {},
    )


def _env(env, backend: str, start_noise: float | None):
    """The Brax env named ``env`` with this start-state noise (a fixed start state
    at 0); an env object is used as it is."""
    if not isinstance(env, str):
        if start_noise:
            raise LandscapeError(
                "perturb=init_state needs the env by name (its start-state noise "
                "is an option of the Brax env): pass env='hopper' etc."
            )
        return env
    if is_mujoco(env):
        from return_landscapes.envs.mujoco import make_mujoco_env

        return make_mujoco_env(env, start_noise or 0.0)
    if is_gym(env):
        from return_landscapes.envs.gym import make_gym_env

        return make_gym_env(env, seeded_starts=bool(start_noise))
    width = start_noise if has_start_state_noise(env) else None
    return make_env(env, backend, width)


def _named_start_noise(env: str) -> float | None:
    """The training start-state noise of a Brax env or MuJoCo task by name."""
    return family_of(env).start_noise(env)


def _check(horizon: int, gamma: float, chunk: int | None, scale=None) -> None:
    check_episode_options(scale, horizon, gamma, chunk)


def evaluate_policies(
    apply: Apply,
    params,
    env,
    *,
    seed: int = 0,
    horizon: int = DEFAULT_HORIZON,
    gamma: float = DEFAULT_GAMMA,
    backend: str = DEFAULT_BACKEND,
    chunk: int | None = None,
) -> EpisodeStats:
    """One noise-free episode of each of K parameter sets.

    Args:
      apply: ``apply(params, observation) -> action`` of one parameter set.
      params: the parameter sets stacked on a leading axis ``(K, ...)``.
      env: a Brax env name (``"hopper"``; fixed start state), a MuJoCo task
        (``"mujoco:Hopper-v5"``), a Gymnasium env (``"gym:Pendulum-v1"``) or a
        Brax env object.
      seed: the episodes' key (they are noise-free: it matters only to envs whose
        reset is random).
      horizon: episode step cap.
      gamma: discount of the discounted return.
      backend: Brax physics pipeline of a named env.
      chunk: parameter sets per compiled call; ``None`` fits the memory budget.

    Returns:
      ``EpisodeStats`` of numpy arrays ``(K,)``: undiscounted and discounted
      returns, episode lengths.
    """
    _check(horizon, gamma, chunk)
    check_params_finite(params)
    engine = _engine(apply, env, "param_noise", horizon, gamma, backend)
    count = jax.tree.leaves(params)[0].shape[0]
    keys = jnp.broadcast_to(plain_key(seed, 0, 0), (count, 2))
    return EpisodeStats(*plain_returns(engine, params, keys, chunk))


def _plain_returns(apply: Apply, stacked, env, settings: tuple) -> np.ndarray:
    """Undiscounted returns of stacked parameter sets; ``settings`` is
    ``(seed, horizon, gamma, backend, chunk)``."""
    seed, horizon, gamma, backend, chunk = settings
    stats = evaluate_policies(
        apply,
        stacked,
        env,
        seed=seed,
        horizon=horizon,
        gamma=gamma,
        backend=backend,
        chunk=chunk,
    )
    return np.asarray(stats.undiscounted_return)


def policy_purd(
    apply: Apply,
    params,
    env,
    *,
    perturb: str = "param_noise",
    scale: float | None = None,
    samples: int = 1000,
    seed: int = 0,
    horizon: int = DEFAULT_HORIZON,
    gamma: float = DEFAULT_GAMMA,
    backend: str = DEFAULT_BACKEND,
    chunk: int | None = None,
) -> np.ndarray:
    """The post-perturbation return distribution of one policy: numpy ``(samples,)``.

    Args:
      apply: ``apply(params, observation) -> action``.
      params: one parameter set (no leading axis).
      env: a Brax env name, a MuJoCo task (``"mujoco:Hopper-v5"``), a Gymnasium
        env (``"gym:Pendulum-v1"``, actions in [-1, 1] rescaled to its bounds;
        its fixed start resets with seed 0), or a Brax env object (not for
        ``init_state``).
      perturb: ``param_noise`` (noise of std ``scale`` on every weight, once),
        ``param_noise_per_step`` (afresh at every step), ``action_noise`` (on
        every action) or ``init_state`` (``scale`` times the env's own start-state
        noise).
      scale: the perturbation's size; ``None``: its default (3e-4, 3e-4, 0.1, 1).
      samples: perturbed copies, one episode each.
      seed: the samples' seed; sample ``j``'s key is the one ``landscape purd``
        gives sample ``j`` of seed 0 at step 0 with ``sample_seed=seed``.
      horizon: episode step cap.
      gamma: discount of the discounted return.
      backend: Brax physics pipeline of a named env.
      chunk: samples per compiled call; ``None`` fits the memory budget.
    """
    perturbation = get_perturbation(perturb)
    scale = perturbation.default_scale if scale is None else scale
    _check(horizon, gamma, chunk, scale)
    if samples < 1:
        raise LandscapeError(f"samples={samples} must be at least 1")
    check_params_finite(params)
    start_noise = None
    if perturbation.episode.moves_start:
        named = isinstance(env, str)
        if named and _named_start_noise(env) is None:
            raise LandscapeError(
                f"env '{env}' has no start-state noise option, so perturb="
                "init_state cannot apply: choose another perturbation"
            )
        if named:
            family_of(env).check_start_noise(scale)
        start_noise = scale * _named_start_noise(env) if named else 1
    engine = _engine(apply, env, perturb, horizon, gamma, backend, start_noise)
    source = CheckpointSource(jax.tree.map(jnp.asarray, params))
    keys = sample_keys(seed, 0, 0, samples)
    stats = perturbed_returns(engine, source, float(scale), keys, chunk)
    return np.asarray(stats[0])


def policy_path(
    apply: Apply,
    start,
    end,
    env,
    *,
    points: int = 21,
    seed: int = 0,
    horizon: int = DEFAULT_HORIZON,
    gamma: float = DEFAULT_GAMMA,
    backend: str = DEFAULT_BACKEND,
    chunk: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Returns along the straight path ``(1 - a) * start + a * end``.

    Args:
      apply: ``apply(params, observation) -> action``.
      start: the parameter set at ``a = 0``.
      end: the parameter set at ``a = 1`` (same structure).
      env: a Brax env name, a MuJoCo task, a Gymnasium env or a Brax env object.
      points: evenly spaced ``a`` in [0, 1], both ends included.
      seed: the episodes' key (as in ``evaluate_policies``).
      horizon: episode step cap.
      gamma: discount of the discounted return.
      backend: Brax physics pipeline of a named env.
      chunk: points per compiled call; ``None`` fits the memory budget.

    Returns:
      ``(alphas, returns)``, numpy ``(points,)`` each; the ends are exactly
      ``start`` and ``end``.
    """
    if points < 2:
        raise LandscapeError(f"points={points} must be at least 2")
    check_params_finite(start, "start")
    check_params_finite(end, "end")
    alphas = np.linspace(0.0, 1.0, points).astype(np.float32)
    start, end = (jax.tree.map(jnp.asarray, p) for p in (start, end))
    stacked = jax.vmap(lambda a: mix((start, end), start, (1.0 - a, a)))(
        jnp.asarray(alphas)
    )
    settings = (seed, horizon, gamma, backend, chunk)
    return alphas, _plain_returns(apply, stacked, env, settings)


def policy_surface(
    apply: Apply,
    params,
    env,
    *,
    grid: int = 21,
    span: float = 1.0,
    seed: int = 0,
    horizon: int = DEFAULT_HORIZON,
    gamma: float = DEFAULT_GAMMA,
    backend: str = DEFAULT_BACKEND,
    chunk: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Returns on the plane ``params + x * d1 + y * d2`` through one policy.

    ``d1`` and ``d2`` are random directions normalized filter-wise (Li et al.,
    2018; biases and normalizer statistics do not move), drawn from ``seed`` as
    ``landscape surface`` draws them for seed 0 at step 0 (``sample_seed=seed``).

    Args:
      apply: ``apply(params, observation) -> action``.
      params: one parameter set.
      env: a Brax env name, a MuJoCo task, a Gymnasium env or a Brax env object.
      grid: points per side (odd, so the policy itself is the centre).
      span: the plane reaches ``-span .. span`` along each direction.
      seed: draws the directions (and the episodes' key).
      horizon: episode step cap.
      gamma: discount of the discounted return.
      backend: Brax physics pipeline of a named env.
      chunk: points per compiled call; ``None`` fits the memory budget.

    Returns:
      ``(coordinates, returns)``: numpy ``(grid,)`` and ``(grid, grid)``, row ``i``
      at ``x = coordinates[i]``, column ``j`` at ``y = coordinates[j]``.
    """
    if grid < 3 or grid % 2 == 0:
        raise LandscapeError(f"grid={grid} must be odd and at least 3")
    if not np.isfinite(span) or span <= 0:
        raise LandscapeError(f"span={span} must be a finite number > 0")
    check_params_finite(params)
    params = jax.tree.map(jnp.asarray, params)
    key = direction_key(seed, 0, 0)
    directions = [
        filter_normalized_direction(jax.random.fold_in(key, i), params)
        for i in range(2)
    ]
    axis = coordinates(DIRECTIONS_PLANE, grid, span)
    x, y = (a.ravel() for a in np.meshgrid(axis, axis, indexing="ij"))
    stacked = jax.vmap(lambda a, b: mix((params, *directions), params, (1.0, a, b)))(
        jnp.asarray(x), jnp.asarray(y)
    )
    settings = (seed, horizon, gamma, backend, chunk)
    return axis, _plain_returns(apply, stacked, env, settings).reshape(grid, grid)
