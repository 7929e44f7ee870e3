"""RNN Zoo: recurrent networks from the 1997 LSTM to GRU, on Keras 3.

The library: recurrent layers (`zoo.layers`), the 1997 paper's networks
(`zoo.models`), its synthetic tasks (`zoo.data`) and gradient-flow
diagnostics (`zoo.diagnostics`). It never imports `training` or `serving`.
"""

from zoo import layers, models

__version__ = "0.1.0"
