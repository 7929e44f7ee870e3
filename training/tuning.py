"""The keras-tuner search behind `python -m training.tune` (its command line,
tasks and argument checks are in `training/tune.py`; docs/tuning.md tells the
whole story): the hypermodel, the tuners, and the report of the trials.
"""

import csv
import gc
import io
import json
import os
import pathlib
import sys
import time

import keras
import keras_tuner
import tensorflow as tf
import yaml

from training.callbacks import write_text_atomically
from training.config import ConfigError, apply_overrides
from training.distribute import StrategyError, make_strategy
from training.search_space import config_overrides, declare, load_space
from training.tasks import TASKS
from training.tune import TUNING_TASKS, base_config
from zoo import compat
from zoo.data.download import DataUnavailableError
from zoo.data.errors import DataFormatError


def _save_json_atomically(path, obj):
    """keras-tuner's `utils.save_json`, made safe against kill -9.

    keras-tuner rewrites oracle.json and each trial.json in place, so a
    search killed mid-write left an empty file that `--resume` cannot read
    (found by this project's kill test). Writing a temporary file and
    renaming it over the old one keeps either the old state or the new.
    """
    text = json.dumps(obj)
    temporary = f"{path}.tmp"
    with tf.io.gfile.GFile(temporary, "w") as file:
        file.write(text)
    tf.io.gfile.rename(temporary, path, overwrite=True)
    return text


compat.set_keras_tuner_save_json(_save_json_atomically)

TOP_TRIALS = 10
# What a user's command or files got wrong: one line and exit status 2.
USER_ERRORS = (ConfigError, DataFormatError, DataUnavailableError, FileNotFoundError,
               StrategyError)


class TaskHyperModel(keras_tuner.HyperModel):
    """A task's model, built from its base config and a trial's values.

    Args:
        task: The config task ("classification", "translation", "adding").
        base_config: The resolved base config the trials change.
        space: The search space (`training.search_space`).
        epochs: Epochs of a trial (Hyperband gives each its own).
        run: The task's `TaskRun` over the loaded data; None on the chief,
            which never builds a model.
    """

    def __init__(self, task, base_config, space, epochs, run=None):
        super().__init__(name=task)
        self.task, self.base_config = task, base_config
        self.space, self.epochs, self.run = space, epochs, run

    def declare_hyperparameters(self, hp):
        declare(hp, self.space)

    def trial_config(self, hp):
        """The base config with this trial's values laid on top."""
        values = {name: hp.get(name) for name in self.space}
        epochs = hp.values.get("tuner/epochs", self.epochs)
        return apply_overrides(
            self.base_config,
            config_overrides(self.task, values) + [f"training.epochs={epochs}"],
        )

    def build(self, hp):
        if not tf.distribute.has_strategy():
            # Trials would otherwise pile up graphs and memory (keras-tuner
            # #395); inside a strategy scope, clearing would break it.
            keras.backend.clear_session()
            gc.collect()
        config = self.trial_config(hp)
        keras.utils.set_random_seed(config["training"]["seed"])
        # The run builds from its config; each trial swaps in its own.
        self.run.config = config
        return self.run.build_model()

    def fit(self, hp, model, *args, epochs=1, initial_epoch=0, callbacks=None, verbose=0,
            **kwargs):
        batch_size = self.trial_config(hp)["training"]["batch_size"]
        # The task's own callbacks too (a stateful language model's resets).
        return self.run.fit(model, batch_size, initial_epoch, epochs, callbacks or [],
                            verbose=verbose)


class TrialReports:
    """Mixed into a keras-tuner tuner: one line per trial, failures loudly."""

    @compat.private_override("keras_tuner.Tuner._populate_initial_space")
    def _populate_initial_space(self):
        # keras-tuner builds a model to find conditional hyperparameters;
        # these spaces have none, and the chief has no data to build with.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._trial_started = time.monotonic()

    def on_trial_end(self, trial):
        try:
            super().on_trial_end(trial)
        finally:
            seconds = time.monotonic() - self._trial_started
            ended = self.oracle.get_trial(trial.trial_id)
            values = format_values(ended.hyperparameters.values)
            if ended.status == "COMPLETED":
                name = self.oracle.objective.name
                print(f"trial {ended.trial_id} COMPLETED in {seconds:.0f} s: {name} "
                      f"{ended.score:.4f} | {values}", flush=True)
            else:
                print(f"trial {ended.trial_id} {ended.status} in {seconds:.0f} s: "
                      f"{last_line(ended.message)} | {values}", file=sys.stderr, flush=True)


class RandomSearch(TrialReports, keras_tuner.RandomSearch):
    pass


class BayesianOptimization(TrialReports, keras_tuner.BayesianOptimization):
    pass


class Hyperband(TrialReports, keras_tuner.Hyperband):
    pass


class GridSearch(TrialReports, keras_tuner.GridSearch):
    pass


# The tuners by `--tuner` name (`training.tune.TUNER_NAMES`).
# "grid" runs every point of a discrete space once (up to --max-trials),
# which random search cannot promise: it gives up after repeated samples.
TUNERS = {"random": RandomSearch, "bayesian": BayesianOptimization, "hyperband": Hyperband,
          "grid": GridSearch}


def format_values(values):
    return " ".join(f"{k}={_short(v)}" for k, v in values.items() if not k.startswith("tuner/"))


def _short(value):
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def last_line(message):
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"


def set_distributed_role(args):
    """keras-tuner's chief/worker protocol reads its role from these."""
    if not args.chief:
        return
    worker = args.worker
    tuner_id = "chief" if worker is None else (f"tuner{worker}" if worker.isdigit() else worker)
    os.environ["KERASTUNER_TUNER_ID"] = tuner_id
    os.environ["KERASTUNER_ORACLE_IP"] = args.chief_host
    os.environ["KERASTUNER_ORACLE_PORT"] = args.chief_port


