"""The zoo's recurrent layers by name, as task configs refer to them."""

from zoo.layers.gru import GRU
from zoo.layers.lstm import LSTM
from zoo.layers.original_lstm import OriginalLSTM

CELLS = ("lstm", "gru", "original_lstm")


def recurrent_layer(cell, units, cell_options=None, **layer_options):
    """Builds a zoo recurrent layer from a task config.

    Args:
        cell: "lstm" (`LSTM`; `cell_options` may set `variant`), "gru"
            (`GRU`; e.g. `reset_after`) or "original_lstm" (`OriginalLSTM`;
            `units` cells in blocks of `cell_options["block_size"]`, 1 by
            default).
        units: Width of the layer's output.
        cell_options: Family-specific arguments.
        **layer_options: Arguments every layer takes (`return_sequences`,
            `dropout`, `name`, ...).
    """
    options = dict(cell_options or {})
    if cell == "lstm":
        return LSTM(units, **options, **layer_options)
    if cell == "gru":
        return GRU(units, **options, **layer_options)
    if cell == "original_lstm":
        block_size = options.pop("block_size", 1)
        if units % block_size:
            raise ValueError(
                f"`units` must be a multiple of `block_size` for original_lstm. "
                f"Received: units={units}, block_size={block_size}"
            )
        return OriginalLSTM(units // block_size, block_size, **options, **layer_options)
    raise ValueError(f"Argument `cell` must be one of {CELLS}. Received: cell={cell!r}")
