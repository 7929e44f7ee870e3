"""zoo.layers.classic.cfn: the chaos-free network against a float64 NumPy
reference of Laurent & von Brecht's equations (ICLR 2017)."""

import keras
import numpy as np
import pytest

from tests.doctests import run_docstring_examples
from tests.layers.autodiff import gradients
from tests.layers.common import random_sequences, share_random_weights
from tests.layers.numpy_reference import numerical_gradient
from zoo.layers.classic import cfn
from zoo.layers.classic.cfn import CFN

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def cfn_step(x, h, kernel, recurrent, bias):
    V_theta, V_eta, W = np.split(kernel, 3, axis=1)
    U_theta, U_eta = np.split(recurrent, 2, axis=1)
    b_theta, b_eta = np.split(bias, 2)
    theta = sigmoid(h @ U_theta + x @ V_theta + b_theta)
    eta = sigmoid(h @ U_eta + x @ V_eta + b_eta)
    return theta * np.tanh(h) + eta * np.tanh(x @ W)


def reference(x, weights, mask=None, h0=None, backwards=False):
    """Outputs at every step; masked steps keep h and repeat the last output."""
    kernel, recurrent, bias = weights
    if backwards:
        x = x[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    batch, units = x.shape[0], recurrent.shape[0]
    h = np.zeros((batch, units)) if h0 is None else h0
    output = np.zeros((batch, units))
    outputs = []
    for t in range(x.shape[1]):
        new = cfn_step(x[:, t], h, kernel, recurrent, bias)
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t, None]
        h = np.where(keep, new, h)
        output = np.where(keep, new, output)
        outputs.append(output)
    return np.stack(outputs, axis=1)


def float64_weights(layer):
    return [w.astype("float64") for w in layer.get_weights()]


def test_forward_matches_numpy_equations():
    x, mask = random_sequences(batch=4, steps=6, features=3)
    layer = CFN(4, return_sequences=True)
    backwards = CFN(4, return_sequences=True, go_backwards=True)
    share_random_weights([layer, backwards], x)
    weights, x64 = float64_weights(layer), x.astype("float64")
    h0 = np.random.default_rng(3).normal(size=(4, 4)).astype("float32")
    cases = [
        (layer(x), reference(x64, weights)),
        (layer(x, mask=mask), reference(x64, weights, mask)),
        (backwards(x), reference(x64, weights, backwards=True)),
        (layer(x, initial_state=[h0]),
         reference(x64, weights, h0=h0.astype("float64"))),
    ]
    for actual, expected in cases:
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(actual), expected, atol=1e-5
        )


def test_without_input_the_state_decays_to_zero():
    # The paper's point: with x = 0 the dynamics are trivial, |h_t| shrinks.
    layer = CFN(4, return_sequences=True)
    x = np.zeros((2, 30, 3), "float32")
    layer(x)
    share_random_weights([layer], x, scale=1.0)
    h0 = np.random.default_rng(2).normal(size=(2, 4)).astype("float32")
    norms = np.abs(keras.ops.convert_to_numpy(layer(x, initial_state=[h0])))
    assert np.all(np.diff(norms, axis=1) <= 1e-7)
    assert norms[:, -1].max() < 0.5 * np.abs(h0).max()


def test_autodiff_gradients_match_central_differences():
    x = np.random.default_rng(5).normal(size=(2, 4, 3)).astype("float32")
    layer = CFN(3, return_sequences=True)
    share_random_weights([layer], x, scale=0.6)
    weights, x64 = float64_weights(layer), x.astype("float64")
    autodiff = gradients(layer, x)
    for computed, weight in zip(autodiff, weights):
        numeric = numerical_gradient(
            lambda: reference(x64, weights)[:, -1].sum(), weight
        )
        np.testing.assert_allclose(computed, numeric, atol=2e-4, rtol=1e-3)


def test_parameter_count():
    # V_θ, V_η, W on the input; U_θ, U_η on the state; b_θ, b_η.
    layer = CFN(4)
    layer(np.zeros((1, 2, 5), "float32"))
    assert layer.count_params() == 3 * 5 * 4 + 2 * 4 * 4 + 2 * 4
    layer = CFN(4, use_bias=False)
    layer(np.zeros((1, 2, 5), "float32"))
    assert layer.count_params() == 3 * 5 * 4 + 2 * 4 * 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": -1}, "units=-1"),
        ({"units": True}, "units=True"),
        ({"units": 4, "use_bias": None}, "use_bias=None"),
        ({"units": 4, "dropout": 2}, "dropout=2"),
        ({"units": 4, "recurrent_dropout": 1.0}, "recurrent_dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        CFN(**kwargs)


def test_docstring_examples_run():
    results = run_docstring_examples([cfn])
    assert results.attempted >= 2
    assert results.failed == 0
