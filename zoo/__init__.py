"""RNN Zoo: recurrent networks from the 1997 LSTM to GRU, on Keras 3.

The library: recurrent layers (`zoo.layers`). Task models, data loaders,
pretrained-model loading and gradient-flow diagnostics join it as their
issues land. It never imports `training` or `serving`.
"""

from zoo import layers

__version__ = "0.1.0"
