"""zoo.layers.classic.mgu: the MGU's equations (Zhou et al. 2016) against a
float64 NumPy reference, its gradients, argument checks and size."""

import numpy as np
import pytest

from tests.layers.cell_checks import (
    FORWARD_CASES,
    UNITS_AND_DROPOUT_REFUSALS,
    assert_docstring_examples_run,
    assert_gradients_match_reference,
    assert_matches_reference,
    assert_refused,
)
from tests.layers.common import random_sequences, share_random_weights
from tests.layers.numpy_reference import sigmoid
from zoo.layers.classic import mgu
from zoo.layers.classic.mgu import MGU

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, kernel, recurrent_kernel, bias, mask=None, h0=None,
              go_backwards=False):
    """The paper's equations over x `(batch, time, features)`, blocks [f, h].

    Masked steps keep h and repeat the previous output, as Keras's RNN does.
    """
    units = recurrent_kernel.shape[0]
    W_f, W_h = kernel[:, :units], kernel[:, units:]
    U_f, U_h = recurrent_kernel[:, :units], recurrent_kernel[:, units:]
    b_f, b_h = bias[:units], bias[units:]
    if mask is None:
        mask = np.ones(x.shape[:2], dtype=bool)
    if go_backwards:
        x, mask = x[:, ::-1], mask[:, ::-1]
    h = np.zeros((x.shape[0], units)) if h0 is None else h0
    outputs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        f = sigmoid(xt @ W_f + h @ U_f + b_f)
        h_tilde = np.tanh(xt @ W_h + (f * h) @ U_h + b_h)
        h_new = (1.0 - f) * h + f * h_tilde
        h = np.where(mask[:, t:t + 1], h_new, h)
        outputs.append(h)
    return np.stack(outputs, axis=1)


@FORWARD_CASES
def test_forward_matches_numpy_equations(masked, options):
    x, mask = random_sequences()
    layer = MGU(3, return_sequences=True, **options)
    share_random_weights([layer], x)
    assert_matches_reference(layer, reference, x, mask=mask if masked else None, **options)


def test_initial_state_and_no_bias():
    x, _ = random_sequences()
    h0 = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    layer = MGU(3, use_bias=False, return_sequences=True)
    share_random_weights([layer], x)
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel"]
    assert_matches_reference(
        layer, reference, x, initial_state=[h0], bias=np.zeros(6), h0=h0.astype("float64")
    )


def test_gradients_match_central_differences():
    assert_gradients_match_reference(MGU(2, return_sequences=True), reference)


def test_parameter_count():
    # Two blocks [f, h], each m n + n² + n: 2 (m n + n² + n).
    m, n = 5, 7
    layer = MGU(n)
    layer(np.zeros((1, 2, m), "float32"))
    assert layer.count_params() == 2 * (m * n + n * n + n)
    shapes = [tuple(w.shape) for w in layer.weights]
    assert shapes == [(m, 2 * n), (n, 2 * n), (2 * n,)]


@pytest.mark.parametrize("kwargs, message", UNITS_AND_DROPOUT_REFUSALS)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, MGU, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(mgu)
