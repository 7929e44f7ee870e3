"""Inputs and weight set-ups shared by the layer tests."""

import keras
import numpy as np

# The constant initializers of Keras's own golden-number tests.
CONSTANTS = dict(
    kernel_initializer=keras.initializers.Constant(0.01),
    recurrent_initializer=keras.initializers.Constant(0.02),
    bias_initializer=keras.initializers.Constant(0.03),
)
# Keras's test_correctness input.
SEQUENCE = np.arange(72).reshape((3, 6, 4)).astype("float32")


def random_sequences(batch=4, steps=7, features=5):
    """Random inputs and a mask with right-padded, left-padded and holed rows."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    mask = np.ones((batch, steps), dtype=bool)
    mask[1, 5:] = False
    mask[2, :2] = False
    mask[3, 3] = False
    return x, mask


def share_random_weights(layers, x, scale=0.5):
    """Builds `layers` on x and gives them all the same random weights."""
    for layer in layers:
        layer(x[:, :1])
    rng = np.random.default_rng(1)
    weights = [rng.normal(scale=scale, size=w.shape) for w in layers[0].get_weights()]
    for layer in layers:
        layer.set_weights(weights)


def weights64(layer):
    """The layer's weights in float64, in `get_weights()` order."""
    return [w.astype("float64") for w in layer.get_weights()]


def assert_same_outputs(actual, expected, atol=1e-5):
    """Compares two nests of tensors or arrays, leaf by leaf."""
    actual, expected = keras.tree.flatten(actual), keras.tree.flatten(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(e), atol=atol
        )
