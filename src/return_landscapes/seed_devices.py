"""Training seeds over several devices: each device runs the one-device program.

The seed axis of the training state (and of its keys and metrics) is split into equal
slices, one per device; every device runs the same single-device jitted program on
its slice (dispatch is asynchronous, so the devices compute at once), and the slices
are joined into global arrays sharded over the seed axis (``jax.sharding``), which
the rest of the code reads like any array (checkpoints gather them on the host).

Why not one SPMD program: on the CPU its last bits differ from the one-device
program's, and training must give the same numbers on any number of devices. With
this split a seed's numbers equal the one-device run's whenever every device holds a
multiple of 8 seeds (XLA's CPU code for a batch axis depends on its length modulo the
vector width), and under jax 0.12 at least 16 (8 per device gave other last bits; 16
and 24 the one-device numbers); the test checks 32 seeds on 2 forced host devices.

The seeds are split over the largest number of devices that divides them; one device
(or one seed, or a call being traced) runs the function unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import numpy as np

AXIS = "seeds"


def devices_for(num_seeds: int) -> list:
    """The devices ``num_seeds`` seeds are split over: as many as divide them."""
    available = jax.devices()
    count = len(available)
    while num_seeds % count:
        count -= 1
    return available[:count]


def seed_sharding(devices: list) -> jax.sharding.NamedSharding:
    """Leading (seed) axis split over ``devices``, everything else whole."""
    mesh = jax.sharding.Mesh(np.array(devices), (AXIS,))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(AXIS))


def place(tree, devices: list):
    """``tree`` (leading seed axis on every leaf) sharded over ``devices``."""
    return jax.device_put(tree, seed_sharding(devices))


def local_slices(tree, devices: list) -> list:
    """Per device, the tree of its single-device arrays (its slice of the seeds)."""
    tree = place(tree, devices)
    leaves, treedef = jax.tree.flatten(tree)
    by_device = [{s.device: s.data for s in leaf.addressable_shards} for leaf in leaves]
    return [
        treedef.unflatten([shards[device] for shards in by_device])
        for device in devices
    ]


def join(slices: list, devices: list):
    """Global arrays sharded over the seed axis from per-device outputs."""
    sharding = seed_sharding(devices)

    def one(*parts):
        shape = (sum(p.shape[0] for p in parts), *parts[0].shape[1:])
        return jax.make_array_from_single_device_arrays(shape, sharding, list(parts))

    return jax.tree.map(one, *slices)


def split_seeds(fn: Callable, num_split: int = 1) -> Callable:
    """``fn`` run per device on slices of its first ``num_split`` arguments.

    The first ``num_split`` arguments (and every output) have the seed axis first;
    the remaining arguments are passed to every device's call unchanged.
    """

    @functools.wraps(fn)
    def run(*args):
        split, shared = args[:num_split], args[num_split:]
        leaves = jax.tree.leaves(split)
        devices = devices_for(leaves[0].shape[0])
        traced = any(isinstance(leaf, jax.core.Tracer) for leaf in leaves)
        if len(devices) == 1 or traced:  # traced: inside jit or eval_shape
            return fn(*args)
        outputs = []
        for part in local_slices(tuple(split), devices):
            outputs.append(fn(*part, *shared))  # dispatched: the devices run at once
        return join(outputs, devices)

    return run
