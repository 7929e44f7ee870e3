"""zoo.layers.LSTM / GRU as drop-ins for keras.layers.LSTM / GRU.

(a) Keras's own tests of its layers (keras/src/layers/rnn/lstm_test.py and
    gru_test.py, shipped with Keras) run unchanged with the zoo's layers in
    place of Keras's; and the legacy `implementation` argument, in the cells
    and the layers, against Keras's layer with the same weights.
(b) `from_config` of the configs of `keras.layers.LSTM` / `GRU`, for every
    argument: the zoo's layer keeps every entry and computes what Keras's
    does.
(c) A `.keras` file saved with Keras's layers loads with the zoo's layers
    substituted (the recipe of docs/layers.md) and gives the same outputs.
"""

import json
import types
import zipfile
from unittest import mock

import keras
import numpy as np
import pytest

from tests.layers.common import (
    CONSTANTS,
    SEQUENCE,
    assert_same_outputs,
    random_sequences,
)
from zoo.layers import GRU, LSTM, GRUCell, LSTMCell

try:  # Keras ships its tests in its wheel; a trimmed install may not.
    from keras.src.layers.rnn import gru_test as keras_gru_test
    from keras.src.layers.rnn import lstm_test as keras_lstm_test
except ImportError:  # pragma: no cover
    keras_gru_test = keras_lstm_test = None

KERAS_TESTS = pytest.mark.skipif(
    keras_lstm_test is None, reason="this Keras install ships no layer tests"
)
TORCH_ONLY_CASES = ("test_torch_cudnn_dispatch_fires",)


# (a) Keras's LSTMTest and GRUTest, with `layers.LSTM` / `layers.GRU` the zoo's.


def _with_zoo_layers(module, case, name, zoo_class, keras_class):
    """`case` (a Keras TestCase) with `module.layers.<name>` the zoo's class.

    Keras's test methods reach the layer as `layers.LSTM` through their
    module's global `layers`, which each test here replaces. Building
    Keras's own class during a test fails it, and a test that builds no
    zoo layer fails too, so a passing test ran the zoo's layer.
    """

    class Substituted(case):
        def setUp(self):
            filtering = keras.config.is_traceback_filtering_enabled()
            super().setUp()  # turns Keras's traceback filtering off
            if filtering:
                self.addCleanup(keras.config.enable_traceback_filtering)
            self.zoo_layers_built = []
            zoo_init = zoo_class.__init__

            def counting_init(layer, *args, **kwargs):
                self.zoo_layers_built.append(kwargs)
                zoo_init(layer, *args, **kwargs)

            def forbidden_init(layer, *args, **kwargs):
                raise AssertionError(f"keras.layers.{name} built in a zoo test")

            patches = [
                mock.patch.object(
                    module, "layers", types.SimpleNamespace(**{name: zoo_class})
                ),
                mock.patch.object(zoo_class, "__init__", counting_init),
                mock.patch.object(keras_class, "__init__", forbidden_init),
            ]
            for patch in patches:
                patch.start()
                self.addCleanup(patch.stop)

        def tearDown(self):
            assert self.zoo_layers_built, "the test built no zoo layer"
            super().tearDown()

    Substituted.__name__ = Substituted.__qualname__ = f"TestKeras{name}Test"
    # Keras's torch-only cases (its cuDNN dispatch) would only be skipped here:
    # the zoo runs on TensorFlow and JAX. A non-callable is not collected.
    for case in TORCH_ONLY_CASES:
        if hasattr(Substituted, case):
            setattr(Substituted, case, None)
    # Keras's suites run on the TensorFlow backend: on JAX they compile program
    # after program (about a minute on two cores, as with Keras's own layers),
    # and the zoo's layers are checked on JAX by the rest of this file and
    # tests/layers.
    return pytest.mark.tensorflow_only(KERAS_TESTS(Substituted))


if keras_lstm_test is not None:
    TestKerasLSTMTest = _with_zoo_layers(
        keras_lstm_test, keras_lstm_test.LSTMTest, "LSTM", LSTM, keras.layers.LSTM
    )
    TestKerasGRUTest = _with_zoo_layers(
        keras_gru_test, keras_gru_test.GRUTest, "GRU", GRU, keras.layers.GRU
    )


