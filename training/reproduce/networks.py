"""The networks of the 1997 LSTM paper's experiments (Section 5, Table 10).

Each preset is plain data: the paper's inputs, outputs, memory cell blocks,
block size, connectivity, which units have biases, the staggered gate
biases, and the initialisation range. `build_network(name)` turns one into a
Keras model: `OriginalLSTM` followed by logistic output units that see the
cell outputs (and, for "B" connectivity, the inputs too). Its
`count_params()` equals the paper's weight count (Table 10).

`build_network(name, cell="lstm" | "gru" | "simple_rnn")` puts a modern
layer with as many units as the paper's network has memory cells in the
same place, for comparisons on the same tasks.
"""

import keras

from zoo.layers.gru import GRU
from zoo.layers.lstm import LSTM
from zoo.layers.original_lstm import OriginalLSTM, paper_uniform

# The cells `build_network` can put in the recurrent layer.
CELLS = ("original_lstm", "lstm", "gru", "simple_rnn")

# Keys: inputs, outputs, blocks, block_size; per_step (targets at every step,
# else at the sequence end); init (weights uniform in [-init, init]);
# layer (extra OriginalLSTM arguments); output_bias; outputs_see_inputs.
NETWORKS = {
    # Exp. 1, embedded Reber grammar: only the gates are biased; output
    # gate biases -1, -2, -3 (, -4); input gate biases random.
    "reber_4x1": {
        "inputs": 7, "outputs": 7, "blocks": 4, "block_size": 1,
        "per_step": True, "init": 0.2,
        "layer": {"use_cell_bias": False,
                  "output_gate_bias": [-1.0, -2.0, -3.0, -4.0]},
        "output_bias": False, "weights": 264,
    },
    "reber_3x2": {
        "inputs": 7, "outputs": 7, "blocks": 3, "block_size": 2,
        "per_step": True, "init": 0.2,
        "layer": {"use_cell_bias": False,
                  "output_gate_bias": [-1.0, -2.0, -3.0]},
        "output_bias": False, "weights": 276,
    },
    # Exp. 2a/2b, p = 100: one cell and one input gate hearing the inputs
    # only ("B" connectivity), no output gate, no biases, g logistic, h = id.
    "long_lag_2a": {
        "inputs": 101, "outputs": 101, "blocks": 1, "block_size": 1,
        "per_step": True, "init": 0.2,
        "layer": {"recurrence": "none", "output_gate": False,
                  "use_input_gate_bias": False, "use_cell_bias": False,
                  "cell_input_activation": "sigmoid",
                  "cell_output_activation": "linear"},
        "output_bias": False, "outputs_see_inputs": True, "weights": 10504,
    },
    # Exp. 2c: p + 4 inputs (pass inputs=p + 4); 6p + 64 weights; no biases.
    "long_lag_2c": {
        "inputs": None, "outputs": 2, "blocks": 2, "block_size": 1,
        "per_step": False, "init": 0.2,
        "layer": {"use_input_gate_bias": False, "use_output_gate_bias": False,
                  "use_cell_bias": False},
        "output_bias": False,
    },
    # Exp. 3, two-sequence problem: all hidden units biased.
    "two_sequence": {
        "inputs": 1, "outputs": 1, "blocks": 3, "block_size": 1,
        "per_step": False, "init": 0.1,
        "layer": {"input_gate_bias": [-1.0, -3.0, -5.0],
                  "output_gate_bias": [-2.0, -4.0, -6.0]},
        "output_bias": False, "weights": 102,
    },
    # Exp. 4, adding problem: every non-input unit biased.
    "adding": {
        "inputs": 2, "outputs": 1, "blocks": 2, "block_size": 2,
        "per_step": False, "init": 0.1,
        "layer": {"input_gate_bias": [-3.0, -6.0]},
        "output_bias": True, "weights": 93,
    },
    # Exp. 5, multiplication problem: all biases random.
    "multiplication": {
        "inputs": 2, "outputs": 1, "blocks": 2, "block_size": 2,
        "per_step": False, "init": 0.1, "layer": {},
        "output_bias": True, "weights": 93,
    },
    # Exp. 6, temporal order.
    "temporal_order_6a": {
        "inputs": 8, "outputs": 4, "blocks": 2, "block_size": 2,
        "per_step": False, "init": 0.1,
        "layer": {"input_gate_bias": [-2.0, -4.0]},
        "output_bias": True, "weights": 156,
    },
    "temporal_order_6b": {
        "inputs": 8, "outputs": 8, "blocks": 3, "block_size": 2,
        "per_step": False, "init": 0.1,
        "layer": {"input_gate_bias": [-2.0, -4.0, -6.0]},
        "output_bias": True, "weights": 308,
    },
}


