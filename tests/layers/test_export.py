"""SavedModel export of the zoo layers: core TF ops only, and the artifact
runs in a fresh Python process that never imports `zoo`."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from training.graph_ops import non_core_ops, saved_model_ops, xla_compiled_functions
from zoo.layers import GRU, LSTM, OriginalLSTM, keras_loop

pytestmark = pytest.mark.tensorflow_only

# The repository root: `python -m tests.layers.reload_export` runs from it.
ROOT = pathlib.Path(__file__).resolve().parents[2]


def reload_in_fresh_process(export_dir, inputs, outputs):
    """`tests/layers/reload_export.py` in a new Python process, which loads
    the SavedModel, runs its serving signature and lists the `zoo` modules
    it imported."""
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "tests.layers.reload_export", str(export_dir), str(inputs),
         str(outputs)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": python_path},
        capture_output=True,
        text=True,
        timeout=300,
    )


def every_family_model():
    """One model that stacks a layer of every family and convention."""
    inputs = keras.Input((None, 5), name="sequences")
    x = keras.layers.Masking(0.0)(inputs)
    x = OriginalLSTM(3, 2, input_gate_bias=[-1.0, -2.0, -3.0], return_sequences=True)(x)
    x = LSTM(6, return_sequences=True)(x)
    x = LSTM(6, variant="vanilla", return_sequences=True)(x)
    x = keras.layers.Bidirectional(GRU(4, reset_after=False, return_sequences=True))(x)
    x = LSTM(5, variant="FGR", return_sequences=True, go_backwards=True)(x)
    x = LSTM(5, variant="CIFG", return_sequences=True)(x)
    x = GRU(3)(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def test_export_runs_without_zoo_and_uses_core_ops_only(tmp_path):
    model = every_family_model()
    x = np.random.default_rng(0).normal(size=(4, 7, 5)).astype("float32")
    x[1, 5:] = 0.0  # padded steps, masked by Masking
    # Peepholes start at zero; give them values so the export must carry them.
    for layer in model.layers:
        for weight in layer.weights:
            if "peephole" in weight.path:
                weight.assign(np.full(weight.shape, 0.3, "float32"))
    # Eager: `predict` would first compile every loop with XLA (seconds each).
    expected = keras.ops.convert_to_numpy(model(x))

    export_dir = tmp_path / "export"
    model.export(str(export_dir), verbose=False)

    ops = saved_model_ops(export_dir)
    assert "While" in ops or "StatelessWhile" in ops
    assert non_core_ops(ops) == []
    # Traced outside `keras_loop()`: the loops are XLA programs, which
    # TensorFlow itself runs (below).
    assert xla_compiled_functions(export_dir)

    np.save(tmp_path / "x.npy", x)
    run = reload_in_fresh_process(export_dir, tmp_path / "x.npy", tmp_path / "y.npy")
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5)


def test_export_under_keras_loop_has_no_xla_functions(tmp_path):
    model = every_family_model()
    with keras_loop():
        model.export(str(tmp_path / "export"), verbose=False)
    assert xla_compiled_functions(tmp_path / "export") == []
    assert non_core_ops(saved_model_ops(tmp_path / "export")) == []


def test_non_core_ops_are_reported():
    assert non_core_ops(["MatMul", "CudnnRNNV3", "EagerPyFunc", "MadeUpOp"]) == [
        "CudnnRNNV3",
        "EagerPyFunc",
        "MadeUpOp",
    ]


def test_saved_model_ops_names_a_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        saved_model_ops(tmp_path)


def test_every_catalogued_cell_exports_with_core_ops_only(tmp_path):
    import tensorflow as tf

    from zoo.layers.catalog import CATALOG, recurrent_layer

    inputs = keras.Input((None, 5), name="sequences")
    x = keras.layers.Masking(0.0)(inputs)
    for name, entry in CATALOG.items():
        if entry.era in ("classic", "revival"):
            x = recurrent_layer(name, 4, return_sequences=True, name=name)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    sequences = np.random.default_rng(0).normal(size=(3, 6, 5)).astype("float32")
    sequences[1, 4:] = 0.0  # padded steps, masked by Masking
    # Eager: `predict` would first compile all 27 loops with XLA (20 s here).
    expected = keras.ops.convert_to_numpy(model(sequences))

    export_dir = tmp_path / "export"
    # Keras's loop: compiling 27 loops with XLA takes a minute here, and the
    # compiled path is exported above for the families.
    with keras_loop():
        model.export(str(export_dir), verbose=False)
    assert non_core_ops(saved_model_ops(export_dir)) == []
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    (result,) = serve(sequences=tf.constant(sequences)).values()
    np.testing.assert_allclose(result.numpy(), expected, atol=1e-5)