@KERAS_TESTS
@pytest.mark.parametrize(
    "case, expected",
    [
        ("LSTMTest", {"test_basics", "test_correctness0", "test_correctness1",
                      "test_statefulness", "test_pass_initial_state",
                      "test_masking"}),
        ("GRUTest", {"test_basics", "test_correctness0", "test_correctness1",
                     "test_statefulness", "test_pass_initial_state",
                     "test_pass_return_state", "test_masking",
                     "test_legacy_implementation_argument",
                     "test_stateful_with_symbolic_batch_size",
                     "test_torch_cudnn_dispatch_fires"}),
    ],
)
def test_every_keras_case_is_inherited(case, expected):
    """The Keras 3.15 cases this file runs (and any a later Keras adds)."""
    module = keras_lstm_test if case == "LSTMTest" else keras_gru_test
    names = {n for n in dir(getattr(module, case)) if n.startswith("test")}
    assert expected <= names


KERAS_LAYERS = {"LSTM": (keras.layers.LSTM, LSTM), "GRU": (keras.layers.GRU, GRU)}
# Keras's test_correctness golden numbers (lstm_test.py, gru_test.py).
GOLDEN = {
    "LSTM": [0.6288687, 0.86899155, 0.9460773],
    "GRU": [0.5217289, 0.6371659, 0.39384964],
}


@pytest.mark.parametrize("family", ["LSTM", "GRU"])
def test_legacy_implementation_is_accepted_and_ignored(family):
    """As in Keras 3: layer and cell take it, the cell keeps it, configs don't."""
    keras_class, zoo_class = KERAS_LAYERS[family]
    cell_class = LSTMCell if family == "LSTM" else GRUCell
    for implementation in (0, 1, 2):
        layer = zoo_class(3, implementation=implementation)
        cell = cell_class(3, implementation=implementation)
        assert layer.cell.implementation == cell.implementation == implementation
        assert "implementation" not in layer.get_config()
        assert "implementation" not in cell.get_config()
    assert "implementation" not in keras_class(3, implementation=1).get_config()

    # gru_test.py's test_legacy_implementation_argument (a config with
    # implementation=0), for both families; lstm_test.py's test_correctness
    # passes implementation=1 and 2 to the constructor.
    config = zoo_class(3, implementation=1, **CONSTANTS).get_config()
    config["implementation"] = 0
    restored = zoo_class.from_config(config)
    assert restored.cell.implementation == 0
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(SEQUENCE))[:, 0],
        GOLDEN[family],
        atol=1e-5,
    )


# (test_from_keras_config_keeps_every_argument compares implementation 1
# with dropout too.)
@pytest.mark.parametrize(
    "family, options",
    [
        ("LSTM", {"go_backwards": True, "return_state": True}),
        ("GRU", {"reset_after": False, "return_sequences": True}),
    ],
    ids=["LSTM", "GRU"],
)
def test_implementation_equals_keras_with_the_same_weights(family, options):
    """Keras's implementation 1 (a product per gate) is the zoo's function."""
    keras_class, zoo_class = KERAS_LAYERS[family]
    options = {**options, "implementation": 1}
    x, mask = random_sequences()
    reference, layer = keras_class(6, **options), zoo_class(6, **options)
    _share_weights(reference, layer, x)
    assert_same_outputs(layer(x, mask=mask), reference(x, mask=mask))


# (b) from_config of Keras's configs.

EVERY_ARGUMENT = dict(
    activation="relu",
    recurrent_activation="hard_sigmoid",
    use_bias=True,
    kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=1),
    recurrent_initializer=keras.initializers.Orthogonal(gain=0.7, seed=2),
    bias_initializer=keras.initializers.Constant(0.1),
    kernel_regularizer=keras.regularizers.L2(0.01),
    recurrent_regularizer=keras.regularizers.L1(0.02),
    bias_regularizer="l1",
    activity_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.03),
    kernel_constraint=keras.constraints.MaxNorm(2.0),
    recurrent_constraint="unit_norm",
    bias_constraint=keras.constraints.NonNeg(),
    dropout=0.25,
    recurrent_dropout=0.1,
    seed=11,
    return_sequences=True,
    return_state=True,
    go_backwards=True,
    stateful=True,
    unroll=True,
    zero_output_for_mask=True,
    use_cudnn=False,
    implementation=1,
    dtype=keras.DTypePolicy("float32"),
    trainable=False,
    name="every_argument",
)
CONFIGS = {
    "LSTM-defaults": ("LSTM", {}),
    "LSTM-every": ("LSTM", {**EVERY_ARGUMENT, "unit_forget_bias": False}),
    "GRU-defaults": ("GRU", {}),
    "GRU-every": ("GRU", {**EVERY_ARGUMENT, "reset_after": False}),
    "GRU-every-after": ("GRU", {**EVERY_ARGUMENT, "use_cudnn": "auto"}),
}
# Entries of a zoo config that Keras's lack: the zoo's own arguments.
ZOO_ONLY_KEYS = {
    "LSTM": {"variant", "peephole_initializer", "peephole_regularizer",
             "peephole_constraint", "use_cudnn"},
    "GRU": {"use_cudnn"},
}


