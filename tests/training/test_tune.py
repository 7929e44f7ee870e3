"""`python -m training.tune`: searches over the adding problem (trials of a
second or two), failures, resuming a killed search, MirroredStrategy on two
logical CPUs, and one chief with two workers on 127.0.0.1."""

import csv
import os
import signal
import subprocess
import sys
import time

import keras_tuner
import pytest
import yaml

from training import train, tune
from training.config import ConfigError, apply_overrides
from training.search_space import cell_choices, config_overrides, declare, load_space
from training.tasks import TASKS

pytestmark = pytest.mark.tensorflow_only

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Sequences of 20-22 steps, 400 to train on: a trial takes a second or two.
SMALL = ["--set", "data.T=20", "--set", "data.train_sequences=400",
         "--set", "data.validation_sequences=100", "--max-epochs", "1"]


def _tune(tmp_path, *extra, project="adding"):
    return tune.main(["adding", *SMALL, "--directory", str(tmp_path), "--project", project,
                      *extra])


def _trials(project_dir):
    with open(project_dir / "trials.csv", newline="") as file:
        return list(csv.DictReader(file))


# --- The search space ----------------------------------------------------------


def test_space_file_narrows_and_fixes_entries(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("cell: [gru, lstm/CIFG]\nunits: 48\nlearning_rate: {min: 0.001, max: 0.01}\n")
    space = load_space("classification", path)
    assert space["cell"] == ["gru", "lstm/CIFG"]
    assert space["units"] == 48
    assert space["learning_rate"] == {"min": 0.001, "max": 0.01}
    assert space["embedding_dim"] == [64, 128]  # untouched entries keep their default


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour: [red]\n", "unknown hyperparameter 'colour'"),
        ("cell: [lstm/XYZ]\n", "unknown cell 'lstm/XYZ'"),
        ("units: {min: 64, max: 32}\n", "needs numbers min <= max"),
        ("units: {low: 1, high: 2}\n", "a range with min and max"),
        ("learning_rate: {min: 0, max: 0.1, sampling: log}\n", "log sampling needs min > 0"),
        ("dropout: {min: 0, max: 0.5, sampling: cubic}\n", "'linear' or 'log'"),
        ("batch_size: []\n", "lists no values"),
        ("batch_size: [32, '64']\n", "mixes value types"),
        ("- units\n", "expected a mapping"),
        ("units: [32\n", "line 1"),
    ],
)
def test_malformed_space_file_names_the_file_and_the_entry(tmp_path, text, message):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="space.yaml") as error:
        load_space("adding", path)
    assert message in str(error.value)


def test_declared_values_keep_their_types():
    hp = keras_tuner.HyperParameters()
    values = declare(hp, {"bidirectional": [True, False], "only": [False], "units": [8, 16],
                          "rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
                          "layers": {"min": 1, "max": 3}, "cell": "gru"})
    assert values["bidirectional"] is False and values["only"] is False
    assert values["units"] == 8 and isinstance(values["rate"], float)
    assert isinstance(values["layers"], int) and values["cell"] == "gru"
    assert sorted(hp.values) == ["bidirectional", "cell", "layers", "only", "rate", "units"]


def test_every_catalogue_cell_is_a_choice():
    from zoo.layers.catalog import CATALOG

    assert {cell for cell, _ in cell_choices().values()} == set(CATALOG)
    assert cell_choices()["gru/reset_before"] == ("gru", {"reset_after": False})


@pytest.mark.parametrize("task", ["classification", "translation", "adding"])
def test_every_cell_choice_lands_in_the_task_config(task):
    config = TASKS[task].DEFAULTS
    for choice, (cell, options) in cell_choices().items():
        values = {"cell": choice, "units": 64, "num_layers": 1, "learning_rate": 0.002,
                  "batch_size": 32}
        resolved = apply_overrides(config, config_overrides(task, values))
        assert resolved["model"]["cell"] == cell
        assert resolved["model"]["cell_options"] == options
        assert resolved["training"]["learning_rate"] == 0.002
    translation = apply_overrides(TASKS["translation"].DEFAULTS, config_overrides(
        "translation", {"num_layers": 2, "bidirectional": True}))
    assert translation["model"]["encoder_layers"] == 2
    assert translation["model"]["bidirectional_encoder"] is True


# --- Searching -----------------------------------------------------------------


