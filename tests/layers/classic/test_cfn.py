"""zoo.layers.classic.cfn: the chaos-free network against a float64 NumPy
reference of Laurent & von Brecht's equations (ICLR 2017)."""

import keras
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
from zoo.layers.classic import cfn
from zoo.layers.classic.cfn import CFN

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def cfn_step(x, h, kernel, recurrent, bias):
    V_theta, V_eta, W = np.split(kernel, 3, axis=1)
    U_theta, U_eta = np.split(recurrent, 2, axis=1)
    b_theta, b_eta = np.split(bias, 2)
    theta = sigmoid(h @ U_theta + x @ V_theta + b_theta)
    eta = sigmoid(h @ U_eta + x @ V_eta + b_eta)
    return theta * np.tanh(h) + eta * np.tanh(x @ W)


def reference(x, *weights, mask=None, h0=None, backwards=False):
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


def test_forward_matches_numpy_equations():
    x, mask = random_sequences(batch=4, steps=6, features=3)
    layer = CFN(4, return_sequences=True)
    backwards = CFN(4, return_sequences=True, go_backwards=True)
    share_random_weights([layer, backwards], x)
    h0 = np.random.default_rng(3).normal(size=(4, 4)).astype("float32")
    assert_matches_reference(layer, reference, x)
    assert_matches_reference(layer, reference, x, mask=mask)
    assert_matches_reference(backwards, reference, x, backwards=True)
    assert_matches_reference(layer, reference, x, initial_state=[h0], h0=h0.astype("float64"))


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
    assert_gradients_match_reference(CFN(3, return_sequences=True), reference)


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
    assert_refused(message, CFN, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(cfn)
