"""Train a zoo entry from the command line.

    python -m training.train sarcasm_lstm --data ../shared/data/sarcasm/Sarcasm_Headlines_Dataset.json
    python -m training.train sarcasm_gru --epochs 6 --set model.units=96 --out runs/gru96
    python -m training.train sarcasm_lstm --out runs/gru96 --resume      # after a crash or kill -9
    python -m training.train sarcasm_gru --epochs 100 --max-seconds 600  # 10 minutes of training
    python -m training.train my_config.yaml --data my_texts.csv --strategy mirrored

ENTRY is a zoo entry (a file in `training/configs/`) or a path to a YAML or
JSON config. The run directory (`--out`, default `runs/ENTRY-TIMESTAMP`)
receives:

    config.json         the resolved config (retrain exactly with it), with the
                        data file's absolute data.path and data_fingerprint
                        (its path, size and SHA-256)
    run.json            command, library versions, seed, strategy, devices
    vocabulary.txt      the vectorizer's vocabulary (translation: source_ and
                        target_vocabulary.txt)
    run_state.json      per-epoch metrics, best epoch, early-stopping state;
                        "finished" once training is over
    checkpoints/best.keras   the best token-id model (by training.monitor)
    model.keras         the best model end to end: raw strings -> scores
                        (translation: raw sentences -> translations)
    metrics.json        validation metrics of the best model
    learning_curves.png
    tensorboard/        logs for `tensorboard --logdir`
    backup/             weights and optimizer state of the last two epochs
                        while training is unfinished (callbacks.Backup)
    members/K/          with model.ensemble_size > 1 (classification): member
                        K's own run (config.json, run_state.json, checkpoints/,
                        metrics.json, learning_curves.png, tensorboard/); the
                        top-level checkpoint, model.keras and metrics.json are
                        the ensemble's, metrics.json with each member's too

A run killed at any moment (kill -9 included) continues with `--resume` from
its last finished epoch and ends as an unbroken run would: the data order of
every epoch depends only on the seed and the epoch number. A run killed once
training was over only evaluates and writes its outputs. `--resume` reads
the data file the run recorded and refuses another or a changed one
(retraining from DIR/config.json refuses a changed recorded file); a damaged
backup falls back to the one before it, one epoch back, and any other
damaged state is an error naming the file.

An ensemble (`--set model.ensemble_size=5`) trains its members one after
another, member K as an ordinary run with seed + K (its own initialisation
and data order: a deep ensemble), then averages their probabilities in one
model. `--resume` skips the finished members.

`--max-seconds N` stops training once it has trained for N seconds (the
time from each epoch's start to the end of its last batch: validation,
checkpoints and backups are not counted; `training.callbacks.TimeLimit`),
at the end of the batch that reaches N; that partial epoch is validated and
recorded like any other, and the run is evaluated and saved as a finished
one, so that models can be compared at equal training time (set --epochs
high enough not to end first). Every task takes it. config.json and run.json
record it (as max_seconds), metrics.json says whether it ended training
(stopped_by_time_limit) and how long the run trained (training_seconds).
`--resume` goes on with what is left of the budget (the epochs' training
seconds are in run_state.json; an epoch cut by the kill is trained and timed
again), and a run whose time was up only writes its outputs. An ensemble
gives each member the budget (an N-member ensemble trains for up to N times
it). A config file (a run's config.json included) may set it as top-level
`max_seconds`, which the flag replaces.
"""

import argparse
import math
import os
import pathlib
import sys

from training.cli import add_verbose_flag, run_command
from training.config import ConfigError, entry_path, read_config_file, resolve
from training.defaults import TASK_DEFAULTS

