"""RNN Zoo: recurrent networks from the 1997 LSTM to GRU, on Keras 3.

The library: recurrent layers (`zoo.layers`), task models (`zoo.models`),
data loaders and the 1997 paper's synthetic tasks (`zoo.data`),
gradient-flow diagnostics (`zoo.diagnostics`) and the shipped trained
models (`zoo.pretrained`). It never imports `training` or `serving`; the
1997 paper's networks and its reproduction live in `training.reproduce`.
"""

from zoo.startup import native_start_up_held_back

# Importing these registers every class a saved model names with Keras, so
# `import zoo` is all a user needs before `keras.saving.load_model`. Keras
# imports its backend here; TensorFlow's native start-up log is held back
# (zoo/startup.py; ZOO_VERBOSE=1 shows it).
with native_start_up_held_back():
    from zoo import layers, models, pretrained

__version__ = "0.1.0"
