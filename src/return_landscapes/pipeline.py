"""The chunk pipeline: stages applied to K rows in chunks, on every device.

Every landscape experiment (PURD, interpolation, rejection, surfaces) and the Atari
trainer's evaluation hand a batch of K rows (parameter sets and their keys) to a
chain of stages: jitted functions, or ``HostStage``s that step envs on the host.
``plan_chunks`` compiles the chain once per chunk shape and chooses the chunk size
from XLA's own memory analysis (or takes it); ``run_chunks`` applies it chunk by
chunk, each chunk split over ``jax.devices()``. On the CPU every row's perturbation
(``group_map``) and episode (``group_batches``) is computed by the program of one
group of ``GROUP`` rows whatever the chunk size or device count, so the results
depend on neither, under AVX2 and AVX-512 code alike (``tests/test_invariants.py``).
Without the groups, XLA's code for a batch depends on its length: under the
``positional`` backend 16 of 24 paper-size hopper samples changed between chunks of
8 and 24.

On a GPU they depend on the chunk size, and no result is bit-repeatable: on an H200
(``benchmarks/gpu_suite.py``, jax 0.11.2) the ``td3`` perturbation gave the same
parameters in chunks of 1,024 and 4,096, but the episode stage did not, and the same
compiled episode stage run twice on the same inputs gave other returns for 1,793 of
4,096 hopper and all 4,096 halfcheetah samples (chaotic episodes amplify last-bit
differences, such as those of sums accumulated in a varying order). So groups of 8
would buy nothing there: stages run vmapped over the whole chunk (20 times faster
for that perturbation), and chunks go up to ``MAX_CHUNK_ACCELERATOR``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from return_landscapes.errors import LandscapeError

CPU_MEMORY_BUDGET = 2 * 1024**3  # bytes a chunk may use on a CPU (no device limit)
GPU_MEMORY_FRACTION = 0.5  # of the accelerator's memory a chunk may use
MAX_CHUNK = 4096  # samples per chunk on the CPU
# On an accelerator: one chunk of 16,384 ran 1.5-1.7 times faster than four of 4,096
# (td3 PURDs of 1000-step episodes on an H200, benchmarks/gpu_suite.py)
MAX_CHUNK_ACCELERATOR = 65536


class HostStage:
    """A pipeline stage that steps host envs (envpool) around jitted pieces.

    ``plan_chunks`` and ``run_chunks`` take it where they take a jitted stage: it is
    called as ``stage(shared, rows)`` on one chunk and returns numpy outputs shaped
    like ``output_shape(shared, rows)``; ``bytes_per_row`` sizes the chunk against
    the memory budget. Its envs are built on the first call.
    """

    def __call__(self, shared, rows):
        raise NotImplementedError

    def output_shape(self, shared, rows):
        raise NotImplementedError

    def bytes_per_row(self, shared, rows) -> int:
        raise NotImplementedError


class MemoryEstimate(NamedTuple):
    """A host stage's memory in the fields of XLA's memory analysis."""

    argument_size_in_bytes: int
    output_size_in_bytes: int = 0
    temp_size_in_bytes: int = 0
    alias_size_in_bytes: int = 0


class BoundHostStage(NamedTuple):
    """A host stage bound to one chunk shape, standing in for a compiled program."""

    stage: HostStage
    bytes_needed: int

    def __call__(self, shared, rows):
        return self.stage(shared, rows)

    def memory_analysis(self) -> MemoryEstimate:
        return MemoryEstimate(self.bytes_needed)


# ---------------------------------------------------------------------------- chunks
#
# Several devices: a chunk is split into equal slices, one per device, and every device
# runs the same single-device program on its slice (placed with jax.sharding's
# SingleDeviceSharding; dispatch is asynchronous, so the devices run at once). An SPMD
# program (shard_map) would be the other way; on the CPU its last bits differed from
# the single-device program's now and then, and the numbers must not depend on the
# device count.

GROUP = 8  # every device's slice is whole groups of this many samples


def devices() -> list:
    return jax.devices()


def round_chunk(chunk: int) -> int:
    """Round a chunk size up to whole groups of ``GROUP`` samples per device.

    XLA's CPU code for a batch axis depends on its length modulo the vector width
    (and drops a length-1 axis altogether), which can change floating-point results
    in the last bit. Whole groups of 8, together with ``group_map`` for stages whose
    per-sample work contracts over the batch, keep every sample's numbers independent
    of the chunk size and the device count.
    """
    per_device = GROUP * len(devices())
    return max(per_device, math.ceil(chunk / per_device) * per_device)


def on_cpu() -> bool:
    """Whether the chunks run on the CPU (where groups of 8 keep results fixed)."""
    return devices()[0].platform == "cpu"


def max_chunk() -> int:
    """The largest chunk ``plan_chunks`` chooses by itself on these devices."""
    return MAX_CHUNK if on_cpu() else MAX_CHUNK_ACCELERATOR


def group_map(fn: Callable, *batched):
    """``vmap(fn)`` over the leading axis; on the CPU a loop over groups of 8.

    On a GPU the groups would not make results repeatable (see the module
    docstring) and run one after another: a ``td3`` perturbation of 4,096 samples
    took 0.31 s in groups and 0.016 s vmapped on an H200.
    """
    if on_cpu():
        return jax.lax.map(lambda xs: fn(*xs), batched, batch_size=GROUP)
    return jax.vmap(fn)(*batched)


def group_batches(fn: Callable, *batched):
    """``fn(*batched)`` for a batched ``fn``; on the CPU, one group of 8 at a time.

    For stages whose code works on the whole batch at once (Brax physics steps K
    envs together): XLA's CPU code for them depends on the batch length, and under
    the ``positional`` backend a sample's return then changed with the chunk size
    (AVX2 and AVX-512 code alike). Run group by group, every sample goes through the
    program of one group whatever the chunk size or device count. A batch that is
    not whole groups runs whole.
    """
    count = jax.tree.leaves(batched)[0].shape[0]
    if not on_cpu() or count % GROUP:
        return fn(*batched)
    groups = jax.tree.map(
        lambda x: x.reshape(count // GROUP, GROUP, *x.shape[1:]), batched
    )
    out = jax.lax.map(lambda group: fn(*group), groups)
    return jax.tree.map(lambda x: x.reshape(count, *x.shape[2:]), out)


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


def memory_budget() -> int:
    """Bytes one chunk's compiled program may use on one device."""
    override = os.environ.get("LANDSCAPE_CHUNK_MEMORY")
    if override:
        return int(float(override))
    device = devices()[0]
    if device.platform == "cpu":
        return CPU_MEMORY_BUDGET
    stats = device.memory_stats() or {}
    limit = stats.get("bytes_limit")
    return int(GPU_MEMORY_FRACTION * limit) if limit else CPU_MEMORY_BUDGET


