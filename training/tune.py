"""Search a task's hyperparameters with keras-tuner: cells, sizes, rates.

    python -m training.tune sarcasm --max-trials 12 --max-epochs 2
    python -m training.tune adding --tuner hyperband --max-epochs 9 --space my_space.yaml
    python -m training.tune sarcasm --tuner grid --space training/spaces/sarcasm_cells.yaml
    python -m training.tune sarcasm --directory tuning --resume       # after a crash or kill
    python -m training.tune sarcasm --strategy mirrored                # each trial on all GPUs

    # Across machines: one chief (the oracle; it trains nothing) and workers.
    python -m training.tune sarcasm --chief 10.0.0.2:8000             # on the chief
    python -m training.tune sarcasm --worker 0 --chief 10.0.0.2:8000  # on each worker: 0, 1, ...

TASK is `sarcasm`, `translation` or `adding` (the 1997 paper's adding
problem, generated, trains in seconds); `--config` picks another base
config of the same task and `--set` changes it, as in `training.train`.
The search space (`training/search_space.py`; `--space` narrows it) covers
the cell (the 1997 LSTM, Greff et al.'s LSTM variants, GRU), units,
layers, bidirectionality, embedding size, dropout, learning rate and batch
size. Each trial trains the task's model for `--max-epochs` epochs (for
Hyperband, the most any trial gets) and is scored on the validation set:
accuracy for sarcasm, loss for translation and adding.

It prints a line per trial, failed trials loudly, and at the end a table
of the best trials. `DIRECTORY/PROJECT/` (default `tuning/TASK/`) holds
keras-tuner's state, plus:

    trials.csv          every trial: status, score, hyperparameters, error
    best_config.yaml    the best trial as a training config:
                        python -m training.train tuning/TASK/best_config.yaml
    tensorboard/        per-trial logs with the HParams dashboard

The exit status is 0 when at least one trial completed, 1 when none did,
2 for a bad command line, config or space file.

The chief's oracle listens for gRPC without authentication or encryption:
bind it to an address only the workers can reach (a private network).
"""

import argparse
import pathlib
import sys
import typing

from training.cli import add_verbose_flag, run_command
from training.config import ConfigError, entry_path, read_config_file, resolve
from training.defaults import TASK_DEFAULTS
from training.search_space import load_space

class TuningTask(typing.NamedTuple):
    """What a `python -m training.tune TASK` search runs."""

    task: str  # the config task (`training.tasks.TASKS`)
    entry: str  # the base config, a zoo entry, unless --config names another
    objective: str  # the metric keras-tuner compares trials by
    direction: str  # "max" or "min"


TUNING_TASKS = {
    "sarcasm": TuningTask("classification", "sarcasm_lstm", "val_accuracy", "max"),
    "translation": TuningTask("translation", "translate_spa_eng", "val_loss", "min"),
    "adding": TuningTask("adding", "adding_lstm", "val_loss", "min"),
}
TUNER_STRATEGIES = ("auto", "cpu", "mirrored", "tpu")
TUNER_NAMES = ("bayesian", "grid", "hyperband", "random")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m training.tune",
        description="Search a task's hyperparameters with keras-tuner.",
    )
    parser.add_argument("task", choices=sorted(TUNING_TASKS), help="the task to tune")
    parser.add_argument("--data", help="data file (default: the config's, or a download)")
    parser.add_argument("--config", help="base config: a zoo entry or a path (default per task)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a base config field (repeatable)")
    parser.add_argument("--tuner", choices=TUNER_NAMES, default="random",
                        help="keras-tuner's search algorithm (default: random)")
    parser.add_argument("--max-trials", type=int, default=10,
                        help="trials to run (random, bayesian, grid)")
    parser.add_argument("--max-epochs", type=int, default=3,
                        help="epochs per trial (hyperband: the most a trial gets)")
    parser.add_argument("--directory", default="tuning",
                        help="where the trials are kept (default: tuning/)")
    parser.add_argument("--project", help="project name (default: TASK)")
    parser.add_argument("--strategy", choices=TUNER_STRATEGIES, default="auto",
                        help="tf.distribute strategy each trial trains under")
    parser.add_argument("--space", help="YAML/JSON file narrowing or fixing the search space")
    parser.add_argument("--seed", type=int, default=1337, help="the tuner's sampling seed")
    parser.add_argument("--overwrite", action="store_true", help="start the project over")
    parser.add_argument("--resume", action="store_true", help="continue the project's search")
    parser.add_argument("--chief", metavar="HOST:PORT",
                        help="distributed: the oracle's address (alone: be the chief)")
    parser.add_argument("--worker", metavar="ID",
                        help="distributed: be worker ID (0, 1, ...; needs --chief)")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    for name in ("max_trials", "max_epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1. "
                         f"Received: {getattr(args, name)}")
    if args.overwrite and args.resume:
        parser.error("--overwrite starts over and --resume continues: pass one")
    if args.worker is not None and not args.chief:
        parser.error("--worker needs --chief HOST:PORT, the oracle to ask for trials")
    if args.chief:
        host, _, port = args.chief.rpartition(":")
        if not host or not port.isdigit():
            parser.error(f"--chief must be HOST:PORT. Received: {args.chief!r}")
        args.chief_host, args.chief_port = host, port
    args.project = args.project or args.task
    return args


def base_config(args):
    """The resolved config the trials start from."""
    tuning = TUNING_TASKS[args.task]
    task = tuning.task
    path = entry_path(args.config or tuning.entry)
    file_config = read_config_file(path)
    if file_config.get("task", "classification") != task:
        raise ConfigError(f"{path}: a {file_config.get('task')!r} config, not a {task} one; "
                          f"the {args.task} search needs a {task} config")
    return resolve(TASK_DEFAULTS[task], file_config, str(path), args.set)


def check_before_tensorflow(args):
    """What can be checked in a moment: the project's state, the config file, the space."""
    is_worker = args.worker is not None
    project_dir = pathlib.Path(args.directory) / args.project
    if not is_worker and not args.overwrite and not args.resume and (
            project_dir / "oracle.json").exists():
        raise ConfigError(f"{project_dir} holds a search already: pass --resume to continue "
                          "it or --overwrite to start over")
    if args.resume and not is_worker and not (project_dir / "oracle.json").exists():
        raise ConfigError(f"--resume: {project_dir} holds no search to continue")
    base_config(args)  # the config's keys and types, against the task's defaults
    load_space(TUNING_TASKS[args.task].task, args.space)


def main(argv=None):
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return run_command(args, check_before_tensorflow, "training.tuning", "tune")


if __name__ == "__main__":
    sys.exit(main())
