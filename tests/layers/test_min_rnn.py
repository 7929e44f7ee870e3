"""zoo.layers.min_rnn: minGRU and minLSTM (Feng et al. 2024) against float64
NumPy references of the paper's equations, the parallel (log-space scan),
chunkwise (blocked linear scan) and recurrent forms against each other, long sequences, gradients, argument
checks, size and SavedModel export. The chunkwise form runs with chunks
shorter than the sequences, so that its chunks and its padding are used."""

import itertools
import re
from functools import partial

import keras
import numpy as np
import pytest

from tests.layers.cell_checks import (
    assert_docstring_examples_run,
    assert_gradients_match_reference,
)
from tests.layers.common import random_sequences, share_random_weights, weights64
from tests.layers.numpy_reference import sigmoid
from zoo.layers import keras_loop, min_rnn
from zoo.layers.gru import GRU
from zoo.layers.lstm import LSTM
from zoo.layers.min_rnn import MinGRU, MinLSTM

LAYERS = {"min_gru": MinGRU, "min_lstm": MinLSTM}
layers = pytest.mark.parametrize("name", sorted(LAYERS))
# Each whole-sequence form, with the arguments that exercise it.
FORMS = {"parallel": {"mode": "parallel"}, "chunkwise": {"mode": "chunkwise", "chunk_size": 3}}


def g(v):
    """The paper's positive activation (Appendix B.3)."""
    return np.where(v >= 0, v + 0.5, sigmoid(v))


def min_gru_step(k, h, units):
    """minGRU, blocks [z, h̃]: h_t = (1 - z_t) h_{t-1} + z_t h̃_t."""
    z = sigmoid(k[:, :units])
    h_tilde = g(k[:, units:])
    return (1.0 - z) * h + z * h_tilde


def min_lstm_step(k, h, units):
    """minLSTM, blocks [f, i, h̃]: h_t = f'_t h_{t-1} + i'_t h̃_t."""
    f = sigmoid(k[:, :units])
    i = sigmoid(k[:, units:2 * units])
    h_tilde = g(k[:, 2 * units:])
    return f / (f + i) * h + i / (f + i) * h_tilde


STEPS = {"min_gru": min_gru_step, "min_lstm": min_lstm_step}


def reference(name, x, kernel, bias, mask=None, h0=None, go_backwards=False):
    """The paper's equations over x `(batch, time, features)`, one step at a
    time in float64; masked steps keep h and repeat it as the output."""
    blocks = 2 if name == "min_gru" else 3
    units = kernel.shape[1] // blocks
    if mask is None:
        mask = np.ones(x.shape[:2], dtype=bool)
    if go_backwards:
        x, mask = x[:, ::-1], mask[:, ::-1]
    h = np.zeros((x.shape[0], units)) if h0 is None else h0
    outputs = []
    for t in range(x.shape[1]):
        h_new = STEPS[name](x[:, t] @ kernel + bias, h, units)
        h = np.where(mask[:, t:t + 1], h_new, h)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def as_numpy(tensors):
    return [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(tensors)]


@layers
@pytest.mark.parametrize("form", [*FORMS, "recurrent"])
def test_forward_matches_numpy_equations(name, form):
    x, mask = random_sequences()
    h0 = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    x64 = x.astype("float64")
    options = FORMS.get(form, {"mode": form})
    layer = LAYERS[name](3, return_sequences=True, **options)
    share_random_weights([layer], x)
    kernel, bias = weights64(layer)
    np.testing.assert_allclose(
        as_numpy(layer(x, mask=mask))[0],
        reference(name, x64, kernel, bias, mask),
        atol=1e-5,
    )
    # An initial state of any sign continues exactly (the paper's code
    # would start from g(h_0)).
    np.testing.assert_allclose(
        as_numpy(layer(x, initial_state=[h0]))[0],
        reference(name, x64, kernel, bias, h0=h0.astype("float64")),
        atol=1e-5,
    )
    backwards = LAYERS[name](3, go_backwards=True, **options)
    backwards(x)
    backwards.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        as_numpy(backwards(x, mask=mask))[0],
        reference(name, x64, kernel, bias, mask, go_backwards=True)[:, -1],
        atol=1e-5,
    )


@pytest.mark.jax_slow  # 27 s on JAX
@layers
@pytest.mark.parametrize("form", FORMS)
def test_autodiff_gradients_match_numpy_differences(name, form):
    # The chunkwise form's gradient is its own backward scan, not autodiff.
    layer = LAYERS[name](2, return_sequences=True, **FORMS[form])
    assert_gradients_match_reference(layer, partial(reference, name))


def pair(name, form="parallel", **kwargs):
    """A whole-sequence form and the recurrent form of the same layer, with
    the same random weights."""
    x = np.random.default_rng(0).normal(size=(3, 7, 4)).astype("float32")
    whole = LAYERS[name](5, **FORMS[form], **kwargs)
    recurrent = LAYERS[name](5, mode="recurrent", **kwargs)
    share_random_weights([whole, recurrent], x)
    return x, whole, recurrent

