"""Fitting one run in its directory, the part every run shares (a single
model, or each member of an ensemble: `training/ensemble.py`): building
its model under the strategy, the callbacks that record, back up, resume
and stop it (NaN, time limit), and evaluating and saving the best model.
The task supplies data, model and metrics (`training.tasks.TaskRun`).
"""

import time

import keras
import numpy as np

from training import callbacks as run_callbacks
from training.config import ConfigError
from training.train import TIME_LIMIT_KEY


class TrainingError(RuntimeError):
    """The run cannot go on; the message says why and what to do."""


def start_epoch_of(run_dir):
    """`(epoch, weights)`: the epoch a run resumes at and the backup weights
    to load then (`(0, None)` for a new run); for a finished run, the number
    of epochs it ran and None. RunStateError names a damaged file."""
    state = run_callbacks.read_run_state(run_dir)
    # `finished` is recorded before the backup is deleted, so a run killed
    # between its last epoch and its outputs is not trained again. Runs from
    # before that flag are finished when they have a metrics.json.
    if state is not None and (state["finished"] or (run_dir / "metrics.json").exists()):
        return len(state["history"]), None
    point = run_callbacks.resume_point(run_dir / run_callbacks.BACKUP_DIR)
    return point if point is not None else (0, None)


def build_model(strategy, run, entry):
    """`run`'s compiled model, built under `strategy`."""
    try:
        with strategy.scope():
            return run.build_model()
    except ValueError as error:
        # A model or optimizer argument out of range.
        raise ConfigError(f"invalid config for '{entry}': {error}") from None


def fit_run(strategy, run, model, run_dir, chief, start=None):
    """Fits `model` in `run_dir`, resuming where a killed run stopped;
    returns the run's `RunState`. `start` is `start_epoch_of(run_dir)` when
    the caller has read it already."""
    training = run.config["training"]
    epochs, batch_size = training["epochs"], training["batch_size"]
    start_epoch, weights = start if start is not None else start_epoch_of(run_dir)
    max_seconds = run.config.get(TIME_LIMIT_KEY)
    state, nan_stop, callback_list = make_callbacks(
        run_dir, training, start_epoch, weights, chief, max_seconds)
    time_limit = state.time_limit
    backup_dir = run_dir / run_callbacks.BACKUP_DIR
    if (state.finished or start_epoch >= epochs
            or (state.history and _stopped_early(state, training))
            # Killed after the epoch in which its time ran out was backed up.
            # (What run_state.json records, which every worker reads alike.)
            or state.time_was_up):
        print(f"{run_dir} had already finished training; writing its outputs.")
        if chief and not state.finished:
            state.mark_finished()
        if chief:
            run_callbacks.remove_backup(backup_dir)
        return state
    started = time.time()
    run.fit(model, batch_size, start_epoch, epochs, callback_list, strategy=strategy)
    if nan_stop.where is not None:
        if chief:
            # As before: a resumed run starts over rather than from NaN weights.
            run_callbacks.remove_backup(backup_dir)
        epoch, batch = nan_stop.where
        raise TrainingError(
            f"Training stopped: the loss became NaN or infinite at epoch {epoch + 1}, "
            f"batch {batch + 1}. Lower training.learning_rate (now "
            f"{training['learning_rate']}) or set training.clipnorm, e.g. "
            f"--set training.clipnorm=1.0. The best model so far is in "
            f"{run_dir / 'checkpoints' / 'best.keras'}."
        )
    if chief:
        # In this order: a kill in between leaves a finished run with a
        # backup, which --resume does not train again.
        state.mark_finished()
        run_callbacks.remove_backup(backup_dir)
    if time_limit.stopped:
        print(f"Time limit reached: {time_limit.seconds:.1f} s of training "
              f"(max_seconds {max_seconds:g}); stopped in epoch {len(state.history)} "
              f"of {epochs}", flush=True)
    print(f"Trained in {time.time() - started:.0f} s", flush=True)
    return state


