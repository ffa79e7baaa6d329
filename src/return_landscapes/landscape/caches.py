"""Drop every compiled program this process holds, for long-lived processes.

The landscape commands keep their engines, stages and trainers (and the compiled
programs inside them) for the life of the process, so a second command on the same
run compiles nothing. Each compiled XLA CPU program holds memory mappings; a process
that runs many different setups (a test suite, a notebook sweeping envs) can reach
the kernel's ``vm.max_map_count`` (65,530 by default), and XLA then crashes inside
its compiler. ``jax.clear_caches()`` alone frees none of these programs: they are
referenced from the caches here.
"""

from __future__ import annotations

import gc

import jax


def drop_compiled_programs() -> None:
    """Forget the cached engines, stages and trainers, then JAX's own caches."""
    from return_landscapes.landscape import engine, interpolate, surface
    from return_landscapes.training import trainers

    for cache in (
        engine._ENGINES,
        interpolate._STAGES,
        surface._STAGES,
        trainers._TRAINERS,
        trainers._PARTS,
    ):
        cache.clear()
    jax.clear_caches()
    gc.collect()
