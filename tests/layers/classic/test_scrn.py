"""zoo.layers.classic.scrn: Mikolov et al. 2015's equations against NumPy,
the [h; s] output, the catalogue's width split, and argument checks."""

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
from zoo.layers.catalog import recurrent_layer
from zoo.layers.classic import scrn
from zoo.layers.classic.scrn import SCRN, SCRNCell, scrn_of_width

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, kernel, P, R, b, alpha=0.95, state=None, mask=None, backwards=False):
    """s_t = (1-α) B x_t + α s_{t-1}; h_t = σ(P s_t + A x_t + R h_{t-1} + b).

    kernel = [B | A]. Returns the outputs [h_t; s_t] in processing order and
    the last states [h, s]; masked steps keep both.
    """
    batch, steps, _ = x.shape
    context = P.shape[0]
    B, A = kernel[:, :context], kernel[:, context:]
    h, s = state or (np.zeros((batch, R.shape[0])), np.zeros((batch, context)))
    outputs = []
    for t in (reversed(range(steps)) if backwards else range(steps)):
        s_new = (1 - alpha) * (x[:, t] @ B) + alpha * s
        h_new = sigmoid(s_new @ P + x[:, t] @ A + h @ R + b)
        if mask is not None:
            keep = ~mask[:, t][:, None]
            s_new, h_new = np.where(keep, s, s_new), np.where(keep, h, h_new)
        h, s = h_new, s_new
        outputs.append(np.concatenate([h, s], axis=-1))
    return np.stack(outputs, axis=1), (h, s)


@MASKED
def test_sequences_match_numpy(masked):
    x, mask = random_sequences()
    layer = SCRN(5, context_units=3, alpha=0.8, return_sequences=True)
    share_random_weights([layer], x)
    expected, _ = assert_matches_reference(
        layer, reference, x, mask=mask if masked else None, alpha=0.8
    )
    assert expected.shape == (4, 7, 8)  # [h; s] at every step


def test_backwards_with_initial_state_matches_numpy():
    x, mask = random_sequences()
    rng = np.random.default_rng(2)
    h0 = rng.uniform(size=(4, 5)).astype("float32")
    s0 = rng.normal(size=(4, 3)).astype("float32")
    layer = SCRN(5, context_units=3, go_backwards=True, return_state=True)
    share_random_weights([layer], x)
    _, (h, s) = reference(
        x.astype("float64"),
        *weights64(layer),
        state=(h0.astype("float64"), s0.astype("float64")),
        mask=mask,
        backwards=True,
    )
    # The one state is the output [h; s].
    expected = np.concatenate([h, s], -1)
    output_and_state = layer(x, mask=mask, initial_state=[np.concatenate([h0, s0], -1)])
    assert_same_outputs(output_and_state, [expected, expected])


def test_gradient_matches_central_differences():
    layer = SCRN(3, context_units=2, return_sequences=True)
    assert_gradients_match_reference(layer, reference, steps=5)


def test_alpha_one_freezes_the_context():
    # α = 1: s_t = s_{t-1}, the context never moves from its initial state.
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype("float32")
    s0 = np.full((2, 2), 0.7, "float32")
    layer = SCRN(3, context_units=2, alpha=1.0, return_state=True)
    y0 = np.concatenate([np.zeros((2, 3), "float32"), s0], -1)
    _, y_last = layer(x, initial_state=[y0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(y_last)[:, 3:], s0, atol=1e-7)


def test_recurrent_dropout_drops_h_but_never_the_context():
    x = np.random.default_rng(6).normal(size=(3, 5, 4)).astype("float32")
    layer = SCRN(6, context_units=2, recurrent_dropout=0.5, seed=1, return_sequences=True)
    inference = keras.ops.convert_to_numpy(layer(x, training=False))
    training = keras.ops.convert_to_numpy(layer(x, training=True))
    np.testing.assert_allclose(training[..., 6:], inference[..., 6:], atol=1e-6)
    assert not np.allclose(training[..., :6], inference[..., :6], atol=1e-4)


def test_catalogue_width_is_hidden_plus_context():
    layer = recurrent_layer("scrn", 50)
    assert (layer.units, layer.cell.context_units, layer.cell.output_size) == (40, 10, 50)
    chosen = recurrent_layer("scrn", 8, {"context_units": 3})
    assert (chosen.units, chosen.cell.context_units) == (5, 3)
    assert SCRN(40).cell.context_units == 10  # units // 4 by default


def test_parameter_count():
    # [B | A]: input_dim × (context + units); P: context × units;
    # R: units × units; b: units.
    layer = SCRN(100, context_units=40)
    layer.build((1, 2, 30))
    assert layer.count_params() == 30 * 140 + 40 * 100 + 100 * 100 + 100


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SCRN(0), "units=0"),
        (lambda: SCRN(4, context_units=0), "context_units=0"),
        (lambda: SCRN(4, context_units="2"), "context_units='2'"),
        (lambda: SCRN(4, alpha=1.5), "alpha=1.5"),
        (lambda: SCRNCell(4, alpha="high"), "alpha='high'"),
        (lambda: SCRN(4, dropout=-0.1), "dropout=-0.1"),
        (lambda: scrn_of_width(4, {"context_units": 4}), "context_units=4"),
        (lambda: scrn_of_width(1, {}), "units=1"),
    ],
)
def test_bad_arguments_name_the_value(make, message):
    assert_refused(message, make)


def test_docstring_examples_run():
    assert_docstring_examples_run(scrn, at_least=3)