# `training.distribute.STRATEGIES`, named here so that the command line is
# checked before TensorFlow (a test keeps the two equal).
STRATEGY_NAMES = ("auto", "cpu", "mirrored", "tpu", "multi_worker")


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
        "--max-seconds", metavar="N",
        help="stop training after N seconds of it (validation not counted), then "
             "evaluate and save as a finished run; resumable",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override any config field, e.g. --set model.units=128 (repeatable)",
    )
    parser.add_argument("--out", help="run directory (default runs/ENTRY-TIMESTAMP)")
    parser.add_argument("--strategy", default="auto", choices=STRATEGY_NAMES,
                        help="tf.distribute strategy (auto: a TPU, else several GPUs, else one device)")
    parser.add_argument(
        "--mixed-precision", action="store_true",
        help="mixed_float16 on GPU, mixed_bfloat16 on TPU/CPU",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    # What run.json records as the command (argv when called from Python).
    args.argv = list(sys.argv[1:] if argv is None else argv)
    for name in ("epochs", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1. Received: {value}")
    if args.max_seconds is not None:
        # Parsed here rather than by `type=float`, so that "abc", 0, -5, nan
        # and inf all get the one message naming what was received.
        seconds = positive_seconds(args.max_seconds)
        if seconds is None:
            parser.error(f"--max-seconds must be a positive number of seconds. "
                         f"Received: {args.max_seconds}")
        args.max_seconds = seconds
    if args.resume and not args.out:
        parser.error("--resume needs --out RUN_DIR, the run to continue")
    return args


# The entry of a run's config.json recording the data file it trained on;
# not a config section, so it is set aside before the config is resolved.
FINGERPRINT_KEY = "data_fingerprint"
# The entry recording a run's time limit (--max-seconds), set aside alike. It
# is in config.json so that --resume, which reads the run's config, keeps the
# budget (even for a run killed before its first epoch ended), and so do
# ensemble members' configs and retraining from a run's config.json.
TIME_LIMIT_KEY = "max_seconds"


def positive_seconds(value):
    """`value` as a float if it is a positive, finite number of seconds
    (a number or its text), else None."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def check_time_limit(config, source):
    """The time limit `config` records (`TIME_LIMIT_KEY`), as a float or None.

    Raises:
        ConfigError: naming `source` and the value, if it is not a positive
            number of seconds.
    """
    value = config.get(TIME_LIMIT_KEY)
    if value is None:
        return None
    seconds = positive_seconds(value)
    if seconds is None:  # a string too may hold a number: YAML reads 1e3 as one
        raise ConfigError(
            f"{source}: {TIME_LIMIT_KEY} must be a positive number of seconds "
            f"(the training time before the run stops). Received: {value!r}"
        )
    return seconds


def resolve_entry(args):
    """`(config, path, recorded)`: the entry's config over its task's defaults,
    with `--set`, `--epochs` and `--batch-size`, and the time limit
    (`--max-seconds`, else the file's) in `config[TIME_LIMIT_KEY]` if there
    is one; `recorded` is the data fingerprint a run's config.json holds
    (None for a zoo entry).

    Raises:
        ConfigError: an unknown entry, task or key, or a value of the wrong type.
    """
    path = entry_path(args.entry)
    file_config = read_config_file(path)
    task = file_config.get("task", "classification")
    if task not in TASK_DEFAULTS:
        raise ConfigError(f"{path}: unknown task {task!r}; expected one of {sorted(TASK_DEFAULTS)}")
    recorded = file_config.pop(FINGERPRINT_KEY, None)
    max_seconds = check_time_limit(file_config, str(path))
    file_config.pop(TIME_LIMIT_KEY, None)
    if args.max_seconds is not None:
        max_seconds = args.max_seconds
    overrides = list(args.set)
    if args.epochs:
        overrides.append(f"training.epochs={args.epochs}")
    if args.batch_size:
        overrides.append(f"training.batch_size={args.batch_size}")
    config = resolve(TASK_DEFAULTS[task], file_config, str(path), overrides)
    if max_seconds is not None:
        config[TIME_LIMIT_KEY] = max_seconds
    return config, path, recorded


def check_before_tensorflow(args):
    """What can be checked in a moment: the config and its keys, the run directory, the data file.

    Raises:
        ConfigError: naming the entry, directory or file.
    """
    if args.resume:
        if not (pathlib.Path(args.out) / "config.json").is_file():
            raise ConfigError(f"--resume: {args.out} holds no config.json; is it a run directory?")
    else:
        resolve_entry(args)  # the config's keys and types, against the task's defaults
        if args.out and (pathlib.Path(args.out) / "config.json").exists():
            raise ConfigError(f"{args.out} already holds a run; pass --resume to continue it "
                              "or another --out")
    if args.data and not os.path.isfile(args.data):
        raise ConfigError(f"--data: the data file {os.path.abspath(args.data)} does not exist")


def main(argv=None):
    return run_command(parse_args(argv), check_before_tensorflow, "training.trainer", "train")


if __name__ == "__main__":
    sys.exit(main())
