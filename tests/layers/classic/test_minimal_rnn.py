"""zoo.layers.classic.minimal_rnn: the MinimalRNN's equations (Chen 2017)
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
from zoo.layers.classic import minimal_rnn
from zoo.layers.classic.minimal_rnn import MinimalRNN

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, W_x, U_h, U_z, bias, mask=None, h0=None,
              go_backwards=False):
    """The paper's equations over x `(batch, time, features)`, with
    Φ(x) = tanh(W_x x + b_z) and bias blocks [z, u].

    Masked steps keep h and repeat the previous output, as Keras's RNN does.
    """
    units = U_h.shape[0]
    b_z, b_u = bias[:units], bias[units:]
    if mask is None:
        mask = np.ones(x.shape[:2], dtype=bool)
    if go_backwards:
        x, mask = x[:, ::-1], mask[:, ::-1]
    h = np.zeros((x.shape[0], units)) if h0 is None else h0
    outputs = []
    for t in range(x.shape[1]):
        z = np.tanh(x[:, t] @ W_x + b_z)
        u = sigmoid(h @ U_h + z @ U_z + b_u)
        h_new = u * h + (1.0 - u) * z
        h = np.where(mask[:, t:t + 1], h_new, h)
        outputs.append(h)
    return np.stack(outputs, axis=1)


@FORWARD_CASES
def test_forward_matches_numpy_equations(masked, options):
    x, mask = random_sequences()
    layer = MinimalRNN(3, return_sequences=True, **options)
    share_random_weights([layer], x)
    assert_matches_reference(layer, reference, x, mask=mask if masked else None, **options)


def test_initial_state_and_no_bias():
    x, _ = random_sequences()
    h0 = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    layer = MinimalRNN(3, use_bias=False, return_sequences=True)
    share_random_weights([layer], x)
    assert [w.name for w in layer.weights] == [
        "kernel", "recurrent_kernel", "latent_kernel"
    ]
    assert_matches_reference(
        layer, reference, x, initial_state=[h0], bias=np.zeros(6), h0=h0.astype("float64")
    )


def test_gradients_match_central_differences():
    assert_gradients_match_reference(MinimalRNN(2, return_sequences=True), reference)


def test_parameter_count():
    # Φ: m n + n; the gate: 2 n² + n. In all m n + 2 n² + 2 n.
    m, n = 5, 7
    layer = MinimalRNN(n)
    layer(np.zeros((1, 2, m), "float32"))
    assert layer.count_params() == m * n + 2 * n * n + 2 * n
    shapes = [tuple(w.shape) for w in layer.weights]
    assert shapes == [(m, n), (n, n), (n, n), (2 * n,)]


@pytest.mark.parametrize("kwargs, message", UNITS_AND_DROPOUT_REFUSALS)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, MinimalRNN, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(minimal_rnn)
