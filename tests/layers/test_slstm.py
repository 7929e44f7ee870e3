"""zoo.layers.SLSTM: the stabilized cell against a float64 NumPy reference
of the paper's unstabilized equations, its gradients against central
differences, its heads, the empty-state guard, extreme pre-activations and
float16."""

import keras
import numpy as np
import pytest

from tests.layers.autodiff import gradients
from tests.layers.cell_checks import assert_docstring_examples_run, assert_refused
from tests.layers.common import share_random_weights, weights64
from tests.layers.numpy_reference import numerical_gradient, sigmoid
from zoo.layers import slstm
from zoo.layers.slstm import SLSTM


def block_diagonal(recurrent_kernel):
    """The dense R `(units, 4 units)` of the zoo's `(heads, d, 4 d)` blocks.

    Columns [R_i, R_f, R_z, R_o], each `units` wide, units head by head;
    every weight between two different heads is zero.
    """
    heads, d, _ = recurrent_kernel.shape
    units = heads * d
    dense = np.zeros((units, 4 * units))
    for h in range(heads):
        for g in range(4):
            dense[h * d:(h + 1) * d, g * units + h * d:g * units + (h + 1) * d] = (
                recurrent_kernel[h, :, g * d:(g + 1) * d]
            )
    return dense


def reference(x, kernel, recurrent_kernel, bias, forget_gate="sigmoid",
              mask=None, initial_state=None):
    """Beck et al. 2024, eqs. of Section 2.2, unstabilized, in float64.

    Returns h for every step `(batch, time, units)` and the final (c, n).
    Masked steps keep the state and repeat the previous output (Keras). An
    initial state [h, c, n, m] of the stabilized cell stands for the
    unstabilized c e^m and n e^m.
    """
    R = block_diagonal(recurrent_kernel)
    units = R.shape[0]
    batch, steps, _ = x.shape
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    n = np.zeros((batch, units))
    if initial_state is not None:
        h0, c0, n0, m0 = initial_state
        h, c, n = h0, c0 * np.exp(m0), n0 * np.exp(m0)
    outputs = []
    for t in range(steps):
        pre = x[:, t] @ kernel + h @ R + (0.0 if bias is None else bias)
        i_tilde, f_tilde, z_tilde, o_tilde = np.split(pre, 4, axis=1)
        i = np.exp(i_tilde)
        f = sigmoid(f_tilde) if forget_gate == "sigmoid" else np.exp(f_tilde)
        z = np.tanh(z_tilde)
        o = sigmoid(o_tilde)
        c_new = f * c + i * z
        n_new = f * n + i
        h_new = o * (c_new / n_new)
        keep = True if mask is None else mask[:, t:t + 1]
        h = np.where(keep, h_new, h)
        c = np.where(keep, c_new, c)
        n = np.where(keep, n_new, n)
        outputs.append(h)
    return np.stack(outputs, axis=1), (c, n)


