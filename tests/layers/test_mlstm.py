"""zoo.layers.MLSTM: its three forms (parallel, chunkwise, recurrent) against
a float64 NumPy reference of the paper's unstabilized equations and against
each other (masks, initial states, go_backwards, stateful, dropout), its
gradients against central differences, extreme pre-activations, float16,
and a SavedModel export with core TF ops only."""

import keras
import numpy as np
import pytest

from tests.layers.autodiff import gradients
from tests.layers.cell_checks import assert_docstring_examples_run, assert_refused
from tests.layers.common import share_random_weights, weights64
from tests.layers.numpy_reference import numerical_gradient, sigmoid
from zoo.layers import mlstm
from zoo.layers.mlstm import MLSTM

MODES = ("parallel", "chunkwise", "recurrent")
# Right-padded, left-padded and holed rows.
MASK = np.array(
    [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 0, 1, 1, 1]],
    dtype=bool,
)


def reference(x, weights, num_heads, forget_gate="sigmoid", mask=None, initial_state=None):
    """Beck et al. 2024, Section 2.3, unstabilized, in float64.

    `weights` in the documented layout: kernel [W_q, W_k, W_v], bias
    [b_q, b_k, b_v], gate_kernel [w_i, w_f], gate_bias [b_i, b_f],
    output_gate_kernel W_o, output_gate_bias b_o. Returns h for every step
    `(batch, time, units)` and the final (C, n) per head. Masked steps keep
    the state and repeat the previous output (Keras; before the first real
    step, Keras's TensorFlow loop outputs zeros, its JAX loop the initial
    h). An initial state [h, C', n', m] of the stabilized cell stands for
    C' e^m and n' e^m.
    """
    kernel, bias, gate_kernel, gate_bias, W_o, b_o = weights
    batch, steps, _ = x.shape
    units = W_o.shape[1]
    d = units // num_heads
    C = np.zeros((batch, num_heads, d, d))
    n = np.zeros((batch, num_heads, d))
    h = out = np.zeros((batch, units))
    if initial_state is not None:
        h0, C0, n0, m0 = initial_state
        scale = np.exp(m0)[:, :, None]
        h = h0
        out = h0 if keras.backend.backend() == "jax" else out
        C = C0.reshape(batch, num_heads, d, d) * scale[..., None]
        n = n0.reshape(batch, num_heads, d) * scale
    outputs = []
    for t in range(steps):
        qkv = x[:, t] @ kernel
        q, k, v = np.split(qkv, 3, axis=1)
        b_q, b_k, b_v = np.split(bias, 3)
        q = (q + b_q).reshape(batch, num_heads, d)
        k = (k / np.sqrt(d) + b_k).reshape(batch, num_heads, d)
        v = (v + b_v).reshape(batch, num_heads, d)
        i_tilde, f_tilde = np.split(x[:, t] @ gate_kernel + gate_bias, 2, axis=1)
        i = np.exp(i_tilde)[:, :, None]
        f = (sigmoid(f_tilde) if forget_gate == "sigmoid" else np.exp(f_tilde))[:, :, None]
        o = sigmoid(x[:, t] @ W_o + b_o)
        C_new = f[..., None] * C + i[..., None] * np.einsum("bhi,bhj->bhij", v, k)
        n_new = f * n + i * k
        numerator = np.einsum("bhij,bhj->bhi", C_new, q)
        denominator = np.maximum(np.abs(np.sum(n_new * q, axis=-1)), 1.0)[..., None]
        h_new = o * (numerator / denominator).reshape(batch, units)
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t:t + 1]
        h = np.where(keep, h_new, h)
        out = np.where(keep, h_new, out)
        C = np.where(keep[..., None, None], C_new, C)
        n = np.where(keep[..., None], n_new, n)
        outputs.append(out)
    return np.stack(outputs, axis=1), (C, n)


def as_numpy(tensors):
    return [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(tensors)]


