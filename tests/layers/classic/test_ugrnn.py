"""zoo.layers.classic.ugrnn: the UGRNN's equations (Collins et al. 2017)
against a float64 NumPy reference, its gradients, argument checks and
size."""

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
from zoo.layers.classic import ugrnn
from zoo.layers.classic.ugrnn import UGRNN

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, kernel, recurrent_kernel, bias, mask=None, h0=None,
              go_backwards=False):
    """The paper's equations over x `(batch, time, features)`, blocks [c, g].

    Masked steps keep h and repeat the previous output, as Keras's RNN does.
    """
    units = recurrent_kernel.shape[0]
    W_cx, W_gx = kernel[:, :units], kernel[:, units:]
    W_ch, W_gh = recurrent_kernel[:, :units], recurrent_kernel[:, units:]
    b_c, b_g = bias[:units], bias[units:]
    if mask is None:
        mask = np.ones(x.shape[:2], dtype=bool)
    if go_backwards:
        x, mask = x[:, ::-1], mask[:, ::-1]
    h = np.zeros((x.shape[0], units)) if h0 is None else h0
    outputs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        c = np.tanh(h @ W_ch + xt @ W_cx + b_c)
        g = sigmoid(h @ W_gh + xt @ W_gx + b_g)
        h_new = g * h + (1.0 - g) * c
        h = np.where(mask[:, t:t + 1], h_new, h)
        outputs.append(h)
    return np.stack(outputs, axis=1)


@FORWARD_CASES
def test_forward_matches_numpy_equations(masked, options):
    x, mask = random_sequences()
    layer = UGRNN(3, return_sequences=True, **options)
    share_random_weights([layer], x)
    assert_matches_reference(layer, reference, x, mask=mask if masked else None, **options)


def test_initial_state_and_no_bias():
    x, _ = random_sequences()
    h0 = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    layer = UGRNN(3, use_bias=False, return_sequences=True)
    share_random_weights([layer], x)
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel"]
    assert_matches_reference(
        layer, reference, x, initial_state=[h0], bias=np.zeros(6), h0=h0.astype("float64")
    )


def test_gradients_match_central_differences():
    assert_gradients_match_reference(UGRNN(2, return_sequences=True), reference)


def test_parameter_count():
    # Two blocks [c, g], each m n + n² + n: 2 (m n + n² + n), two thirds of
    # a GRU's 3 (m n + n² + n).
    m, n = 5, 7
    layer = UGRNN(n)
    layer(np.zeros((1, 2, m), "float32"))
    assert layer.count_params() == 2 * (m * n + n * n + n)
    shapes = [tuple(w.shape) for w in layer.weights]
    assert shapes == [(m, 2 * n), (n, 2 * n), (2 * n,)]


@pytest.mark.parametrize("kwargs, message", UNITS_AND_DROPOUT_REFUSALS)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, UGRNN, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(ugrnn)
