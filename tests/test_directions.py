"""Filter normalization (Li et al., 2018) on a hand-made two-layer network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes.landscape.directions import (
    filter_normalized_direction,
    filter_norms,
)

pytestmark = pytest.mark.unit

NETWORK = {
    "params": {
        "Dense_0": {
            "kernel": jnp.array([[1.0, 0.0], [2.0, -3.0], [2.0, 4.0]]),  # (in 3, out 2)
            "bias": jnp.array([0.5, -0.5]),
        },
        "Dense_1": {"kernel": jnp.array([[0.0], [-2.0]]), "bias": jnp.array([1.0])},
    }
}


def test_every_filter_gets_the_norm_of_the_weights_filter_and_biases_stay():
    direction = filter_normalized_direction(jax.random.PRNGKey(0), NETWORK)
    layers = direction["params"]
    # Columns of the first kernel have norms 3 and 5; the second kernel's column 2.
    np.testing.assert_allclose(filter_norms(layers["Dense_0"]["kernel"]), [3.0, 5.0],
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(filter_norms(layers["Dense_1"]["kernel"]), [2.0],
                               rtol=1e-6)  # fmt: skip
    for name in ("Dense_0", "Dense_1"):
        assert not np.any(np.asarray(layers[name]["bias"]))
    # The direction of a filter is the Gaussian draw's, only rescaled.
    draw = jax.random.normal(
        jax.random.split(jax.random.PRNGKey(0), 4)[1], (3, 2), jnp.float32
    )
    kernel = np.asarray(layers["Dense_0"]["kernel"])
    cosine = np.sum(kernel * draw, axis=0) / (
        np.linalg.norm(kernel, axis=0) * np.linalg.norm(draw, axis=0)
    )
    np.testing.assert_allclose(cosine, [1.0, 1.0], rtol=1e-6)


def test_convolution_filters_are_output_channels_and_keys_give_new_directions():
    kernel = jnp.arange(2 * 2 * 3 * 4, dtype=jnp.float32).reshape(2, 2, 3, 4)
    one = filter_normalized_direction(jax.random.PRNGKey(1), {"conv": kernel})["conv"]
    np.testing.assert_allclose(filter_norms(one), filter_norms(kernel), rtol=1e-6)
    two = filter_normalized_direction(jax.random.PRNGKey(2), {"conv": kernel})["conv"]
    assert not np.allclose(one, two)