def _share_weights(reference, layer, x, scale=0.5):
    """Builds both layers for x (no call) and gives them one set of weights."""
    reference.build(x.shape), layer.build(x.shape)
    rng = np.random.default_rng(1)
    weights = [rng.normal(scale=scale, size=w.shape) for w in reference.weights]
    reference.set_weights(weights), layer.set_weights(weights)


def _numpy(values):
    return [keras.ops.convert_to_numpy(v) for v in keras.tree.flatten(values)]


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_from_keras_config_keeps_every_argument(case):
    family, kwargs = CONFIGS[case]
    keras_class, zoo_class = KERAS_LAYERS[family]
    reference = keras_class(4, **kwargs)
    keras_config = reference.get_config()
    layer = zoo_class.from_config(keras_config)

    config = layer.get_config()
    assert set(config) - set(keras_config) == ZOO_ONLY_KEYS[family]
    assert {key: config[key] for key in keras_config} == keras_config
    assert zoo_class.from_config(config).get_config() == config

    # The arguments reach the same places as in Keras's layer.
    assert layer.name == reference.name
    assert layer.trainable == reference.trainable
    assert layer.dtype_policy.name == reference.dtype_policy.name
    assert layer.cell.dtype_policy.name == reference.cell.dtype_policy.name
    assert layer.cell.seed == reference.cell.seed
    assert layer.cell.dropout == reference.cell.dropout
    assert layer.cell.recurrent_dropout == reference.cell.recurrent_dropout

    # ... and do the same there: outputs, states, regularization losses.
    x, mask = random_sequences()
    _share_weights(reference, layer, x)
    assert [(w.name, w.shape, w.trainable) for w in layer.weights] == [
        (w.name, w.shape, w.trainable) for w in reference.weights
    ]
    for weight, keras_weight in zip(layer.weights, reference.weights):
        assert keras.constraints.serialize(
            weight.constraint
        ) == keras.constraints.serialize(keras_weight.constraint)
    for call in range(2 if reference.stateful else 1):  # a second from state
        expected = _numpy(reference(x, mask=mask))
        actual = _numpy(layer(x, mask=mask))
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            np.testing.assert_allclose(a, e, atol=1e-5)
        np.testing.assert_allclose(
            float(sum(keras.ops.convert_to_numpy(v) for v in layer.losses)),
            float(sum(keras.ops.convert_to_numpy(v) for v in reference.losses)),
            rtol=1e-5,
        )
        assert len(layer.losses) == len(reference.losses)


@pytest.mark.parametrize(
    "family, policy", [("LSTM", "mixed_float16"), ("GRU", "mixed_bfloat16")]
)
def test_from_keras_config_keeps_the_dtype_policy(family, policy):
    keras_class, zoo_class = KERAS_LAYERS[family]
    reference = keras_class(4, return_sequences=True, dtype=policy)
    layer = zoo_class.from_config(reference.get_config())
    assert layer.dtype_policy.name == layer.cell.dtype_policy.name == policy
    x, _ = random_sequences()
    _share_weights(reference, layer, x, scale=0.3)
    expected, actual = reference(x), layer(x)
    assert actual.dtype == expected.dtype
    assert [w.dtype for w in layer.weights] == [w.dtype for w in reference.weights]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(actual).astype("float32"),
        keras.ops.convert_to_numpy(expected).astype("float32"),
        atol=2e-2,
    )


@pytest.mark.parametrize("family", ["LSTM", "GRU"])
def test_use_cudnn_is_accepted_unless_it_demands_cudnn(family):
    _, zoo_class = KERAS_LAYERS[family]
    for value in ("auto", False):
        layer = zoo_class(3, use_cudnn=value)
        assert layer.use_cudnn is value
        assert zoo_class.from_config(layer.get_config()).use_cudnn is value
    # Keras raises too where it cannot use cuDNN; the zoo never can.
    for value, shown in [(True, "True"), ("yes", "'yes'")]:
        with pytest.raises(ValueError, match=f"Received: use_cudnn={shown}"):
            zoo_class(3, use_cudnn=value)


