"""Callbacks of a training run whose state survives a kill.

Keras's `ModelCheckpoint` and `EarlyStopping` keep their best value and
patience counter in memory, so after `BackupAndRestore` resumes a killed run
they start over and can save a worse model or stop at another epoch than an
unbroken run; and `BackupAndRestore` restores weights and optimizer but not
the dropout layers' random-seed states, so a resumed run would draw other
dropout masks. `RunState` does the checkpoint and early-stopping jobs and
writes its state (per-epoch history, seed states) atomically to
`run_state.json` after every epoch.

`Backup` replaces `BackupAndRestore`, which writes its files in place (a
kill mid-write leaves a truncated file) and, when the newest file cannot be
loaded, falls back to the previous one on its own: the model then restarts an
epoch earlier than the data pipeline, already built from the newer epoch,
expects, so the last epoch runs out of data (0 steps, logged as loss 0.0) and
the run's best model can be replaced by a worse one. Here every file is
written to a temporary sibling and renamed into place, each backup records
its weights' SHA-256, and `resume_point` decides before anything is built
which state a run resumes from, so the weights, the data order and the run
state always agree.

`TimeLimit` stops a run after a budget of training time
(`python -m training.train --max-seconds N`) and measures that time for
every run; `RunState` records it per epoch, so a resumed run goes on with
what is left of its budget.
"""

import hashlib
import json
import math
import os
import pathlib
import shutil
import sys
import time
import zipfile

import keras
import numpy as np

RUN_STATE_FILE = "run_state.json"
BACKUP_DIR = "backup"
# The weights after epoch N, kept for checkpoint averaging.
EPOCH_WEIGHTS = "epoch-{:03d}.weights.h5"
BACKUP_METADATA = "training_metadata.json"
# The backup before the newest one, kept so a damaged newest one costs an epoch.
PREVIOUS_METADATA = "training_metadata.json.bkp"
# The weights BackupAndRestore wrote, which a run begun before `Backup` resumes from.
LEGACY_WEIGHTS = "latest.weights.h5"


class RunStateError(RuntimeError):
    """A run directory's saved state cannot be used; the message names the
    file, what is wrong with it, and what to do."""


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


def file_sha256(path):
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path):
    """A JSON file of a run directory; RunStateError names a damaged one.

    The run writes its files atomically, so a file that does not parse was
    cut short or changed by something else (a full disk, a copy, an editor).
    """
    path = pathlib.Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RunStateError(
            f"{path} is truncated or corrupt: not valid JSON ({error.msg}: line "
            f"{error.lineno}, column {error.colno})"
        ) from None
    except UnicodeDecodeError:
        raise RunStateError(f"{path} is corrupt: not UTF-8 text") from None


def read_run_state(run_dir):
    """`run_state.json` of `run_dir` checked (None if there is none yet):
    `{"history": [...], "finished": bool}`."""
    path = pathlib.Path(run_dir) / RUN_STATE_FILE
    if not path.exists():
        return None
    # Without its history (best value, early-stopping counter, dropout seed
    # states) a run cannot go on as an unbroken one would.
    advice = "The run cannot be resumed without it: start a new run with another --out"
    try:
        saved = read_json(path)
    except RunStateError as error:
        raise RunStateError(f"{error}. {advice}") from None
    history = saved.get("history") if isinstance(saved, dict) else None
    if not isinstance(history, list) or not all(
        isinstance(h, dict) and isinstance(h.get("epoch"), int) for h in history
    ):
        raise RunStateError(
            f"{path} is corrupt: expected {{\"history\": [one record per epoch]}}; "
            f"got {json.dumps(saved)[:80]}. {advice}"
        )
    return {"history": history, "finished": saved.get("finished") is True}


def training_seconds(history):
    """The training seconds of a run's recorded epochs, as `TimeLimit` counts
    them. An epoch recorded before `TimeLimit` existed counts its whole
    `seconds` (validation included): a resumed budget then errs short."""
    return float(sum(h.get("training_seconds", h["seconds"]) for h in history))


# --- Backup and resume --------------------------------------------------------


