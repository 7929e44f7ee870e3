"""zoo.layers.OriginalLSTM: the 1997 cell's weight counts, its truncated
gradient against a hand-written RTRL, and the constant error carousel."""

import keras
import numpy as np
import pytest

from tests.layers import numpy_reference
from tests.layers.autodiff import gradients
from training.reproduce.networks import build_network
from zoo.diagnostics.gradient_flow import state_gradients
from zoo.layers import OriginalLSTM, OriginalLSTMCell
from zoo.layers.original_lstm import squash_g, squash_h

# Hochreiter & Schmidhuber 1997, Table 10: weights of each experiment's net.
TABLE_10 = {
    "reber_4x1": 264,
    "reber_3x2": 276,
    "long_lag_2a": 10504,
    "two_sequence": 102,
    "adding": 93,
    "multiplication": 93,
    "temporal_order_6a": 156,
    "temporal_order_6b": 308,
}
# Exp. 2c: p distractors, p + 4 inputs (Table 3).
TABLE_3 = {50: 364, 100: 664, 200: 1264, 500: 3064, 1000: 6064}


@pytest.mark.parametrize("name", sorted(TABLE_10))
def test_weight_counts_equal_table_10(name):
    assert build_network(name).count_params() == TABLE_10[name]


@pytest.mark.parametrize("p", sorted(TABLE_3))
def test_weight_counts_of_experiment_2c_equal_table_3(p):
    assert build_network("long_lag_2c", inputs=p + 4).count_params() == TABLE_3[p]


def test_squashers_have_the_papers_ranges_and_slopes():
    x = np.linspace(-50, 50, 1001).astype("float32")
    g, h = [keras.ops.convert_to_numpy(f(x)) for f in (squash_g, squash_h)]
    np.testing.assert_allclose([g.min(), g.max()], [-2.0, 2.0], atol=1e-6)
    np.testing.assert_allclose([h.min(), h.max()], [-1.0, 1.0], atol=1e-6)
    # g = 4σ - 2 and h = 2σ - 1 (Appendix A.1): g'(0) = 1, h'(0) = 1/2.
    sigma = 1.0 / (1.0 + np.exp(-x.astype("float64")))
    np.testing.assert_allclose(g, 4 * sigma - 2, atol=1e-5)
    np.testing.assert_allclose(h, 2 * sigma - 1, atol=1e-5)
    eps = np.array([-1e-3, 1e-3], "float32")
    slope_g, slope_h = [
        np.diff(keras.ops.convert_to_numpy(f(eps)))[0] / 2e-3
        for f in (squash_g, squash_h)
    ]
    assert slope_g == pytest.approx(1.0, rel=1e-3)
    assert slope_h == pytest.approx(0.5, rel=1e-3)


def test_staggered_gate_biases_are_set_per_block():
    layer = OriginalLSTM(3, 2, input_gate_bias=[-1.0, -3.0, -5.0], output_gate_bias=-2.0)
    layer(np.zeros((1, 2, 1), "float32"))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.cell.b_in), [-1.0, -3.0, -5.0]
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.cell.b_out), [-2.0, -2.0, -2.0]
    )


def _tiny_network(truncated_gradient, blocks=2, block_size=2, inputs=3, outputs=2):
    x_in = keras.Input((None, inputs))
    cells = OriginalLSTM(
        blocks, block_size, truncated_gradient=truncated_gradient,
        return_sequences=True,
    )(x_in)
    y = keras.layers.Dense(outputs, activation="sigmoid")(cells)
    model = keras.Model(x_in, y)
    rng = np.random.default_rng(11)
    model.set_weights([rng.uniform(-0.8, 0.8, w.shape) for w in model.get_weights()])
    return model


def _half_squared_error(targets):
    """E = ½ Σ (t_k - y_k)² over the steps that carry a target."""
    given = ~np.isnan(targets)
    filled = np.where(given, targets, 0.0).astype("float32")
    weight = given.astype("float32")

    def loss(y):
        return 0.5 * keras.ops.sum(weight * keras.ops.square(filled - y))

    return loss


@pytest.mark.parametrize("errors", ["end", "every-step"])
def test_truncated_gradient_equals_hand_computed_rtrl(errors):
    rng = np.random.default_rng(12)
    x = rng.normal(size=(3, 6, 3)).astype("float32")
    targets = rng.uniform(size=(3, 6, 2))
    if errors == "end":
        targets[:, :-1] = np.nan  # error only at the sequence end
    model = _tiny_network(truncated_gradient=True)
    weights = {w.path.split("/")[-1] + ("_k" if "dense" in w.path else ""): w
               for w in model.weights}
    as64 = {k: keras.ops.convert_to_numpy(v).astype("float64") for k, v in weights.items()}
    outputs, expected = numpy_reference.lstm1997_rtrl(
        x.astype("float64"), targets,
        as64["kernel"], as64["recurrent_kernel"], as64["input_gate_bias"],
        as64["output_gate_bias"], as64["cell_bias"], as64["kernel_k"],
        as64["bias_k"], blocks=2, block_size=2,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)), outputs, atol=1e-5
    )
    computed = gradients(model, x, loss=_half_squared_error(targets))
    names = ["kernel", "recurrent_kernel", "input_gate_bias", "output_gate_bias",
             "cell_bias", "w_out", "b_k"]
    assert len(computed) == len(names)
    for name, grad in zip(names, computed):
        np.testing.assert_allclose(grad, expected[name], atol=2e-5, err_msg=name)