def layers_in_every_mode(x, units=6, num_heads=2, **kwargs):
    """The layer in each form, with the same random weights."""
    layers = {mode: MLSTM(units, num_heads=num_heads, mode=mode, chunk_size=3, **kwargs)
              for mode in MODES}
    share_random_weights(list(layers.values()), x, scale=0.5)
    return layers


def random_state(rng, batch=4, units=6, heads=2):
    d = units // heads
    return [
        (rng.normal(size=(batch, units)) * 0.5).astype("float32"),
        rng.normal(size=(batch, heads * d * d)).astype("float32"),
        rng.normal(size=(batch, units)).astype("float32"),
        rng.normal(size=(batch, heads)).astype("float32"),
    ]


@pytest.mark.jax_slow  # about 30 s on JAX
@pytest.mark.parametrize("forget_gate", ["sigmoid", "exponential"])
def test_every_form_matches_unstabilized_equations(forget_gate):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 7, 3)).astype("float32")
    x64 = x.astype("float64")
    layers = layers_in_every_mode(x, forget_gate=forget_gate,
                                  return_sequences=True, return_state=True)
    weights = weights64(layers["parallel"])
    state = random_state(rng)
    state64 = [s.astype("float64") for s in state]
    cases = [
        ({}, {}),
        ({"mask": MASK, "initial_state": state}, {"mask": MASK, "initial_state": state64}),
    ]
    for mode, layer in layers.items():
        for kwargs, ref_kwargs in cases if mode == "parallel" else cases[1:]:
            h_seq, h_last, C, n, m = as_numpy(layer(x, **kwargs))
            expected, (C_true, n_true) = reference(x64, weights, 2, forget_gate, **ref_kwargs)
            np.testing.assert_allclose(h_seq, expected, atol=1e-5, err_msg=mode)
            np.testing.assert_allclose(h_last, expected[:, -1], atol=1e-5, err_msg=mode)
            # The stored C', n' are C, n scaled by e^{-m}.
            scale = np.exp(m)[:, :, None]
            np.testing.assert_allclose(C.reshape(C_true.shape) * scale[..., None], C_true,
                                       rtol=1e-4, atol=1e-5, err_msg=mode)
            np.testing.assert_allclose(n.reshape(n_true.shape) * scale, n_true,
                                       rtol=1e-4, atol=1e-5, err_msg=mode)
    # go_backwards reads the sequence from its end.
    backwards = MLSTM(6, num_heads=2, forget_gate=forget_gate, go_backwards=True)
    backwards(x)
    backwards.set_weights(layers["parallel"].get_weights())
    expected, _ = reference(x64[:, ::-1], weights, 2, forget_gate)
    np.testing.assert_allclose(as_numpy(backwards(x))[0], expected[:, -1], atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [{}, {"zero_output_for_mask": True, "go_backwards": True}],
    ids=str,
)
def test_forms_agree_with_masks_and_initial_states(options):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 7, 3)).astype("float32")
    layers = layers_in_every_mode(x, return_sequences=True, return_state=True, **options)
    state = random_state(rng)
    for kwargs in ({"mask": MASK}, {"mask": MASK, "initial_state": state}):
        expected = as_numpy(layers["recurrent"](x, **kwargs))
        for mode in ("parallel", "chunkwise"):
            for a, e in zip(as_numpy(layers[mode](x, **kwargs)), expected):
                np.testing.assert_allclose(a, e, atol=1e-5, err_msg=mode)


@pytest.mark.jax_slow  # 12 s on JAX
def test_stateful_forms_continue_the_same_state():
    x = np.random.default_rng(5).normal(size=(4, 7, 3)).astype("float32")
    whole = MLSTM(6, num_heads=2, mode="recurrent", return_sequences=True)
    whole(x)
    expected = as_numpy(whole(x))[0]
    for mode in MODES:
        layer = MLSTM(6, num_heads=2, mode=mode, chunk_size=3, stateful=True,
                      return_sequences=True)
        layer(x[:, :4])
        layer.set_weights(whole.get_weights())
        layer.reset_state()
        first, second = as_numpy(layer(x[:, :4]))[0], as_numpy(layer(x[:, 4:]))[0]
        np.testing.assert_allclose(np.concatenate([first, second], 1), expected,
                                   atol=1e-5, err_msg=mode)