def as_numpy(tensors):
    return [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(tensors)]


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exponential"])
def test_forward_matches_unstabilized_equations(forget_gate):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    layer = SLSTM(6, num_heads=3, forget_gate=forget_gate,
                  return_sequences=True, return_state=True)
    share_random_weights([layer], x, scale=0.5)
    kernel, recurrent, bias = weights64(layer)
    x64 = x.astype("float64")

    # Unmasked, from the zero state; the final stabilized (c, n) are the
    # unstabilized ones scaled by e^{-m}.
    h_seq, h_last, c, n, m = as_numpy(layer(x))
    expected, (c_true, n_true) = reference(x64, kernel, recurrent, bias, forget_gate)
    np.testing.assert_allclose(h_seq, expected, atol=1e-5)
    np.testing.assert_allclose(h_last, expected[:, -1], atol=1e-5)
    np.testing.assert_allclose(c * np.exp(m), c_true, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(n * np.exp(m), n_true, rtol=1e-4)
    assert np.all(n >= 1.0)

    # Masked: right-padded, left-padded and holed rows.
    mask = np.ones((4, 6), dtype=bool)
    mask[1, 4:] = False
    mask[2, :2] = False
    mask[3, 3] = False
    expected, _ = reference(x64, kernel, recurrent, bias, forget_gate, mask=mask)
    np.testing.assert_allclose(as_numpy(layer(x, mask=mask))[0], expected, atol=1e-5)

    # An initial state [h, c, n, m] with m ≠ 0 stands for c e^m, n e^m.
    state = [rng.normal(size=(4, 6)) * 0.5, rng.normal(size=(4, 6)),
             rng.uniform(1.0, 2.0, size=(4, 6)), rng.normal(size=(4, 6))]
    expected, _ = reference(x64, kernel, recurrent, bias, forget_gate,
                            initial_state=state)
    outputs = layer(x, initial_state=[s.astype("float32") for s in state])
    np.testing.assert_allclose(as_numpy(outputs)[0], expected, atol=1e-5)

    # go_backwards reads the sequence from its end.
    backwards = SLSTM(6, num_heads=3, forget_gate=forget_gate, go_backwards=True)
    backwards(x)
    backwards.set_weights(layer.get_weights())
    expected, _ = reference(x64[:, ::-1], kernel, recurrent, bias, forget_gate)
    np.testing.assert_allclose(as_numpy(backwards(x))[0], expected[:, -1], atol=1e-5)


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exponential"])
def test_gradients_match_central_differences(forget_gate):
    x = np.random.default_rng(5).normal(size=(2, 4, 3)).astype("float32")
    x[1, :2] = 0.0  # left padding, masked away below
    mask = np.ones((2, 4), dtype=bool)
    mask[1, :2] = False
    layer = SLSTM(4, num_heads=2, forget_gate=forget_gate, return_sequences=True)
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.Masking(0.0), layer])
    share_random_weights([layer], x, scale=0.5)
    kernel, recurrent, bias = weights64(layer)
    x64 = x.astype("float64")

    def forward():
        return reference(x64, kernel, recurrent, bias, forget_gate, mask=mask)[0]

    np.testing.assert_allclose(as_numpy(model(x))[0], forward(), atol=1e-5)
    for computed, weight in zip(gradients(model, x), [kernel, recurrent, bias]):
        numeric = numerical_gradient(lambda: forward()[:, -1].sum(), weight)
        np.testing.assert_allclose(computed, numeric, atol=2e-4, rtol=1e-3)


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exponential"])
def test_extreme_preactivations_stay_finite(forget_gate):
    # Gate biases of ±100: exp(±100) overflows or underflows float32, the
    # float64 reference of the unstabilized equations is still finite, and
    # the cell equals it. Unit k gets ĩ ≈ ±100 and f̃ ≈ ±100 in all four
    # combinations: ĩ (+, +, -, -), f̃ (+, -, +, -).
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layer = SLSTM(4, num_heads=2, forget_gate=forget_gate, return_sequences=True)
    share_random_weights([layer], x, scale=0.5)
    kernel, recurrent, bias = layer.get_weights()
    bias[0:4] += [100.0, 100.0, -100.0, -100.0]  # b_i
    bias[4:8] += [100.0, -100.0, 100.0, -100.0]  # b_f
    layer.set_weights([kernel, recurrent, bias])
    output = as_numpy(layer(x))[0]
    assert np.all(np.isfinite(output))
    expected, _ = reference(x.astype("float64"), *weights64(layer), forget_gate)
    np.testing.assert_allclose(output, expected, atol=1e-4)
    assert all(np.all(np.isfinite(g)) for g in gradients(layer, x))
    # Inputs of ±100 drive every pre-activation to ±(tens to hundreds).
    big = 100.0 * x
    assert np.all(np.isfinite(as_numpy(layer(big))[0]))
    assert all(np.all(np.isfinite(g)) for g in gradients(layer, big))


