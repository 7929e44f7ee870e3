"""The task contract (`training/tasks/task_run.py`) and its registry."""

import inspect

import keras
import keras_tuner
import numpy as np
import pytest

from training.config import resolve
from training.tasks import TASKS, adding
from training.tasks.task_run import TaskRun
from training.tuning import TaskHyperModel


def test_every_task_registers_a_complete_task_run_and_its_defaults():
    for name, run_class in TASKS.items():
        assert issubclass(run_class, TaskRun), name
        assert not inspect.isabstract(run_class), (name, run_class.__abstractmethods__)
        assert run_class.__module__ == f"training.tasks.{name}"
        assert run_class.DEFAULTS["task"] == name
        assert callable(run_class.load_data)


def test_a_task_run_missing_a_method_cannot_be_made():
    class NoEvaluate(TaskRun):
        @staticmethod
        def load_data(config, data_path=None):
            return [], []

        def save_preprocessing(self, run_dir):
            pass

        def build_model(self):
            pass

        def train_dataset(self, batch_size, start_epoch, epochs):
            pass

        def validation_dataset(self, batch_size):
            pass

        def inference_model(self, core):
            return core

    with pytest.raises(TypeError, match="abstract method evaluate$"):
        NoEvaluate({}, [], [])


def _adding_run():
    config = resolve(adding.DEFAULTS, {
        "data": {"T": 10, "train_sequences": 40, "validation_sequences": 16},
        "model": {"units": 4}, "training": {"epochs": 1, "batch_size": 16}}, "test")
    return adding.AddingRun(config, *adding.load_data(config))


def test_the_shared_defaults_count_batches_and_refuse_ensembles():
    run = _adding_run()
    assert len(run) == 40
    assert run.steps_per_epoch(16) == 3  # 16 + 16 + 8
    assert run.callbacks() == []
    with pytest.raises(NotImplementedError, match="the adding task trains no ensembles"):
        run.member(1)


class _Seen(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def test_fit_runs_the_tasks_callbacks_first_then_the_callers_from_start_epoch():
    run = _adding_run()
    own, callers = _Seen(), _Seen()
    run.callbacks = lambda: [own]
    model = run.build_model()
    history = run.fit(model, 16, start_epoch=1, epochs=3, callbacks=[callers], verbose=0)
    assert history.epoch == [1, 2]
    assert own.batches == callers.batches == 2 * run.steps_per_epoch(16)
    assert np.isfinite(history.history["val_loss"]).all()


def test_a_tuning_trial_fits_through_the_same_contract():
    run = _adding_run()
    own = _Seen()
    run.callbacks = lambda: [own]
    hypermodel = TaskHyperModel("adding", run.config, {}, epochs=1, run=run)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, epochs=1, callbacks=[])
    assert own.batches == run.steps_per_epoch(16)
