"""zoo.layers.classic.cornn: the coRNN's IMEX step against a NumPy
reference of Rusch & Mishra's equations."""

import numpy as np
import pytest

from tests.layers.cell_checks import (
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
from zoo.layers.classic import cornn
from zoo.layers.classic.cornn import CoRNN

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def reference(x, V, W, W_z, b, dt, gamma, epsilon, mask=None, y0=None,
              z0=None):
    """Rusch & Mishra 2021, Eq. 3, over u = x `(batch, time, features)`."""
    n = W.shape[0]
    batch, steps, _ = x.shape
    y = np.zeros((batch, n)) if y0 is None else y0
    z = np.zeros((batch, n)) if z0 is None else z0
    outputs = []
    for t in range(steps):
        u = x[:, t]
        z_new = z + dt * (np.tanh(y @ W + z @ W_z + u @ V + b)
                          - gamma * y - epsilon * z)
        y_new = y + dt * z_new
        if mask is not None:
            keep = mask[:, t:t + 1]
            y_new, z_new = np.where(keep, y_new, y), np.where(keep, z_new, z)
        y, z = y_new, z_new
        outputs.append(y)
    return np.stack(outputs, axis=1)


# Large steps, so that every term shows in a few steps.
SETTINGS = dict(dt=0.5, gamma=0.7, epsilon=0.3)


def test_forward_matches_numpy_equations():
    x, mask = random_sequences()
    layer = CoRNN(3, return_sequences=True, **SETTINGS)
    share_random_weights([layer], x)
    assert_matches_reference(layer, reference, x, **SETTINGS)
    assert_matches_reference(layer, reference, x, mask=mask, **SETTINGS)
    rng = np.random.default_rng(2)
    y0, z0 = rng.normal(size=(2, 4, 3)).astype("float32")
    backwards = CoRNN(3, go_backwards=True, return_state=True, **SETTINGS)
    backwards(x[:, :1])
    backwards.set_weights(layer.get_weights())
    output, y, z = backwards(x, initial_state=[y0, z0])
    expected = reference(x[:, ::-1].astype("float64"), *weights64(layer), **SETTINGS,
                         y0=y0.astype("float64"), z0=z0.astype("float64"))
    assert_same_outputs([output, y], [expected[:, -1], expected[:, -1]])
    # The velocity state is the last position step divided by Δt.
    assert_same_outputs(z, (expected[:, -1] - expected[:, -2]) / SETTINGS["dt"], atol=1e-4)


def test_gradients_match_central_differences():
    layer = CoRNN(2, return_sequences=True, **SETTINGS)
    assert_gradients_match_reference(layer, reference, features=2, **SETTINGS)


def test_defaults_are_the_authors_smnist_setting():
    config = CoRNN(4).get_config()
    assert (config["dt"], config["gamma"], config["epsilon"]) == (0.042, 2.7, 4.7)


def test_parameter_count():
    # V (n m) + W (n²) + 𝒲 (n²) + b (n) = (m + 2n + 1) n.
    m, n = 5, 7
    layer = CoRNN(n)
    layer.build((None, None, m))
    assert layer.count_params() == (m + 2 * n + 1) * n
    assert [w.name for w in layer.weights] == [
        "kernel", "recurrent_kernel", "velocity_kernel", "bias"
    ]
    # The authors' sequential-MNIST network: 256 oscillators on 1 input
    # and a Linear(256, 10) readout.
    smnist = CoRNN(256)
    smnist.build((None, None, 1))
    assert smnist.count_params() + 256 * 10 + 10 == 134_154


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": 4, "dt": 0}, "dt=0"),
        ({"units": 4, "dt": "0.1"}, "dt='0.1'"),
        ({"units": 4, "gamma": -1}, "gamma=-1"),
        ({"units": 4, "epsilon": None}, "epsilon=None"),
        ({"units": 4, "recurrent_dropout": 1.0}, "recurrent_dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, CoRNN, **kwargs)


def test_docstring_examples_run():
    assert_docstring_examples_run(cornn, at_least=3)
