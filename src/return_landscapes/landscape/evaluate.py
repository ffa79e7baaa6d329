"""The hot path: evaluate a batch of K parameter sets, one episode each.

Every landscape experiment (PURD, interpolation, rejection, surfaces) builds a batch of
actor parameter sets and hands it here. One jitted function runs the K episodes at
once: the K envs step together (``vmap``) inside a ``while_loop`` over time that stops
as soon as every episode has ended or the horizon is reached; the policy forward pass is
vmapped over the K distinct parameter sets.

K is cut into chunks so memory stays bounded. The chunk size is chosen automatically
from XLA's own memory analysis of the compiled program (or given), and each chunk is
sharded over ``jax.devices()`` when there is more than one. Every sample's randomness
comes from its own key, so the results do not depend on the chunk size or the number of
devices.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from return_landscapes.envs.brax import DEFAULT_GAMMA, DEFAULT_HORIZON, EpisodeStats
from return_landscapes.errors import LandscapeError

PolicyApply = Callable[[Any, jax.Array], jax.Array]
"""``policy_apply(params, observation) -> action`` of the deterministic policy."""

CPU_MEMORY_BUDGET = 2 * 1024**3  # bytes a chunk may use on a CPU (no device limit)
GPU_MEMORY_FRACTION = 0.5  # of the accelerator's memory a chunk may use
MAX_CHUNK = 4096


class EvaluationSetup(NamedTuple):
    """What an evaluation episode is: env, policy, horizon, discount, action noise.

    ``action_noise`` (static) adds Gaussian noise of std ``action_noise_std`` (a call
    argument) to every action before clipping to [-1, 1].
    """

    env: Any
    policy_apply: PolicyApply
    horizon: int = DEFAULT_HORIZON
    gamma: float = DEFAULT_GAMMA
    action_noise: bool = False


def episodes(
    setup: EvaluationSetup,
    params,
    episode_keys: jax.Array,
    action_noise_std: jax.Array | float = 0.0,
) -> EpisodeStats:
    """One episode per parameter set; pure, to be jitted by the caller.

    Args:
      setup: the evaluation episode definition.
      params: actor parameters with a leading batch axis ``(K, ...)``.
      episode_keys: ``(K,)`` keys: start state and action noise of each episode.
      action_noise_std: std of the action noise when ``setup.action_noise``.

    Returns:
      ``EpisodeStats`` with fields shaped ``(K,)``.
    """
    env = setup.env
    reset_keys, noise_keys = jax.vmap(jax.random.split, out_axes=1)(episode_keys)
    states = jax.vmap(env.reset)(reset_keys)
    act = jax.vmap(setup.policy_apply)
    count = episode_keys.shape[0]

    def noisy(actions, t):
        step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(noise_keys, t)
        noise = jax.vmap(lambda k: jax.random.normal(k, actions.shape[1:]))(step_keys)
        return jnp.clip(actions + action_noise_std * noise, -1.0, 1.0)

    def step(carry):
        t, states, alive, total, discounted, discount, length = carry
        actions = act(params, states.obs)
        if setup.action_noise:
            actions = noisy(actions, t)
        states = jax.vmap(env.step)(states, actions)
        reward = jnp.where(alive, states.reward, 0.0)
        return (
            t + 1,
            states,
            alive & (states.done == 0),
            total + reward,
            discounted + discount * reward,
            discount * setup.gamma,
            length + alive.astype(jnp.int32),
        )

    def running(carry):
        t, alive = carry[0], carry[2]
        return (t < setup.horizon) & jnp.any(alive)

    zeros = jnp.zeros((count,), jnp.float32)
    init = (
        jnp.zeros((), jnp.int32),
        states,
        jnp.ones((count,), bool),
        zeros,
        zeros,
        jnp.ones((count,), jnp.float32),
        jnp.zeros((count,), jnp.int32),
    )
    _, _, _, total, discounted, _, length = jax.lax.while_loop(running, step, init)
    return EpisodeStats(total, discounted, length)


# ---------------------------------------------------------------------------- chunks


def device_count() -> int:
    return jax.device_count()


def _mesh() -> Mesh:
    return Mesh(np.array(jax.devices()), ("samples",))


def shard_batch(tree):
    """Place a batch (leading axis K, a multiple of the device count) on the devices."""
    if device_count() == 1:
        return jax.device_put(tree)
    sharding = NamedSharding(_mesh(), PartitionSpec("samples"))
    return jax.device_put(tree, sharding)


def replicate(tree):
    """Place arrays shared by every sample on every device."""
    if device_count() == 1:
        return jax.device_put(tree)
    return jax.device_put(tree, NamedSharding(_mesh(), PartitionSpec()))


def _pad_rows(tree, rows: int):
    """Pad the leading axis to ``rows`` by repeating the last row."""

    def pad(x):
        x = np.asarray(x)
        missing = rows - x.shape[0]
        if missing == 0:
            return x
        return np.concatenate([x, np.repeat(x[-1:], missing, axis=0)])

    return jax.tree.map(pad, tree)


def _rows(tree, start: int, stop: int):
    return jax.tree.map(lambda x: x[start:stop], tree)


def round_chunk(chunk: int) -> int:
    """Round a chunk size up to a multiple of the device count."""
    devices = device_count()
    return max(devices, math.ceil(chunk / devices) * devices)


def memory_budget() -> int:
    """Bytes one chunk's compiled program may use on the default device."""
    override = os.environ.get("LANDSCAPE_CHUNK_MEMORY")
    if override:
        return int(float(override))
    device = jax.devices()[0]
    if device.platform == "cpu":
        return CPU_MEMORY_BUDGET
    stats = device.memory_stats() or {}
    limit = stats.get("bytes_limit")
    return int(GPU_MEMORY_FRACTION * limit) if limit else CPU_MEMORY_BUDGET


