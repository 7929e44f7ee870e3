"""zoo.layers.parallel: the whole-sequence form and the step-by-step form of
one cell give the same outputs and states under every layer option."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.layers.parallel import ParallelRNN, hold_masked_outputs, linear_scan, prefix_scan
from zoo.layers.rnn import RecurrentCell


class DecayCell(RecurrentCell):
    """h_t = a ⊙ h_{t-1} + W x_t, a = σ(d): a linear recurrence to scan."""

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.state_size = [units]

    def build(self, input_shape):
        self.kernel = self.add_kernel(input_shape[-1], self.units)
        self.decay = self.add_bias((self.units,), keras.initializers.RandomNormal(seed=3))

    def call(self, inputs, states, training=False):
        x, _ = self.dropped_inputs(inputs, states[0], training)
        h = ops.sigmoid(self.decay) * states[0] + ops.matmul(x, self.kernel)
        return h, [h]

    def parallel_call(self, sequences, states, mask=None, training=False, mode=None):
        b = ops.matmul(sequences, self.kernel)
        a = ops.broadcast_to(ops.sigmoid(self.decay), ops.shape(b))
        if mask is not None:  # a masked step keeps the state: a = 1, b = 0
            keep = ops.expand_dims(ops.cast(mask, b.dtype), -1)
            a = keep * a + (1.0 - keep)
            b = keep * b
        # h_0 as a step before the first, with a = 1; the pairs (a, b) as
        # one tensor's last axis, scanned with the composition of two steps.
        a = ops.concatenate([ops.ones_like(a[:, :1]), a], axis=1)
        b = ops.concatenate([ops.expand_dims(states[0], 1), b], axis=1)

        def combine(earlier, later):
            a_1, b_1 = ops.unstack(earlier, 2, axis=-1)
            a_2, b_2 = ops.unstack(later, 2, axis=-1)
            return ops.stack([a_1 * a_2, a_2 * b_1 + b_2], axis=-1)

        identity = ops.convert_to_tensor([1.0, 0.0])
        _, h = ops.unstack(prefix_scan(combine, ops.stack([a, b], axis=-1), identity), 2, axis=-1)
        return h[:, 1:], [h[:, -1]]


@keras.saving.register_keras_serializable(package="zoo_tests")
class Decay(ParallelRNN):
    cell_class = DecayCell
    cell_name = "decay_cell"


def pair(**kwargs):
    """The same layer in both modes, with the same weights."""
    x = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
    parallel = Decay(5, mode="parallel", **kwargs)
    recurrent = Decay(5, mode="recurrent", **kwargs)
    parallel(x), recurrent(x)
    recurrent.set_weights(parallel.get_weights())
    return x, parallel, recurrent


def numpy_outputs(outputs):
    return [ops.convert_to_numpy(o) for o in keras.tree.flatten(outputs)]


MASK = np.array(
    [[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 1]], dtype=bool
)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"go_backwards": True},
        {"zero_output_for_mask": True},
        {"go_backwards": True, "zero_output_for_mask": True},
    ],
    ids=str,
)
def test_modes_agree_with_masks_and_states(options):
    x, parallel, recurrent = pair(return_sequences=True, return_state=True, **options)
    initial = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    for kwargs in ({}, {"mask": MASK}, {"mask": MASK, "initial_state": [initial]}):
        expected = numpy_outputs(recurrent(x, **kwargs))
        actual = numpy_outputs(parallel(x, **kwargs))
        for a, e in zip(actual, expected):
            np.testing.assert_allclose(a, e, atol=1e-5)


def test_last_output_of_a_right_padded_row_is_its_last_real_step():
    x, parallel, _ = pair()
    last = ops.convert_to_numpy(parallel(x, mask=MASK))
    np.testing.assert_allclose(last[0], ops.convert_to_numpy(parallel(x[:1, :4]))[0], atol=1e-5)


def test_dropout_uses_one_mask_per_sequence_in_both_modes():
    x, parallel, recurrent = pair(dropout=0.5, seed=4)
    # Each layer draws its own mask; with the dropout of `parallel` given to
    # `recurrent` by the same seed, both drop the same features.
    a = ops.convert_to_numpy(parallel(x, training=True))
    b = ops.convert_to_numpy(recurrent(x, training=True))
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(a, ops.convert_to_numpy(parallel(x)), atol=1e-4)


def test_hold_masked_outputs_repeats_the_latest_real_step():
    outputs = np.arange(1, 7, dtype="float32").reshape((1, 6, 1)) * np.ones((2, 1, 1), "float32")
    mask = np.array([[0, 1, 0, 0, 1, 0], [1, 1, 1, 1, 1, 1]], dtype=bool)
    held = ops.convert_to_numpy(hold_masked_outputs(outputs, mask))[..., 0]
    np.testing.assert_array_equal(held, [[0, 2, 2, 2, 5, 5], [1, 2, 3, 4, 5, 6]])
    zeroed = ops.convert_to_numpy(hold_masked_outputs(outputs, mask, True))[..., 0]
    np.testing.assert_array_equal(zeroed[0], [0, 2, 0, 0, 5, 0])


def test_mode_is_checked_and_kept_in_the_config():
    with pytest.raises(ValueError, match="Argument `mode` must be one of .*Received: mode='scan'"):
        Decay(4, mode="scan")
    layer = Decay(4, mode="recurrent", go_backwards=True)
    clone = Decay.from_config(layer.get_config())
    assert clone.mode == "recurrent" and clone.go_backwards


def test_masked_sequences_in_a_compiled_model_for_any_length():
    # predict() traces a graph: on TensorFlow with the time axis unknown, as
    # an exported model is, where the scans run as doubling loops.
    tokens = np.array([[3, 1, 2, 0, 0], [0, 5, 4, 6, 1]], "int32")
    models = {}
    for mode in ("parallel", "recurrent"):
        inputs = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(8, 4, mask_zero=True)(inputs)
        outputs = Decay(5, mode=mode, return_sequences=True)(x)
        models[mode] = keras.Model(inputs, outputs)
    models["recurrent"].set_weights(models["parallel"].get_weights())
    parallel = models["parallel"].predict(tokens, verbose=0)
    np.testing.assert_allclose(parallel, models["recurrent"].predict(tokens, verbose=0), atol=1e-5)
    np.testing.assert_allclose(parallel[1, 0], 0.0)  # before the first real step


@pytest.mark.tensorflow_only
def test_prefix_scan_of_unknown_length_equals_the_static_scan():
    import tensorflow as tf

    values = np.random.default_rng(2).integers(-9, 9, size=(3, 11)).astype("int32")
    static = ops.convert_to_numpy(prefix_scan(ops.maximum, values, identity=-100))
    dynamic = tf.function(
        lambda v: prefix_scan(ops.maximum, v, identity=-100),
        input_signature=[tf.TensorSpec((None, None), tf.int32)],
    )
    np.testing.assert_array_equal(dynamic(values).numpy(), static)
    np.testing.assert_array_equal(static, np.maximum.accumulate(values, axis=1))


def linear_recurrence64(a, b, h_0):
    """h_t = a_t h_{t-1} + b_t, one step at a time, in float64."""
    h, outputs = h_0.astype("float64"), []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        outputs.append(h)
    return np.stack(outputs, axis=1)


@pytest.mark.jax_slow  # JAX compiles a gradient per shape: 12 s
@pytest.mark.parametrize(
    "steps, chunk_size",
    # one chunk; whole chunks; a padded last chunk; more chunks than a
    # chunk's length (the chunks' own recurrence chunked again)
    [(5, 8), (12, 4), (13, 4), (40, 3)],
)
def test_linear_scan_and_its_gradients_follow_the_recurrence(steps, chunk_size):
    rng = np.random.default_rng(steps)
    # a of any sign and size: the blocked scan assumes nothing of it
    a = rng.uniform(-1.1, 1.1, size=(2, steps, 3)).astype("float32")
    b = rng.normal(size=(2, steps, 3)).astype("float32")
    h_0 = rng.normal(size=(2, 3)).astype("float32")
    h = linear_scan(a, b, h_0, chunk_size)
    expected = linear_recurrence64(a, b, h_0)
    np.testing.assert_allclose(ops.convert_to_numpy(h), expected, rtol=1e-4, atol=1e-5)
    # ∂(Σ w ⊙ h)/∂(a, b, h_0) against central differences in float64
    w = rng.normal(size=h.shape)

    def loss64(a, b, h_0):
        return float(np.sum(w * linear_recurrence64(a, b, h_0)))

    gradients = _gradients(lambda a, b, h_0: ops.sum(w * linear_scan(a, b, h_0, chunk_size)),
                           [a, b, h_0])
    for index, (value, gradient) in enumerate(zip([a, b, h_0], gradients)):
        numeric = np.zeros(value.shape)
        for position in np.ndindex(value.shape):
            shifted = [v.astype("float64") for v in (a, b, h_0)]
            shifted[index][position] += 1e-6
            up = loss64(*shifted)
            shifted[index][position] -= 2e-6
            numeric[position] = (up - loss64(*shifted)) / 2e-6
        np.testing.assert_allclose(gradient, numeric, rtol=1e-3, atol=1e-4)


def _gradients(function, values):
    """The gradients of a scalar `function` of `values`, on either backend."""
    if keras.backend.backend() == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(function, argnums=(0, 1, 2))(*values)]
    import tensorflow as tf

    variables = [tf.constant(v) for v in values]
    with tf.GradientTape() as tape:
        tape.watch(variables)
        value = function(*variables)
    return [g.numpy() for g in tape.gradient(value, variables)]


@pytest.mark.tensorflow_only
def test_linear_scan_of_unknown_length_equals_the_static_scan():
    import tensorflow as tf

    rng = np.random.default_rng(5)
    a = rng.uniform(0, 1, size=(2, 11, 3)).astype("float32")
    b = rng.normal(size=(2, 11, 3)).astype("float32")
    h_0 = rng.normal(size=(2, 3)).astype("float32")
    dynamic = tf.function(
        lambda a, b: linear_scan(a, b, h_0, 3),
        input_signature=[tf.TensorSpec((None, None, 3))] * 2,
    )
    np.testing.assert_allclose(
        dynamic(a, b).numpy(), linear_recurrence64(a, b, h_0), rtol=1e-5, atol=1e-6
    )