forms = pytest.mark.parametrize("form", FORMS)
# The log-space scan compiles slowly on JAX (about 5 s a test), so where a
# test checks what every form shares, JAX runs it on the chunkwise form
# (the default) and leaves the parallel form to `-m slow`.
forms_jax_chunkwise = pytest.mark.parametrize(
    "form", [pytest.param("parallel", marks=pytest.mark.jax_slow), "chunkwise"]
)


MASK = np.array(
    [[1, 1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 1, 0]], dtype=bool
)


def mode_gradients(layer, x, **kwargs):
    """d Σ layer(x)[-1] / dθ with call arguments (mask, initial_state)."""
    if keras.backend.backend() == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(trainable):
            y, _ = layer.stateless_call(trainable, non_trainable, x, **kwargs)
            return keras.ops.sum(keras.tree.flatten(y)[0][:, -1])

        return jax.grad(loss)([v.value for v in layer.trainable_variables])
    import tensorflow as tf

    with tf.GradientTape() as tape:
        y = keras.tree.flatten(layer(x, **kwargs))[0]
        value = keras.ops.sum(y[:, -1])
    return tape.gradient(value, layer.trainable_weights)


@pytest.mark.jax_slow  # 32 s on JAX
@layers
@pytest.mark.parametrize(
    "options",
    [{}, {"go_backwards": True, "zero_output_for_mask": True}],
    ids=["forward", "backwards-zero-output"],
)
@forms
def test_modes_agree_with_masks_and_initial_states(name, options, form):
    x, whole, recurrent = pair(
        name, form, return_sequences=True, return_state=True, **options
    )
    positive = np.abs(np.random.default_rng(1).normal(size=(3, 5))).astype("float32")
    for kwargs in (
        {"mask": MASK},
        {"mask": MASK, "initial_state": [positive]},
        {"mask": MASK, "initial_state": [-positive]},
    ):
        expected = as_numpy(recurrent(x, **kwargs))
        actual = as_numpy(whole(x, **kwargs))
        for a, e in zip(actual, expected):
            np.testing.assert_allclose(a, e, atol=1e-5)
    # ... and so do their gradients.
    for a, e in zip(
        mode_gradients(whole, x, **kwargs),
        mode_gradients(recurrent, x, **kwargs),
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=1e-5)


@layers
@forms_jax_chunkwise
def test_stateful_whole_sequence_forms_continue_the_recurrent_form(name, form):
    x, whole, recurrent = pair(name, form, return_sequences=True)
    expected = as_numpy(recurrent(x))[0]
    stateful = LAYERS[name](5, stateful=True, return_sequences=True, **FORMS[form])
    stateful(x[:, :2])
    stateful.set_weights(whole.get_weights())
    stateful.reset_state()
    head = as_numpy(stateful(x[:, :2]))[0]
    tail = as_numpy(stateful(x[:, 2:]))[0]
    np.testing.assert_allclose(np.concatenate([head, tail], 1), expected, atol=1e-5)


@layers
@forms_jax_chunkwise
def test_dropout_drops_the_same_inputs_in_each_form(name, form):
    x, whole, recurrent = pair(name, form, dropout=0.5, seed=4)
    a = as_numpy(whole(x, training=True))[0]
    b = as_numpy(recurrent(x, training=True))[0]
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(a, as_numpy(whole(x))[0], atol=1e-4)


@pytest.mark.jax_slow  # 13 s on JAX
def test_long_sequences_with_strong_memory_stay_exact():
    # T = 2,000 with gates near 1 (a_t ≈ 0.98): the recurrent form (one
    # graph), both whole-sequence forms, and float64 NumPy all agree.
    steps = 2000
    x = np.random.default_rng(3).normal(size=(2, steps, 4)).astype("float32")
    inputs = keras.Input((steps, 4))
    recurrent = [
        LAYERS[n](3, mode="recurrent", return_sequences=True) for n in sorted(LAYERS)
    ]
    model = keras.Model(inputs, [layer(inputs) for layer in recurrent])
    rng = np.random.default_rng(4)
    for name, layer in zip(sorted(LAYERS), recurrent):
        kernel = rng.normal(scale=0.3, size=layer.get_weights()[0].shape)
        # z_t ≈ σ(-4) for minGRU; f_t ≈ σ(4), i_t ≈ σ(-4) for minLSTM.
        bias = {"min_gru": [-4.0, 0.0], "min_lstm": [4.0, -4.0, 0.0]}[name]
        layer.set_weights([kernel, np.repeat(bias, 3)])
    with keras_loop():  # Keras's loop: no XLA program to compile here
        expected = model.predict(x, verbose=0)
    for (name, layer, recurrent_outputs), mode in itertools.product(
        zip(sorted(LAYERS), recurrent, expected), ["parallel", "chunkwise"]
    ):
        whole = LAYERS[name](3, mode=mode, return_sequences=True)
        whole(x[:, :1])
        whole.set_weights(layer.get_weights())
        outputs = as_numpy(whole(x))[0]
        assert np.all(np.isfinite(outputs))
        np.testing.assert_allclose(outputs, recurrent_outputs, atol=1e-4)
        numpy_outputs = reference(name, x.astype("float64"), *weights64(layer))
        np.testing.assert_allclose(outputs, numpy_outputs, atol=1e-4)
        # With ordinary forgetting (zero biases) log Π a reaches about -10³;
        # the scan of pairs (and the linear scan) keep float32 precision
        # all the same.
        kernel, bias = layer.get_weights()
        whole.set_weights([kernel, np.zeros_like(bias)])
        np.testing.assert_allclose(
            as_numpy(whole(x))[0],
            reference(name, x.astype("float64"), *weights64(whole)),
            atol=1e-5,
        )


