"""The adding problem as a training task (`training/tasks/adding.py`)."""

import numpy as np
import pytest

from training.config import ConfigError, resolve
from training.tasks import adding


def _config(**data):
    return resolve(adding.DEFAULTS, {"data": {"T": 10, "train_sequences": 64,
                                              "validation_sequences": 32, **data}}, "test")


def test_data_is_generated_from_the_seeds():
    train, validation = adding.load_data(_config())
    again, _ = adding.load_data(_config())
    other, _ = adding.load_data(_config(seed=7))
    assert (len(train), len(validation)) == (64, 32)
    assert train.inputs.shape[1:] == (11, 2)  # lengths up to T + T/10
    np.testing.assert_array_equal(train.inputs, again.inputs)
    assert not np.array_equal(train.targets, other.targets)
    assert not np.array_equal(train.targets[:32], validation.targets)  # seed + 1


def test_a_data_file_or_a_bad_T_is_refused():
    with pytest.raises(ConfigError, match="reads no file. Received: --data x.json"):
        adding.load_data(_config(), "x.json")
    with pytest.raises(ConfigError, match="Received: 2"):
        adding.load_data(_config(T=2))


def test_within_tolerance_is_the_papers_success_test():
    targets = np.array([[0.5], [0.5], [0.5], [0.2]], "float32")
    predictions = np.array([[0.5], [0.539], [0.541], [0.15]], "float32")
    np.testing.assert_array_equal(adding.within_tolerance(targets, predictions), [1, 1, 0, 0])


def test_evaluate_counts_the_sequences_within_tolerance():
    config = _config()
    train, validation = adding.load_data(config)
    run = adding.AddingRun(config, train, validation)

    def constant_half(inputs, **kwargs):
        return np.full((len(inputs), 1), 0.5, "float32")

    class Model:
        predict = staticmethod(constant_half)

    metrics = run.evaluate(Model())
    errors = np.abs(0.5 - validation.targets[:, 0])
    assert metrics["accuracy"] == pytest.approx(np.mean(errors < 0.04))
    assert metrics["wrong"] == int(np.sum(errors >= 0.04))
    assert metrics["mse"] == pytest.approx(np.mean(errors**2))
    assert metrics["examples"] == 32
