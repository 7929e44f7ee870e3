"""zoo.layers.LSTM: Keras's golden numbers, equality with keras.layers.LSTM,
and every Greff variant against a NumPy reference of its equations."""

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
from zoo.layers import LSTM, VARIANTS



# Expected outputs from keras/src/layers/rnn/lstm_test.py (test_correctness),
# each value repeated over the 3 units.
@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, [0.6288687, 0.86899155, 0.9460773]),
        ({"go_backwards": True}, [0.35622165, 0.74789524, 0.8872726]),
        ({"unroll": True}, [0.6288687, 0.86899155, 0.9460773]),
        ({"unit_forget_bias": False}, [0.57019705, 0.8661914, 0.9459622]),
        ({"use_bias": False}, [0.54986924, 0.86226785, 0.9443936]),
    ],
)
def test_keras_golden_values(kwargs, expected):
    layer = LSTM(3, **CONSTANTS, **kwargs)
    output = keras.ops.convert_to_numpy(layer(SEQUENCE))
    np.testing.assert_allclose(
        output, np.repeat(np.array(expected)[:, None], 3, 1), atol=1e-5
    )


def test_keras_golden_values_with_masks():
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    outputs = LSTM(2, return_sequences=True, **CONSTANTS)(sequence, mask=mask)
    expected = [
        [0.0158891, 0.05552048, 0.11755939, 0.11755939],
        [0.14185596, 0.28556206, 0.28556206, 0.28556206],
    ]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(outputs)[..., 0], expected, atol=1e-5
    )
    zeros = LSTM(2, return_sequences=True, zero_output_for_mask=True, **CONSTANTS)
    outputs = keras.ops.convert_to_numpy(zeros(sequence, mask=mask))
    np.testing.assert_allclose(outputs[0, 3], [0.0, 0.0])
    np.testing.assert_allclose(outputs[1, 2:], np.zeros((2, 2)))
    backwards_mask = np.array([[False, True, True, True], [False, False, True, True]])
    backwards = LSTM(2, go_backwards=True, **CONSTANTS)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(backwards(sequence, mask=backwards_mask)),
        [[0.15341201] * 2, [0.3844719] * 2],
        atol=1e-5,
    )


def test_keras_golden_values_stateful_and_initial_state():
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    layer = LSTM(4, stateful=True, **CONSTANTS)
    layer(sequence)
    second = keras.ops.convert_to_numpy(layer(sequence))
    np.testing.assert_allclose(
        second[:, 0], [0.3124785, 0.6863672], atol=1e-5
    )
    layer.reset_state()
    layer(sequence)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(sequence)), second, atol=1e-6
    )

    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    state = [np.arange(4).reshape((2, 2)).astype("float32")] * 2
    output = LSTM(2, **CONSTANTS)(sequence, initial_state=state)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(output),
        [[0.20574439, 0.3558822], [0.64930826, 0.66276]],
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_sequences": True},
        {"go_backwards": True, "return_sequences": True},
        {"return_state": True},
        {"go_backwards": True, "return_state": True, "unit_forget_bias": False},
        {"use_bias": False, "return_sequences": True},
    ],
    ids=["last", "sequences", "backwards", "state", "backwards-state", "no-bias"],
)
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_equals_keras_lstm(options, masked):
    x, mask = random_sequences()
    reference = keras.layers.LSTM(6, **options)
    layer = LSTM(6, **options)
    share_random_weights([reference, layer], x)
    kwargs = {"mask": mask} if masked else {}
    assert_same_outputs(layer(x, **kwargs), reference(x, **kwargs))


def test_weights_match_keras_names_and_shapes():
    x, _ = random_sequences()
    reference, layer = keras.layers.LSTM(6), LSTM(6)
    reference(x), layer(x)
    assert [(w.name, w.shape) for w in layer.weights] == [
        (w.name, w.shape) for w in reference.weights
    ]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.cell.bias)[6:12], np.ones(6)
    )


