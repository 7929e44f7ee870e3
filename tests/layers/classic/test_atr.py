"""zoo.layers.classic.atr: ATR against a float64 NumPy reference of Zhang et
al.'s twin-gated equations (EMNLP 2018)."""

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
from zoo.layers.classic import atr
from zoo.layers.classic.atr import ATR

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def atr_step(x, h, W, U, b):
    p = x @ W
    q = h @ U + b
    i = sigmoid(p + q)
    f = sigmoid(p - q)
    return i * p + f * h


def reference(x, *weights, mask=None, h0=None, backwards=False):
    """Outputs at every step; masked steps keep h and repeat the last output."""
    W, U = weights[:2]
    b = weights[2] if len(weights) == 3 else 0.0
    if backwards:
        x = x[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    batch, units = x.shape[0], U.shape[0]
    h = np.zeros((batch, units)) if h0 is None else h0
    output = np.zeros((batch, units))
    outputs = []
    for t in range(x.shape[1]):
        new = atr_step(x[:, t], h, W, U, b)
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t, None]
        h = np.where(keep, new, h)
        output = np.where(keep, new, output)
        outputs.append(output)
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize("use_bias", [True, False], ids=["code", "paper"])
def test_forward_matches_numpy_equations(use_bias):
    x, mask = random_sequences(batch=4, steps=6, features=3)
    layer = ATR(4, use_bias=use_bias, return_sequences=True)
    backwards = ATR(4, use_bias=use_bias, return_sequences=True, go_backwards=True)
    share_random_weights([layer, backwards], x)
    h0 = np.random.default_rng(3).normal(size=(4, 4)).astype("float32")
    assert_matches_reference(layer, reference, x)
    assert_matches_reference(layer, reference, x, mask=mask)
    assert_matches_reference(backwards, reference, x, backwards=True)
    assert_matches_reference(layer, reference, x, initial_state=[h0], h0=h0.astype("float64"))


def test_autodiff_gradients_match_central_differences():
    assert_gradients_match_reference(ATR(3, return_sequences=True), reference)


def test_parameter_count():
    # Two matrices, W and U (the paper's point: fewer than a GRU's six),
    # and the bias of q_t.
    layer = ATR(4)
    layer(np.zeros((1, 2, 5), "float32"))
    assert layer.count_params() == 5 * 4 + 4 * 4 + 4
    layer = ATR(4, use_bias=False)
    layer(np.zeros((1, 2, 5), "float32"))
    assert layer.count_params() == 5 * 4 + 4 * 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": None}, "units=None"),
        ({"units": 4, "use_bias": 1}, "use_bias=1"),
        ({"units": 4, "dropout": -0.5}, "dropout=-0.5"),
        ({"units": 4, "recurrent_dropout": 1.0}, "recurrent_dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, ATR, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(atr)
