"""`TaskRun`: what `training.train`, `training.tune` and `training.export`
ask of a task, declared once.

A task module (`training/tasks/NAME.py`) holds one `TaskRun` subclass:
its `DEFAULTS` (the config at default values, kept as plain data in
`training/defaults.py`), its `load_data(config, data_path)` (the training
and validation splits), and the methods below. The trainer, the tuner and
the exporter call nothing else, so a new task is that class and an entry
in `training.tasks.TASKS`.
"""

import abc
import sys

import tensorflow as tf

from training.custom_loop import fit_distributed


class TaskRun(abc.ABC):
    """One config's data, model and metrics, for every command that trains.

    Subclasses build their preprocessing (vocabularies, tokenizers) in
    `__init__`, after calling this one, and implement the abstract methods.

    Args:
        config: The resolved config (the task's `DEFAULTS` with the user's
            values). Held as `self.config`; the tuner swaps in each
            trial's.
        train, validation: The splits `load_data` returned.
        saved: A run directory whose preprocessing to reuse (`--resume`),
            or None to build it from `train`.
    """

    DEFAULTS = None
    """The task's config at default values (a dict whose `task` is the
    task's name in `training.tasks.TASKS`); each task sets it."""

    def __init__(self, config, train, validation, saved=None):
        self.config = config
        self.train, self.validation = train, validation

    def __len__(self):
        """Training examples (a language model: training tokens)."""
        return len(self.train)

    @staticmethod
    @abc.abstractmethod
    def load_data(config, data_path=None):
        """The `(train, validation)` splits of `config`'s data, read from
        `data_path` (a file or folder) or the config's own path."""

    @abc.abstractmethod
    def save_preprocessing(self, run_dir):
        """Writes what `saved` reads back on `--resume` into `run_dir`."""

    @abc.abstractmethod
    def build_model(self):
        """The compiled model that trains on token ids (call inside a
        strategy scope)."""

    @abc.abstractmethod
    def train_dataset(self, batch_size, start_epoch, epochs):
        """The batches of epochs `start_epoch..epochs-1`, each ordered by
        its own seed, so that a resumed run sees what an unbroken one would."""

    def steps_per_epoch(self, batch_size):
        """Batches in one epoch of `train_dataset`."""
        return -(-len(self) // batch_size)

    @abc.abstractmethod
    def validation_dataset(self, batch_size):
        """The validation batches, in `fit`'s `validation_data` form."""

    @abc.abstractmethod
    def inference_model(self, core):
        """The trained token-id model `core` wrapped to read raw inputs:
        what a run saves as model.keras."""

    @abc.abstractmethod
    def evaluate(self, core, data=None):
        """The task's metrics of `core` (a dict of numbers) on `data`, or
        on the validation split."""

    def callbacks(self):
        """Keras callbacks the task's training needs besides the run's own
        (a stateful language model resets its carried states); they run
        first."""
        return []

    def member(self, index):
        """This run as deep-ensemble member `index` (`model.ensemble_size`)."""
        raise NotImplementedError(f"the {self.config['task']} task trains no ensembles")

    def ensemble(self, members):
        """The trained members' models as one model."""
        raise NotImplementedError(f"the {self.config['task']} task trains no ensembles")

    def fit(self, model, batch_size, start_epoch, epochs, callbacks=(), strategy=None,
            verbose=None):
        """Fits `model` on this run's data from `start_epoch` to `epochs`:
        `model.fit`, or under MultiWorkerMirroredStrategy its custom-loop
        twin (`training.custom_loop`, as Keras's `fit` fails there).

        Args:
            model: From `build_model`.
            batch_size: The global batch size.
            start_epoch, epochs: Train epochs `start_epoch..epochs-1`.
            callbacks: Keras callbacks, after the task's own.
            strategy: The distribution strategy `model` was built under.
            verbose: `fit`'s verbosity; default one line per epoch, or a
                progress bar on a terminal.

        Returns:
            `fit`'s History (None from the custom loop).
        """
        train_dataset = self.train_dataset(batch_size, start_epoch, epochs)
        callbacks = [*self.callbacks(), *callbacks]
        steps = self.steps_per_epoch(batch_size)
        validation = self.validation_dataset(batch_size)
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return fit_distributed(strategy, model, train_dataset, steps, validation,
                                   epochs, start_epoch, callbacks)
        if verbose is None:
            verbose = 1 if sys.stdout.isatty() else 2
        return model.fit(
            train_dataset,
            epochs=epochs,
            # The dataset starts at this epoch too.
            initial_epoch=start_epoch,
            steps_per_epoch=steps,
            validation_data=validation,
            callbacks=callbacks,
            shuffle=False,  # each epoch is ordered by its own seed
            verbose=verbose,
        )