@pytest.mark.slow  # 35-40 s; the grid and killed-search tests report trials by default
def test_search_reports_each_trial_and_writes_a_trainable_best_config(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("cell: [gru, lstm/CIFG, original_lstm]\nunits: [16, 32]\n")
    assert _tune(tmp_path, "--max-trials", "3", "--space", str(space)) == 0
    out = capsys.readouterr().out
    project = tmp_path / "adding"
    rows = _trials(project)
    assert [row["status"] for row in rows] == ["COMPLETED"] * 3
    for row in rows:  # one line per trial with its score and values
        assert f"trial {row['trial']} COMPLETED" in out
        assert f"val_loss {float(row['score']):.4f}" in out
        assert f"cell={row['cell']}" in out
    best = min(rows, key=lambda row: float(row["score"]))
    assert "| 1 | " + best["trial"] + " | " in out  # the table, best first

    config_path = project / "best_config.yaml"
    config = yaml.safe_load(config_path.read_text())
    assert config["model"]["units"] == int(best["units"])
    assert config["training"]["learning_rate"] == float(best["learning_rate"])
    assert config["training"]["batch_size"] == int(best["batch_size"])
    # Ready to use: training.train takes it as it is.
    run_dir = tmp_path / "retrain"
    assert train.main([str(config_path), "--out", str(run_dir)]) == 0
    assert (run_dir / "metrics.json").exists()


@pytest.mark.slow  # 60 s
def test_hyperband_runs_within_max_epochs(tmp_path, capsys):
    assert _tune(tmp_path, "--tuner", "hyperband", "--max-epochs", "2") == 0
    rows = _trials(tmp_path / "adding")
    assert rows and all(row["status"] == "COMPLETED" for row in rows)
    assert max(int(row["best_epoch"]) for row in rows) <= 2


@pytest.mark.slow  # about a minute on two cores; the adding task's searches run by default
def test_text_tasks_tune_a_users_classifier_and_a_translator(
        tmp_path, tiny_config, table_data, translation_config, translation_data):
    # The sarcasm search takes any classification config and data (here a
    # user's CSV); the translation search a translation one.
    space = tmp_path / "space.yaml"
    space.write_text("units: 16\nembedding_dim: 64\nbatch_size: 32\nnum_layers: 1\n"
                     "cell: [gru, lstm/CIFG]\n")
    for task, config, data, config_task in (
            ("sarcasm", tiny_config, table_data, "classification"),
            ("translation", translation_config, translation_data, "translation")):
        assert tune.main([task, "--config", str(config), "--data", str(data), "--space",
                          str(space), "--tuner", "grid", "--max-trials", "2", "--max-epochs",
                          "1", "--directory", str(tmp_path)]) == 0
        rows = _trials(tmp_path / task)
        assert [row["status"] for row in rows] == ["COMPLETED", "COMPLETED"]
        best = yaml.safe_load((tmp_path / task / "best_config.yaml").read_text())
        assert best["task"] == config_task
        assert best["model"]["units"] == 16 and best["training"]["batch_size"] == 32
    assert best["model"]["encoder_layers"] == 1  # num_layers, for the translator


def test_failed_trials_are_reported_and_all_failed_exits_1(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("cell: [original_lstm]\nunits: 33\n")  # blocks of 2 cannot make 33
    assert _tune(tmp_path, "--max-trials", "5", "--space", str(space)) == 1
    captured = capsys.readouterr()
    assert "trial 0 FAILED" in captured.err
    assert "every trial failed" in captured.err
    assert "must be a multiple of `block_size`" in captured.err
    rows = _trials(tmp_path / "adding")
    assert rows and all(row["status"] == "FAILED" for row in rows)
    assert all("block_size" in row["error"] for row in rows)


def test_grid_runs_every_point_once_and_counts_the_failed_ones(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("cell: [original_lstm, gru, lstm/CIFG]\nunits: 33\nbatch_size: 64\n"
                     "learning_rate: 0.003\nnum_layers: 1\n")
    assert _tune(tmp_path, "--tuner", "grid", "--max-trials", "10", "--space", str(space)) == 0
    out = capsys.readouterr().out
    rows = _trials(tmp_path / "adding")
    # Blocks of two cannot make 33 units: that point fails, the others run.
    assert [(row["cell"], row["status"]) for row in rows] == [
        ("original_lstm", "FAILED"), ("gru", "COMPLETED"), ("lstm/CIFG", "COMPLETED")]
    assert "2 trials completed, 1 failed" in out


def test_an_existing_project_needs_resume_or_overwrite_and_bayesian_runs(tmp_path, capsys):
    (tmp_path / "adding").mkdir()
    (tmp_path / "adding" / "oracle.json").write_text("{}")
    assert _tune(tmp_path, "--max-trials", "1") == 2
    assert "pass --resume to continue it or --overwrite" in capsys.readouterr().err
    assert _tune(tmp_path, "--max-trials", "1", "--resume", project="none") == 2
    assert "holds no search to continue" in capsys.readouterr().err
    # Bayesian optimisation (scikit-learn's Gaussian process) runs too.
    assert _tune(tmp_path, "--max-trials", "1", "--overwrite", "--tuner", "bayesian") == 0
    assert len(_trials(tmp_path / "adding")) == 1


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--max-trials", "0"], "--max-trials must be at least 1. Received: 0"),
        (["--resume", "--overwrite"], "pass one"),
        (["--worker", "0"], "--worker needs --chief"),
        (["--chief", "localhost"], "--chief must be HOST:PORT. Received: 'localhost'"),
    ],
)
def test_bad_flags_are_refused(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        tune.parse_args(["adding", *flags])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_config_of_another_task_is_refused(tmp_path, capsys):
    assert tune.main(["adding", "--config", "sarcasm_lstm", "--directory", str(tmp_path)]) == 2
    assert "not a adding one" in capsys.readouterr().err


# --- In other processes --------------------------------------------------------


def _command(tmp_path, *extra):
    return [sys.executable, "-m", "training.tune", "adding", *SMALL,
            "--directory", str(tmp_path), *extra]


def test_a_killed_search_resumes_losing_at_most_the_trial_in_flight(tmp_path, capsys):
    command = _command(tmp_path, "--max-trials", "2")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    done = []
    try:
        for line in process.stdout:  # kill -9 once a trial is done
            if "COMPLETED" in line:
                done.append(line.split()[1])
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(60)
    assert len(done) == 1
    project = tmp_path / "adding"
    before = {t: (project / f"trial_{t}" / "trial.json").read_text() for t in done}
    assert _tune(tmp_path, "--max-trials", "2", "--resume") == 0
    resumed = capsys.readouterr().out
    rows = _trials(project)
    assert len(rows) == 2 and all(row["status"] == "COMPLETED" for row in rows)
    for trial, text in before.items():  # finished trials were not run again
        assert (project / f"trial_{trial}" / "trial.json").read_text() == text
        assert f"trial {trial} COMPLETED" not in resumed


# A process whose CPU is split in two logical devices, running `training.tune`.
MIRRORED = ["-m", "tests.on_two_logical_cpus", "training.tune"]


@pytest.mark.slow  # about a minute on two cores; the mirrored path of training is tested by default
def test_each_trial_trains_under_mirrored_strategy_on_two_logical_cpus(tmp_path):
    result = subprocess.run(
        [sys.executable, *MIRRORED, "adding", *SMALL, "--directory", str(tmp_path),
         "--max-trials", "2", "--strategy", "mirrored"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "each trial on MirroredStrategy with 2 replica(s)" in result.stdout
    assert [row["status"] for row in _trials(tmp_path / "adding")] == ["COMPLETED"] * 2


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Three TensorFlow processes on two cores: the longest test of the suite.
@pytest.mark.slow
def test_a_chief_and_two_workers_share_the_trials(tmp_path):
    chief = f"127.0.0.1:{_free_port()}"
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    processes = [subprocess.Popen(
        _command(tmp_path, "--max-trials", "4", "--chief", chief, *role),
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for role in ([], ["--worker", "0"], ["--worker", "1"])]
    outputs = []
    deadline = time.monotonic() + 400
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=max(1, deadline - time.monotonic())))
    finally:
        for process in processes:
            process.kill()
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-2000:]
    ran = [{line.split()[1] for line in out.splitlines() if " COMPLETED " in line}
           for out, _ in outputs[1:]]
    assert all(ran), f"a worker ran no trial: {ran}"
    assert not ran[0] & ran[1]  # no trial ran twice
    rows = _trials(tmp_path / "adding")  # written by the chief, from its oracle
    assert {row["trial"] for row in rows} == ran[0] | ran[1]
    assert len(rows) == 4 and all(row["status"] == "COMPLETED" for row in rows)
    assert "Searching adding as chief" in outputs[0][0]
    assert (tmp_path / "adding" / "best_config.yaml").exists()
