"""The XLA-compiled time loop: same outputs and gradients as Keras's loop.

Every zoo layer traced in a TensorFlow graph at inference runs its loop as
one XLA program (`zoo.layers.xla_loop`); these tests compare it with Keras's
uncompiled loop (`keras_loop()`), eager calls and `keras.layers`, and check
when it is, and is not, used.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layers.common import assert_same_outputs, random_sequences, share_random_weights
from zoo.layers import GRU, LSTM, OriginalLSTM, compiled_training, keras_loop
from zoo.layers import xla_loop

pytestmark = pytest.mark.tensorflow_only

LAYERS = {
    "lstm": lambda **kw: LSTM(6, **kw),
    "lstm_vanilla": lambda **kw: LSTM(6, variant="vanilla", **kw),
    "lstm_fgr": lambda **kw: LSTM(6, variant="FGR", **kw),
    "lstm_cifg": lambda **kw: LSTM(6, variant="CIFG", **kw),
    "gru": lambda **kw: GRU(6, **kw),
    "gru_reset_before": lambda **kw: GRU(6, reset_after=False, **kw),
    "original_lstm": lambda **kw: OriginalLSTM(3, 2, **kw),
}


def xla_functions(concrete_function):
    """Names of the functions in a traced graph that XLA must compile."""
    library = concrete_function.graph.as_graph_def().library
    return [f.signature.name for f in library.function if f.attr["_XlaMustCompile"].b]


def traced(layer, x, mask, training=False):
    """The layer's call traced as a graph: (concrete function, its outputs)."""
    function = tf.function(lambda x, mask: layer(x, mask=mask, training=training))
    concrete = function.get_concrete_function(tf.constant(x), tf.constant(mask))
    return concrete, function(tf.constant(x), tf.constant(mask))


def with_peepholes(layer):
    # Peepholes start at zero; give them values so they take part.
    for weight in layer.weights:
        if "peephole" in weight.path:
            weight.assign(np.full(weight.shape, 0.3, "float32"))
    return layer


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_compiled_loop_gives_keras_loops_outputs(name, go_backwards):
    x, mask = random_sequences()
    layer = LAYERS[name](return_sequences=True, return_state=True, go_backwards=go_backwards)
    share_random_weights([layer], x)
    with_peepholes(layer)

    concrete, compiled = traced(layer, x, mask)
    assert xla_functions(concrete), "the layer's loop was not compiled"
    with keras_loop():
        plain_concrete, plain = traced(layer, x, mask)
    assert xla_functions(plain_concrete) == []
    eager = layer(x, mask=mask)

    assert_same_outputs(compiled, plain)
    assert_same_outputs(compiled, eager)


