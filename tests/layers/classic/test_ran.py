"""zoo.layers.classic.ran: the RAN equations against a NumPy reference."""

import keras
import numpy as np
import pytest

from tests.doctests import run_docstring_examples
from tests.layers.autodiff import gradients
from tests.layers.common import random_sequences, share_random_weights
from tests.layers.numpy_reference import numerical_gradient
from zoo.layers.classic import ran
from zoo.layers.classic.ran import RAN

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


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
    weights = [w.astype("float64") for w in layer.get_weights()]
    x64 = x.astype("float64")
    expected = reference(x64, *weights, G[activation])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), expected, atol=1e-5
    )
    # Masked steps keep the state (and repeat the previous output).
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x, mask=mask)),
        reference(x64, *weights, G[activation], mask=mask),
        atol=1e-5,
    )
    # An initial state [h, c] seeds the recurrence.
    rng = np.random.default_rng(2)
    h0, c0 = rng.normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x, initial_state=[h0, c0])),
        reference(x64, *weights, G[activation], h0=h0.astype("float64"),
                  c0=c0.astype("float64")),
        atol=1e-5,
    )


def test_gradients_match_central_differences():
    x = np.random.default_rng(5).normal(size=(2, 4, 2)).astype("float32")
    layer = RAN(2, return_sequences=True)
    share_random_weights([layer], x, scale=0.6)
    weights = [w.astype("float64") for w in layer.get_weights()]
    x64 = x.astype("float64")
    autodiff = gradients(layer, x)
    for computed, weight in zip(autodiff, weights):
        numeric = numerical_gradient(
            lambda: reference(x64, *weights, np.tanh)[:, -1].sum(), weight
        )
        np.testing.assert_allclose(computed, numeric, atol=2e-4, rtol=1e-3)


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
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        RAN(**kwargs)


def test_docstring_examples_run():
    results = run_docstring_examples([ran])
    assert results.attempted >= 2
    assert results.failed == 0
