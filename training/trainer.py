"""A training run, as `python -m training.train` asks for it (the command line
and its checks are `training/train.py`, whose docstring lists what a run
directory receives): the config and its data file, the strategy, fitting with
backups, resuming, ensembles, and the run's outputs.
"""

import copy
import datetime
import json
import os
import pathlib
import platform
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from training import callbacks as run_callbacks
from training.defaults import TASK_DEFAULTS
from training.config import ConfigError
from training.custom_loop import fit_distributed
from training.distribute import StrategyError, is_chief, make_strategy
from training.tasks import TASKS
from training.train import FINGERPRINT_KEY, TIME_LIMIT_KEY, check_time_limit, resolve_entry
from zoo.data.classification import default_sarcasm_path
from zoo.data.download import DataUnavailableError
from zoo.data.errors import DataFormatError
from zoo.data.split import check_fraction
from zoo.data.translation import default_translation_path


class TrainingError(RuntimeError):
    """The run cannot go on; the message says why and what to do."""


def resolve_config(args):
    """`(config, source)`: the run's config, from the run directory on
    --resume, else the entry; `source` names the file it came from. A
    recorded data fingerprint is kept in `config[FINGERPRINT_KEY]`."""
    if args.resume:
        saved = pathlib.Path(args.out) / "config.json"
        if not saved.exists():
            raise TrainingError(f"--resume: {args.out} holds no config.json; is it a run directory?")
        if args.set or args.epochs or args.batch_size or args.max_seconds:
            # The time limit included: the run goes on with what is left of
            # the budget it recorded.
            raise TrainingError("--resume continues a run as configured; drop "
                                "--set/--epochs/--batch-size/--max-seconds")
        config = with_later_defaults(run_callbacks.read_json(saved))
        check_config(config, args.entry)
        check_time_limit(config, saved)
        return config, saved
    config, path, recorded = resolve_entry(args)
    check_config(config, args.entry)
    if recorded is not None:
        config[FINGERPRINT_KEY] = recorded
    return config, path


def with_later_defaults(config):
    """A saved run's config with the settings added to its task since it was
    written, at their defaults: the behaviour the run trained with."""
    defaults = TASK_DEFAULTS.get(config.get("task"), {})
    for section, values in defaults.items():
        if isinstance(values, dict) and isinstance(config.get(section), dict):
            for key, value in values.items():
                config[section].setdefault(key, copy.deepcopy(value))
    return config


def check_config(config, entry):
    """Checks the fields a task reads only once the data is loaded, so that
    a bad value fails at once, in one line."""
    fraction = config.get("data", {}).get("validation_fraction")
    if fraction is not None:
        try:
            check_fraction(fraction, name="data.validation_fraction")
        except ValueError as error:
            raise ConfigError(f"invalid config for '{entry}': {error}") from None


# --- The data file and its fingerprint ------------------------------------------


def data_fingerprint(path):
    """`{"path", "size", "sha256"}` of a data file: what a run trained on."""
    return {
        "path": str(path),
        "size": os.path.getsize(path),
        "sha256": run_callbacks.file_sha256(path),
    }


def describe(fingerprint):
    return f"{fingerprint['size']:,} bytes, SHA-256 {fingerprint['sha256'][:16]}..."


def default_data_file(config):
    """The file a config without `data.path` reads (downloaded once and
    cached), or None if its format has none."""
    if config["task"] == "translation":
        return default_translation_path()
    if config["data"].get("format") == "sarcasm":
        return default_sarcasm_path()
    return None


def same_file(a, b):
    a, b = os.path.abspath(a), os.path.abspath(b)
    return a == b or (os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b))


def check_recorded(recorded):
    """`recorded` as a data fingerprint; ConfigError for a malformed one."""
    if not (
        isinstance(recorded, dict)
        and isinstance(recorded.get("path"), str)
        and isinstance(recorded.get("size"), int)
        and isinstance(recorded.get("sha256"), str)
    ):
        raise ConfigError(
            f"{FINGERPRINT_KEY} must be {{path, size, sha256}} (as a run writes it). "
            f"Received: {json.dumps(recorded)[:120]}"
        )
    return recorded


