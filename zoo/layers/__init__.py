"""The zoo's recurrent layers, one file per family (cell first, then layer).

- `lstm.py`: the modern LSTM family, `LSTM` / `LSTMCell` with Greff et al.'s
  variants ("keras", "vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP",
  "CIFG", "FGR").
- `gru.py`: `GRU` / `GRUCell`, both reset conventions.
- `rnn.py`: what they share (the cell base and the layer base).
"""

from zoo.layers.gru import GRU, GRUCell
from zoo.layers.lstm import LSTM, VARIANTS, LSTMCell, LSTMVariant

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "LSTMVariant", "VARIANTS"]