def make_callbacks(run_dir, training, start_epoch, weights, chief, max_seconds=None):
    """`(run state, NaN stop, all callbacks)` of a run resuming at
    `start_epoch` from the backup `weights`; the chief writes. The run
    state's `time_limit` stops training after `max_seconds` (None: never)
    and measures it in every run."""
    monitor = training["monitor"]
    # The chief's clock is the run's: it records the time and the stop, so
    # the other workers of a multi-worker run only measure, and stop with
    # it (`custom_loop.fit_distributed`).
    time_limit = run_callbacks.TimeLimit(max_seconds if chief else None)
    state = run_callbacks.RunState(
        run_dir,
        monitor,
        "min" if monitor.endswith("loss") else "max",
        training["early_stopping_patience"],
        start_epoch=start_epoch,
        write=chief,
        time_limit=time_limit,  # counts on from the epochs it keeps
        keep_last=training.get("average_checkpoints", 1),
    )
    nan_stop = run_callbacks.StopOnNaN()
    callback_list = [
        nan_stop,
        time_limit,
        # RunState before the backup: a kill between the two redoes the
        # epoch, and RunState drops what it had recorded for it.
        state,
        run_callbacks.Backup(run_dir / run_callbacks.BACKUP_DIR, weights, write=chief),
    ]
    if chief:
        callback_list.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return state, nan_stop, callback_list


def _stopped_early(state, training):
    """Whether early stopping ended the run at its last recorded epoch."""
    patience = training["early_stopping_patience"]
    return patience is not None and state.history[-1]["wait"] >= patience


def finish(run, state, run_dir, entry):
    """Evaluates the best model and writes the run's outputs."""
    best, metrics = evaluate_best(run, state, run_dir, entry)
    run.inference_model(best).save(run_dir / "model.keras")
    report(metrics, run_dir)


def evaluate_best(run, state, run_dir, entry):
    """Evaluates the best model of a run (or ensemble member), writes its
    metrics.json and learning curves; returns `(best model, metrics)`."""
    # Uncompiled: the inference model is saved without optimizer state.
    best = keras.saving.load_model(state.best_path, compile=False)
    averaged = []
    if run.config["training"].get("average_checkpoints", 1) > 1:
        averaged = state.kept_epochs()
        average_weights(best, [path for path, _ in averaged])
    metrics = run.evaluate(best)
    if averaged:
        metrics["averaged_epochs"] = [epoch for _, epoch in averaged]
    metrics["best_epoch"] = state.best_epoch + 1
    metrics["epochs_run"] = len(state.history)
    metrics["seconds_per_epoch"] = float(np.mean([h["seconds"] for h in state.history]))
    # Whether the run was time-limited and how long it trained, so that runs
    # can be compared at equal training time.
    metrics["training_seconds"] = state.training_seconds
    metrics["max_seconds"] = run.config.get(TIME_LIMIT_KEY)
    metrics["stopped_by_time_limit"] = state.time_was_up
    run_callbacks.plot_learning_curves(
        state.history, run_dir / "learning_curves.png", f"{entry}: learning curves"
    )
    run_callbacks.write_json_atomically(run_dir / "metrics.json", metrics)
    return best, metrics


def average_weights(model, paths):
    """Sets `model`'s weights to the mean of the weight files `paths`
    (checkpoint averaging: Vaswani et al. 2017 average the last 5 or 20
    checkpoints). Integer variables (random seed states) keep the last
    file's values."""
    sums, last = None, None
    for path in paths:
        model.load_weights(path)
        last = [np.asarray(v) for v in model.weights]
        sums = last if sums is None else [
            a + b if np.issubdtype(a.dtype, np.floating) else b for a, b in zip(sums, last)]
    for variable, total, final in zip(model.weights, sums, last):
        floating = np.issubdtype(final.dtype, np.floating)
        variable.assign(total / len(paths) if floating else final)


def report(metrics, run_dir):
    """Prints the best epoch's metrics and where the outputs are."""
    shown = {k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)}
    print(f"Best epoch {metrics['best_epoch']}: {shown}")
    print(f"Outputs in {run_dir}")
