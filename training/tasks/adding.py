"""The 1997 paper's adding problem as a training task: a fast synthetic one.

Sequences come from `zoo.data.synthetic.adding` (Hochreiter & Schmidhuber
1997, Exp. 4): pairs (value, marker), two marked values, the target
0.5 + (X_1 + X_2) / 4 at the end; a prediction is right when its absolute
error is below 0.04. The model is `zoo.models.sequence_regressor` trained on
mean squared error with minibatches (the paper's own online-SGD setting is
`training.reproduce`'s job). The data is generated from seeds, so a run
needs no file and the tuner a task that trains in seconds.
"""

import dataclasses

import numpy as np
import tensorflow as tf

import keras
from training.config import ConfigError
from training.defaults import TASK_DEFAULTS
from training.optimizer import make_optimizer
from training.tasks.epochs import shuffled_epochs
from training.tasks.task_run import TaskRun
from zoo.data.synthetic.adding import TOLERANCE, adding_batch
from zoo.models.sequence_regressor import sequence_regressor

# The task's config with its default values: plain data in training/defaults.py,
# which the commands check configs against before TensorFlow is imported.
DEFAULTS = TASK_DEFAULTS["adding"]


@keras.saving.register_keras_serializable(package="zoo")
def within_tolerance(targets, predictions):
    """1 where |prediction - target| < 0.04 (the paper's success test), else 0."""
    error = keras.ops.abs(predictions - targets)
    return keras.ops.cast(keras.ops.mean(error, axis=-1) < TOLERANCE, "float32")


@dataclasses.dataclass
class Sequences:
    """Zero-padded `inputs` `(n, time, 2)` and their `targets` `(n, 1)`."""

    inputs: np.ndarray
    targets: np.ndarray

    def __len__(self):
        return len(self.targets)


def load_data(config, data_path=None):
    """`(train, validation)` `Sequences`, generated from seeds."""
    if data_path:
        raise ConfigError(
            f"The adding task generates its sequences; it reads no file. "
            f"Received: --data {data_path}"
        )
    data = config["data"]
    if not isinstance(data["T"], int) or data["T"] < 4:
        raise ConfigError(f"data.T must be an integer of at least 4. Received: {data['T']!r}")

    def generate(count, seed):
        inputs, targets, _ = adding_batch(np.random.default_rng(seed), count, data["T"])
        return Sequences(inputs, targets)

    return (generate(data["train_sequences"], data["seed"]),
            generate(data["validation_sequences"], data["seed"] + 1))


class AddingRun(TaskRun):
    """Everything a training run needs for one adding-problem config.

    Args:
        config: The resolved config.
        train, validation: `Sequences` from `load_data`.
        saved: Unused: the task has no preprocessing to reload.
    """

    DEFAULTS = DEFAULTS
    load_data = staticmethod(load_data)

    def save_preprocessing(self, run_dir):
        """Nothing to save: the inputs are the model's own."""

    def build_model(self):
        """The compiled regressor (call inside a strategy scope)."""
        model = sequence_regressor(self.train.inputs.shape[-1], **self.config["model"])
        training = self.config["training"]
        model.compile(
            make_optimizer(training, self.steps_per_epoch(training["batch_size"])),
            keras.losses.MeanSquaredError(),
            metrics=[keras.metrics.MeanMetricWrapper(within_tolerance, name="accuracy")],
        )
        return model

    def train_dataset(self, batch_size, start_epoch, epochs):
        """Epochs `start_epoch..epochs-1`, each shuffled by its own seed."""
        inputs, targets = self.train.inputs, self.train.targets
        return shuffled_epochs(
            len(targets), self.config["training"]["seed"], start_epoch, epochs,
            lambda order: tf.data.Dataset.from_tensor_slices(
                (tf.gather(inputs, order), tf.gather(targets, order))).batch(batch_size))

    def validation_dataset(self, batch_size):
        return tf.data.Dataset.from_tensor_slices(
            (self.validation.inputs, self.validation.targets)).batch(batch_size)

    def inference_model(self, core):
        """The regressor itself: it reads the sequences as they are."""
        return core

    def evaluate(self, core, data=None):
        """Mean squared error, the fraction within 0.04, and the wrong count."""
        data = data or self.validation
        predictions = core.predict(data.inputs, batch_size=256, verbose=0)
        errors = np.abs(predictions - data.targets)[:, 0]
        return {
            "mse": float(np.mean(errors**2)),
            "accuracy": float(np.mean(errors < TOLERANCE)),
            "wrong": int(np.sum(errors >= TOLERANCE)),
            "examples": len(data),
        }
