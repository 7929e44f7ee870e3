"""zoo.layers.classic.rhn: Zilly et al. 2017's equations against NumPy (both
carry conventions, several depths), the transform bias, and argument
checks."""

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
from zoo.layers.classic import rhn
from zoo.layers.classic.rhn import RHN, RHNCell

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, W, R, b, coupled=True, s0=None, mask=None, backwards=False):
    """The RHN over x in float64; masked steps keep the state.

    W = [W_H | W_T (| W_C)], R[ℓ-1] = [R_Hℓ | R_Tℓ (| R_Cℓ)], b likewise.
    """
    batch, steps, _ = x.shape
    depth, units = R.shape[0], R.shape[1]
    n = 2 if coupled else 3
    y = np.zeros((batch, units)) if s0 is None else s0
    outputs = []
    for t in (reversed(range(steps)) if backwards else range(steps)):
        s = y  # s_0^[t] = y^[t-1]
        for layer in range(depth):
            pre = s @ R[layer] + b[layer] + (x[:, t] @ W if layer == 0 else 0.0)
            blocks = np.split(pre, n, axis=-1)
            h, gate_t = np.tanh(blocks[0]), sigmoid(blocks[1])
            c = 1.0 - gate_t if coupled else sigmoid(blocks[2])
            s = h * gate_t + s * c
        if mask is not None:
            s = np.where(mask[:, t][:, None], s, y)
        y = s  # y^[t] = s_L^[t]
        outputs.append(y)
    return np.stack(outputs, axis=1), y


@pytest.mark.parametrize(
    "depth, coupled", [(1, True), (3, True), (2, False)], ids=["L1", "L3", "L2-uncoupled"]
)
@MASKED
def test_sequences_match_numpy(depth, coupled, masked):
    x, mask = random_sequences()
    layer = RHN(5, depth=depth, coupled_carry=coupled, return_sequences=True)
    share_random_weights([layer], x)
    assert_matches_reference(layer, reference, x, mask=mask if masked else None, coupled=coupled)


def test_backwards_with_initial_state_matches_numpy():
    x, mask = random_sequences()
    s0 = np.random.default_rng(2).normal(size=(4, 5)).astype("float32")
    layer = RHN(5, depth=2, go_backwards=True)
    share_random_weights([layer], x)
    _, expected = reference(
        x.astype("float64"), *weights64(layer), s0=s0.astype("float64"), mask=mask,
        backwards=True,
    )
    assert_same_outputs(layer(x, mask=mask, initial_state=[s0]), expected)


@pytest.mark.parametrize("coupled", [True, False], ids=["coupled", "uncoupled"])
def test_gradient_matches_central_differences(coupled):
    layer = RHN(3, depth=2, coupled_carry=coupled, return_sequences=True)
    assert_gradients_match_reference(layer, reference, coupled=coupled)


def test_transform_biases_start_negative_and_others_at_zero():
    layer = RHN(4, depth=3, coupled_carry=False)
    layer.build((1, 2, 3))
    bias = keras.ops.convert_to_numpy(layer.cell.bias)
    assert bias.shape == (3, 12)
    np.testing.assert_array_equal(bias[:, 4:8], -2.0)  # b_Tℓ
    np.testing.assert_array_equal(bias[:, :4], 0.0)  # b_Hℓ
    np.testing.assert_array_equal(bias[:, 8:], 0.0)  # b_Cℓ
    custom = RHN(4, transform_bias_initializer=keras.initializers.Constant(-4.0))
    custom.build((1, 2, 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(custom.cell.bias)[:, 4:], -4.0)
    restored = RHN.from_config(custom.get_config())
    restored.build((1, 2, 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored.cell.bias)[:, 4:], -4.0)


def test_parameter_count():
    # W: input_dim × n·units (first micro-layer only); per micro-layer
    # R: units × n·units and b: n·units; n = 2 coupled, 3 uncoupled.
    for coupled, n in [(True, 2), (False, 3)]:
        layer = RHN(10, depth=4, coupled_carry=coupled)
        layer.build((1, 2, 6))
        assert layer.count_params() == 6 * n * 10 + 4 * (10 * n * 10 + n * 10)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: RHN(0), "units=0"),
        (lambda: RHN(4, depth=0), "depth=0"),
        (lambda: RHN(4, depth=2.0), "depth=2.0"),
        (lambda: RHNCell(4, coupled_carry="yes"), "coupled_carry='yes'"),
        (lambda: RHN(4, dropout=1.0), "dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_value(make, message):
    assert_refused(message, make)


def test_docstring_examples_run():
    assert_docstring_examples_run(rhn)
