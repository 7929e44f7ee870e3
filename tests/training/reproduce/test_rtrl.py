"""training.reproduce.rtrl: the 1997 paper's truncated RTRL, checked against
backpropagation through the OriginalLSTM layer's truncated gradient."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.reproduce.networks import build_network
from training.reproduce.rtrl import TruncatedRTRL

pytestmark = pytest.mark.tensorflow_only  # the reference gradients use tf.GradientTape


def reber_net(**overrides):
    keras.utils.set_random_seed(5)
    return build_network("reber_3x2", masking=True, **overrides)


def sequence(rng, steps):
    x = np.eye(7, dtype="float32")[None, rng.integers(0, 7, steps)]
    targets = np.eye(7)[None, rng.integers(0, 7, steps)]
    return x, targets, np.ones((1, steps), bool)


def truncated_gradient(model, x, targets):
    """∂E/∂w, E = ½ Σ_t Σ_k (t - y)², by backpropagation through the layer."""
    with tf.GradientTape() as tape:
        outputs = tf.cast(model(x), tf.float64)
        loss = 0.5 * tf.reduce_sum(tf.square(targets - outputs))
    return [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]


def trainer_weights(trainer):
    """The trainer's float64 weights in the Keras variables' order."""
    I = trainer.inputs
    W = np.concatenate([trainer.W_in, trainer.W_out, trainer.W_c], axis=1)
    weights = [W[:I], W[I:-1]]
    weights += [matrix[-1] for name, matrix in (("in", trainer.W_in), ("out", trainer.W_out),
                                                ("c", trainer.W_c)) if trainer.has_bias[name]]
    return [w.copy() for w in weights + [trainer.W_k]]


@pytest.mark.parametrize("steps, alpha, atol", [(1, 0.5, 1e-6), (6, 1e-6, 1e-7)])
@pytest.mark.parametrize("cell_bias", [False, True])
def test_updates_are_the_truncated_gradient_in_the_small_step_limit(steps, alpha, atol, cell_bias):
    # One step: nothing has moved yet, so the update is exactly -α ∂E/∂w.
    # Several: each step moves the weights; with α -> 0 the moves add up to
    # the per-sequence truncated gradient.
    model = reber_net(use_cell_bias=cell_bias)
    x, targets, mask = sequence(np.random.default_rng(steps), steps)
    expected = truncated_gradient(model, x, targets)
    trainer = TruncatedRTRL(model, alpha)
    before = trainer_weights(trainer)
    trainer.run(x, targets, mask)
    after = trainer_weights(trainer)
    assert len(after) == len(expected) == len(model.trainable_weights)
    for b, a, g, w in zip(before, after, expected, model.trainable_weights):
        np.testing.assert_allclose((a - b) / -alpha, g, atol=atol, err_msg=w.path)


def test_later_steps_meet_the_weights_earlier_steps_changed():
    x, _, mask = sequence(np.random.default_rng(7), 8)
    targets = np.zeros((1, 8, 7))
    targets[..., 3] = 1.0  # the same target at every step: learnable within the sequence
    slow = TruncatedRTRL(reber_net(), 1e-6).run(x, targets, mask)["loss"][0]
    fast = TruncatedRTRL(reber_net(), 5.0).run(x, targets, mask)["loss"][0]
    # Both meet step 1 with the same weights; the fast learner's later steps
    # see weights moved towards the target after every step.
    assert fast < slow - 0.1


def test_the_keras_model_holds_what_was_learned_and_padding_is_skipped():
    model = reber_net()
    rng = np.random.default_rng(8)
    x, targets, _ = sequence(rng, 8)
    mask = np.arange(8)[None] < 5  # three padding steps
    x[:, 5:] = 0.0
    trainer = TruncatedRTRL(model, 0.5)
    result = trainer.run(x, targets, mask)
    for variable, value in zip(model.trainable_weights, trainer_weights(trainer)):
        np.testing.assert_allclose(variable.numpy(), value, atol=1e-7)
    # The same five real steps without padding learn the same.
    unpadded = TruncatedRTRL(reber_net(), 0.5)
    same = unpadded.run(x[:, :5], targets[:, :5], np.ones((1, 5), bool))
    np.testing.assert_allclose(result["loss"], same["loss"], rtol=1e-12)
    np.testing.assert_allclose(trainer.W_c, unpadded.W_c, rtol=1e-12)
    # predict() is the Keras model's output.
    np.testing.assert_allclose(trainer.predict(x), model.predict(x, verbose=0), atol=1e-6)


def test_a_unit_without_a_bias_stays_without_one():
    trainer = TruncatedRTRL(reber_net(), 0.5)  # Exp. 1: cells have no bias
    trainer.run(*sequence(np.random.default_rng(9), 6))
    assert not trainer.has_bias["c"] and not trainer.W_c[-1].any()


@pytest.mark.parametrize("model, message", [
    (lambda: build_network("reber_3x2", cell="lstm"), "one OriginalLSTM layer; model 'reber_3x2' has 0"),
    (lambda: build_network("long_lag_2a"), "output_gate=False, recurrence='none'"),
    (lambda: build_network("reber_3x2", truncated_gradient=False), "truncated_gradient=False"),
])
def test_networks_it_does_not_implement_are_refused(model, message):
    with pytest.raises(ValueError, match=message):
        TruncatedRTRL(model(), 0.5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="learning_rate=0"):
        TruncatedRTRL(reber_net(), 0)
    trainer = TruncatedRTRL(reber_net(), 0.5)
    with pytest.raises(ValueError, match=r"Received: targets of shape \(1, 7\)"):
        trainer.run(np.zeros((1, 3, 7)), np.zeros((1, 7)), np.ones((1, 3), bool))


def test_docstring_example_runs():
    from tests.doctests import run_docstring_examples
    from training.reproduce import rtrl

    results = run_docstring_examples([rtrl])
    assert results.attempted >= 4 and results.failed == 0
