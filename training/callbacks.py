"""Callbacks of a training run whose state survives a kill.

Keras's `ModelCheckpoint` and `EarlyStopping` keep their best value and
patience counter in memory, so after `BackupAndRestore` resumes a killed run
they start over and can save a worse model or stop at another epoch than an
unbroken run; and `BackupAndRestore` restores weights and optimizer but not
the dropout layers' random-seed states, so a resumed run would draw other
dropout masks. `RunState` does the checkpoint and early-stopping jobs and
writes its state (per-epoch history, seed states) atomically to
`run_state.json` after every epoch.
"""

import json
import math
import os
import pathlib
import time

import keras
import numpy as np


def write_text_atomically(path, text):
    """Writes `text` to a temporary sibling, then renames it over `path`:
    a reader (or a run killed mid-write) sees the old file or the new."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_json_atomically(path, data):
    """Writes JSON to `path` with `write_text_atomically`."""
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


class RunState(keras.callbacks.Callback):
    """Best-model checkpoint, early stopping and history, resumable.

    Args:
        run_dir: The run directory (`run_state.json`, `checkpoints/`).
        monitor: The validation metric to maximise or minimise.
        mode: "max" or "min".
        patience: Epochs without improvement before stopping (None: never).
        start_epoch: The epoch the run resumes at (0 for a new run); state
            recorded for later epochs (lost with the kill) is dropped.
        write: Whether this process writes the state and the best model (the
            chief of a multi-worker run does; the other workers only read).
    """

    def __init__(self, run_dir, monitor, mode, patience, start_epoch=0, write=True):
        super().__init__()
        self.write = write
        if mode not in ("max", "min"):
            raise ValueError(f"Argument `mode` must be 'max' or 'min'. Received: mode={mode!r}")
        self.run_dir = pathlib.Path(run_dir)
        self.monitor, self.mode, self.patience = monitor, mode, patience
        self.state_path = self.run_dir / "run_state.json"
        self.best_path = self.run_dir / "checkpoints" / "best.keras"
        self.history = []
        if self.state_path.exists():
            saved = json.loads(self.state_path.read_text())
            self.history = [h for h in saved["history"] if h["epoch"] < start_epoch]

    @property
    def best(self):
        return self.history[-1]["best"] if self.history else None

    @property
    def best_epoch(self):
        return self.history[-1]["best_epoch"] if self.history else None

    def _improved(self, value):
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def _seed_states(self):
        return [v for v in self.model.variables if v.path.endswith("seed_generator_state")]

    def on_train_begin(self, logs=None):
        if self.history:  # resuming: the dropout RNG continues where it was
            for variable, value in zip(self._seed_states(), self.history[-1]["seed_states"]):
                variable.assign(np.asarray(value, dtype=variable.dtype))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        seconds = time.time() - self._epoch_started
        if self.monitor not in logs:
            raise KeyError(
                f"Monitored metric {self.monitor!r} is not among the epoch's "
                f"metrics {sorted(logs)}"
            )
        value = logs[self.monitor]
        improved = not math.isnan(value) and self._improved(value)
        wait = 0 if improved else (self.history[-1]["wait"] + 1 if self.history else 1)
        if improved and self.write:
            self.best_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.best_path.with_name(".best.tmp.keras")
            self.model.save(temporary)
            os.replace(temporary, self.best_path)
        self.history.append(
            {
                "epoch": epoch,
                "logs": logs,
                "seconds": seconds,
                "best": value if improved else self.best,
                "best_epoch": epoch if improved else self.best_epoch,
                "wait": wait,
                "seed_states": [np.asarray(v).tolist() for v in self._seed_states()],
            }
        )
        if self.write:
            write_json_atomically(self.state_path, {"history": self.history})
        if self.patience is not None and wait >= self.patience:
            self.model.stop_training = True


class RestoreOnlyBackup(keras.callbacks.BackupAndRestore):
    """A multi-worker run's non-chief view of the chief's backup: restores
    from it on (re)start, never writes or deletes it."""

    def _save_model(self):
        pass

    def on_train_end(self, logs=None):
        pass


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first NaN or infinite loss and remembers where."""

    def __init__(self):
        super().__init__()
        self.where = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.where = (self._epoch, batch)
            self.model.stop_training = True


def plot_learning_curves(history, path, title):
    """Loss and every other metric per epoch, training and validation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(
        {k for h in history for k in h["logs"] if not k.startswith("val_") and k != "learning_rate"}
    )
    figure, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    epochs = [h["epoch"] + 1 for h in history]
    for axis, name in zip(axes[0], names):
        for key, label in ((name, "training"), (f"val_{name}", "validation")):
            values = [h["logs"].get(key) for h in history]
            if any(v is not None for v in values):
                axis.plot(epochs, values, marker="o", label=label)
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
