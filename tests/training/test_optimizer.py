"""`training.optimizer.make_optimizer`: the learning-rate schedules, and
`LayerwiseAdam` (ULMFiT's discriminative rates and gradual unfreezing)."""

import keras
import numpy as np
import pytest

from training.config import ConfigError
from training.optimizer import LayerwiseAdam, make_optimizer

TRAINING = {"learning_rate": 0.01, "clipnorm": 1.0, "epochs": 4, "lr_schedule": "constant"}


def _rate_at(optimizer, step):
    optimizer.iterations.assign(step)
    return float(optimizer.learning_rate)


def test_constant_rate_and_clipnorm():
    optimizer = make_optimizer(TRAINING, steps_per_epoch=10)
    assert _rate_at(optimizer, 0) == pytest.approx(0.01)
    assert _rate_at(optimizer, 39) == pytest.approx(0.01)
    assert optimizer.clipnorm == 1.0


def test_cosine_decays_to_zero_over_all_epochs():
    optimizer = make_optimizer({**TRAINING, "lr_schedule": "cosine"}, steps_per_epoch=10)
    rates = [_rate_at(optimizer, step) for step in (0, 20, 40)]
    # Half a cosine over 4 epochs of 10 steps: full, half-way, zero.
    assert rates == pytest.approx([0.01, 0.005, 0.0], abs=1e-7)


def test_an_unknown_schedule_is_named():
    with pytest.raises(ConfigError, match=r"training.lr_schedule must be one of .*'linear'"):
        make_optimizer({**TRAINING, "lr_schedule": "linear"}, steps_per_epoch=10)


# --- ULMFiT ------------------------------------------------------------------

PLAIN = {"learning_rate": 0.01, "lr_schedule": "constant", "clipnorm": None, "epochs": 3}


def three_layers():
    inputs = keras.Input((2,))
    x = keras.layers.Dense(2, name="embedding")(inputs)
    x = keras.layers.Dense(2, name="recurrent_0")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, name="scores")(x))
    return model


def kernels(model):
    return {name: model.get_layer(name).kernel.numpy().copy()
            for name in ("embedding", "recurrent_0", "scores")}


def train_steps(model, optimizer, steps):
    model.compile(optimizer, "mse")
    x = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    model.fit(x, np.ones((4, 1), "float32"), batch_size=4, epochs=steps, verbose=0)


def test_one_step_moves_each_group_by_its_rate():
    # Adam's first step moves every weight by lr * g / (|g| + eps): by the rate.
    model = three_layers()
    before = kernels(model)
    optimizer = make_optimizer({**PLAIN, "discriminative_lr_factor": 2.0,
                                "gradual_unfreezing": False}, steps_per_epoch=1,
                               layer_groups=[["recurrent_0"], ["embedding"]])
    assert isinstance(optimizer, LayerwiseAdam)
    train_steps(model, optimizer, 1)
    moved = {k: np.abs(v - before[k]) for k, v in kernels(model).items()}
    np.testing.assert_allclose(moved["scores"], 0.01, rtol=1e-3)
    np.testing.assert_allclose(moved["recurrent_0"], 0.005, rtol=1e-3)
    np.testing.assert_allclose(moved["embedding"], 0.0025, rtol=1e-3)


def test_gradual_unfreezing_adds_one_layer_per_epoch_from_the_top():
    model = three_layers()
    optimizer = make_optimizer({**PLAIN, "discriminative_lr_factor": 1.0,
                                "gradual_unfreezing": True}, steps_per_epoch=2,
                               layer_groups=[["recurrent_0"], ["embedding"]])
    start = kernels(model)
    train_steps(model, optimizer, 2)  # epoch 0: the head alone
    after_first = kernels(model)
    assert not np.allclose(after_first["scores"], start["scores"])
    np.testing.assert_array_equal(after_first["recurrent_0"], start["recurrent_0"])
    np.testing.assert_array_equal(after_first["embedding"], start["embedding"])
    model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), batch_size=4,
              epochs=2, verbose=0)  # epoch 1: the recurrent layer joins
    after_second = kernels(model)
    assert not np.allclose(after_second["recurrent_0"], start["recurrent_0"])
    np.testing.assert_array_equal(after_second["embedding"], start["embedding"])
    model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), batch_size=4,
              epochs=1, verbose=0)  # epoch 2: the embedding too
    assert not np.allclose(kernels(model)["embedding"], start["embedding"])


def test_plain_adam_without_ulmfit_settings():
    optimizer = make_optimizer({**PLAIN}, steps_per_epoch=1,
                               layer_groups=[["recurrent_0"], ["embedding"]])
    assert type(optimizer) is keras.optimizers.Adam


def test_the_groups_survive_serialization():
    optimizer = LayerwiseAdam([{"layers": ["embedding"], "factor": 0.5, "start_step": 3}],
                              learning_rate=0.1)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(again, LayerwiseAdam)
    assert again.groups == [{"layers": ["embedding"], "factor": 0.5, "start_step": 3}]


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("discriminative_lr_factor", 0.5, "must be a number of at least 1 .* Received: 0.5"),
        ("discriminative_lr_factor", "fast", "must be a number of at least 1 .* Received: 'fast'"),
        ("gradual_unfreezing", "yes", "must be true or false. Received: 'yes'"),
    ],
)
def test_bad_settings_are_named(key, value, message):
    with pytest.raises(ConfigError, match=f"training.{key} {message}"):
        make_optimizer({**PLAIN, key: value}, 1, [["embedding"]])
