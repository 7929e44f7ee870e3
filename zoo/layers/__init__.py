"""The zoo's recurrent layers, one file per family (cell first, then layer).

- `lstm.py`: the modern LSTM family, `LSTM` / `LSTMCell` with Greff et al.'s
  variants ("keras", "vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP",
  "CIFG", "FGR").
- `gru.py`: `GRU` / `GRUCell`, both reset conventions.
- `original_lstm.py`: `OriginalLSTM` / `OriginalLSTMCell`, the 1997 cell
  (memory cell blocks, CEC, input/output gates, truncated gradient).
- `slstm.py`, `mlstm.py`, `min_rnn.py`: the 2024 revival: xLSTM's sLSTM
  and mLSTM (Beck et al.), minGRU and minLSTM (Feng et al.).
- `classic/`: the gated cells of the literature, 2015-2022, one file per
  paper (MGU, IndRNN, JANET, UGRNN, IntersectionRNN, SCRN, RHN,
  multiplicative LSTM, Li-GRU, NAS, MinimalRNN, MUT1-3, ATR, CFN, RAN, STAR,
  FastRNN/FastGRNN, AntisymmetricRNN, coRNN, LEM).
- `rnn.py`: what they share (the cell base and the layer base);
  `parallel.py`: the layer base of cells that also have a whole-sequence
  form (mLSTM, minGRU, minLSTM).
- `xla_loop.py`: the time loop compiled by XLA on TensorFlow, which every
  layer's inference runs in graphs; `compiled_training()` extends it to
  training, `keras_loop()` turns it off.
- `catalog.py`: every layer by name, as task configs choose them
  (docs/cells.md).
"""

from zoo.layers.catalog import CATALOG, CELLS, recurrent_layer
from zoo.layers.classic.antisymmetric_rnn import AntisymmetricRNN, AntisymmetricRNNCell
from zoo.layers.classic.atr import ATR, ATRCell
from zoo.layers.classic.cfn import CFN, CFNCell
from zoo.layers.classic.cornn import CoRNN, CoRNNCell
from zoo.layers.classic.fastgrnn import FastGRNN, FastGRNNCell, FastRNN, FastRNNCell
from zoo.layers.classic.indrnn import IndRNN, IndRNNCell
from zoo.layers.classic.intersection_rnn import IntersectionRNN, IntersectionRNNCell
from zoo.layers.classic.janet import JANET, JANETCell
from zoo.layers.classic.lem import LEM, LEMCell
from zoo.layers.classic.ligru import LiGRU, LiGRUCell
from zoo.layers.classic.mgu import MGU, MGUCell
from zoo.layers.classic.minimal_rnn import MinimalRNN, MinimalRNNCell
from zoo.layers.classic.multiplicative_lstm import MultiplicativeLSTM, MultiplicativeLSTMCell
from zoo.layers.classic.mut import MUT1, MUT1Cell, MUT2, MUT2Cell, MUT3, MUT3Cell
from zoo.layers.classic.nas import NAS, NASCell
from zoo.layers.classic.ran import RAN, RANCell
from zoo.layers.classic.rhn import RHN, RHNCell
from zoo.layers.classic.scrn import SCRN, SCRNCell
from zoo.layers.classic.star import STAR, STARCell
from zoo.layers.classic.ugrnn import UGRNN, UGRNNCell
from zoo.layers.gru import GRU, GRUCell
from zoo.layers.lstm import LSTM, VARIANTS, LSTMCell, LSTMVariant
from zoo.layers.min_rnn import MinGRU, MinGRUCell, MinLSTM, MinLSTMCell
from zoo.layers.mlstm import MLSTM, MLSTMCell
from zoo.layers.original_lstm import OriginalLSTM, OriginalLSTMCell
from zoo.layers.slstm import SLSTM, SLSTMCell
from zoo.layers.xla_loop import compiled_training, keras_loop

__all__ = [
    "ATR", "ATRCell", "AntisymmetricRNN", "AntisymmetricRNNCell", "CATALOG", "CELLS",
    "CFN", "CFNCell", "CoRNN", "CoRNNCell", "FastGRNN", "FastGRNNCell", "FastRNN",
    "FastRNNCell", "GRU", "GRUCell", "IndRNN", "IndRNNCell", "IntersectionRNN",
    "IntersectionRNNCell", "JANET", "JANETCell", "LEM", "LEMCell", "LSTM", "LSTMCell",
    "LSTMVariant", "LiGRU", "LiGRUCell", "MGU", "MGUCell", "MLSTM", "MLSTMCell", "MUT1",
    "MUT1Cell", "MUT2", "MUT2Cell", "MUT3", "MUT3Cell", "MinGRU", "MinGRUCell", "MinLSTM",
    "MinLSTMCell", "MinimalRNN", "MinimalRNNCell", "MultiplicativeLSTM",
    "MultiplicativeLSTMCell", "NAS", "NASCell", "OriginalLSTM", "OriginalLSTMCell", "RAN",
    "RANCell", "RHN", "RHNCell", "SCRN", "SCRNCell", "SLSTM", "SLSTMCell", "STAR",
    "STARCell", "UGRNN", "UGRNNCell", "VARIANTS", "compiled_training", "keras_loop",
    "recurrent_layer",
]
