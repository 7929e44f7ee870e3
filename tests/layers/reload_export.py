"""Reloads a SavedModel in a fresh process and proves `zoo` stayed out.

    python -m tests.layers.reload_export EXPORT_DIR INPUTS.npy OUTPUTS.npy

`tests/layers/test_export.py` runs this module in a new Python process (from
the repository root): it loads EXPORT_DIR with `tf.saved_model.load`, runs
its serving signature on the array in INPUTS.npy, saves the first output to
OUTPUTS.npy, and prints, as its last line, the JSON list of `zoo` modules
imported, which must be empty. It imports NumPy and TensorFlow only (the
`tests` and `tests.layers` packages above it are empty).
"""

import json
import sys

import numpy as np
import tensorflow as tf


def main(argv=None):
    """Runs the signature and prints the `zoo` modules imported (none)."""
    export_dir, inputs, outputs = sys.argv[1:] if argv is None else argv
    loaded = tf.saved_model.load(export_dir)
    serve = loaded.signatures["serving_default"]
    (name, _spec), = serve.structured_input_signature[1].items()
    result = serve(**{name: tf.constant(np.load(inputs))})
    np.save(outputs, next(iter(result.values())).numpy())
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "zoo")))


if __name__ == "__main__":
    main()
