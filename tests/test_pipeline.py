"""The chunk pipeline's choices per platform: groups of 8 on the CPU, vmap elsewhere."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes import pipeline


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