def make_tuner(args, hypermodel, objective, overwrite):
    strategy = make_strategy(args.strategy)
    common = dict(
        objective=objective,
        seed=args.seed,
        directory=args.directory,
        project_name=args.project,
        overwrite=overwrite,
        # The default (one-device) strategy needs no wrapping.
        distribution_strategy=None if strategy is tf.distribute.get_strategy() else strategy,
        # Failures are counted and reported by this script; a few in a row
        # (an impossible space) end the search early, as in keras-tuner.
        max_consecutive_failed_trials=3,
    )
    if args.tuner == "hyperband":
        return Hyperband(hypermodel, max_epochs=args.max_epochs, **common)
    return TUNERS[args.tuner](hypermodel, max_trials=args.max_trials, **common)


def tune(args):
    """Runs the search; returns the process's exit status."""
    set_distributed_role(args)
    is_worker = args.worker is not None
    is_chief = bool(args.chief) and not is_worker
    project_dir = pathlib.Path(args.directory) / args.project
    config = base_config(args)
    tuning = TUNING_TASKS[args.task]
    task = tuning.task
    objective = keras_tuner.Objective(tuning.objective, tuning.direction)
    space = load_space(task, args.space)
    run = None
    if not is_chief:
        run = TASKS[task](config, *TASKS[task].load_data(config, args.data))
    hypermodel = TaskHyperModel(task, config, space, args.max_epochs, run)
    # Workers and resumed searches reload what is there (keras-tuner's
    # overwrite=False); a fresh one starts clean.
    tuner = make_tuner(args, hypermodel, objective, overwrite=args.overwrite)
    role = f" as {os.environ['KERASTUNER_TUNER_ID']} of {args.chief}" if args.chief else ""
    strategy = tuner.distribution_strategy
    devices = ("one device" if strategy is None else
               f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s)")
    print(f"Searching {args.task}{role} with {args.tuner} ({describe_budget(args)}); "
          f"objective {objective.name} ({objective.direction}); each trial on {devices}; "
          f"project {project_dir}", flush=True)
    log_dir = project_dir / "tensorboard"
    stopped = None
    try:
        tuner.search(epochs=args.max_epochs, verbose=0,
                     callbacks=[keras.callbacks.TensorBoard(str(log_dir))])
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        stopped = str(error).splitlines()[0]  # keras-tuner's limit; what ran is kept
    if is_worker:
        print(f"Worker {os.environ['KERASTUNER_TUNER_ID']} done; the chief holds the results.")
        return 1 if stopped else 0
    status = report(tuner, hypermodel, args, project_dir)
    if stopped:
        print(f"error: keras-tuner stopped the search: {stopped}", file=sys.stderr)
        return 1
    return status


def describe_budget(args):
    if args.tuner == "hyperband":
        return f"up to {args.max_epochs} epochs per trial"
    return f"{args.max_trials} trials of {args.max_epochs} epochs"


def report(tuner, hypermodel, args, project_dir):
    """The table of best trials, trials.csv and best_config.yaml."""
    oracle = tuner.oracle
    trials = sorted(oracle.trials.values(), key=lambda t: t.trial_id)
    completed = [t for t in trials if t.status == "COMPLETED"]
    failed = [t for t in trials if t.status in ("FAILED", "INVALID")]
    names = list(hypermodel.space)
    write_trials_csv(project_dir / "trials.csv", trials, names)
    print(f"\n{len(completed)} trials completed, {len(failed)} failed"
          f"{' (their errors are in trials.csv)' if failed else ''}")
    if not completed:
        print(f"error: every trial failed; the first error: {last_line(failed[0].message)}"
              if failed else "error: no trial ran", file=sys.stderr)
        return 1
    best = oracle.get_best_trials(min(TOP_TRIALS, len(completed)))
    print(results_table(best, names, oracle.objective.name))
    config = hypermodel.trial_config(best[0].hyperparameters)
    path = project_dir / "best_config.yaml"
    write_best_config(path, config, best[0], oracle.objective.name, args)
    print(f"\nBest: trial {best[0].trial_id}, {oracle.objective.name} {best[0].score:.4f}. "
          f"Train it: python -m training.train {path}")
    return 0


def results_table(trials, names, objective_name):
    """A Markdown table of `trials` (best first)."""
    header = ["rank", "trial", objective_name, *names]
    rows = [[str(rank), t.trial_id, f"{t.score:.4f}",
             *(_short(t.hyperparameters.values.get(n, "")) for n in names)]
            for rank, t in enumerate(trials, 1)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_trials_csv(path, trials, names):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["trial", "status", "score", "best_epoch", *names, "error"])
    for trial in trials:
        values = trial.hyperparameters.values
        failed = str(trial.status) in ("FAILED", "INVALID")
        writer.writerow([trial.trial_id, trial.status,
                         "" if trial.score is None else trial.score,
                         "" if trial.score is None else trial.best_step + 1,
                         *(values.get(n, "") for n in names),
                         last_line(trial.message) if failed else ""])
    write_text_atomically(path, buffer.getvalue())


def write_best_config(path, config, trial, objective_name, args):
    command = " ".join(["python -m training.tune", *args.argv])
    header = (f"# The best trial ({trial.trial_id}, {objective_name} {trial.score:.4f}) of\n"
              f"#   {command}\n"
              f"# Train it: python -m training.train {path}\n")
    write_text_atomically(path, header + yaml.safe_dump(config, sort_keys=False))