def test_dropout_uses_one_mask_per_sequence_in_every_form():
    x = np.random.default_rng(6).normal(size=(4, 7, 3)).astype("float32")
    layers = layers_in_every_mode(x, dropout=0.5, seed=4)
    # Each layer draws its mask from the same seed: the same features drop.
    outputs = {mode: as_numpy(layer(x, training=True))[0] for mode, layer in layers.items()}
    for mode in ("parallel", "chunkwise"):
        np.testing.assert_allclose(outputs[mode], outputs["recurrent"], atol=1e-5)
    assert not np.allclose(outputs["parallel"], as_numpy(layers["parallel"](x))[0], atol=1e-4)


@pytest.mark.jax_slow  # about 30 s on JAX
@pytest.mark.parametrize("forget_gate", ["sigmoid", "exponential"])
def test_gradients_match_central_differences_in_every_form(forget_gate):
    # The shapes of the other tests, so that JAX compiles each op once.
    x = np.random.default_rng(7).normal(size=(4, 7, 3)).astype("float32")
    mask = MASK
    layers = layers_in_every_mode(x, forget_gate=forget_gate, return_sequences=True)
    weights = weights64(layers["parallel"])

    def forward():
        return reference(x.astype("float64"), weights, 2, forget_gate, mask=mask)[0]

    numeric = [numerical_gradient(lambda: forward()[:, -1].sum(), w) for w in weights]
    # Every form for σ; the parallel form for exp (the forms' gradients
    # agree, test_parallel_gradients_equal_recurrent_gradients).
    modes = MODES if forget_gate == "sigmoid" else ("parallel",)
    for mode, layer in ((m, layers[m]) for m in modes):
        model = keras.Sequential([keras.Input((7, 3)), keras.layers.Masking(0.0), layer])
        masked_x = np.where(mask[..., None], x, 0.0).astype("float32")
        np.testing.assert_allclose(as_numpy(model(masked_x))[0], forward(), atol=1e-5)
        for computed, expected in zip(gradients(model, masked_x), numeric):
            np.testing.assert_allclose(computed, expected, atol=2e-4, rtol=1e-3, err_msg=mode)


@pytest.mark.jax_slow  # 90 s on JAX
@pytest.mark.parametrize("forget_gate", ["sigmoid", "exponential"])
def test_extreme_preactivations_stay_finite(forget_gate):
    # Gate biases of ±100 (exp(±100) is beyond float32), in all four
    # combinations of ĩ ≈ ±100 and f̃ ≈ ±100 over two heads and two rounds.
    # The float64 reference of the unstabilized equations is finite where
    # it does not overflow float64 too, and every form equals it there (to
    # float32's precision where |n_tᵀq_t| is small and h̃_t large).
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 7, 3)).astype("float32")
    layers = layers_in_every_mode(x, forget_gate=forget_gate, return_sequences=True)
    weights = layers["parallel"].get_weights()
    for gate_bias in ([100.0, -100.0, 100.0, -100.0], [100.0, -100.0, -100.0, 100.0]):
        extreme = [w.copy() for w in weights]
        extreme[3] += gate_bias  # [b_i (head 0, 1), b_f (head 0, 1)]
        with np.errstate(over="ignore", invalid="ignore"):
            expected, _ = reference(x.astype("float64"), [w.astype("float64") for w in extreme],
                                    2, forget_gate)
        finite = np.isfinite(expected)
        assert finite.mean() > 0.5
        for mode, layer in layers.items():
            layer.set_weights(extreme)
            output = as_numpy(layer(x))[0]
            assert np.all(np.isfinite(output)), mode
            np.testing.assert_allclose(output[finite], expected[finite], atol=1e-4, rtol=1e-3,
                                       err_msg=mode)
            assert all(np.all(np.isfinite(g)) for g in gradients(layer, x)), mode
    # Inputs of ±100 drive every pre-activation to ±(tens to hundreds).
    big = 100.0 * x
    for mode in ("parallel", "recurrent"):
        assert np.all(np.isfinite(as_numpy(layers[mode](big))[0])), mode
    assert all(np.all(np.isfinite(g)) for g in gradients(layers["parallel"], big))