def program_bytes(compiled) -> int:
    """Arguments, outputs and temporaries of a compiled XLA program (per device)."""
    analysis = compiled.memory_analysis()
    if analysis is None:
        return 0
    return int(
        analysis.argument_size_in_bytes
        + analysis.output_size_in_bytes
        + analysis.temp_size_in_bytes
        - analysis.alias_size_in_bytes
    )


class ChunkPlan(NamedTuple):
    """The chunk size and the compiled per-chunk stages for it."""

    chunk: int
    stages: tuple  # compiled functions, applied in order to each chunk


def plan_chunks(
    stages: tuple[Callable, ...],
    shared: tuple,
    example_rows,
    total: int,
    chunk: int | None = None,
) -> ChunkPlan:
    """Compile the per-chunk pipeline and choose the chunk size.

    Args:
      stages: jitted functions; stage ``i`` is called as ``stage(shared[i], x)`` where
        ``x`` is the chunk of batch inputs for the first stage and the previous stage's
        output after that.
      shared: one argument per stage that every sample shares (replicated).
      example_rows: the batch inputs (leading axis ``total``), for shapes.
      total: the number of samples K.
      chunk: a fixed chunk size, or ``None`` to fit the memory budget.

    Returns:
      A ``ChunkPlan``; with ``chunk=None`` the largest size up to ``min(total,
      MAX_CHUNK)`` whose every stage fits ``memory_budget()``, halving as needed.
    """
    if chunk is not None and chunk < 1:
        raise LandscapeError(f"chunk={chunk} must be at least 1 (or unset for auto)")
    size = round_chunk(chunk or min(total, MAX_CHUNK))
    budget = memory_budget()
    while True:
        compiled = _compile_stages(stages, shared, example_rows, size)
        used = max(program_bytes(c) for c in compiled)
        if chunk is not None or used <= budget or size <= device_count():
            return ChunkPlan(size, compiled)
        size = round_chunk(max(1, size * budget // (2 * used)))


def _compile_stages(stages, shared, example_rows, size):
    sharding = None
    if device_count() > 1:
        sharding = NamedSharding(_mesh(), PartitionSpec("samples"))
    rows = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(
            (size, *np.shape(x)[1:]), np.asarray(x).dtype, sharding=sharding
        ),
        example_rows,
    )
    compiled = []
    for stage, argument in zip(stages, shared, strict=True):
        executable = stage.lower(replicate(argument), rows).compile()
        compiled.append(executable)
        rows = jax.tree.map(
            lambda s, out_sharding: jax.ShapeDtypeStruct(
                s.shape, s.dtype, sharding=out_sharding if sharding else None
            ),
            jax.eval_shape(stage, argument, rows),
            executable.output_shardings,
        )
    return tuple(compiled)


def run_chunks(
    plan: ChunkPlan,
    shared: tuple,
    rows,
    on_chunk: Callable[[int], None] | None = None,
):
    """Apply the plan's stages to ``rows`` chunk by chunk; numpy outputs ``(K, ...)``.

    The last chunk is padded by repeating its last row; the padding is dropped.
    """
    total = jax.tree.leaves(rows)[0].shape[0]
    shared = tuple(replicate(s) for s in shared)
    outputs = []
    for start in range(0, total, plan.chunk):
        stop = min(start + plan.chunk, total)
        x = shard_batch(_pad_rows(_rows(rows, start, stop), plan.chunk))
        for stage, argument in zip(plan.stages, shared, strict=True):
            x = stage(argument, x)
        outputs.append(jax.tree.map(lambda a, n=stop - start: np.asarray(a)[:n], x))
        if on_chunk is not None:
            on_chunk(stop - start)
    return jax.tree.map(lambda *parts: np.concatenate(parts), *outputs)


def make_episode_stage(setup: EvaluationSetup):
    """The jitted evaluation stage: ``stage(noise_std, (params, keys)) -> stats``."""

    def stage(action_noise_std, batch):
        params, episode_keys = batch
        return episodes(setup, params, episode_keys, action_noise_std)

    return jax.jit(stage)


def evaluate_parameter_sets(
    setup: EvaluationSetup,
    params,
    episode_keys: jax.Array,
    action_noise_std: float = 0.0,
    chunk: int | None = None,
) -> EpisodeStats:
    """Evaluate K parameter sets, one episode each, in chunks; numpy ``(K,)`` fields.

    Args:
      setup: the evaluation episode definition.
      params: actor parameters stacked on a leading axis ``(K, ...)``.
      episode_keys: ``(K,)`` keys, one per episode.
      action_noise_std: std of the action noise when ``setup.action_noise``.
      chunk: parameter sets per compiled call; ``None`` fits the memory budget.
    """
    stage = make_episode_stage(setup)
    noise = jnp.asarray(action_noise_std, jnp.float32)
    rows = (params, episode_keys)
    total = episode_keys.shape[0]
    plan = plan_chunks((stage,), (noise,), rows, total, chunk)
    return EpisodeStats(*run_chunks(plan, (noise,), rows))
