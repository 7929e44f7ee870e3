"""The zoo's recurrent layers, one file per family (cell first, then layer).

- `lstm.py`: the modern LSTM family, `LSTM` / `LSTMCell` with Greff et al.'s
  variants ("keras", "vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP",
  "CIFG", "FGR").
- `gru.py`: `GRU` / `GRUCell`, both reset conventions.
- `original_lstm.py`: `OriginalLSTM` / `OriginalLSTMCell`, the 1997 cell
  (memory cell blocks, CEC, input/output gates, truncated gradient).
- `rnn.py`: what they share (the cell base and the layer base).
- `xla_loop.py`: the time loop compiled by XLA on TensorFlow, which every
  layer's inference runs in graphs; `compiled_training()` extends it to
  training, `keras_loop()` turns it off.
- `catalog.py`: the layers by name, as task configs choose them.
"""

from zoo.layers.catalog import CELLS, recurrent_layer
from zoo.layers.gru import GRU, GRUCell
from zoo.layers.lstm import LSTM, VARIANTS, LSTMCell, LSTMVariant
from zoo.layers.original_lstm import OriginalLSTM, OriginalLSTMCell
from zoo.layers.xla_loop import compiled_training, keras_loop

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
    "compiled_training",
    "keras_loop",
    "recurrent_layer",
]
