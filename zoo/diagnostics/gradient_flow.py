"""Gradient-flow diagnostics: how much error reaches each time step.

`python -m zoo.diagnostics.gradient_flow [--out DIR] [--steps N] [--T T]`

Hochreiter & Schmidhuber (1997, Section 3 and Appendix A.2) show that the
error a conventional recurrent net sends q steps back is scaled by a product
of q factors f'(net) w; with the logistic (f' <= 1/4) and |w| < 4 it vanishes
like τ^q, τ < 1. The LSTM's constant error carousel (CEC) instead carries
error back through s(t) = s(t-1) + ... with factor exactly 1, scaled only
where it enters and leaves the cell. This module makes that visible.

For each cell (SimpleRNN, the 1997 OriginalLSTM with its truncated gradient
and with full BPTT, the modern LSTM, GRU) it measures, on adding-problem
sequences (Exp. 4) at initialisation and after training:

* ||dL/dh_t||: the total derivative of the loss with respect to the output
  state h_t (the cell outputs y_c for OriginalLSTM), for t = 1..T;
* ||∂⁺L/∂s_t||: the error carried back along the memory state (the CEC s_c
  of OriginalLSTM, the cell state c of LSTM) into s_t from later steps.

Both come from zero "probes": each step's outputs are increased by an extra
input ε that is always zero, so the gradient of the loss with respect to ε_t
is the gradient with respect to that state at step t (Pascanu et al. 2013's
trick; gradients of a `return_sequences` output would miss the recurrent
path). It writes `gradient_flow.csv` (one row per cell, phase and step) and
`gradient_flow.png` (log-scale y axis, one line per cell).
"""

import argparse
import csv
import pathlib
import time

import keras
import numpy as np
from keras import ops

from zoo.data.synthetic import adding_batch
from zoo.data.synthetic.adding import TOLERANCE
from zoo.layers import GRUCell, LSTMCell, OriginalLSTMCell


