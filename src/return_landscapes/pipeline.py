"""The chunk pipeline: stages applied to K rows in chunks, on every device.

Every landscape experiment (PURD, interpolation, rejection, surfaces) and the Atari
trainer's evaluation hand a batch of K rows (parameter sets and their keys) to a
chain of stages: jitted functions, or ``HostStage``s that step envs on the host.
``plan_chunks`` compiles the chain once per chunk shape and chooses the chunk size
from XLA's own memory analysis (or takes it); ``run_chunks`` applies it chunk by
chunk, each chunk split over ``jax.devices()``. On the CPU every row's perturbation
(``group_map``) and episode (``group_batches``) is computed by the program of one
group of ``GROUP`` rows whatever the chunk size, device count or lane count, so the
results depend on none of them, under AVX2 and AVX-512 code alike
(``tests/test_invariants.py``).
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
from concurrent.futures import ThreadPoolExecutor
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
# A chunk is split into equal slices, "lanes", each computed at the same time by the
# same compiled single-device program:
#
# * Several devices: one lane per device (placed with jax.sharding's
#   SingleDeviceSharding; dispatch is asynchronous, so the devices run at once). An
#   SPMD program (shard_map) would be the other way; on the CPU its last bits differed
#   from the single-device program's now and then, and the numbers must not depend on
#   the device count.
# * One CPU device: one lane per usable core, each called from its own thread. A group
#   of 8 episodes is too small for XLA to spread over the cores, so one call keeps one
#   core busy; the lanes keep them all busy (benchmarks/purd_throughput.py). Each lane
#   runs whole groups, so the lane count changes no result.

GROUP = 8  # every lane's slice is whole groups of this many samples
LANES_VARIABLE = "LANDSCAPE_CPU_LANES"  # overrides the number of CPU lanes


def devices() -> list:
    return jax.devices()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as SLURM sets it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def cpu_lanes() -> int:
    """Threads that compute a chunk's slices at once on a single CPU device: one per
    usable core, or ``LANDSCAPE_CPU_LANES``."""
    override = os.environ.get(LANES_VARIABLE)
    if not override:
        return usable_cores()
    if not override.isdigit() or int(override) < 1:
        raise LandscapeError(
            f"{LANES_VARIABLE}={override!r} is not a number of lanes: set it to 1 or "
            "more, or unset it to use one lane per usable core"
        )
    return int(override)


def lane_count(stages) -> int:
    """Lanes a chunk of these stages is split into: one per device, or one per core
    on a single CPU device. Stages that step envs on the host keep one lane per
    device: their envs are not shared between threads."""
    count = len(devices())
    if count > 1 or not on_cpu() or any(isinstance(s, HostStage) for s in stages):
        return count
    return cpu_lanes()


def round_chunk(chunk: int, lanes: int | None = None) -> int:
    """Round a chunk size up to whole groups of ``GROUP`` samples per lane
    (``lanes``; by default one lane per device).

    XLA's CPU code for a batch axis depends on its length modulo the vector width
    (and drops a length-1 axis altogether), which can change floating-point results
    in the last bit. Whole groups of 8, together with ``group_map`` for stages whose
    per-sample work contracts over the batch, keep every sample's numbers independent
    of the chunk size, the device count and the lane count.
    """
    per_lane = GROUP * (lanes or len(devices()))
    return max(per_lane, math.ceil(chunk / per_lane) * per_lane)


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


def host_groups(fn: Callable, *batched):
    """``fn(*batched)`` for a jitted, batched ``fn``; on the CPU one call per group
    of 8 rows (the last group padded), outputs as numpy.

    For host stages, which call jitted pieces from a host loop: every row then goes
    through the program of one group whatever the batch length. ``group_map``
    inside one program does not promise that for a batch of one group, whose loop
    XLA compiles away (a ``ppo`` update's last bits then changed between chunks of
    8 and 24).
    """
    if not on_cpu():
        return jax.device_get(fn(*batched))
    count = jax.tree.leaves(batched)[0].shape[0]
    outputs = []
    for start in range(0, count, GROUP):
        group = jax.tree.map(lambda x, s=start: x[s : s + GROUP], batched)
        size = jax.tree.leaves(group)[0].shape[0]
        out = jax.device_get(fn(*_pad_rows(group, GROUP)))
        outputs.append(jax.tree.map(lambda x, n=size: np.asarray(x)[:n], out))
    return jax.tree.map(lambda *x: np.concatenate(x), *outputs)


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
    """Bytes one chunk's compiled programs may use on one device (all its lanes)."""
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
    """The chunk size and, per lane, the compiled per-chunk stages."""

    chunk: int  # samples per chunk, over all lanes
    stages: list[tuple]  # stages[i]: the compiled stages of lane i
    threads: bool = False  # the lanes share one CPU device, each called from a thread

    def lane_devices(self) -> list:
        """The device each lane runs on."""
        if self.threads:
            return [devices()[0]] * len(self.stages)
        return devices()[: len(self.stages)]


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
      max_chunk())`` whose lanes together fit ``memory_budget()`` on a device,
      shrinking as needed (chunk sizes are rounded by ``round_chunk`` to whole groups
      per lane, ``lane_count``).
    """
    if chunk is not None and chunk < 1:
        raise LandscapeError(f"chunk={chunk} must be at least 1 (or unset for auto)")
    lanes = lane_count(stages)
    threads = lanes > len(devices())  # the lanes share device 0
    per_device = lanes if threads else 1
    size = round_chunk(chunk or min(total, max_chunk()), lanes)
    budget = memory_budget()
    while True:
        first = _compile_stages(stages, shared, example_rows, size // lanes, 0)
        used = per_device * max(program_bytes(c) for c in first)
        if chunk is not None or used <= budget or size <= GROUP * lanes:
            if threads:
                return ChunkPlan(size, [first] * lanes, threads=True)
            rest = [
                _compile_stages(stages, shared, example_rows, size // lanes, d)
                for d in range(1, lanes)
            ]
            return ChunkPlan(size, [first, *rest])
        size = round_chunk(max(1, size * budget // (2 * used)), lanes)


def _compile_stages(stages, shared, example_rows, size: int, device: int):
    placement = jax.sharding.make_single_device_sharding(devices()[device])
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

    The last chunk is padded by repeating its last row; the padding is dropped (and
    a lane with nothing but padding is not run).
    """
    total = jax.tree.leaves(rows)[0].shape[0]
    lanes = len(plan.stages)
    per_lane = plan.chunk // lanes
    lane_devices = plan.lane_devices()
    placed = {device: jax.device_put(shared, device) for device in set(lane_devices)}

    def run_lane(lane: int, lane_rows):
        x = jax.device_put(lane_rows, lane_devices[lane])
        for stage, argument in zip(
            plan.stages[lane], placed[lane_devices[lane]], strict=True
        ):
            x = stage(argument, x)
        return x  # dispatched: several devices compute at once

    def on_host(lane: int, lane_rows):
        return jax.tree.map(np.asarray, run_lane(lane, lane_rows))

    outputs = []
    with ThreadPoolExecutor(lanes if plan.threads else 1) as pool:
        for start in range(0, total, plan.chunk):
            stop = min(start + plan.chunk, total)
            busy = math.ceil((stop - start) / per_lane)  # lanes with real rows
            chunk_rows = _pad_rows(_rows(rows, start, stop), busy * per_lane)
            parts = [
                _rows(chunk_rows, lane * per_lane, (lane + 1) * per_lane)
                for lane in range(busy)
            ]
            if plan.threads:  # each call keeps its thread's core busy
                slices = list(pool.map(on_host, range(busy), parts))
            else:
                slices = [run_lane(lane, part) for lane, part in enumerate(parts)]
            merged = jax.tree.map(
                lambda *parts: np.concatenate([np.asarray(p) for p in parts]), *slices
            )
            outputs.append(jax.tree.map(lambda a, n=stop - start: a[:n], merged))
            if on_chunk is not None:
                on_chunk(stop - start)
    return jax.tree.map(lambda *parts: np.concatenate(parts), *outputs)
