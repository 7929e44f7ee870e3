"""A run's optimizer: Adam with a constant or cosine-decayed learning rate,
optionally with ULMFiT's discriminative rates and gradual unfreezing."""

import keras
from keras import ops

from training.config import ConfigError
from zoo.compat import optimizer_variable_path

SCHEDULES = ("constant", "cosine")


@keras.saving.register_keras_serializable(package="training")
class LayerwiseAdam(keras.optimizers.Adam):
    """Adam whose step size depends on the layer a weight belongs to.

    ULMFiT's fine-tuning (Howard & Ruder 2018, Sections 3.2 and 3.3):

    - discriminative fine-tuning: layer group l learns at η^l, and each
      group below learns slower, η^{l-1} = η^l / 2.6;
    - gradual unfreezing: the top group trains alone first, and each
      following epoch one more group below it joins.

    A group that has not joined takes no step (its rate is 0), while Adam's
    moments still follow its gradients. Weights in no group (the
    classifier's head) learn at the full rate from the first step.

    Args:
        groups: A list of dicts `{"layers": [layer names], "factor": f,
            "start_step": s}`: a weight whose path names one of the layers
            steps at `f` times the rate, from optimizer step `s` on.
        **kwargs: `keras.optimizers.Adam`'s arguments.
    """

    def __init__(self, groups=(), **kwargs):
        super().__init__(**kwargs)
        self.groups = [
            {"layers": list(g["layers"]), "factor": float(g["factor"]),
             "start_step": int(g["start_step"])}
            for g in groups
        ]

    def _group(self, variable):
        """The group of `variable` (a weight this optimizer was built for)."""
        path = optimizer_variable_path(self, variable)
        names = set(path.split("/"))
        for group in self.groups:
            if names & set(group["layers"]):
                return group
        return None

    def update_step(self, gradient, variable, learning_rate):
        group = self._group(variable)
        if group is not None:
            # η_l = η · factor_l once the group has joined, else 0.
            joined = ops.cast(self.iterations >= group["start_step"], "float32")
            learning_rate = ops.cast(learning_rate, "float32") * group["factor"] * joined
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


def layerwise_groups(layer_groups, factor, gradual, steps_per_epoch):
    """LayerwiseAdam's groups for groups of layer names listed from the top down.

    The head (every layer not listed) trains from the start at the full
    rate; group k (0 = the top one) learns at rate / factor^(k+1) and, with
    gradual unfreezing, joins at epoch k + 1.
    """
    return [
        {"layers": list(names), "factor": factor ** -(k + 1),
         "start_step": (k + 1) * steps_per_epoch if gradual else 0}
        for k, names in enumerate(layer_groups)
    ]


def make_optimizer(training, steps_per_epoch, layer_groups=()):
    """Adam for the `training` config section.

    `lr_schedule: cosine` decays the rate from `learning_rate` to 0 along a
    half cosine over all `epochs` (Loshchilov & Hutter 2017, without
    restarts). The rate is a function of the optimizer's step counter, which
    `callbacks.Backup` saves, so a resumed run continues on the same curve.

    `layer_groups` (lists of layer names, from the top down, below the
    head) get ULMFiT's discriminative rates
    (`training.discriminative_lr_factor`, 1: off) and gradual unfreezing
    (`training.gradual_unfreezing`) by `LayerwiseAdam`.
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
    factor = training.get("discriminative_lr_factor", 1.0)
    gradual = training.get("gradual_unfreezing", False)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 1:
        raise ConfigError(
            f"training.discriminative_lr_factor must be a number of at least 1 (1: every "
            f"layer at the same rate). Received: {factor!r}"
        )
    if not isinstance(gradual, bool):
        raise ConfigError(f"training.gradual_unfreezing must be true or false. Received: {gradual!r}")
    if layer_groups and (factor != 1 or gradual):
        groups = layerwise_groups(layer_groups, factor, gradual, steps_per_epoch)
        return LayerwiseAdam(groups, learning_rate=rate, clipnorm=training["clipnorm"])
    return keras.optimizers.Adam(rate, clipnorm=training["clipnorm"])
