"""zoo.layers.classic.antisymmetric_rnn: the plain and gated cells against
NumPy references of Chang et al.'s equations."""

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
from zoo.layers.classic import antisymmetric_rnn
from zoo.layers.classic.antisymmetric_rnn import AntisymmetricRNN

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, kernel, recurrent_kernel, bias, gated, eps, gamma,
              mask=None, h0=None):
    """Chang et al. 2019, over x `(batch, time, features)`, column vectors.

    The stored `recurrent_kernel` is W_hᵀ (Keras's row-vector convention).
    """
    n = recurrent_kernel.shape[0]
    W_h = recurrent_kernel.T
    M = W_h - W_h.T - gamma * np.eye(n)
    V_h, b_h = kernel[:, :n].T, bias[:n]
    if gated:
        V_z, b_z = kernel[:, n:].T, bias[n:]
    batch, steps, _ = x.shape
    h = np.zeros((batch, n)) if h0 is None else h0
    outputs = []
    for t in range(steps):
        h_new = np.empty_like(h)
        for s in range(batch):  # one column vector h_{t-1} at a time
            hs, xs = h[s], x[s, t]
            update = np.tanh(M @ hs + V_h @ xs + b_h)
            if gated:
                update = sigmoid(M @ hs + V_z @ xs + b_z) * update
            h_new[s] = hs + eps * update
        if mask is not None:
            h_new = np.where(mask[:, t:t + 1], h_new, h)
        h = h_new
        outputs.append(h)
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize("gated", [True, False], ids=["gated", "plain"])
def test_forward_matches_numpy_equations(gated):
    x, mask = random_sequences()
    # A large step and diffusion, so that every term shows in the output.
    eps, gamma = 0.7, 0.3
    layer = AntisymmetricRNN(3, gated=gated, step_size=eps, diffusion=gamma,
                             return_sequences=True)
    share_random_weights([layer], x)
    settings = dict(gated=gated, eps=eps, gamma=gamma)
    assert_matches_reference(layer, reference, x, **settings)
    assert_matches_reference(layer, reference, x, mask=mask, **settings)
    h0 = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    assert_matches_reference(
        layer, reference, x, initial_state=[h0], h0=h0.astype("float64"), **settings
    )


@pytest.mark.parametrize("gated", [True, False], ids=["gated", "plain"])
def test_gradients_match_central_differences(gated):
    eps, gamma = 0.5, 0.2
    layer = AntisymmetricRNN(2, gated=gated, step_size=eps, diffusion=gamma,
                             return_sequences=True)
    autodiff = assert_gradients_match_reference(
        layer, reference, features=2, gated=gated, eps=eps, gamma=gamma
    )
    # Only W_h - W_hᵀ enters: the gradient of W_h is antisymmetric.
    np.testing.assert_allclose(autodiff[1], -autodiff[1].T, atol=1e-6)


def test_antisymmetry_keeps_the_state_and_diffusion_damps_it():
    # With no input and γ = 0 the linearised dynamics conserve |h| (purely
    # imaginary eigenvalues); γ = 1 damps it by about exp(-γ ε t).
    h0 = 0.3 * np.random.default_rng(0).normal(size=(2, 16)).astype("float32")
    ratios = {}
    for gamma in (0.0, 1.0):
        layer = AntisymmetricRNN(
            16, gated=False, step_size=0.01, diffusion=gamma, use_bias=False,
            recurrent_initializer=keras.initializers.RandomNormal(
                stddev=0.25, seed=0),
        )
        h = keras.ops.convert_to_numpy(
            layer(np.zeros((2, 100, 3), "float32"), initial_state=[h0])
        )
        ratios[gamma] = np.linalg.norm(h, axis=-1) / np.linalg.norm(h0, axis=-1)
    np.testing.assert_allclose(ratios[0.0], 1.0, atol=0.05)
    assert np.all(ratios[1.0] < 0.5)


def test_parameter_count_and_initialisation():
    m, n = 5, 7
    plain = AntisymmetricRNN(n, gated=False)
    plain.build((None, None, m))
    # V_h (n m) + W_h (n²) + b_h (n).
    assert plain.count_params() == n * m + n * n + n
    gated = AntisymmetricRNN(n)
    gated.build((None, None, m))
    # + V_z (n m) + b_z (n).
    assert gated.count_params() == 2 * n * m + n * n + 2 * n
    assert [w.name for w in gated.weights] == [
        "kernel", "recurrent_kernel", "bias"
    ]
    # Appendix C: N(0, 1/m) and N(0, 1/n).
    big = AntisymmetricRNN(400, seed=0)
    big.build((None, None, 300))
    kernel, recurrent, bias = big.get_weights()
    assert abs(kernel.std() - (1 / 300) ** 0.5) < 0.1 * (1 / 300) ** 0.5
    assert abs(recurrent.std() - (1 / 400) ** 0.5) < 0.1 * (1 / 400) ** 0.5
    np.testing.assert_array_equal(bias, 0.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": 4, "gated": "yes"}, "gated='yes'"),
        ({"units": 4, "step_size": 0}, "step_size=0"),
        ({"units": 4, "step_size": "0.1"}, "step_size='0.1'"),
        ({"units": 4, "diffusion": -0.1}, "diffusion=-0.1"),
        ({"units": 4, "dropout": 1.0}, "dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, AntisymmetricRNN, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(antisymmetric_rnn)
