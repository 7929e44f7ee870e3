"""`python -m zoo.diagnostics.gradient_flow` writes its CSV and picture."""

import csv

import keras
import numpy as np
import pytest

from zoo.diagnostics import gradient_flow
from zoo.layers import LSTMCell


def test_probes_measure_the_total_derivative_of_the_output_state():
    """A probe on h_t sees every path from h_t to the loss: for a one-step
    sequence it equals the gradient of the loss with respect to the output."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(3, 1, 2)).astype("float32")
    targets = np.zeros((3, 1), "float32")
    cell = LSTMCell(4)
    head = keras.layers.Dense(1)
    head.build((None, 4))
    dh, ds = gradient_flow.state_gradients(cell, head, x, targets, True)
    rnn = keras.layers.RNN(cell)
    h = keras.ops.convert_to_numpy(rnn(x))
    w, b = [keras.ops.convert_to_numpy(v) for v in head.weights]
    residual = h @ w + b - targets  # dL/dy for L = ½ Σ (y - t)²
    expected = np.linalg.norm(residual @ w.T, axis=-1).mean()
    assert dh[0] == pytest.approx(expected, rel=1e-5)
    assert ds[0] == 0.0  # nothing comes after the last step's state


@pytest.mark.tensorflow_only
def test_command_writes_csv_and_png(tmp_path):
    gradient_flow.main(["--out", str(tmp_path), "--steps", "2", "--T", "12",
                        "--batch-size", "4"])
    with open(tmp_path / "gradient_flow.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["cell"] for r in rows} == set(gradient_flow.CELLS)
    assert len(rows) == len(gradient_flow.CELLS) * 2 * 12
    truncated = [float(r["grad_s"]) for r in rows
                 if r["cell"] == "OriginalLSTM (truncated)" and r["phase"] == "init"]
    np.testing.assert_allclose(truncated[:-1], truncated[0], rtol=1e-5)
    png = (tmp_path / "gradient_flow.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_command_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        gradient_flow.main(["--steps", "0"])
    assert "--steps must be positive" in capsys.readouterr().err


def test_per_step_factor_reads_the_decay_rate():
    T = 30
    decaying = [0.9 ** (T - t) for t in range(1, T + 1)]
    assert gradient_flow.per_step_factor(decaying) == pytest.approx(0.9)
    assert gradient_flow.per_step_factor([0.02] * T) == pytest.approx(1.0)
    # The truncated gradient's exact zeros give no rate at all.
    assert gradient_flow.per_step_factor([0.0] * (T - 1) + [1.0]) is None
