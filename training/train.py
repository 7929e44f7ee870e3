"""Train a zoo entry from the command line.

    python -m training.train sarcasm_lstm --data ../shared/data/sarcasm/Sarcasm_Headlines_Dataset.json
    python -m training.train sarcasm_gru --epochs 6 --set model.units=96 --out runs/gru96
    python -m training.train sarcasm_lstm --out runs/gru96 --resume      # after a crash or kill -9
    python -m training.train my_config.yaml --data my_texts.csv --strategy mirrored

ENTRY is a zoo entry (a file in `training/configs/`) or a path to a YAML or
JSON config. The run directory (`--out`, default `runs/ENTRY-TIMESTAMP`)
receives:

    config.json         the resolved config (retrain exactly with it)
    run.json            command, library versions, seed, strategy, devices
    vocabulary.txt      the vectorizer's vocabulary (translation: source_ and
                        target_vocabulary.txt)
    run_state.json      per-epoch metrics, best epoch, early-stopping state
    checkpoints/best.keras   the best token-id model (by training.monitor)
    model.keras         the best model end to end: raw strings -> scores
                        (translation: raw sentences -> translations)
    metrics.json        validation metrics of the best model
    learning_curves.png
    tensorboard/        logs for `tensorboard --logdir`
    backup/             BackupAndRestore's state while the run is unfinished
    members/K/          with model.ensemble_size > 1 (classification): member
                        K's own run (config.json, run_state.json, checkpoints/,
                        metrics.json, learning_curves.png, tensorboard/); the
                        top-level checkpoint, model.keras and metrics.json are
                        the ensemble's, metrics.json with each member's too

A run killed at any moment (kill -9 included) continues with `--resume` from
its last finished epoch and ends as an unbroken run would: the data order of
every epoch depends only on the seed and the epoch number.

An ensemble (`--set model.ensemble_size=5`) trains its members one after
another, member K as an ordinary run with seed + K (its own initialisation
and data order: a deep ensemble), then averages their probabilities in one
model. `--resume` skips the finished members.
"""

import argparse
import datetime
import json
import pathlib
import platform
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from training import callbacks as run_callbacks
from training.config import ConfigError, entry_path, read_config_file, resolve
from training.custom_loop import fit_distributed
from training.distribute import STRATEGIES, StrategyError, is_chief, make_strategy
from training.tasks import TASKS
from zoo.data.download import DataUnavailableError
from zoo.data.errors import DataFormatError


class TrainingError(RuntimeError):
    """The run cannot go on; the message says why and what to do."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m training.train",
        description="Train a zoo entry.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("entry", help="zoo entry name (training/configs/) or config path")
    parser.add_argument("--data", help="data file (default: the config's, or a download)")
    parser.add_argument("--epochs", type=int, help="overrides training.epochs")
    parser.add_argument("--batch-size", type=int, help="overrides training.batch_size (global)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override any config field, e.g. --set model.units=128 (repeatable)",
    )
    parser.add_argument("--out", help="run directory (default runs/ENTRY-TIMESTAMP)")
    parser.add_argument("--strategy", default="auto", choices=STRATEGIES)
    parser.add_argument(
        "--mixed-precision", action="store_true",
        help="mixed_float16 on GPU, mixed_bfloat16 on TPU/CPU",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    args = parser.parse_args(argv)
    # What run.json records as the command (argv when called from Python).
    args.argv = list(sys.argv[1:] if argv is None else argv)
    for name in ("epochs", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1. Received: {value}")
    if args.resume and not args.out:
        parser.error("--resume needs --out RUN_DIR, the run to continue")
    return args


def resolve_config(args):
    """The run's config: from the run directory on --resume, else the entry."""
    if args.resume:
        saved = pathlib.Path(args.out) / "config.json"
        if not saved.exists():
            raise TrainingError(f"--resume: {args.out} holds no config.json; is it a run directory?")
        if args.set or args.epochs or args.batch_size:
            raise TrainingError("--resume continues a run as configured; drop --set/--epochs/--batch-size")
        return json.loads(saved.read_text())
    path = entry_path(args.entry)
    file_config = read_config_file(path)
    task = file_config.get("task", "classification")
    if task not in TASKS:
        raise ConfigError(f"{path}: unknown task {task!r}; expected one of {sorted(TASKS)}")
    overrides = list(args.set)
    if args.epochs:
        overrides.append(f"training.epochs={args.epochs}")
    if args.batch_size:
        overrides.append(f"training.batch_size={args.batch_size}")
    return resolve(TASKS[task].DEFAULTS, file_config, str(path), overrides)


def run_directory(args):
    if args.out:
        run_dir = pathlib.Path(args.out)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = pathlib.Path("runs") / f"{pathlib.Path(args.entry).stem}-{stamp}"
    if not args.resume and (run_dir / "config.json").exists():
        raise TrainingError(
            f"{run_dir} already holds a run; pass --resume to continue it or another --out"
        )
    return run_dir


