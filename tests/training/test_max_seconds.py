"""`python -m training.train --max-seconds N`: training stopped by a time budget.

The callback (`training.callbacks.TimeLimit`) is tested with a fake clock,
so that nothing here depends on the machine's speed; the runs through the
command check that a stopped run ends as a finished one and that the budget
survives `--resume`.
"""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from training import callbacks, train
from training.callbacks import RunState, TimeLimit
from training.custom_loop import fit_distributed

pytestmark = pytest.mark.tensorflow_only


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Model:
    stop_training = False


def _limit(max_seconds, clock, spent=0.0):
    limit = TimeLimit(max_seconds, spent=spent, clock=clock)
    limit.set_model(Model())
    return limit


def _batches(limit, clock, seconds):
    """Training batches of `seconds` each; the number run before it stopped."""
    for index, step in enumerate(seconds):
        clock.now += step
        limit.on_train_batch_end(index)
        if limit.model.stop_training:
            return index + 1
    return len(seconds)


def test_the_limit_counts_training_batches_only_and_stops_at_the_batch_reaching_it():
    clock = FakeClock()
    limit = _limit(10, clock)
    clock.now += 7  # before the epoch (restoring a backup): not counted
    limit.on_epoch_begin(0)
    assert _batches(limit, clock, [2, 2]) == 2 and not limit.model.stop_training
    # Validation inside the epoch, and the epoch's end (checkpoint, backup).
    limit.on_test_begin()
    clock.now += 100
    limit.on_test_end()
    clock.now += 50
    limit.on_epoch_end(0)
    assert (limit.epoch_seconds, limit.seconds, limit.reached) == (4, 4, False)
    clock.now += 30  # between epochs
    limit.on_epoch_begin(1)
    assert limit.epoch_seconds == 0 and limit.spent == 4
    # 4 + 3 + 2 = 9 < 10, then 11: stopped at the end of that batch.
    assert _batches(limit, clock, [3, 2, 2, 2]) == 3
    assert limit.model.stop_training and limit.stopped and limit.reached
    assert (limit.epoch_seconds, limit.seconds) == (7, 11)


def test_a_resumed_limit_has_what_is_left_and_none_measures_without_stopping():
    clock = FakeClock()
    resumed = _limit(10, clock, spent=9.5)
    resumed.on_epoch_begin(3)
    assert _batches(resumed, clock, [0.25, 0.25, 0.25]) == 2
    assert resumed.seconds == 10
    unlimited = _limit(None, clock)
    unlimited.on_epoch_begin(0)
    assert _batches(unlimited, clock, [1e6] * 3) == 3
    assert unlimited.seconds == 3e6 and not unlimited.reached and not unlimited.stopped


@pytest.mark.parametrize("value", [0, -5, math.nan, math.inf, True, "60"])
def test_the_callback_refuses_a_budget_that_is_not_a_positive_number(value):
    with pytest.raises(ValueError, match=f"Received: max_seconds={value!r}"):
        TimeLimit(value)


def _record(epoch, seconds, training_seconds=None):
    record = {"epoch": epoch, "logs": {"loss": 1.0}, "seconds": seconds, "best": None,
              "best_epoch": None, "wait": epoch + 1, "seed_states": []}
    if training_seconds is not None:
        record["training_seconds"] = training_seconds
    return record


def test_run_state_starts_the_clock_from_the_epochs_it_keeps(tmp_path):
    # Epoch 3 was recorded before TimeLimit existed: its whole `seconds` stand in.
    history = [_record(0, 6.0, 4.0), _record(1, 5.0, 3.0), _record(2, 6.0)]
    (tmp_path / "run_state.json").write_text(json.dumps({"history": history}))
    for start_epoch, spent in ((3, 13.0), (2, 7.0), (1, 4.0), (0, 0.0)):
        # A backup one epoch back drops that epoch: it is trained, and timed, again.
        limit = TimeLimit(20)
        state = RunState(tmp_path, "val_loss", "min", None, start_epoch=start_epoch,
                         time_limit=limit)
        assert limit.spent == state.training_seconds == spent, start_epoch
    assert not state.time_was_up


# --- Through Keras's fit and the multi-worker custom loop ---------------------


