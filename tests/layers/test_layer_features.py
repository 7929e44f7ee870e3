"""Behaviour every zoo recurrent layer shares, checked for each family:
shapes, state, masking, dropout, Bidirectional, mixed precision,
serialization and input checks."""

import inspect

import keras
import numpy as np
import pytest

from zoo.layers import GRU, LSTM, OriginalLSTM
from zoo.layers.catalog import CATALOG, recurrent_layer
from zoo.layers.parallel import ParallelRNN

# (factory, number of states) for one layer of each family and state layout.
FAMILIES = {
    "lstm": (lambda **kw: LSTM(4, **kw), 2),
    "lstm-vanilla": (lambda **kw: LSTM(4, variant="vanilla", **kw), 2),
    "lstm-cifg": (lambda **kw: LSTM(4, variant="CIFG", **kw), 2),
    "lstm-fgr": (lambda **kw: LSTM(4, variant="FGR", **kw), 3),
    "gru": (lambda **kw: GRU(4, **kw), 1),
    "gru-before": (lambda **kw: GRU(4, reset_after=False, **kw), 1),
    "original-lstm": (lambda **kw: OriginalLSTM(2, block_size=2, **kw), 4),
    "original-lstm-bptt": (
        lambda **kw: OriginalLSTM(2, 2, truncated_gradient=False, **kw), 4
    ),
}
# Every cell the catalogue adds beyond those families, at its defaults; its
# number of states is what its cell declares.
CATALOGUED = [name for name, entry in CATALOG.items() if entry.era not in ("1997", "modern")]
FAMILIES.update(
    {name: (lambda name=name, **kw: recurrent_layer(name, 4, **kw), None) for name in CATALOGUED}
)
# On JAX the battery over the catalogued cells is outside the default run
# (tests/conftest.py); each cell's own tests run there.
family = pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.jax_slow if name in CATALOGUED else ())
        for name in sorted(FAMILIES)
    ],
)
# The two tests that compile a model (about 2.5 s a cell): over the
# catalogued cells they run with -m slow, to keep the default run in time.
family_compiling = pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow if name in CATALOGUED else ())
        for name in sorted(FAMILIES)
    ],
)


def make(name, **kwargs):
    return FAMILIES[name][0](**kwargs)


def as_numpy(tensors):
    return [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(tensors)]


def sequences(batch=3, steps=6, features=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, steps, features)).astype("float32")


@family
def test_output_and_state_shapes(name):
    layer = make(name, return_sequences=True, return_state=True)
    outputs = layer(sequences())
    assert outputs[0].shape == (3, 6, 4)
    states = FAMILIES[name][1] or len(layer.cell.state_size)
    assert len(outputs) == 1 + states
    assert all(state.shape[0] == 3 for state in outputs[1:])
    # The returned state seeds a continuation: two halves equal the whole.
    x = sequences()
    whole = make(name, return_sequences=True)
    whole(x)
    first = make(name, return_sequences=True, return_state=True)
    first(x)
    first.set_weights(whole.get_weights())
    head, *state = first(x[:, :3])
    tail, *_ = first(x[:, 3:], initial_state=state)
    np.testing.assert_allclose(
        np.concatenate(as_numpy([head, tail]), axis=1),
        as_numpy(whole(x))[0],
        atol=1e-5,
    )


@family
def test_stateful_continues_across_batches(name):
    x = sequences()
    stateful = make(name, stateful=True)
    plain = make(name)
    plain(x)
    stateful(x[:, :3])
    stateful.set_weights(plain.get_weights())
    stateful.reset_state()
    stateful(x[:, :3])
    continued = as_numpy(stateful(x[:, 3:]))[0]
    np.testing.assert_allclose(continued, as_numpy(plain(x))[0], atol=1e-5)
    stateful.reset_state()
    restarted = as_numpy(stateful(x[:, 3:]))[0]
    assert not np.allclose(restarted, continued, atol=1e-4)


@family
def test_masked_steps_keep_the_state(name):
    x = sequences()
    mask = np.ones((3, 6), dtype=bool)
    mask[:, 4:] = False
    layer = make(name)
    masked = as_numpy(layer(x, mask=mask))[0]
    np.testing.assert_allclose(masked, as_numpy(layer(x[:, :4]))[0], atol=1e-5)
    # An Embedding(mask_zero=True) mask reaches the layer by itself.
    tokens = np.array([[3, 1, 2, 0, 0], [5, 4, 0, 0, 0]])
    embedding = keras.layers.Embedding(8, 5, mask_zero=True)
    model_out = as_numpy(layer(embedding(tokens)))[0]
    truncated = as_numpy(layer(embedding(tokens[:1, :3])))[0]
    np.testing.assert_allclose(model_out[:1], truncated, atol=1e-5)