class ProbedCell(keras.layers.Layer):
    """Wraps a cell so that its new states can be probed.

    The wrapped cell's output must be its first state (true of every Keras
    and zoo cell). Inputs are `[x, ε_h, ε_s]`: ε_h is added to the output
    state h_t (and so to the output), ε_s to the memory state s_t (state 1)
    when `probe_memory` is set. Feeding zeros leaves the computation as it
    was; the gradients with respect to ε are those with respect to h_t and
    to s_t's path into later steps.
    """

    def __init__(self, cell, probe_memory, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell
        self.probe_memory = probe_memory
        self.state_size = cell.state_size
        self.output_size = cell.output_size

    @property
    def probe_width(self):
        return self.output_size * (2 if self.probe_memory else 1)

    def build(self, input_shape):
        features = input_shape[-1] - self.probe_width
        if not self.cell.built:
            self.cell.build(tuple(input_shape[:-1]) + (features,))

    def call(self, inputs, states, training=False):
        units = self.output_size
        features = inputs.shape[-1] - self.probe_width
        x = inputs[:, :features]
        _, new_states = self.cell(x, list(states), training=training)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        new_states[0] = new_states[0] + inputs[:, features : features + units]
        if self.probe_memory:
            new_states[1] = new_states[1] + inputs[:, features + units :]
        return new_states[0], new_states


def input_gradient(function, x):
    """d function(x) / dx for a scalar `function`, on the active backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = function(x)
        return np.asarray(tape.gradient(value, x))
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: function(v))(ops.convert_to_tensor(x)))
    raise NotImplementedError(
        f"Gradient-flow diagnostics support the tensorflow and jax backends; "
        f"KERAS_BACKEND is {backend!r}"
    )


def state_gradients(cell, head, x, targets, probe_memory):
    """Per-step gradient norms of the half squared error at the sequence end.

    Args:
        cell: A built (or unbuilt) recurrent cell; its weights are used.
        head: The output layer applied to the last output.
        x: Inputs `(batch, T, features)`, all of length T.
        targets: `(batch, outputs)`.
        probe_memory: Whether to probe state 1 (the memory s_t / c_t).

    Returns:
        `(dh, ds)`: arrays `(T,)` with the batch mean of ||dL_n/dh_t|| and of
        ||∂⁺L_n/∂s_t|| (None without `probe_memory`).
    """
    probed = ProbedCell(cell, probe_memory)
    rnn = keras.layers.RNN(probed)
    batch, steps, _ = x.shape
    probes = np.zeros((batch, steps, probed.probe_width), dtype="float32")
    inputs = np.concatenate([x, probes], axis=-1)

    def loss(v):
        y = head(rnn(v))
        return 0.5 * ops.sum(ops.square(y - targets))

    grads = input_gradient(loss, inputs)[..., x.shape[-1] :]
    units = probed.output_size
    dh = np.linalg.norm(grads[..., :units], axis=-1).mean(axis=0)
    ds = None
    if probe_memory:
        ds = np.linalg.norm(grads[..., units:], axis=-1).mean(axis=0)
    return dh, ds


# name -> (cell factory, whether it has a memory state to probe)
CELLS = {
    "SimpleRNN": (lambda: keras.layers.SimpleRNNCell(4), False),
    "OriginalLSTM (truncated)": (
        lambda: OriginalLSTMCell(2, 2, input_gate_bias=[-3.0, -6.0]),
        True,
    ),
    "OriginalLSTM (full BPTT)": (
        lambda: OriginalLSTMCell(
            2, 2, input_gate_bias=[-3.0, -6.0], truncated_gradient=False
        ),
        True,
    ),
    "LSTM": (lambda: LSTMCell(4), True),
    "GRU": (lambda: GRUCell(4), False),
}


def train_on_adding(cell, head, T, steps, batch_size, seed):
    """Trains cell + head on the adding problem (Adam, batch, masked).

    Not the paper's online SGD: a fixed, equal budget for every cell, to
    compare gradient flow before and after some learning. Returns the share
    of 512 fresh sequences predicted within the paper's 0.04.
    """
    rng = np.random.default_rng(seed)
    model = keras.Sequential(
        [keras.Input((None, 2)), keras.layers.Masking(0.0), keras.layers.RNN(cell), head]
    )
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    for _ in range(steps):
        x, y, _ = adding_batch(rng, batch_size, T)
        model.train_on_batch(x, y)
    x, y, _ = adding_batch(rng, 512, T)
    errors = np.abs(model.predict(x, batch_size=128, verbose=0) - y)
    return float(np.mean(errors < TOLERANCE))


def measure(T=100, steps=1500, batch_size=32, seed=0, log=print):
    """Runs the whole diagnostic; returns a list of CSV-ready rows."""
    rows = []
    probe_rng = np.random.default_rng(seed + 1)
    x, y, _ = adding_batch(probe_rng, 64, T, length=T)
    for name, (make_cell, has_memory) in CELLS.items():
        keras.utils.set_random_seed(seed)
        cell = make_cell()
        head = keras.layers.Dense(1, activation="sigmoid")
        head.build((None, cell.output_size))
        started = time.time()
        accuracy = {"init": float("nan")}
        phases = [("init", 0), ("trained", steps)]
        for phase, budget in phases:
            if budget:
                accuracy[phase] = train_on_adding(cell, head, T, budget, batch_size, seed)
            dh, ds = state_gradients(cell, head, x, y, has_memory)
            for t in range(T):
                rows.append(
                    {
                        "cell": name,
                        "phase": phase,
                        "t": t + 1,
                        "grad_h": float(dh[t]),
                        "grad_s": "" if ds is None else float(ds[t]),
                        "accuracy": accuracy[phase],
                    }
                )
        log(f"{name:<26} measured ({time.time() - started:.0f} s)")
    return rows


def per_step_factor(values):
    """Geometric mean of g_t / g_{t+1} over steps t < T with g > 0.

    The rate at which error shrinks per step back in time: 1.0 is constant
    error flow; 0.9 loses a factor 10 every 22 steps. None when no two
    consecutive non-zero values exist.
    """
    values = np.asarray(values[:-1], dtype="float64")  # leave out t = T
    ratios = [a / b for a, b in zip(values[:-1], values[1:]) if a > 0 and b > 0]
    if not ratios:
        return None
    return float(np.exp(np.mean(np.log(ratios))))


def summary(rows):
    """One line per cell and phase: accuracy and per-step error factors."""
    lines = [f"{'cell':<26} {'phase':<8} {'accuracy':>8} {'dh factor':>10} "
             f"{'ds factor':>10}"]
    for name in CELLS:
        for phase in ("init", "trained"):
            selected = [r for r in rows if r["cell"] == name and r["phase"] == phase]
            factors = []
            for metric in ("grad_h", "grad_s"):
                values = [r[metric] for r in selected]
                factor = None if "" in values else per_step_factor(values)
                factors.append("—" if factor is None else f"{factor:.4f}")
            accuracy = selected[0]["accuracy"]
            shown = "—" if np.isnan(accuracy) else f"{accuracy:.3f}"
            lines.append(f"{name:<26} {phase:<8} {shown:>8} {factors[0]:>10} "
                         f"{factors[1]:>10}")
    return "\n".join(lines)


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(rows, path, T):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharex=True)
    colors = dict(zip(CELLS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for (metric, title), axis in zip(
        [
            ("grad_h", "‖dL/dh_t‖: output state (cell outputs y_c)"),
            ("grad_s", "‖∂⁺L/∂s_t‖: memory state (CEC s_c, LSTM c)"),
        ],
        axes,
    ):
        for name in CELLS:
            for phase, style in (("init", ":"), ("trained", "-")):
                points = [
                    (r["t"], r[metric])
                    for r in rows
                    if r["cell"] == name and r["phase"] == phase and r[metric] != ""
                ]
                # Exact zeros (the truncated gradient stops them) have no log.
                points = [(t, v) for t, v in points if v > 0]
                if points:
                    t, v = zip(*points)
                    axis.plot(t, v, style, color=colors[name],
                              label=f"{name}, {phase}")
        axis.set_yscale("log")
        axis.set_xlabel("time step t (error injected at t = T)")
        axis.set_title(title, fontsize=10)
        axis.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    figure.suptitle(
        f"Error flow back in time on the adding problem (T = {T}), "
        "dotted: at initialisation, solid: after training",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m zoo.diagnostics.gradient_flow",
        description="Plot how error flows back in time through each cell.",
    )
    parser.add_argument("--out", default="docs", help="folder for the CSV and PNG")
    parser.add_argument("--T", type=int, default=100, help="sequence length")
    parser.add_argument("--steps", type=int, default=1500, help="training updates")
    parser.add_argument("--batch-size", type=int, default=32, help="sequences per update")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the data")
    args = parser.parse_args(argv)
    for name in ("T", "steps", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = measure(args.T, args.steps, args.batch_size, args.seed)
    write_csv(rows, out / "gradient_flow.csv")
    plot(rows, out / "gradient_flow.png", args.T)
    print(summary(rows))
    print(f"wrote {out / 'gradient_flow.csv'} and {out / 'gradient_flow.png'}")


if __name__ == "__main__":
    main()