def build_network(
    name, inputs=None, cell="original_lstm", masking=False, output_activation="sigmoid",
    **layer_overrides,
):
    """The paper's network for experiment preset `name`, as a Keras model.

    Args:
        name: A key of `NETWORKS`.
        inputs: Number of input units, for presets that depend on it
            (`long_lag_2c`: p + 4).
        cell: "original_lstm" (the paper's network), or a modern layer in
            its place with as many units as the network has memory cells:
            "lstm" (vanilla LSTM of Greff et al.: forget gate and
            peepholes), "gru" or "simple_rnn". Modern layers get the
            paper's initialisation range for their weights and their own
            default biases; the paper's staggered gate biases only exist
            for memory cell blocks.
        masking: Whether all-zero input steps are padding: a
            `keras.layers.Masking(0.0)` in front of the recurrent layer, so
            sequences of different lengths share a batch.
        output_activation: The output units' activation: "sigmoid" (the
            paper's logistic units) or e.g. "linear".
        **layer_overrides: Arguments for `OriginalLSTM` that replace the
            preset's (e.g. `truncated_gradient=False`).
    """
    if name not in NETWORKS:
        raise ValueError(
            f"Unknown 1997 network {name!r}; expected one of {sorted(NETWORKS)}"
        )
    if cell not in CELLS:
        raise ValueError(f"Argument `cell` must be one of {CELLS}. Received: cell={cell!r}")
    if layer_overrides and cell != "original_lstm":
        raise ValueError(
            f"OriginalLSTM arguments {sorted(layer_overrides)} do not apply to cell={cell!r}"
        )
    preset = NETWORKS[name]
    inputs = inputs or preset["inputs"]
    if inputs is None:
        raise ValueError(f"Network {name!r} needs `inputs` (p + 4 for Exp. 2c)")
    init = paper_uniform(preset["init"])
    x = keras.Input((None, inputs), name="sequence")
    sequence = keras.layers.Masking(0.0, name="padding")(x) if masking else x
    cells = _recurrent_layer(preset, cell, init, layer_overrides)(sequence)
    features = cells
    if preset.get("outputs_see_inputs"):
        features = keras.layers.Concatenate()([sequence, cells])
    y = keras.layers.Dense(
        preset["outputs"],
        activation=output_activation,
        use_bias=preset["output_bias"],
        kernel_initializer=init,
        bias_initializer=init,
        name="output",
    )(features)
    return keras.Model(x, y, name=name)


def _recurrent_layer(preset, cell, init, layer_overrides):
    common = {"return_sequences": preset["per_step"], "name": cell}
    if cell == "original_lstm":
        layer_args = {
            "kernel_initializer": init,
            "recurrent_initializer": init,
            "bias_initializer": init,
            **preset["layer"],
            **layer_overrides,
        }
        return OriginalLSTM(preset["blocks"], preset["block_size"], **common, **layer_args)
    units = preset["blocks"] * preset["block_size"]
    modern = {"kernel_initializer": init, "recurrent_initializer": init, **common}
    if cell == "lstm":
        return LSTM(units, variant="vanilla", **modern)
    if cell == "gru":
        return GRU(units, **modern)
    return keras.layers.SimpleRNN(units, **modern)
