"""zoo.layers.classic.mut: MUT1, MUT2 and MUT3 against a float64 NumPy
reference of Jozefowicz, Zaremba & Sutskever's equations (ICML 2015, §3)."""

import numpy as np
import pytest

from tests.layers.cell_checks import (
    assert_docstring_examples_run,
    assert_gradients_match_reference,
    assert_matches_reference,
    assert_refused,
)
from tests.layers.common import random_sequences, share_random_weights
from tests.layers.numpy_reference import sigmoid as sigm
from zoo.layers.classic import mut
from zoo.layers.classic.mut import MUT1, MUT2, MUT3

# On JAX, outside the default run (docs/cells.md, "Tests").
pytestmark = pytest.mark.jax_slow

LAYERS = {"mut1": MUT1, "mut2": MUT2, "mut3": MUT3}


def mut_step(kind, x, h, kernel, recurrent, bias, projection=True):
    """h_{t+1} from x_t and h_t, as the paper writes it (weights on the right)."""
    b_z, b_r, b_h = np.split(bias, 3)
    if kind == "mut1":
        if projection:
            W_xz, W_xr, W_xh = np.split(kernel, 3, axis=1)
        else:
            (W_xz, W_xr), W_xh = np.split(kernel, 2, axis=1), np.eye(h.shape[1])
        W_hr, W_hh = np.split(recurrent, 2, axis=1)
        z = sigm(x @ W_xz + b_z)
        r = sigm(x @ W_xr + h @ W_hr + b_r)
        candidate = np.tanh((r * h) @ W_hh + np.tanh(x @ W_xh) + b_h)
    elif kind == "mut2":
        if projection:
            W_xz, W_xr, W_xh = np.split(kernel, 3, axis=1)
        else:
            (W_xz, W_xh), W_xr = np.split(kernel, 2, axis=1), np.eye(h.shape[1])
        W_hz, W_hr, W_hh = np.split(recurrent, 3, axis=1)
        z = sigm(x @ W_xz + h @ W_hz + b_z)
        r = sigm(x @ W_xr + h @ W_hr + b_r)
        candidate = np.tanh((r * h) @ W_hh + x @ W_xh + b_h)
    else:
        W_xz, W_xr, W_xh = np.split(kernel, 3, axis=1)
        W_hz, W_hr, W_hh = np.split(recurrent, 3, axis=1)
        z = sigm(x @ W_xz + np.tanh(h) @ W_hz + b_z)
        r = sigm(x @ W_xr + h @ W_hr + b_r)
        candidate = np.tanh((r * h) @ W_hh + x @ W_xh + b_h)
    return candidate * z + h * (1.0 - z)


def reference(x, *weights, kind, mask=None, h0=None, backwards=False, projection=True):
    """Outputs at every step; masked steps keep h and repeat the last output."""
    kernel, recurrent, bias = weights
    if backwards:
        x = x[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units)) if h0 is None else h0
    output = np.zeros((x.shape[0], units))
    outputs = []
    for t in range(x.shape[1]):
        new = mut_step(kind, x[:, t], h, kernel, recurrent, bias, projection)
        keep = np.ones((x.shape[0], 1), bool) if mask is None else mask[:, t, None]
        h = np.where(keep, new, h)
        output = np.where(keep, new, output)
        outputs.append(output)
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_forward_matches_numpy_equations(kind):
    x, mask = random_sequences(batch=4, steps=6, features=3)
    layer = LAYERS[kind](4, return_sequences=True)
    backwards = LAYERS[kind](4, return_sequences=True, go_backwards=True)
    share_random_weights([layer, backwards], x)
    h0 = np.random.default_rng(3).normal(size=(4, 4)).astype("float32")
    assert_matches_reference(layer, reference, x, kind=kind)
    assert_matches_reference(layer, reference, x, mask=mask, kind=kind)
    assert_matches_reference(backwards, reference, x, kind=kind, backwards=True)
    assert_matches_reference(
        layer, reference, x, initial_state=[h0], kind=kind, h0=h0.astype("float64")
    )


@pytest.mark.parametrize("kind", ["mut1", "mut2"])
def test_without_input_projection_the_paper_equations_hold(kind):
    x, mask = random_sequences(batch=4, steps=5, features=4)
    layer = LAYERS[kind](4, input_projection=False, return_sequences=True)
    share_random_weights([layer], x)
    assert layer.weights[0].shape == (4, 8)  # two input blocks, not three
    assert_matches_reference(layer, reference, x, mask=mask, kind=kind, projection=False)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_autodiff_gradients_match_central_differences(kind):
    layer = LAYERS[kind](3, return_sequences=True)
    assert_gradients_match_reference(layer, reference, kind=kind)


@pytest.mark.parametrize(
    "kind, projection, expected",
    [
        # 3 input blocks, 2 recurrent blocks (W_hr, W_hh), 3 biases.
        ("mut1", True, 3 * 4 * 5 + 2 * 4 * 4 + 3 * 4),
        ("mut1", False, 2 * 4 * 4 + 2 * 4 * 4 + 3 * 4),
        ("mut2", True, 3 * 4 * 5 + 3 * 4 * 4 + 3 * 4),
        ("mut2", False, 2 * 4 * 4 + 3 * 4 * 4 + 3 * 4),
        ("mut3", None, 3 * 4 * 5 + 3 * 4 * 4 + 3 * 4),
    ],
)
def test_parameter_count(kind, projection, expected):
    kwargs = {} if projection is None else {"input_projection": projection}
    features = 5 if projection in (True, None) else 4
    layer = LAYERS[kind](4, **kwargs)
    layer(np.zeros((1, 2, features), "float32"))
    assert layer.count_params() == expected
    layer = LAYERS[kind](4, use_bias=False, **kwargs)
    layer(np.zeros((1, 2, features), "float32"))
    assert layer.count_params() == expected - 3 * 4


@pytest.mark.parametrize(
    "layer_class, kwargs, message",
    [
        (MUT1, {"units": 0}, "units=0"),
        (MUT2, {"units": "8"}, "units='8'"),
        (MUT3, {"units": 4, "use_bias": "yes"}, "use_bias='yes'"),
        (MUT1, {"units": 4, "input_projection": "no"}, "input_projection='no'"),
        (MUT2, {"units": 4, "input_projection": 1}, "input_projection=1"),
        (MUT3, {"units": 4, "dropout": 1.0}, "dropout=1.0"),
        (MUT1, {"units": 4, "recurrent_dropout": -0.1}, "recurrent_dropout=-0.1"),
    ],
)
def test_bad_arguments_name_the_value(layer_class, kwargs, message):
    assert_refused(message, layer_class, **kwargs)


@pytest.mark.parametrize("layer_class", [MUT1, MUT2])
def test_paper_equations_need_inputs_as_wide_as_the_state(layer_class):
    layer = layer_class(4, input_projection=False)
    with pytest.raises(ValueError, match="input_projection=False.*features=5, units=4"):
        layer(np.zeros((2, 3, 5), "float32"))


def test_docstring_examples_run():
    assert_docstring_examples_run(mut)