@layers
@forms_jax_chunkwise
def test_masked_steps_give_finite_gradients(name, form):
    x, whole, _ = pair(name, form)
    mask = MASK.copy()
    mask[0] = False  # a row with no real step at all
    grads = mode_gradients(whole, x, mask=mask)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


@layers
def test_parameter_count(name):
    # Feng et al. count O(2 d_h d_x) weights for minGRU against the GRU's
    # O(3 d_h (d_x + d_h)), and O(3 d_h d_x) for minLSTM against the LSTM's
    # O(4 d_h (d_x + d_h)): a third and 3/8 of them when d_x = d_h.
    blocks = {"min_gru": 2, "min_lstm": 3}[name]
    x = np.zeros((1, 2, 7), "float32")
    layer = LAYERS[name](5)
    layer(x)
    assert layer.count_params() == blocks * 5 * (7 + 1)
    square = np.zeros((1, 2, 6), "float32")
    minimal = LAYERS[name](6, use_bias=False)
    full = {"min_gru": GRU(6, use_bias=False), "min_lstm": LSTM(6, use_bias=False)}[name]
    minimal(square), full(square)
    ratio = {"min_gru": 1 / 3, "min_lstm": 3 / 8}[name]
    assert minimal.count_params() == pytest.approx(ratio * full.count_params())
    assert [w.shape for w in layer.weights] == [(7, blocks * 5), (blocks * 5,)]


@layers
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": 4, "recurrent_dropout": 0.3}, "recurrent_dropout=0.3"),
        ({"units": 4, "recurrent_activation": "tanh"}, "recurrent_activation='tanh'"),
        ({"units": 4, "use_bias": "yes"}, "use_bias='yes'"),
        ({"units": 4, "dropout": 1.0}, "dropout=1.0"),
        ({"units": 4, "mode": "scan"}, "mode='scan'"),
        ({"units": 4, "chunk_size": 0}, "chunk_size=0"),
    ],
)
def test_bad_arguments_name_the_value(name, kwargs, message):
    argument = message.split("=")[0]
    with pytest.raises(ValueError, match=f"`{argument}`.*{re.escape(message)}"):
        LAYERS[name](**kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(min_rnn)


@pytest.mark.tensorflow_only
def test_export_uses_core_tensorflow_ops_only(tmp_path):
    import tensorflow as tf

    from training.graph_ops import non_core_ops, saved_model_ops

    inputs = keras.Input((None, 5), name="sequences")
    x = MinGRU(4, return_sequences=True)(inputs)
    x = MinLSTM(3, go_backwards=True)(x)
    model = keras.Model(inputs, x)
    data = np.random.default_rng(0).normal(size=(2, 6, 5)).astype("float32")
    expected = model.predict(data, verbose=0)
    model.export(str(tmp_path), verbose=False)
    assert non_core_ops(saved_model_ops(tmp_path)) == []
    serve = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    result = next(iter(serve(sequences=tf.constant(data)).values())).numpy()
    np.testing.assert_allclose(result, expected, atol=1e-5)


@pytest.mark.tensorflow_only
@forms
def test_graphs_of_unknown_length_scan_by_doubling(form):
    # A graph traced for any length (as exported or fed by padded batches)
    # takes the doubling loop (the chunkwise form, over its chunks); it
    # equals the scan of a known length, gradients too.
    import tensorflow as tf

    x = np.random.default_rng(6).normal(size=(2, 7, 3)).astype("float32")
    h0 = np.random.default_rng(7).normal(size=(2, 4)).astype("float32")
    layer = MinLSTM(4, return_sequences=True, **FORMS[form])
    share_random_weights([layer], x)

    def outputs_and_gradients(x):
        with tf.GradientTape() as tape:
            y = layer(x, initial_state=[h0])
            loss = tf.reduce_sum(y[:, -1])
        return y, tape.gradient(loss, layer.trainable_weights)

    graph = tf.function(
        outputs_and_gradients, input_signature=[tf.TensorSpec((None, None, 3))]
    )
    for a, e in zip(as_numpy(graph(x)), as_numpy(outputs_and_gradients(x))):
        np.testing.assert_allclose(a, e, atol=1e-5)
