"""RNN Zoo: recurrent networks from the 1997 LSTM to GRU, on Keras 3.

The library: recurrent layers (`zoo.layers`), task models and the 1997
paper's networks (`zoo.models`), data loaders and the paper's synthetic
tasks (`zoo.data`), gradient-flow diagnostics (`zoo.diagnostics`) and the
shipped trained models (`zoo.pretrained`). It never imports `training` or
`serving`.
"""

import importlib

__version__ = "0.1.0"

# Subpackages load on first use (PEP 562), so `import zoo.cli` or
# `zoo.data.errors` does not pull in Keras and TensorFlow: the command lines
# check their arguments before that slow import (`zoo/cli.py`).
_SUBMODULES = ("data", "diagnostics", "layers", "models", "pretrained")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"zoo.{name}")
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES])
