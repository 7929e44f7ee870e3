"""zoo.layers.classic.fastgrnn: FastRNN and FastGRNN against NumPy
references of Kusupati et al.'s equations."""

import keras
import numpy as np
import pytest

from tests.layers.cell_checks import (
    assert_docstring_examples_run,
    assert_gradients_match_reference,
    assert_matches_reference,
    assert_refused,
)
from tests.layers.common import random_sequences, share_random_weights
from tests.layers.numpy_reference import sigmoid
from zoo.layers.classic import fastgrnn
from zoo.layers.classic.fastgrnn import FastGRNN, FastRNN

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def unpack(weights, w_rank, u_rank):
    """W, U and the rest, from the documented weight order."""
    weights = list(weights)
    W = weights.pop(0) if w_rank is None else weights.pop(0) @ weights.pop(0)
    U = weights.pop(0) if u_rank is None else weights.pop(0) @ weights.pop(0)
    return W, U, weights


def fastrnn(x, *weights, w_rank=None, u_rank=None, mask=None, h0=None):
    """Kusupati et al. 2018, Eq. 1 (FastRNN), with α = σ(a), β = σ(b)."""
    W, U, (b, a, b_beta) = unpack(weights, w_rank, u_rank)
    alpha, beta = sigmoid(a[0]), sigmoid(b_beta[0])
    h = np.zeros((x.shape[0], U.shape[0])) if h0 is None else h0
    outputs = []
    for t in range(x.shape[1]):
        h_tilde = np.tanh(x[:, t] @ W + h @ U + b)
        h_new = alpha * h_tilde + beta * h
        if mask is not None:
            h_new = np.where(mask[:, t:t + 1], h_new, h)
        h = h_new
        outputs.append(h)
    return np.stack(outputs, axis=1)


def fastgrnn_reference(x, *weights, w_rank=None, u_rank=None, mask=None,
                       h0=None):
    """Kusupati et al. 2018, Eqs. 3-4 (FastGRNN), ζ = σ(c_ζ), ν = σ(c_ν)."""
    W, U, (bias, c_zeta, c_nu) = unpack(weights, w_rank, u_rank)
    n = U.shape[0]
    b_z, b_h = bias[:n], bias[n:]
    zeta, nu = sigmoid(c_zeta[0]), sigmoid(c_nu[0])
    h = np.zeros((x.shape[0], n)) if h0 is None else h0
    outputs = []
    for t in range(x.shape[1]):
        z = sigmoid(x[:, t] @ W + h @ U + b_z)
        h_tilde = np.tanh(x[:, t] @ W + h @ U + b_h)
        h_new = (zeta * (1.0 - z) + nu) * h_tilde + z * h
        if mask is not None:
            h_new = np.where(mask[:, t:t + 1], h_new, h)
        h = h_new
        outputs.append(h)
    return np.stack(outputs, axis=1)


CASES = {
    "fastrnn": (FastRNN, fastrnn),
    "fastgrnn": (FastGRNN, fastgrnn_reference),
}
RANKS = [(None, None), (2, None), (None, 2), (2, 1)]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("ranks", RANKS, ids=str)
def test_forward_matches_numpy_equations(name, ranks):
    layer_class, reference = CASES[name]
    w_rank, u_rank = ranks
    x, mask = random_sequences()
    layer = layer_class(3, w_rank=w_rank, u_rank=u_rank, return_sequences=True)
    share_random_weights([layer], x)
    settings = {"w_rank": w_rank, "u_rank": u_rank}
    assert_matches_reference(layer, reference, x, **settings)
    assert_matches_reference(layer, reference, x, mask=mask, **settings)
    h0 = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    assert_matches_reference(
        layer, reference, x, initial_state=[h0], h0=h0.astype("float64"), **settings
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_central_differences(name):
    layer_class, reference = CASES[name]
    layer = layer_class(2, u_rank=1, return_sequences=True)
    assert_gradients_match_reference(layer, reference, features=2, u_rank=1)


def test_initial_values_follow_the_authors_code():
    layer = FastRNN(3)
    layer.build((None, None, 2))
    cell = layer.cell
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cell.bias), 1.0)
    assert float(keras.ops.convert_to_numpy(cell.alpha)[0]) == -3.0
    assert float(keras.ops.convert_to_numpy(cell.beta)[0]) == 3.0
    layer = FastGRNN(3)
    layer.build((None, None, 2))
    cell = layer.cell
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cell.bias), 1.0)
    assert float(keras.ops.convert_to_numpy(cell.zeta)[0]) == 1.0
    assert float(keras.ops.convert_to_numpy(cell.nu)[0]) == -4.0


def test_parameter_counts():
    m, n, r_w, r_u = 5, 8, 2, 3
    # FastRNN: W (n m) + U (n²) + b (n) + α, β.
    layer = FastRNN(n)
    layer.build((None, None, m))
    assert layer.count_params() == n * m + n * n + n + 2
    assert [w.name for w in layer.weights] == [
        "kernel", "recurrent_kernel", "bias", "alpha", "beta"
    ]
    # FastGRNN: W, U shared by gate and candidate; b_z, b_h; ζ, ν.
    layer = FastGRNN(n)
    layer.build((None, None, m))
    assert layer.count_params() == n * m + n * n + 2 * n + 2
    # Low rank: W = W¹ W² (r_w (m + n)), U = U¹ U² (r_u · 2n).
    low = FastGRNN(n, w_rank=r_w, u_rank=r_u)
    low.build((None, None, m))
    assert low.count_params() == r_w * (m + n) + r_u * 2 * n + 2 * n + 2
    assert [w.name for w in low.weights] == [
        "kernel_1", "kernel_2", "recurrent_kernel_1", "recurrent_kernel_2",
        "bias", "zeta", "nu",
    ]


@pytest.mark.parametrize("layer_class", [FastRNN, FastGRNN])
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": 4, "w_rank": 0}, "w_rank=0"),
        ({"units": 4, "u_rank": 1.5}, "u_rank=1.5"),
        ({"units": 4, "dropout": 1.0}, "dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_value(layer_class, kwargs, message):
    assert_refused(message, layer_class, **kwargs)


@pytest.mark.parametrize(
    "layer_class, kwargs, message",
    [
        (FastRNN, {"alpha_init": "small"}, "alpha_init='small'"),
        (FastRNN, {"beta_init": None}, "beta_init=None"),
        (FastGRNN, {"zeta_init": [1.0]}, r"zeta_init=\[1\.0\]"),
        (FastGRNN, {"nu_init": True}, "nu_init=True"),
    ],
)
def test_bad_scalar_initial_values_name_the_value(layer_class, kwargs, message):
    with pytest.raises(ValueError, match=message):
        layer_class(4, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(fastgrnn, at_least=4)