def test_compiled_loop_gives_keras_layers_lstm_outputs_in_predict():
    x, _ = random_sequences(batch=8, steps=12, features=5)
    ours, theirs = LSTM(7, return_sequences=True), keras.layers.LSTM(7, return_sequences=True)
    share_random_weights([ours, theirs], x)
    model_ours = keras.Sequential([keras.Input((12, 5)), ours])
    model_theirs = keras.Sequential([keras.Input((12, 5)), theirs])
    np.testing.assert_allclose(
        model_ours.predict(x, verbose=0), model_theirs.predict(x, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize("training", [False, True], ids=["inference", "compiled_training"])
@pytest.mark.parametrize("name", ["lstm_vanilla", "gru", "original_lstm"])
def test_gradients_through_compiled_loop_match_keras_loop(name, training):
    """Gradients to the inputs, initial states and every weight."""
    x, mask = random_sequences()
    layer = LAYERS[name](return_sequences=True)
    share_random_weights([layer], x)
    with_peepholes(layer)
    states = [
        tf.constant(np.random.default_rng(2).normal(size=(4, size)).astype("float32"))
        for size in layer.cell.state_size
    ]

    @tf.function
    def gradients(x):
        with tf.GradientTape() as tape:
            tape.watch([x, states])
            y = layer(x, initial_state=states, mask=tf.constant(mask), training=training)
            # A loss that weighs every unit differently.
            loss = tf.reduce_sum(tf.sin(y) * tf.range(1.0, 1.0 + y.shape[-1]))
        return tape.gradient(loss, [x, states, layer.trainable_weights])

    with compiled_training():
        concrete = gradients.get_concrete_function(tf.constant(x))
        compiled = gradients(tf.constant(x))
    assert xla_functions(concrete), "the layer's loop was not compiled"
    with keras_loop():
        plain = tf.function(gradients.python_function)(tf.constant(x))
    for got, want in zip(tf.nest.flatten(compiled), tf.nest.flatten(plain)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
    assert any(np.abs(g.numpy()).max() > 0 for g in tf.nest.flatten(compiled))


def test_training_and_eager_calls_run_keras_loop():
    x, mask = random_sequences()
    layer = LSTM(6, dropout=0.5, recurrent_dropout=0.5)
    concrete, _ = traced(layer, x, mask, training=True)
    assert xla_functions(concrete) == []
    inference, _ = traced(layer, x, mask, training=False)
    assert xla_functions(inference)
    assert not xla_loop.compiles(unroll=False, training=False)  # this test runs eagerly


@pytest.mark.parametrize("name", ["lstm", "gru", "original_lstm"])
def test_fit_under_compiled_training_learns_what_keras_loop_learns(name, monkeypatch):
    compiled_calls = []
    compile_loop = xla_loop.compiled_loop
    monkeypatch.setattr(
        xla_loop, "compiled_loop",
        lambda *args: compiled_calls.append(1) or compile_loop(*args))
    x, _ = random_sequences(batch=8, steps=9)
    y = np.random.default_rng(3).normal(size=(8, 6)).astype("float32")
    weights = None
    trained = {}
    for engine in (compiled_training, keras_loop):
        model = keras.Sequential([keras.Input((9, 5)), LAYERS[name](), keras.layers.Dense(6)])
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        model.compile(keras.optimizers.SGD(0.1), "mse")
        compiled_calls.clear()
        with engine():
            model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
        # `fit` traced its step with the compiled loop, or without it.
        assert bool(compiled_calls) == (engine is compiled_training)
        trained[engine] = model.get_weights()
    assert any(not np.allclose(w, v) for w, v in zip(trained[keras_loop], weights))
    for got, want in zip(trained[compiled_training], trained[keras_loop]):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_compiled_training_applies_dropout():
    x, mask = random_sequences()
    layer = LSTM(6, dropout=0.5, recurrent_dropout=0.5, seed=1)
    with compiled_training():
        concrete, dropped = traced(layer, x, mask, training=True)
    assert xla_functions(concrete)
    _, kept = traced(layer, x, mask, training=False)
    assert np.abs(dropped.numpy() - kept.numpy()).max() > 1e-3


def test_unrolled_layers_run_keras_loop():
    x, mask = random_sequences()
    concrete, _ = traced(LSTM(6, unroll=True), x, mask)
    assert xla_functions(concrete) == []


def test_one_step_sequences_run_keras_loop():
    """A decoder's one-step calls: nothing to fuse, so nothing compiled."""
    for steps, compiled in ((1, False), (2, True)):
        x = np.ones((3, steps, 4), "float32")
        concrete, _ = traced(LSTM(6), x, np.ones((3, steps), bool))
        assert bool(xla_functions(concrete)) == compiled


def test_stateful_layer_carries_its_states_through_compiled_calls():
    x, _ = random_sequences(batch=4, steps=6)
    compiled = keras.Sequential([keras.Input(batch_shape=(4, 6, 5)), LSTM(3, stateful=True)])
    eager = LSTM(3, stateful=True)
    share_random_weights([compiled.layers[0], eager], x)
    compiled.layers[0].reset_state()  # building them ran a step
    eager.reset_state()
    for _ in range(2):  # the second call starts from the first's last states
        np.testing.assert_allclose(
            compiled.predict_on_batch(x), eager(x).numpy(), atol=1e-5
        )


def test_keras_loop_nests_and_restores():
    with keras_loop():
        with keras_loop():
            pass
        x, mask = random_sequences()
        concrete, _ = traced(LSTM(6), x, mask)
        assert xla_functions(concrete) == []
    concrete, _ = traced(LSTM(6), x, mask)
    assert xla_functions(concrete)


@pytest.mark.parametrize("name", ["lstm_vanilla", "gru", "original_lstm"])
def test_compiled_loop_runs_mixed_precision(name):
    x, mask = random_sequences()
    full = LAYERS[name](return_sequences=True)
    mixed = LAYERS[name](return_sequences=True, dtype="mixed_float16")
    share_random_weights([full, mixed], x)
    concrete, output = traced(mixed, x, mask)
    assert xla_functions(concrete)
    assert output.dtype == tf.float16
    assert all(w.dtype == "float32" for w in mixed.weights)
    _, expected = traced(full, x, mask)
    np.testing.assert_allclose(output.numpy().astype("float32"), expected.numpy(), atol=2e-2)
