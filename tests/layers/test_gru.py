"""zoo.layers.GRU: Keras's golden numbers, equality with keras.layers.GRU in
both reset conventions, and the equations against a NumPy reference."""

import keras
import numpy as np
import pytest

from tests.layers import numpy_reference
from tests.layers.autodiff import gradients
from tests.layers.common import (
    CONSTANTS,
    SEQUENCE,
    assert_same_outputs,
    random_sequences,
    share_random_weights,
)
from zoo.layers import GRU



# Expected outputs from keras/src/layers/rnn/gru_test.py (test_correctness).
@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, [0.5217289, 0.6371659, 0.39384964]),
        ({"go_backwards": True}, [0.24406259, 0.611516, 0.3928808]),
        ({"unroll": True}, [0.5217289, 0.6371659, 0.39384964]),
        ({"reset_after": False}, [0.51447755, 0.6426879, 0.40208298]),
        ({"use_bias": False}, [0.49988455, 0.64701194, 0.4103359]),
    ],
)
def test_keras_golden_values(kwargs, expected):
    output = keras.ops.convert_to_numpy(GRU(3, **CONSTANTS, **kwargs)(SEQUENCE))
    np.testing.assert_allclose(
        output, np.repeat(np.array(expected)[:, None], 3, 1), atol=1e-5
    )


def test_keras_golden_values_with_masks_state_and_initial_state():
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    outputs = GRU(2, return_sequences=True, **CONSTANTS)(sequence, mask=mask)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(outputs)[..., 0],
        [
            [0.03606692, 0.09497581, 0.09497581, 0.19393763],
            [0.16051409, 0.16051409, 0.16051409, 0.30818558],
        ],
        atol=1e-5,
    )
    backwards = GRU(2, go_backwards=True, **CONSTANTS)(sequence, mask=mask)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(backwards),
        [[0.11669192] * 2, [0.28380975] * 2],
        atol=1e-5,
    )
    state = np.arange(4).reshape((2, 2)).astype("float32")
    output, final = GRU(2, return_state=True, **CONSTANTS)(
        sequence, initial_state=state
    )
    expected = [[0.23774096, 0.33508456], [0.83659905, 1.0227708]]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(output), expected, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(final), expected, atol=1e-5)

    stateful = GRU(4, stateful=True, **CONSTANTS)
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    stateful(sequence)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(stateful(sequence))[:, 0],
        [0.29542392, 0.5885018],
        atol=1e-5,
    )


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_sequences": True},
        {"go_backwards": True, "return_sequences": True},
        {"return_state": True, "go_backwards": True},
        {"use_bias": False, "return_sequences": True},
    ],
    ids=["last", "sequences", "backwards", "backwards-state", "no-bias"],
)
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_equals_keras_gru(reset_after, options, masked):
    x, mask = random_sequences()
    reference = keras.layers.GRU(6, reset_after=reset_after, **options)
    layer = GRU(6, reset_after=reset_after, **options)
    share_random_weights([reference, layer], x)
    assert [(w.name, w.shape) for w in layer.weights] == [
        (w.name, w.shape) for w in reference.weights
    ]
    kwargs = {"mask": mask} if masked else {}
    assert_same_outputs(layer(x, **kwargs), reference(x, **kwargs))


def test_bidirectional_equals_keras():
    x, mask = random_sequences()
    reference = keras.layers.Bidirectional(keras.layers.GRU(3), merge_mode="sum")
    layer = keras.layers.Bidirectional(GRU(3), merge_mode="sum")
    share_random_weights([reference, layer], x)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x, mask=mask)),
        keras.ops.convert_to_numpy(reference(x, mask=mask)),
        atol=1e-5,
    )


@pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])
def test_forward_and_gradient_match_numpy_equations(reset_after):
    x = np.random.default_rng(5).normal(size=(2, 5, 3)).astype("float32")
    layer = GRU(3, reset_after=reset_after, return_sequences=True)
    share_random_weights([layer], x, scale=0.6)
    kernel, recurrent, bias = [
        w.astype("float64") for w in layer.get_weights()
    ]
    x64 = x.astype("float64")

    def forward():
        return numpy_reference.gru(x64, kernel, recurrent, bias, reset_after)

    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), forward(), atol=1e-5
    )
    autodiff = gradients(layer, x)
    for computed, weight in zip(autodiff, [kernel, recurrent, bias]):
        numeric = numpy_reference.numerical_gradient(
            lambda: forward()[:, -1].sum(), weight
        )
        np.testing.assert_allclose(computed, numeric, atol=2e-4, rtol=1e-3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "units=0"),
        ({"units": "8"}, "units='8'"),
        ({"units": 4, "reset_after": "yes"}, "reset_after='yes'"),
        ({"units": 4, "dropout": 1.0}, "dropout=1.0"),
        ({"units": 4, "use_cudnn": "always"}, "use_cudnn='always'"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        GRU(**kwargs)