class Costs(keras.callbacks.Callback):
    """Moves the fake clock: 1 s a training batch, 100 s of validation, 50 s
    of end-of-epoch work; counts the batches of each epoch."""

    def __init__(self, clock):
        super().__init__()
        self.clock, self.batches, self.epoch_logs = clock, [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.append(0)

    def on_train_batch_begin(self, batch, logs=None):
        self.clock.now += 1
        self.batches[-1] += 1

    def on_test_begin(self, logs=None):
        self.clock.now += 100

    def on_epoch_end(self, epoch, logs=None):
        self.clock.now += 50
        self.epoch_logs.append(dict(logs or {}))


@pytest.mark.parametrize("loop", ["fit", "custom_loop"])
def test_a_stop_mid_epoch_still_validates_records_and_checkpoints_that_epoch(tmp_path, loop):
    """Keras 3's fit (and fit_distributed) after `stop_training` mid-epoch:
    the partial epoch is validated and ends with on_epoch_end, so RunState
    records it and saves the best model; no further epoch starts."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    train_data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()
    validation = tf.data.Dataset.from_tensor_slices((x[:16], y[:16])).batch(8)
    clock = FakeClock()
    costs, limit = Costs(clock), TimeLimit(15, clock=clock)
    state = RunState(tmp_path, "val_loss", "min", None, time_limit=limit)
    callback_list = [costs, limit, state]
    if loop == "fit":
        model.fit(train_data, epochs=5, steps_per_epoch=10, validation_data=validation,
                  callbacks=callback_list, shuffle=False, verbose=0)
    else:
        fit_distributed(tf.distribute.get_strategy(), model, train_data, 10, validation,
                        5, 0, callback_list, verbose=False)
    # 10 s in epoch 1 (its 150 s of validation and saving not counted), then
    # 5 more batches: stopped within epoch 2 of 5.
    assert costs.batches == [10, 5]
    assert limit.stopped and limit.seconds == 15
    assert [h["training_seconds"] for h in state.history] == [10, 5]
    assert [h["time_limit_reached"] for h in state.history] == [False, True]
    assert state.time_was_up
    assert "val_loss" in costs.epoch_logs[-1]  # the partial epoch was validated
    assert state.history[-1]["logs"]["val_loss"] == pytest.approx(costs.epoch_logs[-1]["val_loss"])
    assert (tmp_path / "checkpoints" / "best.keras").exists()
    saved = json.loads((tmp_path / "run_state.json").read_text())
    assert [h["training_seconds"] for h in saved["history"]] == [10, 5]


# --- The command --------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-5", "abc", "-0.5", "nan", "inf"])
def test_a_bad_max_seconds_is_refused_naming_the_value(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        train.parse_args(["sarcasm_lstm", "--max-seconds", value])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert f"--max-seconds must be a positive number of seconds. Received: {value}" in error


def test_the_budget_comes_from_the_flag_or_the_config_file(tmp_path, tiny_config, capsys):
    assert train.parse_args(["x", "--max-seconds", "1e3"]).max_seconds == 1000.0
    config, _, _ = train.resolve_entry(train.parse_args([str(tiny_config)]))
    assert train.TIME_LIMIT_KEY not in config  # no limit: config.json as before
    with_limit = tmp_path / "limited.yaml"
    with_limit.write_text(tiny_config.read_text() + "max_seconds: 30\n")
    config, _, _ = train.resolve_entry(train.parse_args([str(with_limit)]))
    assert config["max_seconds"] == 30.0
    config, _, _ = train.resolve_entry(train.parse_args([str(with_limit), "--max-seconds", "5"]))
    assert config["max_seconds"] == 5.0
    with_limit.write_text(tiny_config.read_text() + "max_seconds: -1\n")
    assert train.main([str(with_limit), "--out", str(tmp_path / "r")]) == 2
    assert (f"{with_limit}: max_seconds must be a positive number of seconds (the training "
            f"time before the run stops). Received: -1") in capsys.readouterr().err
    # --resume goes on with the budget the run recorded.
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    assert train.main([str(tiny_config), "--out", str(tmp_path / "run"), "--resume",
                       "--max-seconds", "5"]) == 2
    assert "drop --set/--epochs/--batch-size/--max-seconds" in capsys.readouterr().err


TINY_ADDING = """
task: adding
data: {T: 10, train_sequences: 64, validation_sequences: 32}
model: {cell: gru, units: 4}
training: {epochs: 20, batch_size: 16, early_stopping_patience: null}
"""


class _Killed(BaseException):
    """Stands in for kill -9: nothing of the run catches it."""


def _kill_after_backup_of(monkeypatch, epoch_to_die):
    save = callbacks.Backup.on_epoch_end

    def save_then_die(self, epoch, logs=None):
        save(self, epoch, logs)
        if epoch == epoch_to_die:
            raise _Killed()

    monkeypatch.setattr(callbacks.Backup, "on_epoch_end", save_then_die)


def _state(out):
    return json.loads((out / "run_state.json").read_text())


def test_a_killed_run_resumes_with_what_is_left_of_its_budget(tmp_path, monkeypatch, capsys):
    """Adding task, 4 batches an epoch, each 1 s on a fake clock; budget 10 s
    of 20 epochs: killed after epoch 2 (8 s), resumed, it stops 2 batches
    into epoch 3; killed again after that epoch's backup, --resume only
    writes the outputs."""
    ticks = iter(range(10**6))  # one second per look at the clock
    monkeypatch.setattr(TimeLimit, "clock", staticmethod(lambda: float(next(ticks))))
    (tmp_path / "adding.yaml").write_text(TINY_ADDING)
    out = tmp_path / "run"
    _kill_after_backup_of(monkeypatch, 1)
    with pytest.raises(_Killed):
        train.main([str(tmp_path / "adding.yaml"), "--out", str(out), "--max-seconds", "10"])
    assert [h["training_seconds"] for h in _state(out)["history"]] == [4, 4]
    assert json.loads((out / "config.json").read_text())["max_seconds"] == 10.0

    _kill_after_backup_of(monkeypatch, 2)
    with pytest.raises(_Killed):
        train.main([str(tmp_path / "adding.yaml"), "--out", str(out), "--resume"])
    state = _state(out)
    assert [h["training_seconds"] for h in state["history"]] == [4, 4, 2]
    assert state["history"][-1]["time_limit_reached"] and not state.get("finished")
    assert json.loads((out / "run.json").read_text())["max_seconds"] == 10.0

    monkeypatch.undo()  # an honest clock and Backup: nothing may train now
    capsys.readouterr()
    assert train.main([str(tmp_path / "adding.yaml"), "--out", str(out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "had already finished training" in printed and "Epoch " not in printed
    assert _state(out)["finished"] is True and len(_state(out)["history"]) == 3
    assert not (out / "backup").exists() and (out / "model.keras").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped_by_time_limit"] is True
    assert (metrics["training_seconds"], metrics["max_seconds"]) == (10, 10)
    assert metrics["epochs_run"] == 3 < 20


@pytest.mark.slow  # 30 s: three members, each built, trained and evaluated
def test_a_tiny_budget_stops_each_ensemble_member_in_its_first_epoch(
        tmp_path, tiny_config, table_data):
    """The budget is per member; the run ends as a finished one."""
    out = tmp_path / "run"
    assert train.main([str(tiny_config), "--data", str(table_data), "--out", str(out),
                       "--epochs", "50", "--max-seconds", "0.001",
                       "--set", "model.ensemble_size=2", "--set", "model.bidirectional=false",
                       "--set", "model.pooling=mean"]) == 0
    for member in (out / "members" / "0", out / "members" / "1"):
        state = _state(member)
        assert state["finished"] is True and len(state["history"]) == 1
        assert state["history"][0]["time_limit_reached"] is True
        assert json.loads((member / "config.json").read_text())["max_seconds"] == 0.001
        assert json.loads((member / "metrics.json").read_text())["stopped_by_time_limit"] is True
    assert (out / "model.keras").exists() and not (out / "members" / "0" / "backup").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped_by_time_limit"] is True and metrics["max_seconds"] == 0.001
    assert metrics["epochs_run"] == [1, 1]
    members = [m["training_seconds"] for m in metrics["members"]]
    assert all(s >= 0.001 for s in members)
    assert metrics["training_seconds"] == pytest.approx(sum(members))
    assert json.loads((out / "run.json").read_text())["max_seconds"] == 0.001


# Two worker processes over loopback: 30-40 s on two cores, like the
# multi-worker tests of test_train.py.
@pytest.mark.slow
def test_two_workers_stop_together_at_the_chiefs_time_limit(tmp_path, tiny_config, table_data):
    """Only the chief's clock decides; the custom loop stops every worker
    after the same batch, so neither waits for the other forever."""
    from tests.training.test_train import _train_two_workers

    limited = tmp_path / "limited.yaml"  # the limit from the config file this time
    limited.write_text(tiny_config.read_text().replace("epochs: 3", "epochs: 50")
                       + "max_seconds: 0.001\n")
    out = tmp_path / "multi"
    epochs = _train_two_workers(limited, table_data, out)
    assert len(epochs) == 1
    state = _state(out)
    assert state["finished"] is True and state["history"][0]["time_limit_reached"] is True
    assert json.loads((out / "metrics.json").read_text())["stopped_by_time_limit"] is True
