"""zoo.layers.classic.intersection_rnn: the +RNN's equations (Collins et al.
2017) against a float64 NumPy reference, with and without the input
projection, its gradients, argument checks and size."""

import numpy as np
import pytest

from tests.layers.cell_checks import (
    FORWARD_CASES,
    MASKED,
    UNITS_AND_DROPOUT_REFUSALS,
    assert_docstring_examples_run,
    assert_gradients_match_reference,
    assert_matches_reference,
    assert_refused,
)
from tests.layers.common import random_sequences, share_random_weights
from tests.layers.numpy_reference import relu, sigmoid
from zoo.layers.classic import intersection_rnn
from zoo.layers.classic.intersection_rnn import IntersectionRNN

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, kernel, recurrent_kernel, bias, projection=None, mask=None,
              h0=None, y0=None, go_backwards=False):
    """The paper's equations over x, blocks [y, h, g^y, g^h].

    Returns (outputs y for every step, final state (y, h)). `projection` P
    carries x when its width is not `units`. Masked steps keep h and repeat
    the previous output, as Keras's RNN does.
    """
    units = recurrent_kernel.shape[0]
    W = {k: kernel[:, i * units:(i + 1) * units] for i, k in enumerate(["y", "h", "gy", "gh"])}
    U = {k: recurrent_kernel[:, i * units:(i + 1) * units]
         for i, k in enumerate(["y", "h", "gy", "gh"])}
    b = {k: bias[i * units:(i + 1) * units] for i, k in enumerate(["y", "h", "gy", "gh"])}
    if mask is None:
        mask = np.ones(x.shape[:2], dtype=bool)
    if go_backwards:
        x, mask = x[:, ::-1], mask[:, ::-1]
    h = np.zeros((x.shape[0], units)) if h0 is None else h0
    y = np.zeros((x.shape[0], units)) if y0 is None else y0
    outputs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        carry = xt if projection is None else xt @ projection
        g_y = sigmoid(h @ U["gy"] + xt @ W["gy"] + b["gy"])
        g_h = sigmoid(h @ U["gh"] + xt @ W["gh"] + b["gh"])
        y_new = g_y * carry + (1.0 - g_y) * relu(h @ U["y"] + xt @ W["y"] + b["y"])
        h_new = g_h * h + (1.0 - g_h) * np.tanh(h @ U["h"] + xt @ W["h"] + b["h"])
        keep = mask[:, t:t + 1]
        y = np.where(keep, y_new, y)
        h = np.where(keep, h_new, h)
        outputs.append(y)
    return np.stack(outputs, axis=1), (y, h)


@FORWARD_CASES
@pytest.mark.parametrize("units", [5, 3], ids=["same-width", "projected"])
def test_forward_matches_numpy_equations(units, masked, options):
    x, mask = random_sequences()  # 5 features
    layer = IntersectionRNN(units, return_sequences=True, return_state=True, **options)
    share_random_weights([layer], x)
    assert len(layer.weights) == 3 + (units != 5)  # P only when projecting
    # The outputs y and the final state [y, h].
    _, (y, h) = assert_matches_reference(
        layer, reference, x, mask=mask if masked else None, **options
    )
    # The output is the depth path, not the recurrent state.
    assert not np.allclose(y, h, atol=1e-3)


@MASKED
def test_initial_state_and_no_bias(masked):
    x, mask = random_sequences(features=3)
    h0 = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    # y0 is not in the equations (Keras's TensorFlow loop outputs zeros at
    # leading masked steps, its JAX loop y0): zeros agree on both.
    y0 = np.zeros_like(h0)
    layer = IntersectionRNN(3, use_bias=False, return_sequences=True)
    share_random_weights([layer], x)
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel"]
    assert_matches_reference(
        layer, reference, x, mask=mask if masked else None, initial_state=[y0, h0],
        bias=np.zeros(12), h0=h0.astype("float64"), y0=y0.astype("float64"),
    )


@pytest.mark.parametrize("features", [2, 3], ids=["same-width", "projected"])
def test_gradients_match_central_differences(features):
    layer = IntersectionRNN(2, return_sequences=True)
    assert_gradients_match_reference(layer, reference, features=features)


@pytest.mark.parametrize("m, n", [(7, 7), (5, 7)], ids=["same-width", "projected"])
def test_parameter_count(m, n):
    # Four blocks [y, h, g^y, g^h], each m n + n² + n; P adds m n if m ≠ n.
    layer = IntersectionRNN(n)
    layer(np.zeros((1, 2, m), "float32"))
    projection = m * n if m != n else 0
    assert layer.count_params() == 4 * (m * n + n * n + n) + projection
    shapes = [tuple(w.shape) for w in layer.weights]
    expected = [(m, 4 * n), (n, 4 * n), (4 * n,)] + ([(m, n)] if m != n else [])
    assert shapes == expected


@pytest.mark.parametrize("kwargs, message", UNITS_AND_DROPOUT_REFUSALS)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, IntersectionRNN, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(intersection_rnn)
