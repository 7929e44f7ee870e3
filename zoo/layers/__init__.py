"""The zoo's recurrent layers, one file per family (cell first, then layer).

- `lstm.py`: the modern LSTM family, `LSTM` / `LSTMCell` with Greff et al.'s
  variants ("keras", "vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP",
  "CIFG", "FGR").
- `gru.py`: `GRU` / `GRUCell`, both reset conventions.
- `original_lstm.py`: `OriginalLSTM` / `OriginalLSTMCell`, the 1997 cell
  (memory cell blocks, CEC, input/output gates, truncated gradient).
- `rnn.py`: what they share (the cell base and the layer base).
- `catalog.py`: the layers by name, as task configs choose them.
"""

from zoo.layers.catalog import CELLS, recurrent_layer
from zoo.layers.gru import GRU, GRUCell
from zoo.layers.lstm import LSTM, VARIANTS, LSTMCell, LSTMVariant
from zoo.layers.original_lstm import OriginalLSTM, OriginalLSTMCell

__all__ = [
    "CELLS",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "LSTMVariant",
    "OriginalLSTM",
    "OriginalLSTMCell",
    "VARIANTS",
    "recurrent_layer",
]