def test_full_bptt_differs_from_the_truncated_gradient():
    rng = np.random.default_rng(13)
    x = rng.normal(size=(3, 8, 3)).astype("float32")
    targets = np.full((3, 8, 2), np.nan)
    targets[:, -1] = rng.uniform(size=(3, 2))
    loss = _half_squared_error(targets)
    truncated, full = _tiny_network(True), _tiny_network(False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(truncated(x)),
        keras.ops.convert_to_numpy(full(x)),
        atol=1e-6,
    )
    g_truncated = gradients(truncated, x, loss=loss)
    g_full = gradients(full, x, loss=loss)
    # The recurrent weights get error from earlier steps only under BPTT.
    difference = np.abs(g_full[1] - g_truncated[1]).max()
    assert difference > 0.05 * np.abs(g_full[1]).max()
    # The output layer's gradient has no path back in time: identical.
    np.testing.assert_allclose(g_full[-2], g_truncated[-2], atol=1e-6)


def test_the_cec_carries_error_back_without_decay():
    """dL/ds_t is the same at every step before the error (Appendix A.2)."""
    keras.utils.set_random_seed(3)
    T = 60
    x = np.random.default_rng(14).normal(size=(4, T, 2)).astype("float32")
    targets = np.full((4, 1), 0.7, "float32")
    cell = OriginalLSTMCell(2, 2, input_gate_bias=[-3.0, -6.0])
    head = keras.layers.Dense(1, activation="sigmoid")
    head.build((None, 4))
    dh, ds = state_gradients(cell, head, x, targets, probe_memory=True)
    assert ds[0] > 1e-4
    np.testing.assert_allclose(ds[:-1], ds[0], rtol=1e-5)
    # The truncated gradient stops all error through the cell outputs.
    np.testing.assert_array_equal(dh[:-1], 0.0)
    assert dh[-1] > 0

    # A conventional recurrent net loses it exponentially with the lag.
    simple = keras.layers.SimpleRNNCell(4)
    dh_simple, _ = state_gradients(simple, head, x, targets, probe_memory=False)
    assert dh_simple[0] < 1e-3 * dh_simple[-1]


def _full_bptt_carousel_errors(gate_bias, T=40):
    """dL/ds_t of one full-BPTT block whose gates input 1 opens."""
    cell = OriginalLSTMCell(1, 1, truncated_gradient=False)
    cell.build((None, 2))
    # Input 0 is a value written into the cell; input 1 opens both gates.
    cell.kernel.assign(np.array([[0.0, 0.0, 1.0], [20.0, 20.0, 0.0]], "float32"))
    cell.recurrent_kernel.assign(
        np.random.default_rng(16).uniform(-1.0, 1.0, (3, 3)).astype("float32")
    )
    cell.b_in.assign([gate_bias])
    cell.b_out.assign([gate_bias])
    cell.b_c.assign([0.0])
    x = np.zeros((2, T, 2), "float32")
    x[:, :, 0] = np.random.default_rng(17).normal(size=(2, T))
    x[:, [0, -1], 1] = 1.0  # open at the first step (write) and last (read)
    head = keras.layers.Dense(1, kernel_initializer="ones")
    head.build((None, 1))
    _, ds = state_gradients(cell, head, x, np.ones((2, 1), "float32"), True)
    return ds[1:-2]


def test_a_gate_closed_cec_keeps_its_error_under_full_bptt_too():
    """While a block's gates are shut it is an isolated carousel: even with
    full BPTT, dL/ds_t stays constant along the stretch."""
    closed = _full_bptt_carousel_errors(gate_bias=-10.0)
    assert closed[0] > 1e-3
    np.testing.assert_allclose(closed, closed[0], rtol=1e-3)
    # With the gates open, full BPTT mixes in the recurrent paths.
    opened = _full_bptt_carousel_errors(gate_bias=0.0)
    assert np.ptp(opened) > 0.05 * np.abs(opened).max()


def test_inputs_only_cell_without_output_gate_matches_its_equations():
    """Exp. 2a's cell: s(t) = s(t-1) + y_in(t) g(net_c(t)), y_c = h(s)."""
    x = np.random.default_rng(15).normal(size=(2, 5, 3)).astype("float32")
    layer = OriginalLSTM(
        1, 2, recurrence="none", output_gate=False, use_input_gate_bias=False,
        use_cell_bias=False, cell_input_activation="sigmoid",
        cell_output_activation="linear", return_sequences=True,
    )
    output = keras.ops.convert_to_numpy(layer(x))
    (kernel,) = [keras.ops.convert_to_numpy(w) for w in layer.weights]
    y_in = numpy_reference.sigmoid(x @ kernel[:, :1])
    g = numpy_reference.sigmoid(x @ kernel[:, 1:])
    np.testing.assert_allclose(output, np.cumsum(y_in * g, axis=1), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"blocks": 0}, "blocks=0"),
        ({"blocks": 2, "block_size": -1}, "block_size=-1"),
        ({"blocks": 2, "recurrence": "F"}, "recurrence='F'"),
        ({"blocks": 2, "input_gate_bias": [-1.0, -2.0, -3.0]},
         r"input_gate_bias=\[-1.0, -2.0, -3.0\]"),
        ({"blocks": 2, "output_gate_bias": "low"}, "output_gate_bias='low'"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OriginalLSTM(**kwargs)
