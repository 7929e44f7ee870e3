"""`zoo.models.sequence_regressor`: shapes, masked padding, argument checks."""

import numpy as np
import pytest

from zoo.models.sequence_regressor import sequence_regressor


@pytest.mark.parametrize("cell, options", [("lstm", {"variant": "CIFG"}), ("gru", {}),
                                           ("original_lstm", {"block_size": 2})])
def test_padding_steps_do_not_change_the_prediction(cell, options):
    model = sequence_regressor(2, cell=cell, cell_options=options, units=4, num_layers=2)
    rng = np.random.default_rng(0)
    sequence = rng.uniform(-1, 1, size=(1, 6, 2)).astype("float32")
    padded = np.concatenate([sequence, np.zeros((1, 4, 2), "float32")], axis=1)
    assert model(sequence).shape == (1, 1)
    np.testing.assert_allclose(model(padded), model(sequence), atol=1e-6)
    assert 0.0 < float(model(sequence)[0, 0]) < 1.0  # sigmoid output


def test_layers_are_stacked_and_named():
    model = sequence_regressor(3, outputs=2, cell="gru", units=5, num_layers=3)
    names = [layer.name for layer in model.layers]
    assert names[-4:] == ["recurrent_0", "recurrent_1", "recurrent_2", "output"]
    assert model.output_shape == (None, 2)


def test_per_step_predicts_at_every_step_from_the_prefix_only():
    model = sequence_regressor(3, outputs=4, cell="gru", units=5, num_layers=2,
                               output_activation="softmax", per_step=True)
    sequence = np.random.default_rng(1).uniform(-1, 1, size=(2, 7, 3)).astype("float32")
    probabilities = np.asarray(model(sequence))
    assert probabilities.shape == (2, 7, 4)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)
    # A causal model: the first four steps' outputs see the first four inputs only.
    np.testing.assert_allclose(model(sequence[:, :4]), probabilities[:, :4], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_dim": 0}, "Received: input_dim=0"),
        ({"num_layers": 1.5}, "Received: num_layers=1.5"),
        ({"dropout": 1.0}, "Received: dropout=1.0"),
        ({"cell": "rnn"}, "Received: cell='rnn'"),
        ({"per_step": "yes"}, "Received: per_step='yes'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"input_dim": 2, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        sequence_regressor(**arguments)


def test_docstring_example_runs():
    from tests.doctests import run_docstring_examples
    from zoo.models import sequence_regressor as module

    results = run_docstring_examples([module])
    assert results.attempted >= 2
    assert results.failed == 0
