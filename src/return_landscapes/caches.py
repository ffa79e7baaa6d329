"""The one registry of compiled-program caches, and dropping them all.

The landscape commands keep their engines, stages and trainers (and the compiled
programs inside them) for the life of the process, so a second command on the same
run compiles nothing. Every such cache is a ``compiled_cache(name)``: a dict the
registry knows, keyed by what the programs were built from (a run's identity and a
setup), never by ``id()`` of an object that can be freed and its address reused.
Programs that belong to one engine live on the engine itself
(``Engine.programs``), so they go when the engine goes.

Each compiled XLA CPU program holds memory mappings; a process that runs many
different setups (a test suite, a notebook sweeping envs) can reach the kernel's
``vm.max_map_count`` (65,530 by default), and XLA then crashes inside its compiler.
``jax.clear_caches()`` alone frees none of these programs: they are referenced from
the caches here. ``drop_compiled_programs()`` clears every registered cache, then
JAX's own; ``drop_if_near_mapping_limit()`` does so only when the process holds more
than a fraction of the mappings it may.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

_CACHES: dict[str, dict[Any, Any]] = {}

MAX_MAP_COUNT = Path("/proc/sys/vm/max_map_count")
OWN_MAPS = Path("/proc/self/maps")
DEFAULT_MAP_COUNT = 65_530  # the kernel's default vm.max_map_count


def compiled_cache(name: str) -> dict[Any, Any]:
    """The registered cache ``name`` (made on first use): a dict whose values hold
    compiled programs, emptied by ``drop_compiled_programs``."""
    return _CACHES.setdefault(name, {})


def registered_caches() -> dict[str, dict[Any, Any]]:
    """Every registered cache by name (the dicts themselves)."""
    return dict(_CACHES)


def drop_compiled_programs() -> None:
    """Forget every cached engine, stage and trainer, then JAX's own caches."""
    import jax

    for cache in _CACHES.values():
        cache.clear()
    jax.clear_caches()
    gc.collect()


def mapping_count() -> int:
    """The memory mappings this process holds (0 where ``/proc`` has none)."""
    try:
        with OWN_MAPS.open("rb") as maps:
            return sum(1 for _ in maps)
    except OSError:
        return 0


def mapping_limit() -> int:
    """The most memory mappings a process may hold (``vm.max_map_count``)."""
    try:
        return int(MAX_MAP_COUNT.read_text())
    except (OSError, ValueError):
        return DEFAULT_MAP_COUNT


def drop_if_near_mapping_limit(fraction: float = 0.5) -> bool:
    """``drop_compiled_programs()`` when this process holds more than ``fraction``
    of the mappings it may; returns whether it dropped them."""
    if mapping_count() <= fraction * mapping_limit():
        return False
    drop_compiled_programs()
    return True
