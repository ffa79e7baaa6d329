"""Filter normalization (Li et al., 2018) on a hand-made two-layer network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from return_landscapes.landscape.grid.vectors import (
    filter_normalized_direction,
    filter_norms,
    flat_vector,
    normalize,
    orthogonalize,
    pca_directions,
    random_direction,
    tree_dot,
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


def _layers(tree):
    return tree["params"]["Dense_0"], tree["params"]["Dense_1"]


@pytest.mark.parametrize("normalization", ["filter", "layer", "model"])
def test_orthogonalized_directions_are_orthogonal_and_keep_their_norms(normalization):
    first = random_direction(
        jax.random.PRNGKey(0), NETWORK, normalization, "normalized"
    )
    second = random_direction(
        jax.random.PRNGKey(1), NETWORK, normalization, "normalized"
    )
    assert abs(tree_dot(first, second)) > 1e-3  # not orthogonal by chance
    third = orthogonalize(first, second, NETWORK, normalization, "normalized")
    cosine = tree_dot(first, third) / np.sqrt(
        tree_dot(first, first) * tree_dot(third, third)
    )
    assert abs(cosine) < 1e-6
    again = normalize(third, NETWORK, normalization, "normalized")
    for a, b in zip(jax.tree.leaves(third), jax.tree.leaves(again), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)  # norms kept: a fixed point
    if normalization == "filter":
        np.testing.assert_allclose(
            filter_norms(third["params"]["Dense_0"]["kernel"]), [3.0, 5.0], rtol=1e-5
        )
        # a moving bias vector is one group: norm of (0.5, -0.5)
        bias = third["params"]["Dense_0"]["bias"]
        np.testing.assert_allclose(np.linalg.norm(bias), np.sqrt(0.5), rtol=1e-5)


def test_layer_and_model_normalizations_rescale_leaves_and_the_whole():
    layer = random_direction(jax.random.PRNGKey(2), NETWORK, "layer")
    dense0, dense1 = _layers(layer)
    np.testing.assert_allclose(np.linalg.norm(dense0["kernel"]), np.sqrt(34), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(dense1["kernel"]), 2.0, rtol=1e-6)
    assert not np.any(dense0["bias"]) and not np.any(dense1["bias"])
    model = random_direction(jax.random.PRNGKey(2), NETWORK, "model", "normalized")
    total = np.sqrt(34 + 0.5 + 4 + 1)  # every leaf moves, one norm for all
    np.testing.assert_allclose(np.sqrt(tree_dot(model, model)), total, rtol=1e-6)
    raw = random_direction(jax.random.PRNGKey(2), NETWORK, "none")
    draw = jax.random.normal(jax.random.split(jax.random.PRNGKey(2), 4)[1], (3, 2))
    np.testing.assert_array_equal(raw["params"]["Dense_0"]["kernel"], draw)


def test_orthogonalizing_without_normalization_is_plain_gram_schmidt():
    first = {"w": jnp.array([[1.0, 0.0], [0.0, 0.0]])}
    second = {"w": jnp.array([[2.0, 3.0], [0.0, 1.0]])}
    third = orthogonalize(first, second, first, "none")
    np.testing.assert_allclose(third["w"], [[0.0, 3.0], [0.0, 1.0]])


def test_pca_of_three_checkpoints_gives_the_known_components_and_projections():
    base = np.array([1.0, 2.0, 5.0], np.float32)
    offsets = [(-3.0, 1.0), (3.0, 1.0), (0.0, 0.0)]  # the last is the centre
    checkpoints = [
        {
            "a": jnp.asarray(base[:2] + np.array(o, np.float32)),
            "b": jnp.asarray(base[2:]),
        }
        for o in offsets
    ]
    pc1, pc2, explained, trajectory = pca_directions(checkpoints, centre=2)
    # differences (-3, 1), (3, 1), (0, 0): variance 18 along a, 2/3 along b
    np.testing.assert_allclose(flat_vector(pc1), [1, 0, 0], atol=1e-7)
    np.testing.assert_allclose(flat_vector(pc2), [0, 1, 0], atol=1e-7)
    np.testing.assert_allclose(explained, [18 / (18 + 2 / 3), (2 / 3) / (18 + 2 / 3)])
    np.testing.assert_allclose(trajectory, offsets, atol=1e-6)
    assert pc1["a"].dtype == np.float32 and pc1["b"].shape == (1,)
    # centred on the first checkpoint instead: the same plane, shifted trajectory
    _, _, _, shifted = pca_directions(checkpoints, centre=0)
    np.testing.assert_allclose(shifted, [[0, 0], [6, 0], [3, -1]], atol=1e-6)