def test_empty_state_guard_on_masked_leading_steps():
    # Left padding with ĩ ≈ -150: the paper's m_0 = 0 would divide
    # exp(-150)·z by exp(-150), 0/0 in float32, on the masked steps.
    i_tilde = np.float32(-150.0)
    naive_n = np.exp(i_tilde - max(np.float32(np.log(0.5)), i_tilde))
    assert naive_n == 0.0  # hence NaN without the guard
    x = np.random.default_rng(2).normal(size=(2, 4, 3)).astype("float32")
    x[0, :3] = 0.0
    layer = SLSTM(4, num_heads=2, return_sequences=True)
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.Masking(0.0), layer])
    share_random_weights([layer], x, scale=0.5)
    kernel, recurrent, bias = layer.get_weights()
    bias[:4] = -150.0
    layer.set_weights([kernel, recurrent, bias])
    output = as_numpy(model(x))[0]
    assert np.all(np.isfinite(output))
    np.testing.assert_allclose(output[0, :3], 0.0)
    grads = gradients(model, x)
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert np.any(grads[0] != 0.0)


def test_heads_are_block_diagonal():
    layer = SLSTM(6, num_heads=3, return_state=True)
    x = np.random.default_rng(4).normal(size=(2, 1, 5)).astype("float32")
    layer(x)
    assert tuple(layer.cell.recurrent_kernel.shape) == (3, 2, 8)
    share_random_weights([layer], x, scale=0.5)
    # Changing head 0 of h_{t-1} changes head 0's next state only.
    state = [np.zeros((2, 6), "float32"), np.zeros((2, 6), "float32"),
             np.ones((2, 6), "float32"), np.zeros((2, 6), "float32")]
    changed = [s.copy() for s in state]
    changed[0][:, :2] = 1.0
    base = as_numpy(layer(x, initial_state=state))
    other = as_numpy(layer(x, initial_state=changed))
    for before, after in zip(base, other):
        np.testing.assert_allclose(after[:, 2:], before[:, 2:], atol=1e-7)
        assert not np.allclose(after[:, :2], before[:, :2])


def test_mixed_float16_with_large_gates():
    x = np.random.default_rng(6).normal(size=(2, 6, 3)).astype("float32")
    full = SLSTM(4, num_heads=2, return_sequences=True)
    half = SLSTM(4, num_heads=2, return_sequences=True, dtype="mixed_float16")
    share_random_weights([full, half], x, scale=0.5)
    kernel, recurrent, bias = full.get_weights()
    for gate_bias in (40.0, -40.0):  # exp(±40) is far beyond float16
        bias[:4] = gate_bias
        full.set_weights([kernel, recurrent, bias])
        half.set_weights([kernel, recurrent, bias])
        output = as_numpy(half(x))[0]
        assert output.dtype == np.float16
        assert np.all(np.isfinite(output))
        np.testing.assert_allclose(output.astype("float32"), as_numpy(full(x))[0], atol=5e-2)


@pytest.mark.parametrize("heads, use_bias", [(1, True), (2, True), (4, False)])
def test_parameter_count(heads, use_bias):
    # input_dim·4u (W) + heads·d·4d = 4u²/heads (block-diagonal R) + 4u (b).
    # The paper reports counts of whole xLSTM models only, not of one cell.
    layer = SLSTM(8, num_heads=heads, use_bias=use_bias)
    layer(np.zeros((1, 2, 5), "float32"))
    expected = 5 * 4 * 8 + 4 * 8 * 8 // heads + (4 * 8 if use_bias else 0)
    assert layer.count_params() == expected


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": 4, "num_heads": 0}, "num_heads=0"),
        ({"units": 4, "num_heads": "2"}, "num_heads='2'"),
        ({"units": 6, "num_heads": 4}, "units=6, num_heads=4"),
        ({"units": 4, "forget_gate": "relu"}, "forget_gate='relu'"),
        ({"units": 4, "recurrent_dropout": -0.1}, "recurrent_dropout=-0.1"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, SLSTM, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(slstm)