def versions():
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "zoo": version("rnn-zoo"),
    }


def start_epoch_of(run_dir):
    """The epoch BackupAndRestore will resume at (0 for a new run); for a
    finished run, the number of epochs it ran."""
    metadata = run_dir / "backup" / "training_metadata.json"
    if metadata.exists():
        return int(json.loads(metadata.read_text())["epoch"])
    if (run_dir / "metrics.json").exists():
        # BackupAndRestore deletes its state when fit ends; metrics.json is
        # written only after that, so the run state's history is complete.
        return len(json.loads((run_dir / "run_state.json").read_text())["history"])
    return 0


def train(args):
    config = resolve_config(args)
    run_dir = run_directory(args)
    chief = is_chief()
    # First TensorFlow work of the process: a multi-worker strategy must
    # configure collective ops before anything else runs.
    strategy = make_strategy(args.strategy)
    seed = config["training"]["seed"]
    keras.utils.set_random_seed(seed)
    if args.mixed_precision:
        on_gpu = bool(tf.config.list_logical_devices("GPU"))
        keras.mixed_precision.set_global_policy("mixed_float16" if on_gpu else "mixed_bfloat16")

    task = TASKS[config["task"]]
    train_data, validation_data = task.load_data(config, args.data)
    run = task.Run(
        config, train_data, validation_data, saved=run_dir if args.resume else None
    )
    print(
        f"Training {config['task']} '{args.entry}' on {len(train_data)} examples, "
        f"validating on {len(validation_data)}; strategy {type(strategy).__name__} "
        f"with {strategy.num_replicas_in_sync} replica(s); run directory {run_dir}",
        flush=True,
    )
    # Built before anything is written: a bad model config stops here. (For an
    # ensemble this checks the config; each member builds its own model.)
    model = build_model(strategy, run, args.entry)
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not args.resume:
            run_callbacks.write_json_atomically(run_dir / "config.json", config)
            run.save_preprocessing(run_dir)
        run_callbacks.write_json_atomically(
            run_dir / "run.json",
            {
                "command": [sys.executable, "-m", "training.train", *args.argv],
                "versions": versions(),
                "seed": seed,
                "strategy": type(strategy).__name__,
                "replicas": strategy.num_replicas_in_sync,
                "devices": [d.name for d in tf.config.list_logical_devices()],
                "started": datetime.datetime.now().isoformat(timespec="seconds"),
                "resumed": bool(args.resume),
            },
        )

    ensemble_size = config["model"].get("ensemble_size", 1)
    if ensemble_size == 1:
        state = fit_run(strategy, run, model, run_dir, chief)
        if chief:
            finish(run, state, run_dir, args.entry)
        return run_dir
    # A deep ensemble: each member is a run of its own (own seed, so its own
    # initialisation and data order) in members/K/, which --resume finds
    # where it stopped; then the members are averaged into one model.
    member_dirs = [run_dir / "members" / str(index) for index in range(ensemble_size)]
    for index, member_dir in enumerate(member_dirs):
        if (member_dir / "metrics.json").exists():  # written last by finish_member
            print(f"Member {index + 1} of {ensemble_size} had already finished ({member_dir}).")
            continue
        member = run.member(index)
        print(f"Member {index + 1} of {ensemble_size} (seed {member.config['training']['seed']})", flush=True)
        keras.utils.set_random_seed(member.config["training"]["seed"])
        model = build_model(strategy, member, args.entry)
        if chief:
            member_dir.mkdir(parents=True, exist_ok=True)
            run_callbacks.write_json_atomically(member_dir / "config.json", member.config)
        state = fit_run(strategy, member, model, member_dir, chief)
        if chief:
            finish_member(member, state, member_dir, f"{args.entry} member {index}")
    if chief:
        finish_ensemble(run, member_dirs, run_dir)
    return run_dir


def build_model(strategy, run, entry):
    """`run`'s compiled model, built under `strategy`."""
    try:
        with strategy.scope():
            return run.build_model()
    except ValueError as error:
        # A model or optimizer argument out of range.
        raise ConfigError(f"invalid config for '{entry}': {error}") from None


def fit_run(strategy, run, model, run_dir, chief):
    """Fits `model` in `run_dir`, resuming where a killed run stopped;
    returns the run's `RunState`."""
    training = run.config["training"]
    epochs, batch_size = training["epochs"], training["batch_size"]
    start_epoch = start_epoch_of(run_dir)
    state, nan_stop, callback_list = make_callbacks(run_dir, training, start_epoch, chief)
    if start_epoch >= epochs or (state.history and _stopped_early(state, training)):
        print(f"{run_dir} had already finished training; writing its outputs.")
        return state
    started = time.time()
    fit(strategy, model, run, callback_list, epochs, batch_size, start_epoch)
    if nan_stop.where is not None:
        epoch, batch = nan_stop.where
        raise TrainingError(
            f"Training stopped: the loss became NaN or infinite at epoch {epoch + 1}, "
            f"batch {batch + 1}. Lower training.learning_rate (now "
            f"{training['learning_rate']}) or set training.clipnorm, e.g. "
            f"--set training.clipnorm=1.0. The best model so far is in "
            f"{run_dir / 'checkpoints' / 'best.keras'}."
        )
    print(f"Trained in {time.time() - started:.0f} s", flush=True)
    return state


