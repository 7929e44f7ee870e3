"""zoo.layers.classic.nas: the NAS cell against a float64 NumPy reference of
Zoph & Le's Penn Treebank cell (ICLR 2017; TF Addons' NASCell tree)."""

import numpy as np
import pytest

from tests.layers.cell_checks import (
    assert_docstring_examples_run,
    assert_gradients_match_reference,
    assert_matches_reference,
    assert_refused,
)
from tests.layers.common import random_sequences, share_random_weights
from tests.layers.numpy_reference import relu, sigmoid
from zoo.layers.classic import nas
from zoo.layers.classic.nas import NAS

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def nas_step(x, h, c, kernel, recurrent, bias):
    """(h_t, c_t) from x_t, h_{t-1}, c_{t-1}: the searched tree, leaf by leaf."""
    a = np.split(x @ kernel, 8, axis=1)
    m = np.split(h @ recurrent + bias, 8, axis=1)
    leaves = [
        sigmoid(a[0] + m[0]), relu(a[1] + m[1]),
        sigmoid(a[2] + m[2]), relu(a[3] * m[3]),
        np.tanh(a[4] + m[4]), sigmoid(a[5] + m[5]),
        np.tanh(a[6] + m[6]), sigmoid(a[7] + m[7]),
    ]
    second = [
        np.tanh(leaves[0] * leaves[1]), np.tanh(leaves[2] + leaves[3]),
        np.tanh(leaves[4] * leaves[5]), sigmoid(leaves[6] + leaves[7]),
    ]
    c_new = np.tanh(second[0] + c) * second[1]
    h_new = np.tanh(c_new * np.tanh(second[2] + second[3]))
    return h_new, c_new


def reference(x, *weights, mask=None, state=None, backwards=False):
    """Outputs h at every step; masked steps keep (h, c) and the last output."""
    kernel, recurrent, bias = weights
    if backwards:
        x = x[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    batch, units = x.shape[0], recurrent.shape[0]
    h, c = state if state is not None else (np.zeros((batch, units)),) * 2
    output = np.zeros((batch, units))
    outputs = []
    for t in range(x.shape[1]):
        h_new, c_new = nas_step(x[:, t], h, c, kernel, recurrent, bias)
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t, None]
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        output = np.where(keep, h_new, output)
        outputs.append(output)
    return np.stack(outputs, axis=1), (h, c)


def test_forward_matches_numpy_equations():
    x, mask = random_sequences(batch=4, steps=6, features=3)
    layer = NAS(4, return_sequences=True, return_state=True)
    backwards = NAS(4, return_sequences=True, go_backwards=True)
    share_random_weights([layer, backwards], x)
    rng = np.random.default_rng(3)
    h0, c0 = rng.normal(size=(2, 4, 4)).astype("float32")
    state = (h0.astype("float64"), c0.astype("float64"))
    # `layer` returns the outputs and the final state (h, c).
    assert_matches_reference(layer, reference, x)
    assert_matches_reference(layer, reference, x, mask=mask)
    assert_matches_reference(backwards, reference, x, backwards=True)
    assert_matches_reference(layer, reference, x, initial_state=[h0, c0], state=state)


def test_autodiff_gradients_match_central_differences():
    assert_gradients_match_reference(NAS(2, return_sequences=True), reference)


def test_parameter_count():
    # Eight leaves, each with an input block, a recurrent block and a bias.
    layer = NAS(4)
    layer(np.zeros((1, 2, 5), "float32"))
    assert layer.count_params() == 8 * (5 * 4 + 4 * 4 + 4)
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    layer = NAS(4, use_bias=False)
    layer(np.zeros((1, 2, 5), "float32"))
    assert layer.count_params() == 8 * (5 * 4 + 4 * 4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": 2.5}, "units=2.5"),
        ({"units": 4, "use_bias": "yes"}, "use_bias='yes'"),
        ({"units": 4, "dropout": 1.5}, "dropout=1.5"),
        ({"units": 4, "recurrent_dropout": "0.1"}, "recurrent_dropout='0.1'"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, NAS, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(nas)