def _backup_state(metadata_path, legacy_weights=None):
    """`(epoch, weights path)` of one backup; RunStateError if it is unusable.

    `legacy_weights`: the weights file of a backup BackupAndRestore wrote
    (its metadata names none); None where there can be no such backup.
    """
    state = read_json(metadata_path)
    epoch = state.get("epoch") if isinstance(state, dict) else None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise RunStateError(
            f"{metadata_path} is corrupt: expected {{\"epoch\": N, ...}} with N >= 0; "
            f"got {json.dumps(state)[:80]}"
        )
    name = state.get("weights", legacy_weights)
    if not isinstance(name, str):
        # BackupAndRestore's previous backup: its weights (latest.weights.h5.bkp)
        # cannot be told apart from a newer copy, so it is not used.
        raise RunStateError(f"{metadata_path} names no weights file")
    weights = metadata_path.parent / name
    if not weights.exists():
        raise RunStateError(f"{weights} is missing (named by {metadata_path})")
    recorded = state.get("sha256")  # absent from BackupAndRestore's backups
    if recorded is not None and file_sha256(weights) != recorded:
        raise RunStateError(
            f"{weights} is truncated or corrupt: its SHA-256 differs from the one "
            f"{metadata_path.name} recorded when it was written"
        )
    return epoch, weights


def resume_point(backup_dir):
    """`(epoch, weights path)` a run resumes from, or None without a backup.

    The newest backup if it is intact; else the previous one, with a warning
    (the epoch after it is trained again); else RunStateError naming the
    damaged file. Everything that depends on the epoch (the data pipeline,
    `RunState`, the weights `Backup` loads) takes it from here.
    """
    backup_dir = pathlib.Path(backup_dir)
    latest, previous = backup_dir / BACKUP_METADATA, backup_dir / PREVIOUS_METADATA
    if not latest.exists() and not previous.exists():
        return None
    try:
        if not latest.exists():
            raise RunStateError(f"{latest} is missing")
        return _backup_state(latest, legacy_weights=LEGACY_WEIGHTS)
    except RunStateError as error:
        problem = error
    advice = (
        f"Delete {backup_dir} to train the run again from epoch 1, or start a new "
        f"run with another --out"
    )
    if not previous.exists():
        raise RunStateError(f"{problem}, and there is no earlier backup. {advice}")
    try:
        epoch, weights = _backup_state(previous)
    except RunStateError as error:
        raise RunStateError(
            f"{problem}; the earlier backup is unusable too: {error}. {advice}"
        ) from None
    print(
        f"warning: {problem}; resuming from the earlier backup ({previous.name}), "
        f"after epoch {epoch}: epoch {epoch + 1} is trained again",
        file=sys.stderr,
        flush=True,
    )
    return epoch, weights


def remove_backup(backup_dir):
    """Deletes a finished run's backup (called once the run state says so)."""
    shutil.rmtree(backup_dir, ignore_errors=True)


