"""The registry of compiled-program caches: dropping it frees every program, and no
engine is handed the programs of another (an engine freed and its address reused)."""

from __future__ import annotations

import gc
import weakref

import pytest

from return_landscapes import caches
from return_landscapes.landscape.experiments import interpolate
from return_landscapes.landscape.grid import directions, plane
from return_landscapes.landscape.hotpath.engine import Engine
from return_landscapes.landscape.perturb import get_perturbation
from return_landscapes.training.state import TrainingParts

pytestmark = pytest.mark.unit


class ParamsAgent:
    """An agent whose state is its actor's parameters (nothing is compiled until a
    program runs)."""

    def actor_params(self, state):
        return state


def fake_engine(perturb: str) -> Engine:
    return Engine(
        None,
        TrainingParts(None, ParamsAgent(), None),
        get_perturbation(perturb),
        None,
        None,
        None,
        {},
    )


def test_a_new_engine_never_gets_the_update_steps_of_a_dropped_one(monkeypatch):
    """Two engines at one address, as a freed engine's address is reused after
    ``drop_compiled_programs``: each gets the steps of its own agent."""
    monkeypatch.setattr(directions, "id", lambda engine: 1, raising=False)
    first = fake_engine("td3")
    first_steps = directions.update_steps(first)
    assert directions.update_steps(first) is first_steps  # built once per engine
    caches.drop_compiled_programs()
    second = fake_engine("sac")
    assert directions.update_steps(second) is not first_steps


def test_dropping_compiled_programs_frees_every_program_of_an_engine():
    engine = fake_engine("td3")
    programs = [
        directions.update_steps(engine),
        interpolate.path_stages(engine),
        plane.surface_stages(engine),
    ]
    alive = [weakref.ref(p) for p in [programs[0], *programs[1], *programs[2]]]
    del engine, programs
    caches.drop_compiled_programs()
    gc.collect()
    assert [ref() for ref in alive] == [None] * len(alive)


def test_the_drop_empties_every_registered_cache():
    cache = caches.compiled_cache("a test's programs")
    assert caches.compiled_cache("a test's programs") is cache
    cache["setup"] = object()
    assert caches.registered_caches()["a test's programs"] == {"setup": cache["setup"]}
    caches.drop_compiled_programs()
    assert not any(caches.registered_caches().values())


def test_programs_are_dropped_only_near_the_mapping_limit(monkeypatch):
    cache = caches.compiled_cache("a test's programs")
    monkeypatch.setattr(caches, "mapping_limit", lambda: 1000)
    monkeypatch.setattr(caches, "mapping_count", lambda: 400)
    cache["setup"] = 1
    assert not caches.drop_if_near_mapping_limit(0.5) and cache
    monkeypatch.setattr(caches, "mapping_count", lambda: 600)
    assert caches.drop_if_near_mapping_limit(0.5) and not cache


def test_the_mapping_count_reads_this_process():
    assert caches.mapping_count() > 0
    assert caches.mapping_limit() >= caches.mapping_count()
