"""Every private (or undocumented) Keras, TensorFlow and keras-tuner API the
project relies on, in one place.

Each entry says why the project needs it, which public API is missing, and
it was checked against the versions in `CHECKED_AGAINST` (requirements.txt
pins the same releases). `tests/test_compat.py` checks every entry against
the installed libraries, so an upgrade that removes or changes one fails
there, naming the entry, instead of deep inside a training run, a search or
an export. Nothing else in `zoo/`, `training/`, `serving/` or `benchmarks/`
imports `keras.src`, `keras_tuner.src` or `tensorflow.python`, or reads a
library object's private attribute; a subclass that overrides a private
library method declares it in `PRIVATE_OVERRIDES` (with `private_override`).

This module lives in `zoo` because `zoo.layers` needs `DropoutRNNCell` and
`zoo` never imports `training`; the entries only `training/` uses import
their library inside the function that needs it, so `import zoo` imports
neither TensorFlow's private modules nor keras-tuner (not a `zoo`
dependency).
"""

import importlib
import inspect

# The releases every entry below was checked against (requirements.txt).
CHECKED_AGAINST = {"keras": "3.15.1", "tensorflow": "2.21.0", "keras-tuner": "1.4.8"}


# --- Keras -------------------------------------------------------------------

# `keras.layers.RNN` creates one dropout mask per sequence before its time
# loop (reused at every step, as the JAX backend's stateless loop needs) and
# resets it after the call only for cells that are instances of this mixin
# (`RNN._maybe_config_dropout_masks`, `_maybe_reset_dropout_masks`). The
# zoo's cells derive from it for that, and call its `get_dropout_mask` and
# `get_recurrent_dropout_mask`. Keras 3.15 has no public alias for it.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell  # noqa: E402


def optimizer_variable_path(optimizer, variable):
    """The path (e.g. `"lstm/lstm_cell/kernel"`) of the model weight that
    `variable`, as an optimizer's `update_step` receives it, belongs to.

    `training.optimizer.LayerwiseAdam` picks a weight's learning rate by its
    layer. On TensorFlow, `update_step` is given the backend's `tf.Variable`
    inside the Keras variable, which has no `path`; only the optimizer's
    private index (`BaseOptimizer._get_variable_index`, into
    `_trainable_variables`, the Keras variables it was built for) maps it
    back. No public API does: `optimizer.variables` are its own slots.
    """
    index = optimizer._get_variable_index(variable)
    return optimizer._trainable_variables[index].path


def store_export_variables_once(archive):
    """Replaces the Keras variable wrappers in a `keras.export.ExportArchive`'s
    variable collections by the backend variables inside them.

    `ExportArchive.track` collects Keras variables, while the traced
    endpoints capture the `tf.Variable`s inside them; TensorFlow's
    checkpoint sees two objects and writes every weight twice
    (keras-team/keras#23553). Keras has no public way to change what the
    archive tracks (its `variables` properties are read-only, and the
    TensorFlow-tracked lists they return fail on an in-place replacement of
    Keras variables), so this
    relies on undocumented behaviour of a public method:
    `add_variable_collection(name, ...)` with the name of one of the
    archive's own collections ("variables", "trainable_variables",
    "non_trainable_variables") replaces that collection.
    """
    import keras

    for name in ("variables", "trainable_variables", "non_trainable_variables"):
        collection = getattr(archive, name)
        archive.add_variable_collection(
            name, [v.value if isinstance(v, keras.Variable) else v for v in collection]
        )
    return archive


# --- TensorFlow --------------------------------------------------------------


def write_fingerprint(export_dir):
    """Rewrites `export_dir/fingerprint.pb` from the SavedModel there.

    `training/savedmodel.py` edits `saved_model.pb` after saving (a
    SignatureDef's method name, which `tf.saved_model.save` cannot set), and
    `fingerprint.pb` holds a checksum of it. TensorFlow reads fingerprints
    publicly (`tf.saved_model.experimental.read_fingerprint`) but writes
    them only through the private
    `tensorflow.python.saved_model.fingerprinting_utils.write_fingerprint`.
    """
    from tensorflow.python.saved_model import fingerprinting_utils

    fingerprinting_utils.write_fingerprint(str(export_dir))


# --- keras-tuner -------------------------------------------------------------


def keras_tuner_save_json():
    """keras-tuner's `save_json` as its tuners and oracles call it now."""
    from keras_tuner.src import utils

    return utils.save_json


def set_keras_tuner_save_json(function):
    """Makes keras-tuner write its JSON state (oracle.json, trial.json...)
    with `function(path, obj)`, which returns the JSON text.

    `training/tuning.py` writes them atomically: keras-tuner rewrites them in
    place, and a search killed mid-write cannot be resumed. keras-tuner has
    no public hook for how it writes; its `Stateful.save` and `Tuner` call
    `keras_tuner.src.utils.save_json` through the module, so replacing the
    module's attribute reaches every call.
    """
    from keras_tuner.src import utils

    if not callable(getattr(utils, "save_json", None)):
        raise RuntimeError(
            "keras_tuner.src.utils.save_json is gone: keras-tuner changed how it "
            f"writes its state since {CHECKED_AGAINST['keras-tuner']} (see zoo/compat.py)"
        )
    utils.save_json = function


# --- Private methods the project's subclasses override -------------------------

# "public.Class._method" -> the method's parameters, as the base class
# declares them. A project method overriding one is marked with
# `@private_override(name)`; tests/test_compat.py checks that each still
# exists with these parameters, and that no project class overrides a
# private library method not listed here.
PRIVATE_OVERRIDES = {
    # training/tuning.py `TrialReports`: keras-tuner's tuner calls it from
    # `__init__` to fill the search space, building a model to find
    # conditional hyperparameters; the project's spaces have none, and a
    # chief has no data to build a model with. keras-tuner keeps it
    # overridable ("for AutoKeras to override") but private.
    "keras_tuner.Tuner._populate_initial_space": ("self",),
}


def private_override(name):
    """Decorator: marks a method as overriding the private library method
    `name`, which must be listed in `PRIVATE_OVERRIDES`."""
    if name not in PRIVATE_OVERRIDES:
        raise ValueError(f"{name} overrides a private method not listed in "
                         "zoo.compat.PRIVATE_OVERRIDES")

    def mark(method):
        if method.__name__ != name.rsplit(".", 1)[1]:
            raise ValueError(f"{method.__qualname__} is marked as overriding {name}")
        method.__private_override__ = name
        return method

    return mark


def resolve(name):
    """The library attribute a dotted `name` ("keras_tuner.Tuner._method")
    names, importing its module; raises `AttributeError` if it is gone."""
    parts = name.split(".")
    obj = importlib.import_module(parts[0])
    for part in parts[1:]:
        obj = getattr(obj, part)
    return obj


def parameters(function):
    """The names of `function`'s parameters, in order."""
    return tuple(inspect.signature(function).parameters)