def make_callbacks(run_dir, training, start_epoch, chief):
    """`(run state, NaN stop, all callbacks)` of a run; the chief writes."""
    monitor = training["monitor"]
    state = run_callbacks.RunState(
        run_dir,
        monitor,
        "min" if monitor.endswith("loss") else "max",
        training["early_stopping_patience"],
        start_epoch=start_epoch,
        write=chief,
    )
    nan_stop = run_callbacks.StopOnNaN()
    backup_type = keras.callbacks.BackupAndRestore if chief else run_callbacks.RestoreOnlyBackup
    callback_list = [
        nan_stop,
        # RunState before the backup: a kill between the two redoes the
        # epoch, and RunState drops what it had recorded for it.
        state,
        backup_type(str(run_dir / "backup"), double_checkpoint=True),
    ]
    if chief:
        callback_list.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return state, nan_stop, callback_list


def fit(strategy, model, run, callback_list, epochs, batch_size, start_epoch):
    """`model.fit`, or its custom-loop twin under MultiWorkerMirroredStrategy."""
    train_dataset = run.train_dataset(batch_size, start_epoch, epochs)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        fit_distributed(
            strategy,
            model,
            train_dataset,
            run.steps_per_epoch(batch_size),
            run.validation_dataset(batch_size),
            epochs,
            start_epoch,
            callback_list,
        )
    else:
        model.fit(
            train_dataset,
            epochs=epochs,
            steps_per_epoch=run.steps_per_epoch(batch_size),
            validation_data=run.validation_dataset(batch_size),
            callbacks=callback_list,
            shuffle=False,  # each epoch is shuffled by its own seed
            verbose=1 if sys.stdout.isatty() else 2,
        )


def _stopped_early(state, training):
    patience = training["early_stopping_patience"]
    return patience is not None and state.history[-1]["wait"] >= patience


def finish(run, state, run_dir, entry):
    """Evaluates the best model and writes the run's outputs."""
    best, metrics = finish_member(run, state, run_dir, entry)
    run.inference_model(best).save(run_dir / "model.keras")
    report(metrics, run_dir)


def finish_member(run, state, run_dir, entry):
    """Evaluates the best model of a run (or ensemble member), writes its
    metrics.json and learning curves; returns `(best model, metrics)`."""
    # Uncompiled: the inference model is saved without optimizer state.
    best = keras.saving.load_model(state.best_path, compile=False)
    metrics = run.evaluate(best)
    metrics["best_epoch"] = state.best_epoch + 1
    metrics["epochs_run"] = len(state.history)
    metrics["seconds_per_epoch"] = float(np.mean([h["seconds"] for h in state.history]))
    run_callbacks.plot_learning_curves(
        state.history, run_dir / "learning_curves.png", f"{entry}: learning curves"
    )
    run_callbacks.write_json_atomically(run_dir / "metrics.json", metrics)
    return best, metrics


def finish_ensemble(run, member_dirs, run_dir):
    """Averages the members' best models into one and writes the outputs."""
    members = [
        keras.saving.load_model(d / "checkpoints" / "best.keras", compile=False)
        for d in member_dirs
    ]
    ensemble = run.ensemble(members)
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    ensemble.save(run_dir / "checkpoints" / "best.keras")
    metrics = run.evaluate(ensemble)
    member_metrics = [json.loads((d / "metrics.json").read_text()) for d in member_dirs]
    metrics["members"] = [
        {k: m[k] for k in ("accuracy", "macro_f1", "best_epoch", "epochs_run")}
        for m in member_metrics
    ]
    metrics["best_epoch"] = [m["best_epoch"] for m in member_metrics]
    metrics["epochs_run"] = [m["epochs_run"] for m in member_metrics]
    metrics["seconds_per_epoch"] = float(np.mean([m["seconds_per_epoch"] for m in member_metrics]))
    run_callbacks.write_json_atomically(run_dir / "metrics.json", metrics)
    run.inference_model(ensemble).save(run_dir / "model.keras")
    shown = ", ".join(f"{m['accuracy']:.4f}" for m in member_metrics)
    print(f"Members' accuracy: {shown}")
    report(metrics, run_dir)


def report(metrics, run_dir):
    shown = {k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)}
    print(f"Best epoch {metrics['best_epoch']}: {shown}")
    print(f"Outputs in {run_dir}")


def main(argv=None):
    args = parse_args(argv)
    try:
        train(args)
    except (
        ConfigError,
        TrainingError,
        DataFormatError,
        DataUnavailableError,
        FileNotFoundError,
        StrategyError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
