"""zoo.layers.classic.lem: the Long Expressive Memory against a float64 NumPy
reference of Rusch et al.'s Eq. (3) (ICLR 2022), and against the authors'
PyTorch cell through the documented port."""

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
from zoo.layers.classic import lem
from zoo.layers.classic.lem import LEM

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow


def lem_step(u, y, z, weights, dt):
    """Eq. (3): (y_n, z_n) from u_n, y_{n-1}, z_{n-1}."""
    kernel, recurrent, W_y, bias = weights
    V_1, V_2, V_z, V_y = np.split(kernel, 4, axis=1)
    W_1, W_2, W_z = np.split(recurrent, 3, axis=1)
    b_1, b_2, b_z, b_y = np.split(bias, 4)
    dt_n = dt * sigmoid(y @ W_1 + u @ V_1 + b_1)
    dt_bar_n = dt * sigmoid(y @ W_2 + u @ V_2 + b_2)
    z = (1.0 - dt_n) * z + dt_n * np.tanh(y @ W_z + u @ V_z + b_z)
    y = (1.0 - dt_bar_n) * y + dt_bar_n * np.tanh(z @ W_y + u @ V_y + b_y)
    return y, z


def reference(x, *weights, dt, mask=None, state=None, backwards=False):
    """Outputs y at every step; masked steps keep (y, z) and the last output."""
    if backwards:
        x = x[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    batch, units = x.shape[0], weights[1].shape[0]
    y, z = state if state is not None else (np.zeros((batch, units)),) * 2
    output = np.zeros((batch, units))
    outputs = []
    for t in range(x.shape[1]):
        y_new, z_new = lem_step(x[:, t], y, z, weights, dt)
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t, None]
        y, z = np.where(keep, y_new, y), np.where(keep, z_new, z)
        output = np.where(keep, y_new, output)
        outputs.append(output)
    return np.stack(outputs, axis=1), (y, z)


@pytest.mark.parametrize("dt", [1.0, 0.3])
def test_forward_matches_numpy_equations(dt):
    x, mask = random_sequences(batch=4, steps=6, features=3)
    layer = LEM(4, dt=dt, return_sequences=True, return_state=True)
    backwards = LEM(4, dt=dt, return_sequences=True, go_backwards=True)
    share_random_weights([layer, backwards], x)
    rng = np.random.default_rng(3)
    y0, z0 = rng.normal(size=(2, 4, 4)).astype("float32")
    state = (y0.astype("float64"), z0.astype("float64"))
    # `layer` returns the outputs and the final state (y, z).
    assert_matches_reference(layer, reference, x, dt=dt)
    assert_matches_reference(layer, reference, x, mask=mask, dt=dt)
    assert_matches_reference(backwards, reference, x, dt=dt, backwards=True)
    assert_matches_reference(layer, reference, x, initial_state=[y0, z0], dt=dt, state=state)


def authors_cell(u, y, z, inp2hid, hid2hid, transform_z, dt):
    """tk-rusch/LEM's LEMCell.forward in NumPy: (out, in) matrices, biases."""
    (Wi, bi), (Wh, bh), (Wz, bz) = inp2hid, hid2hid, transform_z
    i_dt1, i_dt2, i_z, i_y = np.split(u @ Wi.T + bi, 4, axis=1)
    h_dt1, h_dt2, h_y = np.split(y @ Wh.T + bh, 3, axis=1)
    ms_dt_bar = dt * sigmoid(i_dt1 + h_dt1)
    ms_dt = dt * sigmoid(i_dt2 + h_dt2)
    z = (1.0 - ms_dt) * z + ms_dt * np.tanh(i_y + h_y)
    y = (1.0 - ms_dt_bar) * y + ms_dt_bar * np.tanh(z @ Wz.T + bz + i_z)
    return y, z


def test_weights_port_from_the_authors_code_as_documented():
    rng = np.random.default_rng(7)
    features, units, dt = 3, 2, 0.5
    Wi, bi = rng.normal(size=(4 * units, features)), rng.normal(size=4 * units)
    Wh, bh = rng.normal(size=(3 * units, units)), rng.normal(size=3 * units)
    Wz, bz = rng.normal(size=(units, units)), rng.normal(size=units)
    i_dt1, i_dt2, i_z, i_y = np.split(Wi, 4)
    bi_dt1, bi_dt2, bi_z, bi_y = np.split(bi, 4)
    h_dt1, h_dt2, h_y = np.split(Wh, 3)
    bh_dt1, bh_dt2, bh_y = np.split(bh, 3)
    # The module docstring's table: V_1 = i_dt2, V_2 = i_dt1, V_z = i_y, ...
    kernel = np.concatenate([i_dt2, i_dt1, i_y, i_z]).T
    recurrent = np.concatenate([h_dt2, h_dt1, h_y]).T
    bias = np.concatenate([bi_dt2 + bh_dt2, bi_dt1 + bh_dt1, bi_y + bh_y, bi_z + bz])

    x = rng.normal(size=(2, 5, features)).astype("float32")
    layer = LEM(units, dt=dt)
    layer(x)
    layer.set_weights([kernel, recurrent, Wz.T, bias])
    y = z = np.zeros((2, units))
    for t in range(5):
        y, z = authors_cell(x[:, t].astype("float64"), y, z, (Wi, bi), (Wh, bh), (Wz, bz), dt)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), y, atol=1e-5)


def test_autodiff_gradients_match_central_differences():
    assert_gradients_match_reference(LEM(2, dt=0.7, return_sequences=True), reference, dt=0.7)


def test_parameter_count():
    # V_1, V_2, V_z, V_y on u; W_1, W_2, W_z on y; W_y on z; four biases.
    layer = LEM(4)
    layer(np.zeros((1, 2, 5), "float32"))
    assert layer.count_params() == 4 * 5 * 4 + 3 * 4 * 4 + 4 * 4 + 4 * 4
    assert [w.name for w in layer.weights] == [
        "kernel", "recurrent_kernel", "z_kernel", "bias"
    ]
    layer = LEM(4, use_bias=False)
    layer(np.zeros((1, 2, 5), "float32"))
    assert layer.count_params() == 4 * 5 * 4 + 3 * 4 * 4 + 4 * 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": 4, "dt": 0.0}, "dt=0.0"),
        ({"units": 4, "dt": -1}, "dt=-1"),
        ({"units": 4, "dt": "1"}, "dt='1'"),
        ({"units": 4, "use_bias": "no"}, "use_bias='no'"),
        ({"units": 4, "dropout": 1.0}, "dropout=1.0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    assert_refused(message, LEM, **kwargs)


def test_dt_is_in_the_config():
    layer = LEM(3, dt=0.25)
    assert layer.dt == 0.25
    assert LEM.from_config(layer.get_config()).dt == 0.25


def test_docstring_examples_run():
    assert_docstring_examples_run(lem)