def test_bidirectional_equals_keras():
    x, mask = random_sequences()
    reference = keras.layers.Bidirectional(
        keras.layers.LSTM(3, return_sequences=True)
    )
    layer = keras.layers.Bidirectional(LSTM(3, return_sequences=True))
    share_random_weights([reference, layer], x)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x, mask=mask)),
        keras.ops.convert_to_numpy(reference(x, mask=mask)),
        atol=1e-5,
    )


def _reference_weights(layer):
    names = {
        "kernel": "kernel",
        "recurrent_kernel": "recurrent_kernel",
        "bias": "bias",
        "peephole_kernel": "peephole",
        "gate_recurrent_kernel": "gate_recurrent",
    }
    return {
        names[w.name]: keras.ops.convert_to_numpy(w).astype("float64")
        for w in layer.weights
    }


def _randomized_variant(variant, x):
    layer = LSTM(3, variant=variant, return_sequences=True)
    layer(x)
    rng = np.random.default_rng(2)
    layer.set_weights(
        [rng.normal(scale=0.6, size=w.shape) for w in layer.get_weights()]
    )
    return layer


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_forward_matches_numpy_equations(variant):
    x = np.random.default_rng(3).normal(size=(2, 6, 4)).astype("float32")
    layer = _randomized_variant(variant, x)
    expected = numpy_reference.lstm(
        variant, x.astype("float64"), **_reference_weights(layer)
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), expected, atol=1e-5
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_gradient_matches_numpy_equations(variant):
    """d Σ y^T / dθ by autodiff equals central differences of the equations."""
    x = np.random.default_rng(4).normal(size=(2, 5, 3)).astype("float32")
    layer = _randomized_variant(variant, x)
    reference = _reference_weights(layer)
    x64 = x.astype("float64")

    def loss():
        return numpy_reference.lstm(variant, x64, **reference)[:, -1].sum()

    autodiff = dict(
        zip([w.name for w in layer.trainable_weights], gradients(layer, x))
    )
    for name, ref_name in [
        ("kernel", "kernel"),
        ("recurrent_kernel", "recurrent_kernel"),
        ("peephole_kernel", "peephole"),
        ("gate_recurrent_kernel", "gate_recurrent"),
    ]:
        if name not in autodiff:
            continue
        numeric = numpy_reference.numerical_gradient(loss, reference[ref_name])
        np.testing.assert_allclose(autodiff[name], numeric, atol=2e-4, rtol=1e-3)


def test_variants_have_the_published_parameter_counts():
    # N cells, M inputs: 4 blocks of (N·M + N·N + N), 3 peepholes of N;
    # a gate fewer drops a block and its peephole; FGR adds 9 N×N matrices.
    n, m = 5, 7
    block = n * m + n * n + n
    expected = {
        "keras": 4 * block,
        "NP": 4 * block,
        "vanilla": 4 * block + 3 * n,
        "NIAF": 4 * block + 3 * n,
        "NOAF": 4 * block + 3 * n,
        "NIG": 3 * block + 2 * n,
        "NFG": 3 * block + 2 * n,
        "NOG": 3 * block + 2 * n,
        "CIFG": 3 * block + 2 * n,
        "FGR": 4 * block + 3 * n + 9 * n * n,
    }
    for variant, count in expected.items():
        layer = LSTM(n, variant=variant)
        layer(np.zeros((1, 2, m), "float32"))
        assert layer.count_params() == count, variant


def test_variant_names_are_case_insensitive():
    assert LSTM(2, variant="cifg").variant == "CIFG"
    assert LSTM(2, variant="Vanilla").variant == "vanilla"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 4, "variant": "peephole"}, "variant='peephole'"),
        ({"units": 4, "variant": None}, "variant=None"),
        ({"units": 0}, "units=0"),
        ({"units": -3}, "units=-3"),
        ({"units": 2.5}, "units=2.5"),
        ({"units": 4, "dropout": 1.5}, "dropout=1.5"),
        ({"units": 4, "recurrent_dropout": -0.1}, "recurrent_dropout=-0.1"),
        ({"units": 4, "use_cudnn": True}, "use_cudnn=True"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        LSTM(**kwargs)