@family_compiling
def test_dropout_is_active_in_training_only(name):
    x = sequences()
    # A cell with a whole-sequence form reads no previous state in its
    # gates: it has no recurrent dropout (and refuses one).
    recurrent = {} if isinstance(make(name), ParallelRNN) else {"recurrent_dropout": 0.3}
    layer = make(name, dropout=0.5, seed=7, **recurrent)
    inference = as_numpy(layer(x, training=False))[0]
    np.testing.assert_allclose(
        as_numpy(layer(x, training=False))[0], inference
    )
    training = as_numpy(layer(x, training=True))[0]
    assert not np.allclose(training, inference, atol=1e-4)
    # A compiled training step runs the masks inside the time loop.
    model = keras.Sequential([keras.Input((6, 5)), layer, keras.layers.Dense(1)])
    model.compile("adam", "mse")
    history = model.fit(x, np.ones((3, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


@family
def test_bidirectional_wraps_the_layer(name):
    x = sequences()
    layer = keras.layers.Bidirectional(make(name, return_sequences=True))
    output = layer(x)
    assert output.shape == (3, 6, 8)
    assert layer.backward_layer.go_backwards
    config = layer.get_config()
    restored = keras.layers.Bidirectional.from_config(config)
    restored(x)
    restored.set_weights(layer.get_weights())
    np.testing.assert_allclose(as_numpy(restored(x)), as_numpy(output), atol=1e-6)


@family
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(name, policy):
    x = sequences()
    full = make(name, return_sequences=True)
    mixed = make(name, return_sequences=True, dtype=policy)
    full(x), mixed(x)
    mixed.set_weights(full.get_weights())
    output = mixed(x)
    assert keras.backend.standardize_dtype(output.dtype) == policy[6:]
    assert all(w.dtype == "float32" for w in mixed.weights)
    tolerance = 2e-2 if policy == "mixed_float16" else 8e-2
    np.testing.assert_allclose(
        as_numpy(output)[0].astype("float32"),
        as_numpy(full(x))[0],
        atol=tolerance,
    )


@family
def test_get_config_holds_every_constructor_argument(name):
    layer = make(name, return_sequences=True, dropout=0.1, seed=3)
    config = layer.get_config()
    # The layer takes its own RNN arguments and every argument of its cell
    # and of the cell's base classes.
    signatures = [type(layer).__init__] + [
        cls.__init__ for cls in type(layer.cell).__mro__
        if cls.__module__.startswith("zoo.")
    ]
    parameters = {
        name
        for function in signatures
        for name, p in inspect.signature(function).parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and name != "self"
    }
    assert "units" in parameters or "blocks" in parameters
    missing = parameters - set(config)
    if "blocks" in parameters:
        missing -= {"units"}  # derived: blocks * block_size
    assert not missing
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


@family_compiling
def test_keras_file_round_trip(name, tmp_path):
    x = sequences()
    inputs = keras.Input((None, 5))
    hidden = make(name, return_sequences=True, dropout=0.1)(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(hidden))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "model.keras"
    model.save(path)
    # safe_mode=True: the zoo's classes load by registration, not by code.
    restored = keras.saving.load_model(path, safe_mode=True)
    assert type(restored.layers[1]) is type(model.layers[1])
    np.testing.assert_allclose(
        as_numpy(restored.predict(x, verbose=0)),
        as_numpy(model.predict(x, verbose=0)),
        atol=1e-6,
    )


@family
def test_wrong_input_rank_is_rejected(name):
    layer = make(name)
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer(np.zeros((3, 5), "float32"))


@family
def test_unknown_argument_is_named(name):
    with pytest.raises(ValueError, match="Unrecognized keyword arguments.*'colour'"):
        make(name, colour="red")


@family
@pytest.mark.parametrize(
    "mask_shape", [(3,), (3, 5), (2, 6), (3, 6, 1)], ids=str
)
def test_mask_of_wrong_shape_is_rejected(name, mask_shape):
    layer = make(name)
    with pytest.raises(ValueError, match=r"mask\.shape=\(" + str(mask_shape[0])):
        layer(sequences(), mask=np.ones(mask_shape, dtype=bool))
