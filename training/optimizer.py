"""A run's optimizer: Adam with a constant or cosine-decayed learning rate."""

import keras

from training.config import ConfigError

SCHEDULES = ("constant", "cosine")


def make_optimizer(training, steps_per_epoch):
    """Adam for the `training` config section.

    `lr_schedule: cosine` decays the rate from `learning_rate` to 0 along a
    half cosine over all `epochs` (Loshchilov & Hutter 2017, without
    restarts). The rate is a function of the optimizer's step counter, which
    `callbacks.Backup` saves, so a resumed run continues on the same curve.
    """
    rate, schedule = training["learning_rate"], training["lr_schedule"]
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            rate, decay_steps=training["epochs"] * steps_per_epoch
        )
    elif schedule != "constant":
        raise ConfigError(
            f"training.lr_schedule must be one of {SCHEDULES}. Received: {schedule!r}"
        )
    return keras.optimizers.Adam(rate, clipnorm=training["clipnorm"])
