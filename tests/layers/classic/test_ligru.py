"""zoo.layers.classic.ligru: Ravanelli et al. 2018's equations against NumPy,
without and with the layer normalisation of the input projections, and
argument checks."""

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
from zoo.layers.classic import ligru
from zoo.layers.classic.ligru import LiGRU, LiGRUCell

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def layer_norm(a):
    return (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-5)


def reference(x, W, U, b, gamma=None, h0=None, mask=None, backwards=False):
    """The Li-GRU over x in float64; masked steps keep h.

    W, U, b (and γ) have blocks [z, h]; with γ, each input projection is
    layer-normalised: γ ⊙ LN(W x_t) + b takes the place of BN(W x_t).
    """
    batch, steps, _ = x.shape
    W_z, W_h = np.split(W, 2, axis=1)
    U_z, U_h = np.split(U, 2, axis=1)
    b_z, b_h = np.split(b, 2)
    h = np.zeros((batch, U.shape[0])) if h0 is None else h0
    outputs = []
    for t in (reversed(range(steps)) if backwards else range(steps)):
        a_z, a_h = x[:, t] @ W_z, x[:, t] @ W_h
        if gamma is not None:
            g_z, g_h = np.split(gamma, 2)
            a_z, a_h = g_z * layer_norm(a_z), g_h * layer_norm(a_h)
        z = sigmoid(a_z + b_z + h @ U_z)
        candidate = np.maximum(a_h + b_h + h @ U_h, 0.0)
        new = z * h + (1 - z) * candidate
        if mask is not None:
            new = np.where(mask[:, t][:, None], new, h)
        h = new
        outputs.append(h)
    return np.stack(outputs, axis=1), h


@pytest.mark.parametrize("normalization", [None, "layer"], ids=["plain", "layer-norm"])
@MASKED
def test_sequences_match_numpy(normalization, masked):
    x, mask = random_sequences()
    layer = LiGRU(6, normalization=normalization, return_sequences=True)
    share_random_weights([layer], x)
    assert_matches_reference(layer, reference, x, mask=mask if masked else None)


def test_backwards_with_initial_state_matches_numpy():
    x, mask = random_sequences()
    h0 = np.random.default_rng(2).uniform(size=(4, 6)).astype("float32")
    layer = LiGRU(6, go_backwards=True)
    share_random_weights([layer], x)
    _, expected = reference(
        x.astype("float64"), *weights64(layer), h0=h0.astype("float64"), mask=mask,
        backwards=True,
    )
    assert_same_outputs(layer(x, mask=mask, initial_state=[h0]), expected)


@pytest.mark.parametrize("normalization", [None, "layer"], ids=["plain", "layer-norm"])
def test_gradient_matches_central_differences(normalization):
    layer = LiGRU(3, normalization=normalization, return_sequences=True)
    assert_gradients_match_reference(layer, reference)


def test_layer_norm_makes_the_projection_scale_free():
    # LN(W x) does not change when the inputs are scaled: a normalised
    # Li-GRU gives the same output for x and 10 x (while a plain one does
    # not), as the paper's BN does for its batch statistics.
    x = np.random.default_rng(4).normal(size=(3, 5, 4)).astype("float32")
    normalised = LiGRU(5, normalization="layer", use_bias=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(normalised(10.0 * x)),
        keras.ops.convert_to_numpy(normalised(x)),
        atol=1e-4,
    )
    plain = LiGRU(5, use_bias=False)
    assert not np.allclose(
        keras.ops.convert_to_numpy(plain(10.0 * x)),
        keras.ops.convert_to_numpy(plain(x)),
        atol=1e-3,
    )


def test_parameter_count():
    # W: input_dim × 2·units, U: units × 2·units, b (β): 2·units; γ: 2·units.
    layer = LiGRU(8)
    layer.build((1, 2, 5))
    assert layer.count_params() == 5 * 16 + 8 * 16 + 16
    normalised = LiGRU(8, normalization="layer")
    normalised.build((1, 2, 5))
    assert normalised.count_params() == 5 * 16 + 8 * 16 + 16 + 16


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: LiGRU(0), "units=0"),
        (lambda: LiGRU(4, normalization="batch"), "normalization='batch'"),
        (lambda: LiGRUCell(4, normalization=True), "normalization=True"),
        (lambda: LiGRU(4, dropout=2), "dropout=2"),
    ],
)
def test_bad_arguments_name_the_value(make, message):
    assert_refused(message, make)


def test_docstring_examples_run():
    assert_docstring_examples_run(ligru)
