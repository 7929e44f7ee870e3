"""zoo.diagnostics.trace: every cell's gates at every step, and the layer's own outputs."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo.diagnostics.trace import trace_layer, unit_importance
from zoo.layers import GRU, LSTM, OriginalLSTM, MinGRU, MinLSTM, RAN
from zoo.layers.catalog import CELLS, recurrent_layer

# Rows of 7, 5 and 2 real steps: right-padded, as the models feed them.
MASK = np.array([[1] * 7, [1] * 5 + [0] * 2, [1] * 2 + [0] * 5], bool)


def sequences(seed=0):
    return np.random.default_rng(seed).normal(size=(3, 7, 5)).astype("float32")


def traced_like_the_layer(layer, x):
    """Traces `layer` over `x` under MASK and checks that the trace gives the
    layer's own outputs (at real steps) and final states; returns the
    layer's outputs, the trace's last output and its activations."""
    expected, *states = layer(x, mask=MASK)
    sequence, last, traced_states, activations = trace_layer(layer, x, MASK)
    real = MASK[..., None]
    np.testing.assert_allclose(np.asarray(sequence) * real, np.asarray(expected) * real,
                               atol=2e-5)
    for traced, state in zip(traced_states, states, strict=True):
        np.testing.assert_allclose(np.asarray(traced), np.asarray(state), atol=2e-5)
    return expected, last, activations


@pytest.mark.parametrize("cell", CELLS)
def test_the_trace_gives_the_layers_own_outputs_and_states(cell):
    x = sequences()
    # 8 units: the 1997 LSTM's are blocks x block size, and 8 suits every cell.
    layer = recurrent_layer(cell, 8, None, return_sequences=True, return_state=True)
    expected, last, activations = traced_like_the_layer(layer, x)
    # The last output is the one after each row's last real step.
    rows = np.arange(3), MASK.sum(axis=1) - 1
    np.testing.assert_allclose(np.asarray(last), np.asarray(expected)[rows], atol=2e-5)
    assert list(activations) == ["forward"]
    for name, value in activations["forward"].items():
        value = np.asarray(value)
        assert value.shape[:2] == (3, 7), name
        assert np.all(value[~MASK] == 0.0), f"{name} is not 0 at masked steps"


def test_a_bidirectional_layer_traces_both_directions_in_token_order():
    x = sequences(1)
    layer = keras.layers.Bidirectional(LSTM(4, return_sequences=True, return_state=True))
    expected, last, activations = traced_like_the_layer(layer, x)
    states = layer(x, mask=MASK)[1:]
    real = MASK[..., None]
    assert sorted(activations) == ["backward", "forward"]
    # The backward direction's output at token t is the second half of
    # the layer's output at t: its steps are aligned with the tokens.
    np.testing.assert_allclose(
        np.asarray(activations["backward"]["y"]) * real, np.asarray(expected)[..., 4:] * real,
        atol=1e-5)
    # Its last step reads token 0, so its final cell state is c at token 0.
    np.testing.assert_allclose(np.asarray(activations["backward"]["c"])[:, 0],
                               np.asarray(states[3]), atol=1e-5)
    np.testing.assert_allclose(np.asarray(last)[:, 4:], np.asarray(expected)[:, 0, 4:],
                               atol=1e-5)


def test_lstm_activations_obey_the_lstm_equations():
    x = sequences(2)
    layer = LSTM(6, variant="vanilla", peephole_initializer="glorot_uniform",
                 return_sequences=True)
    layer(x)
    _, _, _, activations = trace_layer(layer, x)
    a = {k: np.asarray(v) for k, v in activations["forward"].items()}
    assert sorted(a) == ["c", "f", "i", "o", "y", "z"]
    c_previous = np.concatenate([np.zeros_like(a["c"][:, :1]), a["c"][:, :-1]], axis=1)
    # c^t = z^t ⊙ i^t + c^{t-1} ⊙ f^t ;  y^t = h(c^t) ⊙ o^t
    np.testing.assert_allclose(a["c"], a["z"] * a["i"] + c_previous * a["f"], atol=1e-5)
    np.testing.assert_allclose(a["y"], np.tanh(a["c"]) * a["o"], atol=1e-5)
    for gate in "ifo":
        assert np.all((a[gate] > 0) & (a[gate] < 1))


def test_gru_activations_obey_the_gru_equations():
    x = sequences(3)
    layer = GRU(6, return_sequences=True)
    layer(x)
    _, _, _, activations = trace_layer(layer, x)
    a = {k: np.asarray(v) for k, v in activations["forward"].items()}
    h_previous = np.concatenate([np.zeros_like(a["h"][:, :1]), a["h"][:, :-1]], axis=1)
    # h^t = z^t ⊙ h^{t-1} + (1 - z^t) ⊙ h̃^t
    np.testing.assert_allclose(a["h"], a["z"] * h_previous + (1 - a["z"]) * a["h_tilde"],
                               atol=1e-5)


def test_the_1997_lstm_reports_block_gates_and_the_cec():
    x = sequences(4)
    layer = OriginalLSTM(blocks=3, block_size=2, return_sequences=True)
    layer(x)
    _, _, _, activations = trace_layer(layer, x)
    a = {k: np.asarray(v) for k, v in activations["forward"].items()}
    assert {k: v.shape[-1] for k, v in a.items()} == {
        "y_in": 3, "y_out": 3, "g": 6, "s_c": 6, "y_c": 6}
    s_previous = np.concatenate([np.zeros_like(a["s_c"][:, :1]), a["s_c"][:, :-1]], axis=1)
    # s_c(t) = s_c(t-1) + y^in(t) g(net_c(t)), each block's gate over its 2 cells
    np.testing.assert_allclose(a["s_c"], s_previous + np.repeat(a["y_in"], 2, -1) * a["g"],
                               atol=1e-5)


@pytest.mark.parametrize("layer_class", [MinGRU, MinLSTM])
def test_min_cells_report_what_h_keeps_and_what_x_writes(layer_class):
    x = sequences(5)
    layer = layer_class(4, return_sequences=True)
    layer(x)
    _, _, _, activations = trace_layer(layer, x)
    a = {k: np.asarray(v) for k, v in activations["forward"].items()}
    h_previous = np.concatenate([np.zeros_like(a["h"][:, :1]), a["h"][:, :-1]], axis=1)
    # h_t = a_t ⊙ h_{t-1} + b_t
    np.testing.assert_allclose(a["h"], a["a"] * h_previous + a["b"], atol=1e-5)


def test_a_cell_without_named_gates_reports_its_states_by_name():
    layer = RAN(4, return_sequences=True)
    x = sequences(6)
    layer(x)
    _, _, states, activations = trace_layer(layer, x)
    assert sorted(activations["forward"]) == ["c", "h"]
    np.testing.assert_allclose(np.asarray(activations["forward"]["c"])[:, -1],
                               np.asarray(states[1]), atol=1e-6)


def test_an_initial_state_starts_the_trace():
    x = sequences(7)
    layer = GRU(4, return_sequences=True, return_state=True)
    start = [np.full((3, 4), 0.5, "float32")]
    expected, state = layer(x, initial_state=start)
    sequence, _, traced, _ = trace_layer(layer, x, initial_state=start)
    np.testing.assert_allclose(np.asarray(sequence), np.asarray(expected), atol=1e-5)
    np.testing.assert_allclose(np.asarray(traced[0]), np.asarray(state), atol=1e-5)


def test_importance_is_gradient_times_activation_summed_over_time():
    sequence = ops.convert_to_tensor(np.array([[[1.0, -2.0, 3.0, 0.5]], [[2.0, 1.0, -1.0, 0.0]]],
                                              "float32"))
    gradient = ops.convert_to_tensor(np.array([[[0.5, 0.5, -1.0, 2.0]], [[1.0, 0.0, 1.0, 1.0]]],
                                              "float32"))
    importance = unit_importance(sequence, gradient, ["forward", "backward"])
    np.testing.assert_allclose(np.asarray(importance["forward"]), [[0.5, 1.0], [2.0, 0.0]])
    np.testing.assert_allclose(np.asarray(importance["backward"]), [[3.0, 1.0], [1.0, 0.0]])


def test_layers_that_are_not_the_zoos_are_refused_by_name():
    layer = keras.layers.LSTM(4)
    layer(sequences())
    with pytest.raises(ValueError, match="Received: LSTM .cell LSTMCell"):
        trace_layer(layer, sequences())
    both = keras.layers.Bidirectional(GRU(4, return_sequences=True))
    both(sequences())
    with pytest.raises(ValueError, match="initial_state"):
        trace_layer(both, sequences(), initial_state=[np.zeros((3, 4), "float32")])
