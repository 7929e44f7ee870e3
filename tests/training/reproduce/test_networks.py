"""training.reproduce.networks.build_network: the paper's networks and their variations."""

import keras
import numpy as np
import pytest

from training.reproduce.networks import NETWORKS, build_network


@pytest.mark.parametrize("cell, layer_type", [("lstm", "LSTM"), ("gru", "GRU"),
                                              ("simple_rnn", "SimpleRNN")])
def test_a_modern_cell_takes_the_1997_layers_place_with_as_many_units(cell, layer_type):
    model = build_network("adding", cell=cell)
    layer = model.get_layer(cell)
    assert type(layer).__name__ == layer_type
    assert layer.units == NETWORKS["adding"]["blocks"] * NETWORKS["adding"]["block_size"]
    assert model.output_shape == (None, 1)


def test_masking_ignores_zero_padding_and_the_output_activation_is_chosen():
    keras.utils.set_random_seed(0)
    model = build_network("adding", masking=True, output_activation="linear")
    assert model.get_layer("output").activation is keras.activations.linear
    sequence = np.random.default_rng(0).uniform(-1, 1, (1, 7, 2)).astype("float32")
    padded = np.concatenate([sequence, np.zeros((1, 5, 2), "float32")], axis=1)
    np.testing.assert_allclose(model(padded), model(sequence), atol=1e-6)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"name": "adding", "cell": "transformer"}, "cell='transformer'"),
        ({"name": "adding", "cell": "gru", "truncated_gradient": False},
         r"\['truncated_gradient'\] do not apply to cell='gru'"),
        ({"name": "nope"}, "Unknown 1997 network 'nope'"),
        ({"name": "long_lag_2c"}, "needs `inputs`"),
    ],
)
def test_build_network_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        build_network(**arguments)
