"""A training run, as `python -m training.train` asks for it (the command line
and its checks are `training/train.py`, whose docstring lists what a run
directory receives): the config and its data file, the strategy, the task's
run and the run's record; the fitting, resuming and outputs are
`training/fitting.py`, ensembles `training/ensemble.py`.
"""

import copy
import datetime
import json
import os
import pathlib
import platform
import sys

import keras
import numpy as np
import tensorflow as tf

from training import callbacks as run_callbacks
from training.defaults import TASK_DEFAULTS
from training.config import ConfigError
from training.distribute import StrategyError, is_chief, make_strategy
from training.ensemble import train_ensemble
from training.fitting import TrainingError, build_model, finish, fit_run, start_epoch_of
from training.tasks import TASKS
from training.train import FINGERPRINT_KEY, TIME_LIMIT_KEY, check_time_limit, resolve_entry
from zoo.data.classification import default_sarcasm_path
from zoo.data.download import DataUnavailableError
from zoo.data.errors import DataFormatError
from zoo.data.split import check_fraction
from zoo.data.translation import default_translation_path


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
    """A fingerprint in words: its size and the start of its hash."""
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
    """Whether paths `a` and `b` name one file (the same path, or links to it)."""
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
    """The run directory: `--out`, or runs/ENTRY-TIMESTAMP; TrainingError if
    a new run's is taken."""
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
    """The library versions a run records in run.json."""
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "zoo": version("rnn-zoo"),
    }


def train(args):
    """Trains the run `args` asks for (`python -m training.train`); returns
    its directory."""
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
    keras.utils.set_random_seed(config["training"]["seed"])
    if args.mixed_precision:
        on_gpu = bool(tf.config.list_logical_devices("GPU"))
        keras.mixed_precision.set_global_policy("mixed_float16" if on_gpu else "mixed_bfloat16")
    run = load_run(config, data_path, saved=run_dir if args.resume else None)
    print(
        f"Training {config['task']} '{args.entry}' on {len(run.train)} examples, "
        f"validating on {len(run.validation)}; strategy {type(strategy).__name__} "
        f"with {strategy.num_replicas_in_sync} replica(s); run directory {run_dir}",
        flush=True,
    )
    # Built before anything is written: a bad model config stops here. (For an
    # ensemble this checks the config; each member builds its own model.)
    model = build_model(strategy, run, args.entry)
    if chief:
        write_run_record(args, run, run_dir, strategy)
    if config["model"].get("ensemble_size", 1) > 1:
        train_ensemble(strategy, run, run_dir, chief, args.entry)
        return run_dir
    state = fit_run(strategy, run, model, run_dir, chief, start)
    if chief:
        finish(run, state, run_dir, args.entry)
    return run_dir


def load_run(config, data_path, saved=None):
    """The task's `TaskRun` over the splits of `data_path`; TrainingError
    if a split is empty."""
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
    return task(config, train_data, validation_data, saved=saved)


def write_run_record(args, run, run_dir, strategy):
    """Creates `run_dir` with config.json and the preprocessing (a new run),
    and run.json: the command, versions and machine of this start."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        run_callbacks.write_json_atomically(run_dir / "config.json", run.config)
        run.save_preprocessing(run_dir)
    run_callbacks.write_json_atomically(
        run_dir / "run.json",
        {
            "command": [sys.executable, "-m", "training.train", *args.argv],
            "versions": versions(),
            "seed": run.config["training"]["seed"],
            "strategy": type(strategy).__name__,
            "replicas": strategy.num_replicas_in_sync,
            "devices": [d.name for d in tf.config.list_logical_devices()],
            # What the times in metrics.json were measured on.
            "cpu_cores": len(os.sched_getaffinity(0)),
            "processor": platform.processor() or platform.machine(),
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "resumed": bool(args.resume),
            # Per ensemble member; None: no time limit.
            "max_seconds": run.config.get(TIME_LIMIT_KEY),
        },
    )


# What a user's command, config or files got wrong: one line and exit status 2.
USER_ERRORS = (ConfigError, TrainingError, DataFormatError, DataUnavailableError,
               FileNotFoundError, StrategyError, run_callbacks.RunStateError)
