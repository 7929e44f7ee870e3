"""Sequence regressor: real-valued sequences -> recurrent layers -> targets.

The model of the synthetic long-time-lag tasks (the 1997 paper's adding
problem, as a tuning and training task): each step's input vector goes
straight into a stack of `zoo.layers` recurrent layers, and a dense layer
reads the last one's final output. Padding steps (all-zero vectors) are
masked, so sequences of different lengths share a batch. With
`per_step=True` the dense layer reads every step instead (targets at every
step, as in the copy-memory task).
"""

import keras

from zoo.layers.catalog import recurrent_layer
from zoo.layers.rnn import check_positive_int, check_rate


def sequence_regressor(
    input_dim,
    outputs=1,
    cell="lstm",
    cell_options=None,
    units=64,
    num_layers=1,
    dropout=0.0,
    output_activation="sigmoid",
    per_step=False,
    name="sequence_regressor",
):
    """Builds the regressor as a functional `keras.Model`.

    Args:
        input_dim: Features per time step (2 for the adding problem).
        outputs: Targets per sequence.
        cell: A cell of `zoo.layers.catalog.CATALOG` ("lstm", "gru", "slstm", ...).
        cell_options: The cell family's own arguments (`variant`, ...).
        units: Width of each recurrent layer.
        num_layers: Recurrent layers stacked.
        dropout: Input dropout of every recurrent layer.
        output_activation: Of the dense output layer; "sigmoid" suits
            targets in [0, 1] such as the adding problem's; "softmax"
            makes the model a classifier.
        per_step: Predict at every step instead of after the last one.
        name: The model's name.

    Call arguments:
        inputs: `(batch, time, input_dim)` floats; all-zero steps are
            padding and masked.

    Returns `(batch, outputs)`, or `(batch, time, outputs)` with `per_step`.

    Example:

    >>> model = sequence_regressor(2, cell="gru", units=8)
    >>> tuple(model(np.zeros((3, 5, 2), "float32")).shape)
    (3, 1)
    >>> tagger = sequence_regressor(10, outputs=9, cell="min_gru", units=8,
    ...                             output_activation="softmax", per_step=True)
    >>> tuple(tagger(np.ones((3, 5, 10), "float32")).shape)
    (3, 5, 9)
    """
    check_positive_int("input_dim", input_dim)
    check_positive_int("outputs", outputs)
    check_positive_int("num_layers", num_layers)
    check_rate("dropout", dropout)
    if not isinstance(per_step, bool):
        raise ValueError(f"Argument `per_step` must be True or False. Received: per_step={per_step!r}")
    inputs = keras.Input((None, input_dim), name="sequences")
    x = keras.layers.Masking(0.0)(inputs)
    for index in range(num_layers):
        x = recurrent_layer(
            cell, units, cell_options,
            return_sequences=per_step or index < num_layers - 1,
            dropout=dropout,
            name=f"recurrent_{index}",
        )(x)
    predictions = keras.layers.Dense(outputs, output_activation, name="output")(x)
    return keras.Model(inputs, predictions, name=name)
