"""zoo.layers.classic.indrnn: Li et al. 2018's equation against NumPy, the
bound on |u|, the paper's long-memory bounds, and argument checks."""

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
from tests.layers.numpy_reference import relu
from zoo.layers.classic import indrnn
from zoo.layers.classic.indrnn import IndRNN, IndRNNCell, long_memory_bounds

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, W, u, b, h0=None, mask=None, backwards=False):
    """h_t = ReLU(W x_t + u ⊙ h_{t-1} + b), in float64; masked steps keep h.

    Returns the outputs in processing order and the last state.
    """
    batch, steps, _ = x.shape
    h = np.zeros((batch, u.shape[0])) if h0 is None else h0
    outputs = []
    for t in (reversed(range(steps)) if backwards else range(steps)):
        new = relu(x[:, t] @ W + u * h + b)
        if mask is not None:
            new = np.where(mask[:, t][:, None], new, h)
        h = new
        outputs.append(h)
    return np.stack(outputs, axis=1), h


@MASKED
def test_sequences_match_numpy(masked):
    x, mask = random_sequences()
    layer = IndRNN(6, return_sequences=True)
    share_random_weights([layer], x)
    assert_matches_reference(layer, reference, x, mask=mask if masked else None)


def test_backwards_with_initial_state_matches_numpy():
    x, mask = random_sequences()
    h0 = np.random.default_rng(2).uniform(size=(4, 6)).astype("float32")
    layer = IndRNN(6, go_backwards=True, return_state=True)
    share_random_weights([layer], x)
    _, expected = reference(
        x.astype("float64"), *weights64(layer), h0=h0.astype("float64"), mask=mask,
        backwards=True,
    )
    # The output and the state: the last h.
    assert_same_outputs(layer(x, mask=mask, initial_state=[h0]), [expected, expected])


def test_gradient_matches_central_differences():
    assert_gradients_match_reference(IndRNN(3, return_sequences=True), reference, steps=5)


def test_recurrent_max_abs_clips_u_after_each_update():
    layer = IndRNN(5, recurrent_max_abs=0.5)
    layer.build((1, 2, 3))
    u = layer.cell.recurrent_kernel
    u.assign(np.array([-3.0, -0.2, 0.0, 0.4, 3.0], "float32"))
    optimizer = keras.optimizers.SGD(learning_rate=1.0)
    optimizer.apply([keras.ops.full((5,), -0.05)], [u])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(u), [-0.5, -0.15, 0.05, 0.45, 0.5], atol=1e-6
    )
    assert layer.get_config()["recurrent_max_abs"] == 0.5


def test_initial_u_respects_the_bound():
    layer = IndRNN(50, recurrent_max_abs=0.3)
    layer.build((1, 2, 3))
    u = keras.ops.convert_to_numpy(layer.cell.recurrent_kernel)
    assert u.max() == pytest.approx(0.3) and u.min() >= 0.0


def test_default_u_is_uniform_in_zero_one():
    layer = IndRNN(200)
    layer.build((1, 2, 3))
    u = keras.ops.convert_to_numpy(layer.cell.recurrent_kernel)
    assert u.shape == (200,)
    assert u.min() >= 0.0 and u.max() <= 1.0 and u.std() > 0.2


def test_long_memory_bounds_are_the_papers():
    low, high = long_memory_bounds(5000, magnitude=2.0)
    np.testing.assert_allclose([high**5000, low**5000], [2.0, 0.5])
    assert low < 1.0 < high


def test_parameter_count():
    # W (input_dim × units) + u (units) + b (units).
    layer = IndRNN(7)
    layer.build((1, 2, 3))
    assert layer.count_params() == 3 * 7 + 7 + 7
    no_bias = IndRNN(7, use_bias=False)
    no_bias.build((1, 2, 3))
    assert no_bias.count_params() == 3 * 7 + 7


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: IndRNN(0), "units=0"),
        (lambda: IndRNN(4, recurrent_max_abs=0.0), "recurrent_max_abs=0.0"),
        (lambda: IndRNN(4, recurrent_max_abs="2"), "recurrent_max_abs='2'"),
        (lambda: IndRNNCell(4, recurrent_max_abs=True), "recurrent_max_abs=True"),
        (lambda: IndRNN(4, recurrent_dropout=1.5), "recurrent_dropout=1.5"),
        (lambda: long_memory_bounds(0), "timesteps=0"),
        (lambda: long_memory_bounds(10, magnitude=1.0), "magnitude=1.0"),
    ],
)
def test_bad_arguments_name_the_value(make, message):
    assert_refused(message, make)


def test_docstring_examples_run():
    assert_docstring_examples_run(indrnn)