def program_bytes(compiled) -> int:
    """Arguments, outputs and temporaries of a compiled XLA program."""
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
    """The chunk size and, per device, the compiled per-chunk stages."""

    chunk: int  # samples per chunk, over all devices
    stages: list[tuple]  # stages[d]: the compiled stages for device d


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
        output after that. Every stage must work sample by sample.
      shared: one argument per stage that every sample shares.
      example_rows: the batch inputs (leading axis ``total``), for shapes.
      total: the number of samples K.
      chunk: a fixed chunk size, or ``None`` to fit the memory budget.

    Returns:
      A ``ChunkPlan``; with ``chunk=None`` the largest size up to ``min(total,
      max_chunk())`` whose every stage fits ``memory_budget()`` on a device, shrinking
      as needed (chunk sizes are rounded by ``round_chunk``).
    """
    if chunk is not None and chunk < 1:
        raise LandscapeError(f"chunk={chunk} must be at least 1 (or unset for auto)")
    size = round_chunk(chunk or min(total, max_chunk()))
    budget = memory_budget()
    count = len(devices())
    while True:
        first = _compile_stages(stages, shared, example_rows, size // count, 0)
        used = max(program_bytes(c) for c in first)
        if chunk is not None or used <= budget or size <= GROUP * count:
            rest = [
                _compile_stages(stages, shared, example_rows, size // count, d)
                for d in range(1, count)
            ]
            return ChunkPlan(size, [first, *rest])
        size = round_chunk(max(1, size * budget // (2 * used)))


def _compile_stages(stages, shared, example_rows, size: int, device: int):
    placement = jax.sharding.SingleDeviceSharding(devices()[device])
    rows = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(
            (size, *np.shape(x)[1:]), np.asarray(x).dtype, sharding=placement
        ),
        example_rows,
    )
    compiled = []
    for stage, argument in zip(stages, shared, strict=True):
        argument = jax.device_put(argument, placement)
        if isinstance(stage, HostStage):
            compiled.append(
                BoundHostStage(stage, size * stage.bytes_per_row(argument, rows))
            )
            shapes = stage.output_shape(argument, rows)
        else:
            compiled.append(stage.lower(argument, rows).compile())
            shapes = jax.eval_shape(stage, argument, rows)
        rows = jax.tree.map(
            lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=placement),
            shapes,
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
    count = len(plan.stages)
    per_device = plan.chunk // count
    placed = [jax.device_put(shared, device) for device in devices()[:count]]
    outputs = []
    for start in range(0, total, plan.chunk):
        stop = min(start + plan.chunk, total)
        chunk_rows = _pad_rows(_rows(rows, start, stop), plan.chunk)
        slices = []
        for d, (device, compiled) in enumerate(
            zip(devices(), plan.stages, strict=False)
        ):
            x = jax.device_put(
                _rows(chunk_rows, d * per_device, (d + 1) * per_device), device
            )
            for stage, argument in zip(compiled, placed[d], strict=True):
                x = stage(argument, x)
            slices.append(x)  # dispatched: the devices compute at once
        merged = jax.tree.map(
            lambda *parts: np.concatenate([np.asarray(p) for p in parts]), *slices
        )
        outputs.append(jax.tree.map(lambda a, n=stop - start: a[:n], merged))
        if on_chunk is not None:
            on_chunk(stop - start)
    return jax.tree.map(lambda *parts: np.concatenate(parts), *outputs)
