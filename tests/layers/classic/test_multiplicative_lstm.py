"""zoo.layers.classic.multiplicative_lstm: Krause et al. 2017's equations
against NumPy, the forget bias, and argument checks."""

import keras
import numpy as np
import pytest

from tests.layers.cell_checks import (
    MASKED,
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
from zoo.layers.classic import multiplicative_lstm
from zoo.layers.classic.multiplicative_lstm import (
    MultiplicativeLSTM,
    MultiplicativeLSTMCell,
)

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, kernel, W_mh, W_m, b, state=None, mask=None, backwards=False):
    """The mLSTM over x in float64; masked steps keep h and c.

    kernel = [W_mx | W_ix | W_fx | W_hx | W_ox], W_m = [W_im | W_fm | W_hm |
    W_om], b = [b_i | b_f | b_h | b_o].
    """
    batch, steps, _ = x.shape
    units = W_mh.shape[0]
    W_mx, W_ix, W_fx, W_hx, W_ox = np.split(kernel, 5, axis=1)
    W_im, W_fm, W_hm, W_om = np.split(W_m, 4, axis=1)
    b_i, b_f, b_h, b_o = np.split(b, 4)
    h, c = state or (np.zeros((batch, units)), np.zeros((batch, units)))
    outputs = []
    for t in (reversed(range(steps)) if backwards else range(steps)):
        xt = x[:, t]
        m = (xt @ W_mx) * (h @ W_mh)
        h_hat = xt @ W_hx + m @ W_hm + b_h
        i = sigmoid(xt @ W_ix + m @ W_im + b_i)
        f = sigmoid(xt @ W_fx + m @ W_fm + b_f)
        o = sigmoid(xt @ W_ox + m @ W_om + b_o)
        c_new = f * c + i * np.tanh(h_hat)
        h_new = np.tanh(c_new) * o
        if mask is not None:
            keep = ~mask[:, t][:, None]
            h_new, c_new = np.where(keep, h, h_new), np.where(keep, c, c_new)
        h, c = h_new, c_new
        outputs.append(h)
    return np.stack(outputs, axis=1), (h, c)


@MASKED
def test_sequences_match_numpy(masked):
    x, mask = random_sequences()
    layer = MultiplicativeLSTM(6, return_sequences=True)
    share_random_weights([layer], x)
    assert_matches_reference(layer, reference, x, mask=mask if masked else None)


def test_backwards_with_initial_state_matches_numpy():
    x, mask = random_sequences()
    rng = np.random.default_rng(2)
    h0, c0 = (rng.normal(size=(4, 6)).astype("float32") for _ in range(2))
    layer = MultiplicativeLSTM(6, go_backwards=True, return_state=True)
    share_random_weights([layer], x)
    _, (h, c) = reference(
        x.astype("float64"), *weights64(layer),
        state=(h0.astype("float64"), c0.astype("float64")), mask=mask, backwards=True,
    )
    assert_same_outputs(layer(x, mask=mask, initial_state=[h0, c0]), [h, h, c])


def test_gradient_matches_central_differences():
    assert_gradients_match_reference(MultiplicativeLSTM(3, return_sequences=True), reference)


def test_forget_bias_starts_at_one():
    layer = MultiplicativeLSTM(3)
    layer.build((1, 2, 4))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.cell.bias), [0, 0, 0, 1, 1, 1] + [0] * 6
    )
    plain = MultiplicativeLSTM(3, unit_forget_bias=False)
    plain.build((1, 2, 4))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(plain.cell.bias), 0.0)


def test_parameter_count():
    # kernel: input_dim × 5·units; W_mh: units²; W_*m: units × 4·units;
    # bias: 4·units.
    layer = MultiplicativeLSTM(8)
    layer.build((1, 2, 5))
    assert layer.count_params() == 5 * 40 + 64 + 8 * 32 + 32
    # With the paper's bias-free equations, one mLSTM step has
    # (input_dim + units) · 5·units weights: as many as a 5-gate LSTM.
    bare = MultiplicativeLSTM(8, use_bias=False)
    bare.build((1, 2, 5))
    assert bare.count_params() == (5 + 8) * 5 * 8


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: MultiplicativeLSTM(-1), "units=-1"),
        (lambda: MultiplicativeLSTMCell(4, unit_forget_bias=1), "unit_forget_bias=1"),
        (lambda: MultiplicativeLSTM(4, recurrent_dropout=1.0), "recurrent_dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_value(make, message):
    assert_refused(message, make)


def test_docstring_examples_run():
    assert_docstring_examples_run(multiplicative_lstm)