class Backup(keras.callbacks.Callback):
    """Weights and optimizer state after every epoch, to resume a killed run.

    After epoch N: the current metadata, if intact, is copied to
    `training_metadata.json.bkp`; the weights go to `epoch-N.weights.h5`
    (written to a temporary file, then renamed); `training_metadata.json`
    (`{"epoch": N, "weights": ..., "sha256": ...}`) is replaced atomically;
    only then are weights neither file names deleted. A kill at any moment
    leaves both metadata files naming complete weights.

    Args:
        backup_dir: The run's `backup/` directory.
        resume_from: The weights file `resume_point` chose, loaded when
            training begins; None for a new run.
        write: Whether this process writes backups (a multi-worker run's
            chief does; the other workers only restore from its backup).
    """

    def __init__(self, backup_dir, resume_from=None, write=True):
        super().__init__()
        self.backup_dir = pathlib.Path(backup_dir)
        self.resume_from = resume_from
        self.write = write

    def on_train_begin(self, logs=None):
        if self.resume_from is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            # The optimizer's variables must exist to receive their values.
            self.model.optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(self.resume_from)
        except Exception as error:  # h5py's OSError, Keras's ValueError on a mismatch
            raise RunStateError(
                f"{self.resume_from} cannot be loaded ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}). Delete "
                f"{self.backup_dir} to train the run again from epoch 1, or start a "
                f"new run with another --out"
            ) from None

    def on_epoch_end(self, epoch, logs=None):
        if not self.write:
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        latest = self.backup_dir / BACKUP_METADATA
        previous = self.backup_dir / PREVIOUS_METADATA
        if latest.exists():
            try:
                _backup_state(latest, legacy_weights=LEGACY_WEIGHTS)
            except RunStateError:
                pass  # the damaged backup this run fell back from: keep the earlier one
            else:
                write_text_atomically(previous, latest.read_text(encoding="utf-8"))
        name = f"epoch-{epoch + 1}.weights.h5"
        # Keras saves weights only to names ending in .weights.h5.
        temporary = self.backup_dir / f".epoch-{epoch + 1}.tmp.weights.h5"
        self.model.save_weights(temporary, overwrite=True)
        os.replace(temporary, self.backup_dir / name)
        write_json_atomically(
            latest,
            {
                "epoch": epoch + 1,
                "batch": 0,
                "weights": name,
                "sha256": file_sha256(self.backup_dir / name),
            },
        )
        kept = {name}
        try:
            kept.add(json.loads(previous.read_text(encoding="utf-8"))["weights"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no previous backup, or BackupAndRestore's: nothing else to keep
        for path in self.backup_dir.glob("*.weights.h5*"):
            if path.name not in kept:
                path.unlink()


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
        time_limit: The run's `TimeLimit`, or None. Each epoch's record then
            holds its `training_seconds` and whether the budget ran out in it
            (`time_limit_reached`), and the clock starts from the training
            seconds of the epochs kept: a resumed run gets what is left.
        keep_last: How many epochs' weights to keep in `checkpoints/`
            (`EPOCH_WEIGHTS`) for checkpoint averaging; 1 keeps none but
            the best model.

    Raises:
        RunStateError: `run_state.json` is damaged or lacks epochs before
            `start_epoch`, or the best model it records is missing or damaged.
    """

    def __init__(self, run_dir, monitor, mode, patience, start_epoch=0, write=True,
                 time_limit=None, keep_last=1):
        super().__init__()
        self.write = write
        self.time_limit = time_limit
        self.keep_last = keep_last
        if mode not in ("max", "min"):
            raise ValueError(f"Argument `mode` must be 'max' or 'min'. Received: mode={mode!r}")
        self.run_dir = pathlib.Path(run_dir)
        self.monitor, self.mode, self.patience = monitor, mode, patience
        self.state_path = self.run_dir / RUN_STATE_FILE
        self.best_path = self.run_dir / "checkpoints" / "best.keras"
        self.history = []
        self.finished = False
        saved = read_run_state(self.run_dir)
        if saved is not None:
            self.history = [h for h in saved["history"] if h["epoch"] < start_epoch]
            self.finished = saved["finished"] and len(saved["history"]) == start_epoch
        recorded = [h["epoch"] for h in self.history]
        if recorded != list(range(start_epoch)):
            # The state is written before the backup, so it always covers the
            # backup's epochs; a gap means it was replaced or cut.
            raise RunStateError(
                f"{self.state_path} records epochs {[e + 1 for e in recorded]}, but the "
                f"run resumes after epoch {start_epoch}: the file is not this run's "
                f"latest state. Start a new run with another --out"
            )
        if self.best_epoch is not None:  # None: no epoch has improved (all NaN)
            self._check_best_model()
        if write:
            # Weights of epochs after the resume point are the killed run's,
            # trained again now.
            for path, epoch in self._epoch_weights():
                if epoch > start_epoch:
                    path.unlink()
        if time_limit is not None:
            # Epochs dropped above (trained after the backup a kill left) are
            # trained again, so their time is not spent.
            time_limit.spent = self.training_seconds

    def _check_best_model(self):
        """The checkpoint the history calls best must be there, whole: it is
        what the run's outputs are made from, and it cannot be remade."""
        problem = None
        if not self.best_path.exists():
            problem = "is missing"
        else:
            try:
                with zipfile.ZipFile(self.best_path) as archive:
                    if archive.testzip() is not None:
                        problem = "is corrupt (a checksum fails)"
            except (zipfile.BadZipFile, OSError) as error:
                problem = f"is truncated or corrupt ({error})"
        if problem:
            raise RunStateError(
                f"{self.best_path} {problem}, yet {self.state_path.name} records epoch "
                f"{self.best_epoch + 1} as the best: the run's best model is lost. Train "
                f"the run again (another --out, or delete {self.run_dir})"
            )

    def _epoch_weights(self):
        """`[(path, epoch)]` of the epoch weights kept, oldest first."""
        directory = self.best_path.parent
        if not directory.is_dir():
            return []
        found = []
        for path in directory.glob("epoch-*.weights.h5"):
            number = path.name[len("epoch-"):-len(".weights.h5")]
            if number.isdigit():
                found.append((path, int(number)))
        return sorted(found, key=lambda item: item[1])

    def kept_epochs(self):
        """`[(path, epoch)]` of the kept epoch weights (1-based epochs),
        oldest first (`keep_last`)."""
        return self._epoch_weights()

    def _keep_epoch(self, epoch):
        """Saves the weights after `epoch` (0-based) and drops those past `keep_last`."""
        directory = self.best_path.parent
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / ".epoch.tmp.weights.h5"  # Keras insists on the suffix
        self.model.save_weights(temporary)
        os.replace(temporary, directory / EPOCH_WEIGHTS.format(epoch + 1))
        for path, number in self._epoch_weights():
            if number <= epoch + 1 - self.keep_last:
                path.unlink()

    def mark_finished(self):
        """Records that training is over, before the backup is deleted: a
        resumed run then only writes the outputs."""
        self.finished = True
        if self.write:
            write_json_atomically(self.state_path, {"history": self.history, "finished": True})

    @property
    def training_seconds(self):
        """Training seconds of the recorded epochs (`training_seconds()`)."""
        return training_seconds(self.history)

    @property
    def time_was_up(self):
        """Whether the run's time limit ran out (in its last recorded epoch)."""
        return bool(self.history) and self.history[-1].get("time_limit_reached", False)

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
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if self._steps == 0:
            # Keras ends an epoch whose data ran out with loss 0.0; recorded,
            # it could pass for an improvement and replace the best model.
            raise RunStateError(
                f"epoch {epoch + 1} ran no training steps: the training data ran out "
                f"before the epochs did. Nothing of it was recorded; "
                f"{self.state_path} still ends at epoch {epoch}"
            )
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
        if self.keep_last > 1 and self.write:
            self._keep_epoch(epoch)
        record = {
            "epoch": epoch,
            "logs": logs,
            "seconds": seconds,
            "best": value if improved else self.best,
            "best_epoch": epoch if improved else self.best_epoch,
            "wait": wait,
            "seed_states": [np.asarray(v).tolist() for v in self._seed_states()],
        }
        if self.time_limit is not None:
            # What a resumed run's budget is counted from (`spent`), and what
            # tells --resume that a run whose time was up is finished.
            record["training_seconds"] = self.time_limit.epoch_seconds
            record["time_limit_reached"] = self.time_limit.reached
        self.history.append(record)
        if self.write:
            write_json_atomically(self.state_path, {"history": self.history})
        if self.patience is not None and wait >= self.patience:
            self.model.stop_training = True


class TimeLimit(keras.callbacks.Callback):
    """Stops training once it has trained for `max_seconds`; measures it.

    Training time runs from the start of each epoch to the end of its last
    training batch. Validation (between `on_test_begin` and `on_test_end`,
    which `fit` calls inside the epoch) and the end-of-epoch work (the best
    checkpoint, the backup) are not counted, so that runs compared at equal
    training time had equal time to learn, whatever their validation set or
    disk costs. The first batch's tracing and compiling is counted: a run
    pays for it.

    At the end of the batch that reaches the budget, `model.stop_training`
    is set: `fit` (and `custom_loop.fit_distributed`) then validate that
    partial epoch and end it with `on_epoch_end`, so `RunState` records it
    and keeps its model if it is the best, and training ends.

    Args:
        max_seconds: The budget, in seconds; None measures without stopping.
        spent: Training seconds spent before (a resumed run's recorded
            epochs; `RunState` sets it from the history it keeps).
        clock: A monotonic clock in seconds; None: `TimeLimit.clock`
            (`time.monotonic`). Tests inject a fake.

    Raises:
        ValueError: `max_seconds` is not a positive, finite number or None.
    """

    clock = staticmethod(time.monotonic)

    def __init__(self, max_seconds=None, spent=0.0, clock=None):
        super().__init__()
        if max_seconds is not None and not (
            isinstance(max_seconds, (int, float))
            and not isinstance(max_seconds, bool)
            and math.isfinite(max_seconds)
            and max_seconds > 0
        ):
            raise ValueError(
                f"Argument `max_seconds` must be a positive number of seconds or None. "
                f"Received: max_seconds={max_seconds!r}"
            )
        self.max_seconds = max_seconds
        self.spent = float(spent)  # seconds of the epochs before the current one
        self.epoch_seconds = 0.0  # seconds of the current (or last) epoch
        self.stopped = False  # whether this callback stopped training
        if clock is not None:
            self.clock = clock
        self._mark = None  # when the counted stretch began; None while paused

    @property
    def seconds(self):
        """Training seconds in all, the current epoch's included."""
        return self.spent + self.epoch_seconds

    @property
    def reached(self):
        """Whether the budget is used up."""
        return self.max_seconds is not None and self.seconds >= self.max_seconds

    def on_epoch_begin(self, epoch, logs=None):
        # The last epoch is folded in here rather than in on_epoch_end, so
        # that RunState reads its `epoch_seconds` in on_epoch_end whatever
        # the callbacks' order.
        self.spent += self.epoch_seconds
        self.epoch_seconds = 0.0
        self._mark = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        now = self.clock()
        if self._mark is not None:
            self.epoch_seconds += now - self._mark
        self._mark = now
        if self.reached:
            self.stopped = True
            self.model.stop_training = True

    def on_test_begin(self, logs=None):
        self._mark = None  # validation is not training time

    def on_test_end(self, logs=None):
        self._mark = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        # From the last batch to here (validation, others' epoch-end work)
        # is not counted; `epoch_seconds` stays for RunState to record.
        self._mark = None


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