@pytest.mark.jax_slow  # 11 s on JAX
def test_parallel_gradients_equal_recurrent_gradients():
    x = np.random.default_rng(9).normal(size=(4, 7, 3)).astype("float32")
    layers = layers_in_every_mode(x, return_sequences=True)

    def loss(y):
        return keras.ops.sum(y * keras.ops.linspace(0.5, 1.5, 7)[None, :, None])

    expected = gradients(layers["recurrent"], x, loss)
    for mode in ("parallel", "chunkwise"):
        for a, e in zip(gradients(layers[mode], x, loss), expected):
            np.testing.assert_allclose(a, e, atol=1e-5, rtol=1e-4, err_msg=mode)


@pytest.mark.jax_slow  # 22 s on JAX
def test_mixed_float16_with_large_gates():
    x = np.random.default_rng(10).normal(size=(2, 6, 3)).astype("float32")
    full = MLSTM(4, num_heads=2, return_sequences=True)
    half = MLSTM(4, num_heads=2, return_sequences=True, dtype="mixed_float16")
    share_random_weights([full, half], x, scale=0.5)
    weights = full.get_weights()
    for gate_bias in (40.0, -40.0):  # exp(±40) is far beyond float16
        weights[3][:2] = gate_bias
        full.set_weights(weights)
        half.set_weights(weights)
        output = as_numpy(half(x))[0]
        assert output.dtype == np.float16
        np.testing.assert_allclose(output.astype("float32"), as_numpy(full(x))[0], atol=2e-2)


@pytest.mark.parametrize("heads, use_bias", [(1, True), (2, True), (4, False)])
def test_parameter_count(heads, use_bias):
    # input_dim·(3u + 2·heads + u) weights, and as many biases per column.
    # The paper reports counts of whole xLSTM models only, not of one cell.
    layer = MLSTM(8, num_heads=heads, use_bias=use_bias)
    layer.build((None, None, 5))
    columns = 3 * 8 + 2 * heads + 8
    assert layer.count_params() == (5 + (1 if use_bias else 0)) * columns
    assert [w.shape for w in layer.cell.weights][:1] == [(5, 24)]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": 4, "num_heads": 0}, "num_heads=0"),
        ({"units": 4, "num_heads": "2"}, "num_heads='2'"),
        ({"units": 6, "num_heads": 4}, "units=6, num_heads=4"),
        ({"units": 4, "forget_gate": "relu"}, "forget_gate='relu'"),
        ({"units": 4, "chunk_size": 0}, "chunk_size=0"),
        ({"units": 4, "use_bias": 1}, "use_bias=1"),
        ({"units": 4, "recurrent_dropout": 0.2}, "recurrent_dropout=0.2"),
        ({"units": 4, "mode": "scan"}, "mode='scan'"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, MLSTM, **kwargs)


@pytest.mark.jax_slow  # 9 s on JAX
def test_docstring_examples_run():
    assert_docstring_examples_run(mlstm)


@pytest.mark.tensorflow_only
def test_export_uses_core_ops_only(tmp_path):
    from training.graph_ops import non_core_ops, saved_model_ops

    inputs = keras.Input((None, 3), name="sequences")
    hidden = MLSTM(4, num_heads=2, return_sequences=True)(inputs)
    # (The recurrent form is Keras's loop, exported as every zoo layer's.)
    outputs = MLSTM(4, num_heads=2, mode="chunkwise", chunk_size=2)(hidden)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(11).normal(size=(2, 5, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    model.export(str(tmp_path / "export"), verbose=False)
    assert non_core_ops(saved_model_ops(tmp_path / "export")) == []
    import tensorflow as tf

    serve = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    result = next(iter(serve(sequences=tf.constant(x)).values())).numpy()
    np.testing.assert_allclose(result, expected, atol=1e-5)
