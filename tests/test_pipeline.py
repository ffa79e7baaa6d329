"""The chunk pipeline's choices per platform: groups of 8 on the CPU, vmap elsewhere;
lanes: one per device, or one thread per core on a single CPU device."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes import pipeline
from return_landscapes.errors import LandscapeError


def fake_devices(monkeypatch, platform: str, count: int = 1) -> None:
    devices = [SimpleNamespace(platform=platform) for _ in range(count)]
    monkeypatch.setattr(pipeline, "devices", lambda: devices)


def sample_fn(x, w):
    """Per-sample work that contracts over a row (as a minibatch gradient does)."""
    return jnp.tanh(x @ w).sum() + x[0]


def primitives(fn, *args) -> set[str]:
    return {eqn.primitive.name for eqn in jax.make_jaxpr(fn)(*args).eqns}


@pytest.mark.unit
def test_round_chunk_gives_every_device_whole_groups_of_eight(monkeypatch):
    fake_devices(monkeypatch, "cpu", count=2)
    assert [pipeline.round_chunk(n) for n in (1, 16, 17, 33)] == [16, 16, 32, 48]
    fake_devices(monkeypatch, "cpu", count=1)
    assert [pipeline.round_chunk(n) for n in (1, 8, 9, 1000)] == [8, 8, 16, 1000]


@pytest.mark.unit
def test_round_chunk_gives_every_lane_whole_groups_of_eight(monkeypatch):
    fake_devices(monkeypatch, "cpu", count=1)
    assert [pipeline.round_chunk(n, 3) for n in (1, 24, 25)] == [24, 24, 48]


@pytest.mark.unit
def test_a_single_cpu_device_gets_a_lane_per_core_and_other_devices_one_each(
    monkeypatch,
):
    monkeypatch.delenv(pipeline.LANES_VARIABLE, raising=False)
    monkeypatch.setattr(pipeline, "usable_cores", lambda: 6)
    fake_devices(monkeypatch, "cpu", count=1)
    assert pipeline.lane_count(()) == 6
    assert pipeline.lane_count((pipeline.HostStage(),)) == 1  # envs on the host
    monkeypatch.setenv(pipeline.LANES_VARIABLE, "3")
    assert pipeline.lane_count(()) == 3
    fake_devices(monkeypatch, "cpu", count=2)
    assert pipeline.lane_count(()) == 2
    fake_devices(monkeypatch, "gpu", count=1)
    assert pipeline.lane_count(()) == 1


@pytest.mark.unit
@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_lane_count_is_one_error_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(pipeline.LANES_VARIABLE, value)
    with pytest.raises(LandscapeError, match=pipeline.LANES_VARIABLE):
        pipeline.cpu_lanes()


@jax.jit
def times_two(scale, rows):
    return pipeline.group_batches(lambda x: x * scale, rows)


@pytest.mark.unit
@pytest.mark.parametrize(("lanes", "total"), [(1, 20), (3, 20), (3, 4)])
def test_lanes_compute_every_row_once_and_drop_the_padding(monkeypatch, lanes, total):
    monkeypatch.setenv(pipeline.LANES_VARIABLE, str(lanes))
    rows = np.arange(total, dtype=np.float32)
    calls = []
    plan = pipeline.plan_chunks((times_two,), (np.float32(2.0),), rows, total, 8)
    assert plan.chunk == 8 * lanes and plan.threads == (lanes > 1)
    counted = plan._replace(
        stages=[
            tuple(lambda a, x, c=c: calls.append(x.shape[0]) or c(a, x) for c in lane)
            for lane in plan.stages
        ]
    )
    out = pipeline.run_chunks(counted, (np.float32(2.0),), rows)
    np.testing.assert_array_equal(out, 2 * rows)
    assert sum(calls) == 8 * -(-total // 8)  # lanes of padding alone are not run


@pytest.mark.unit
def test_chunks_are_larger_on_an_accelerator(monkeypatch):
    fake_devices(monkeypatch, "cpu")
    assert pipeline.max_chunk() == pipeline.MAX_CHUNK == 4096
    fake_devices(monkeypatch, "gpu")
    assert pipeline.max_chunk() == pipeline.MAX_CHUNK_ACCELERATOR == 65536


@pytest.mark.unit
def test_group_map_loops_over_groups_on_the_cpu_and_vmaps_elsewhere(monkeypatch):
    rows = np.linspace(-1.0, 1.0, 24 * 5, dtype=np.float32).reshape(24, 5)
    weights = np.linspace(0.5, -0.5, 24 * 5 * 3, dtype=np.float32).reshape(24, 5, 3)
    expected = np.array([sample_fn(x, w) for x, w in zip(rows, weights, strict=True)])

    fake_devices(monkeypatch, "cpu")
    np.testing.assert_allclose(
        pipeline.group_map(sample_fn, rows, weights), expected, rtol=1e-6
    )
    assert "scan" in primitives(
        lambda *a: pipeline.group_map(sample_fn, *a), rows, weights
    )

    fake_devices(monkeypatch, "gpu")
    np.testing.assert_allclose(
        pipeline.group_map(sample_fn, rows, weights), expected, rtol=1e-6
    )
    assert "scan" not in primitives(
        lambda *a: pipeline.group_map(sample_fn, *a), rows, weights
    )
