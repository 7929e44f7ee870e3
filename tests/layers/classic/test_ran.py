"""zoo.layers.classic.ran: the RAN equations against a NumPy reference."""

import numpy as np
import pytest

from tests.layers.cell_checks import (
    assert_docstring_examples_run,
    assert_gradients_match_reference,
    assert_matches_reference,
    assert_refused,
)
from tests.layers.common import random_sequences, share_random_weights
from tests.layers.numpy_reference import sigmoid
from zoo.layers.classic import ran
from zoo.layers.classic.ran import RAN

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, kernel, recurrent_kernel, bias, g, mask=None, h0=None,
              c0=None):
    """Lee et al. 2017, Section 2, over x `(batch, time, features)`."""
    n = recurrent_kernel.shape[0]
    W_cx, W_ix, W_fx = kernel[:, :n], kernel[:, n:2 * n], kernel[:, 2 * n:]
    W_ih, W_fh = recurrent_kernel[:, :n], recurrent_kernel[:, n:]
    b_i, b_f = bias[:n], bias[n:]
    batch, steps, _ = x.shape
    h = np.zeros((batch, n)) if h0 is None else h0
    c = np.zeros((batch, n)) if c0 is None else c0
    outputs = []
    for t in range(steps):
        c_tilde = x[:, t] @ W_cx
        i = sigmoid(h @ W_ih + x[:, t] @ W_ix + b_i)
        f = sigmoid(h @ W_fh + x[:, t] @ W_fx + b_f)
        c_new = i * c_tilde + f * c
        h_new = g(c_new)
        if mask is not None:
            keep = mask[:, t:t + 1]
            c_new = np.where(keep, c_new, c)
            h_new = np.where(keep, h_new, h)
        h, c = h_new, c_new
        outputs.append(h)
    return np.stack(outputs, axis=1)


G = {"tanh": np.tanh, "linear": lambda v: v}


@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_forward_matches_numpy_equations(activation):
    x, mask = random_sequences()
    layer = RAN(3, activation=activation, return_sequences=True)
    share_random_weights([layer], x)
    g = G[activation]
    assert_matches_reference(layer, reference, x, g=g)
    # Masked steps keep the state (and repeat the previous output).
    assert_matches_reference(layer, reference, x, mask=mask, g=g)
    # An initial state [h, c] seeds the recurrence.
    rng = np.random.default_rng(2)
    h0, c0 = rng.normal(size=(2, 4, 3)).astype("float32")
    assert_matches_reference(layer, reference, x, initial_state=[h0, c0], g=g,
                             h0=h0.astype("float64"), c0=c0.astype("float64"))


def test_gradients_match_central_differences():
    layer = RAN(2, return_sequences=True)
    assert_gradients_match_reference(layer, reference, features=2, g=np.tanh)


def test_parameter_count():
    # 3 n m (W_cx, W_ix, W_fx) + 2 n² (W_ih, W_fh) + 2 n (b_i, b_f).
    m, n = 5, 7
    layer = RAN(n)
    layer.build((None, None, m))
    assert layer.count_params() == 3 * n * m + 2 * n * n + 2 * n
    no_bias = RAN(n, use_bias=False)
    no_bias.build((None, None, m))
    assert no_bias.count_params() == 3 * n * m + 2 * n * n
    assert [w.name for w in layer.weights] == [
        "kernel", "recurrent_kernel", "bias"
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": "8"}, "units='8'"),
        ({"units": 4, "dropout": 1.0}, "dropout=1.0"),
        ({"units": 4, "recurrent_dropout": -0.1}, "recurrent_dropout=-0.1"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, RAN, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(ran)