# (c) A .keras file of Keras's layers, loaded with the zoo's.


def load_model_substituting(path, custom_objects):
    """`keras.saving.load_model(path)` with built-in classes replaced.

    The recipe of docs/layers.md. `custom_objects` alone substitutes nothing
    for a built-in class: Keras saves `keras.layers.LSTM` with
    `"registered_name": null` and looks custom objects up by registered
    name. Naming the entries to replace by their class name lets
    `custom_objects` win; the weights then load by the layers' structure.
    """
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))

    def substitute(node):
        if isinstance(node, list):
            return [substitute(value) for value in node]
        if not isinstance(node, dict):
            return node
        node = {key: substitute(value) for key, value in node.items()}
        if (
            node.get("module") == "keras.layers"
            and node.get("class_name") in custom_objects
        ):
            node["registered_name"] = node["class_name"]
        return node

    model = keras.saving.deserialize_keras_object(
        substitute(config), custom_objects=custom_objects
    )
    model.load_weights(path)
    return model


ZOO = {"LSTM": LSTM, "GRU": GRU}


def _functional_keras_model():
    inputs = keras.Input((7,), dtype="int32")
    x = keras.layers.Embedding(12, 5, mask_zero=True)(inputs)
    x = keras.layers.LSTM(6, return_sequences=True, unit_forget_bias=False)(x)
    x = keras.layers.Bidirectional(keras.layers.GRU(4, reset_after=False))(x)
    outputs = keras.layers.Dense(2)(x)
    model = keras.Model(inputs, outputs)
    data = np.random.default_rng(2).integers(1, 12, size=(4, 7))
    data[1, 4:] = 0  # padding, masked by the Embedding
    return model, data


def _sequential_keras_model():
    model = keras.Sequential(
        [
            keras.Input((7, 5)),
            keras.layers.GRU(6, return_sequences=True, dropout=0.2, seed=3),
            keras.layers.LSTM(4, use_bias=False, recurrent_dropout=0.1),
        ]
    )
    return model, random_sequences()[0]


def _recurrent_layers(model):
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, (keras.layers.LSTM, keras.layers.GRU, LSTM, GRU)):
            found.append(layer)
    return found


@pytest.mark.parametrize(
    "build", [_functional_keras_model, _sequential_keras_model],
    ids=["functional", "sequential"],
)
def test_keras_file_loads_with_zoo_layers(build, tmp_path):
    keras_model, x = build()
    rng = np.random.default_rng(4)
    keras_model.set_weights(
        [rng.normal(scale=0.5, size=w.shape) for w in keras_model.get_weights()]
    )
    path = str(tmp_path / "keras_layers.keras")
    keras_model.save(path)

    # custom_objects alone keeps Keras's classes: the reason for the recipe.
    plain = keras.saving.load_model(path, custom_objects=ZOO)
    assert not any(isinstance(l, (LSTM, GRU)) for l in _recurrent_layers(plain))

    model = load_model_substituting(path, ZOO)
    recurrent = _recurrent_layers(model)
    assert recurrent and all(isinstance(l, (LSTM, GRU)) for l in recurrent)
    for zoo_layer, keras_layer in zip(recurrent, _recurrent_layers(plain)):
        assert type(zoo_layer).__name__ == type(keras_layer).__name__
        keras_config = keras_layer.get_config()
        config = zoo_layer.get_config()
        assert {key: config[key] for key in keras_config} == keras_config

    # The same weights in the same layout: names, paths, shapes, values.
    assert [w.path for w in model.weights] == [w.path for w in plain.weights]
    assert [w.shape for w in model.weights] == [w.shape for w in plain.weights]
    for loaded, saved in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_array_equal(loaded, saved)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)),
        keras.ops.convert_to_numpy(keras_model(x)),
        atol=1e-5,
    )

    # Saved again, the file holds the zoo's layers: no recipe needed.
    model.save(tmp_path / "zoo_layers.keras")
    again = keras.saving.load_model(tmp_path / "zoo_layers.keras")
    assert [type(l) for l in _recurrent_layers(again)] == [
        type(l) for l in recurrent
    ]
    for loaded, saved in zip(again.get_weights(), keras_model.get_weights()):
        np.testing.assert_array_equal(loaded, saved)