def data_file(args, config, source):
    """The data file the run reads, absolute, after checking it against the
    fingerprint a run directory recorded; records it (`data.path` and
    `FINGERPRINT_KEY`) in `config`. None for a task that reads no file.

    Resuming refuses another file or a changed one (the run would go on
    with other data than its first epochs saw); so does retraining from a
    run's config.json on its recorded file if that file changed. `--data`
    naming another file for a new run is a deliberate choice and allowed.
    """
    recorded = config.pop(FINGERPRINT_KEY, None)
    if "path" not in config.get("data", {}):
        return args.data  # a task that generates its data (its loader rejects --data)
    if recorded is not None:
        recorded = check_recorded(recorded)
    path = args.data or config["data"]["path"] or default_data_file(config)
    if path is None:
        raise ConfigError(
            f"the config names no data file (data.path) and data.format "
            f"{config['data'].get('format')!r} has no default one: pass --data PATH"
        )
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        where = "--data" if args.data else f"data.path of {source}"
        raise TrainingError(f"{where}: the data file {path} does not exist")
    current = data_fingerprint(path)
    if recorded is not None:
        changed = (current["size"], current["sha256"]) != (recorded["size"], recorded["sha256"])
        if args.resume and not same_file(recorded["path"], path):
            if changed:
                raise TrainingError(
                    f"--resume: {args.out} trained on {recorded['path']} "
                    f"({describe(recorded)}); --data names another file, {path} "
                    f"({describe(current)}). Resume without --data, or train on {path} "
                    f"as a new run with another --out"
                )
            print(f"note: --data {path} has the same content as {recorded['path']}, "
                  f"which {args.out} trained on; resuming with it", flush=True)
        elif changed and same_file(recorded["path"], path):
            what = f"--resume: {args.out}" if args.resume else str(source)
            advice = (
                "Restore the file, or train on it as a new run with another --out"
                if args.resume else
                f"Restore the file, pass another with --data, or delete "
                f"{FINGERPRINT_KEY} from {source} to train on the file as it is now"
            )
            raise TrainingError(
                f"{what}: data fingerprint mismatch: {path} has changed since the run "
                f"trained on it (then {describe(recorded)}; now {describe(current)}). "
                f"{advice}"
            )
    elif args.resume:
        print(f"warning: {args.out} records no data fingerprint (it predates them), so "
              f"--resume cannot check that {path} is the file it trained on", file=sys.stderr)
    config["data"]["path"] = path
    config[FINGERPRINT_KEY] = current
    return path


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


def train(args):
    config, source = resolve_config(args)
    run_dir = run_directory(args)
    # Read (and checked) before anything is built or written: a damaged
    # backup or run state stops here.
    start = start_epoch_of(run_dir) if args.resume else (0, None)
    data_path = data_file(args, config, source)
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
    train_data, validation_data = task.load_data(config, data_path)
    for name, part in (("training", train_data), ("validation", validation_data)):
        if len(part) == 0 and data_path is not None:
            raise TrainingError(
                f"the {name} split of {data_path} is empty ({len(train_data)} training, "
                f"{len(validation_data)} validation examples with data.validation_fraction "
                f"{config['data'].get('validation_fraction')}): use a larger file or "
                f"another fraction"
            )
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
                # What the times in metrics.json were measured on.
                "cpu_cores": len(os.sched_getaffinity(0)),
                "processor": platform.processor() or platform.machine(),
                "started": datetime.datetime.now().isoformat(timespec="seconds"),
                "resumed": bool(args.resume),
                # Per ensemble member; None: no time limit.
                "max_seconds": config.get(TIME_LIMIT_KEY),
            },
        )

    ensemble_size = config["model"].get("ensemble_size", 1)
    if ensemble_size == 1:
        state = fit_run(strategy, run, model, run_dir, chief, start)
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
    fit(strategy, model, run, callback_list, epochs, batch_size, start_epoch)
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


def fit(strategy, model, run, callback_list, epochs, batch_size, start_epoch):
    """`model.fit`, or its custom-loop twin under MultiWorkerMirroredStrategy."""
    train_dataset = run.train_dataset(batch_size, start_epoch, epochs)
    # A task's own callbacks (optional), first: e.g. a language model's
    # reset of its carried states as an epoch or a validation pass begins.
    callback_list = [*getattr(run, "callbacks", list)(), *callback_list]
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
            # The dataset starts at this epoch too (`Backup` sets no epoch).
            initial_epoch=start_epoch,
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
    member_metrics = [run_callbacks.read_json(d / "metrics.json") for d in member_dirs]
    metrics["members"] = [
        {
            **{k: m[k] for k in ("accuracy", "macro_f1", "best_epoch", "epochs_run")},
            # .get: members finished before these were recorded lack them.
            "training_seconds": m.get("training_seconds"),
            "stopped_by_time_limit": m.get("stopped_by_time_limit", False),
        }
        for m in member_metrics
    ]
    metrics["best_epoch"] = [m["best_epoch"] for m in member_metrics]
    metrics["epochs_run"] = [m["epochs_run"] for m in member_metrics]
    metrics["seconds_per_epoch"] = float(np.mean([m["seconds_per_epoch"] for m in member_metrics]))
    # The time limit is each member's; the ensemble trained for their sum.
    seconds = [m["training_seconds"] for m in metrics["members"]]
    metrics["training_seconds"] = None if None in seconds else float(sum(seconds))
    metrics["max_seconds"] = run.config.get(TIME_LIMIT_KEY)
    metrics["stopped_by_time_limit"] = any(m["stopped_by_time_limit"] for m in metrics["members"])
    run_callbacks.write_json_atomically(run_dir / "metrics.json", metrics)
    run.inference_model(ensemble).save(run_dir / "model.keras")
    shown = ", ".join(f"{m['accuracy']:.4f}" for m in member_metrics)
    print(f"Members' accuracy: {shown}")
    report(metrics, run_dir)


def report(metrics, run_dir):
    shown = {k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)}
    print(f"Best epoch {metrics['best_epoch']}: {shown}")
    print(f"Outputs in {run_dir}")


# What a user's command, config or files got wrong: one line and exit status 2.
USER_ERRORS = (ConfigError, TrainingError, DataFormatError, DataUnavailableError,
               FileNotFoundError, StrategyError, run_callbacks.RunStateError)
