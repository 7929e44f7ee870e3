"""zoo.layers.classic.star: the STAR equations against a NumPy reference."""

import keras
import numpy as np
import pytest

from tests.layers.cell_checks import (
    assert_docstring_examples_run,
    assert_gradients_match_reference,
    assert_matches_reference,
    assert_refused,
)
from tests.layers.common import (
    assert_same_outputs,
    random_sequences,
    share_random_weights,
    weights64,
)
from tests.layers.numpy_reference import sigmoid
from zoo.layers.classic import star
from zoo.layers.classic.star import STAR

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, kernel, recurrent_kernel, bias, mask=None, h0=None):
    """Turkoglu et al. 2021, the STAR cell, over x `(batch, time, features)`."""
    n = recurrent_kernel.shape[0]
    W_z, W_xK = kernel[:, :n], kernel[:, n:]
    W_hK = recurrent_kernel
    b_z, b_K = bias[:n], bias[n:]
    batch, steps, _ = x.shape
    h = np.zeros((batch, n)) if h0 is None else h0
    outputs = []
    for t in range(steps):
        z = np.tanh(x[:, t] @ W_z + b_z)
        k = sigmoid(x[:, t] @ W_xK + h @ W_hK + b_K)
        h_new = np.tanh((1.0 - k) * h + k * z)
        if mask is not None:
            h_new = np.where(mask[:, t:t + 1], h_new, h)
        h = h_new
        outputs.append(h)
    return np.stack(outputs, axis=1)


def test_forward_matches_numpy_equations():
    x, mask = random_sequences()
    layer = STAR(3, return_sequences=True)
    share_random_weights([layer], x)
    assert_matches_reference(layer, reference, x)
    assert_matches_reference(layer, reference, x, mask=mask)
    h0 = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    backwards = STAR(3, go_backwards=True)
    backwards(x[:, :1])
    backwards.set_weights(layer.get_weights())
    expected = reference(x[:, ::-1].astype("float64"), *weights64(layer), h0=h0.astype("float64"))
    assert_same_outputs(backwards(x, initial_state=[h0]), expected[:, -1])


def test_gradients_match_central_differences():
    assert_gradients_match_reference(STAR(2, return_sequences=True), reference, features=2)


def test_chrono_initialisation_of_the_gate_bias():
    n, t_max = 64, 784
    layer = STAR(n, seed=1)
    layer.build((None, None, 3))
    bias = keras.ops.convert_to_numpy(layer.cell.bias)
    # b_z from bias_initializer (zeros); b_K = -log u, u ~ U(1, t_max).
    np.testing.assert_array_equal(bias[:n], 0.0)
    assert np.all(bias[n:] <= 0.0) and np.all(bias[n:] >= -np.log(t_max))
    assert np.ptp(bias[n:]) > 1.0  # spread over the time scales
    # So the keep gate 1 - k_t starts open at zero input and state.
    assert np.all(1.0 - sigmoid(bias[n:]) >= 0.5)
    plain = STAR(n, t_max=None)
    plain.build((None, None, 3))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(plain.cell.bias), 0.0
    )


def test_parameter_count():
    # 2 n m (W_z, W_x^K) + n² (W_h^K) + 2 n (b_z, b_K).
    m, n = 5, 7
    layer = STAR(n)
    layer.build((None, None, m))
    assert layer.count_params() == 2 * n * m + n * n + 2 * n
    assert [w.name for w in layer.weights] == [
        "kernel", "recurrent_kernel", "bias"
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": 4, "t_max": 1}, "t_max=1"),
        ({"units": 4, "t_max": "784"}, "t_max='784'"),
        ({"units": 4, "dropout": 1.0}, "dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, STAR, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(star)
