import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes.replay import replay_init, replay_insert, replay_sample
from return_landscapes.types import Transition

pytestmark = pytest.mark.unit


def transition(value: float) -> Transition:
    v = jnp.float32(value)
    return Transition(jnp.full(2, v), jnp.full(1, v), v, jnp.full(2, v + 1), v * 0 + 1)


def test_insert_wraps_around_and_counts_size():
    buffer = replay_init(4, 2, 1)
    for t in range(6):
        buffer = replay_insert(buffer, transition(t))
    assert int(buffer.size) == 4 and int(buffer.position) == 2
    # Row t % 4 holds transition t: 4, 5 overwrote 0, 1.
    np.testing.assert_array_equal(buffer.data.reward, [4, 5, 2, 3])
    np.testing.assert_array_equal(buffer.data.next_observation[:, 0], [5, 6, 3, 4])


def test_sample_draws_only_filled_rows():
    buffer = replay_init(100, 2, 1)
    for t in range(3):
        buffer = replay_insert(buffer, transition(t + 1))
    batch = replay_sample(buffer, jax.random.PRNGKey(0), 500)
    assert set(np.unique(batch.reward).tolist()) == {1.0, 2.0, 3.0}
    np.testing.assert_array_equal(batch.observation[:, 0], batch.reward)


def test_stacked_insert_matches_one_buffer_per_seed():
    seeds, capacity = 3, 4
    single = [replay_init(capacity, 2, 1) for _ in range(seeds)]
    stacked = jax.tree.map(lambda *b: jnp.stack(b), *single)
    for t in range(6):
        rows = [transition(10 * s + t) for s in range(seeds)]
        single = [replay_insert(b, r) for b, r in zip(single, rows, strict=True)]
        stacked = replay_insert(
            stacked, jax.tree.map(lambda *r: jnp.stack(r), *rows), jnp.int32(t)
        )
    expected = jax.tree.map(lambda *b: jnp.stack(b), *single)
    for got, want in zip(
        jax.tree.leaves(stacked), jax.tree.leaves(expected), strict=True
    ):
        np.testing.assert_array_equal(got, want)
