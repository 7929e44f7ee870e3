"""RNN Zoo: recurrent networks from the 1997 LSTM to GRU, on Keras 3.

The library: recurrent layers (`zoo.layers`). Task models, data loaders,
pretrained-model loading and gradient-flow diagnostics join it as their
issues land. It never imports `training` or `serving`.
"""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) buries the
# zoo's own output; users can still ask for it with TF_CPP_MIN_LOG_LEVEL=0.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from zoo import layers  # noqa: E402

__version__ = "0.1.0"
