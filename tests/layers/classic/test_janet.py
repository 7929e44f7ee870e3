"""zoo.layers.classic.janet: JANET's equations (van der Westhuizen & Lasenby
2018) against a float64 NumPy reference, its gradients, the chrono
initialisation, argument checks and size."""

import keras
import numpy as np
import pytest

from tests.layers.cell_checks import (
    DIRECTIONS,
    UNITS_AND_DROPOUT_REFUSALS,
    assert_docstring_examples_run,
    assert_gradients_match_reference,
    assert_matches_reference,
    assert_refused,
    forward_cases,
)
from tests.layers.common import random_sequences, share_random_weights
from tests.layers.numpy_reference import sigmoid
from zoo.layers.classic import janet
from zoo.layers.classic.janet import JANET

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, kernel, recurrent_kernel, bias, mask=None, h0=None,
              go_backwards=False, beta=1.0):
    """The paper's equations over x `(batch, time, features)`, blocks [f, c].

    Masked steps keep h and repeat the previous output, as Keras's RNN does.
    """
    units = recurrent_kernel.shape[0]
    W_f, W_c = kernel[:, :units], kernel[:, units:]
    U_f, U_c = recurrent_kernel[:, :units], recurrent_kernel[:, units:]
    b_f, b_c = bias[:units], bias[units:]
    if mask is None:
        mask = np.ones(x.shape[:2], dtype=bool)
    if go_backwards:
        x, mask = x[:, ::-1], mask[:, ::-1]
    h = np.zeros((x.shape[0], units)) if h0 is None else h0
    outputs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        s = h @ U_f + xt @ W_f + b_f
        c_tilde = np.tanh(h @ U_c + xt @ W_c + b_c)
        c = sigmoid(s) * h + (1.0 - sigmoid(s - beta)) * c_tilde
        h = np.where(mask[:, t:t + 1], c, h)
        outputs.append(h)
    return np.stack(outputs, axis=1)


@forward_cases({**DIRECTIONS, "beta0": {"beta": 0.0}, "beta2.5": {"beta": 2.5}})
def test_forward_matches_numpy_equations(masked, options):
    x, mask = random_sequences()
    layer = JANET(3, return_sequences=True, **options)
    share_random_weights([layer], x)
    assert_matches_reference(layer, reference, x, mask=mask if masked else None, **options)


def test_initial_state_and_no_bias():
    x, _ = random_sequences()
    h0 = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    layer = JANET(3, use_bias=False, return_sequences=True)
    share_random_weights([layer], x)
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel"]
    assert_matches_reference(
        layer, reference, x, initial_state=[h0], bias=np.zeros(6), h0=h0.astype("float64")
    )


def test_gradients_match_central_differences():
    assert_gradients_match_reference(JANET(2, return_sequences=True), reference)


def test_chrono_initialisation_of_the_forget_bias():
    x = np.zeros((2, 3, 4), "float32")
    layer = JANET(50, chrono_max_length=100)
    layer(x)
    bias = keras.ops.convert_to_numpy(layer.cell.bias)
    b_f, b_c = bias[:50], bias[50:]
    # b_f ~ log(U[1, T_max - 1]): within [0, log 99], and spread out.
    assert np.all(b_f >= 0.0) and np.all(b_f <= np.log(99.0) + 1e-6)
    assert b_f.std() > 0.3
    np.testing.assert_array_equal(b_c, np.zeros(50))
    # Without chrono, b_f follows bias_initializer like b_c.
    plain = JANET(5, bias_initializer="ones")
    plain(x)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(plain.cell.bias), np.ones(10)
    )
    # T_max = 2 gives log(1) = 0.
    two = JANET(5, chrono_max_length=2)
    two(x)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(two.cell.bias), np.zeros(10), atol=1e-6
    )


def test_parameter_count():
    # Two blocks [f, c], each m n + n² + n: 2 (m n + n² + n), half an
    # LSTM's 4 (m n + n² + n).
    m, n = 5, 7
    layer = JANET(n)
    layer(np.zeros((1, 2, m), "float32"))
    assert layer.count_params() == 2 * (m * n + n * n + n)
    shapes = [tuple(w.shape) for w in layer.weights]
    assert shapes == [(m, 2 * n), (n, 2 * n), (2 * n,)]


@pytest.mark.parametrize(
    "kwargs, message",
    UNITS_AND_DROPOUT_REFUSALS + [
        ({"units": 4, "beta": "one"}, "beta='one'"),
        ({"units": 4, "beta": True}, "beta=True"),
        ({"units": 4, "chrono_max_length": 1}, "chrono_max_length=1"),
        ({"units": 4, "chrono_max_length": 10.0}, "chrono_max_length=10.0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, JANET, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(janet)
