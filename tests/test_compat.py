"""`zoo/compat.py`: every private library API the project relies on still
exists and still does what the project needs.

An upgrade of Keras, TensorFlow or keras-tuner that removes or changes one
fails here, naming the entry, before it breaks a training run, a search or
an export. Each test checks behaviour, not only that a name still exists.
"""

import importlib
import importlib.metadata
import inspect
import json
import pathlib
import sys

import keras
import numpy as np
import pytest

from zoo import compat

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = ("zoo", "training", "serving", "benchmarks")
# The libraries whose private APIs zoo/compat.py lists.
LIBRARIES = ("keras", "tensorflow", "keras_tuner")


def upgrade_message(entry, library):
    return (f"zoo.compat.{entry}: {library} changed since {compat.CHECKED_AGAINST[library]}, "
            f"the release it was checked against; see zoo/compat.py")


# --- The versions ------------------------------------------------------------


@pytest.mark.parametrize("library", sorted(compat.CHECKED_AGAINST))
def test_installed_release_is_the_one_compat_was_checked_against(library):
    installed = importlib.metadata.version(library)
    checked = compat.CHECKED_AGAINST[library]
    assert installed.split(".")[:2] == checked.split(".")[:2], (
        f"{library} {installed} is installed, but zoo/compat.py's entries were checked "
        f"against {checked}: re-check each entry there (tests/test_compat.py helps), then "
        f"update CHECKED_AGAINST")


def test_no_project_module_uses_a_private_library_module_but_compat():
    private = ("keras.src", "keras_tuner.src", "tensorflow.python")
    offenders = []
    for package in PROJECT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "zoo" / "compat.py" or path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
                continue
            text = path.read_text(encoding="utf-8")
            offenders += [f"{path.relative_to(ROOT)}: {name}" for name in private if name in text]
    assert offenders == [], "private library modules belong in zoo/compat.py"


def test_importing_zoo_does_not_import_keras_tuner():
    # keras-tuner is no dependency of the library; compat imports it lazily.
    import subprocess

    code = ("import sys, zoo, zoo.compat; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'keras_tuner'))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"


# --- Keras: DropoutRNNCell ---------------------------------------------------


@pytest.mark.parametrize("method", ["get_dropout_mask", "get_recurrent_dropout_mask",
                                    "reset_dropout_mask", "reset_recurrent_dropout_mask"])
def test_dropout_rnn_cell_provides_the_mask_methods(method):
    assert callable(getattr(compat.DropoutRNNCell, method, None)), upgrade_message(
        f"DropoutRNNCell.{method}", "keras")


def test_keras_rnn_special_cases_the_same_dropout_rnn_cell_the_zoo_cells_derive_from():
    from keras.src.layers.rnn import rnn as keras_rnn  # what keras.layers.RNN checks against

    from zoo.layers.rnn import RecurrentCell

    assert getattr(keras_rnn, "DropoutRNNCell", None) is compat.DropoutRNNCell, \
        upgrade_message("DropoutRNNCell", "keras")
    assert issubclass(RecurrentCell, compat.DropoutRNNCell)


class _MaskEchoCell(keras.layers.Layer, compat.DropoutRNNCell):
    """Outputs its input times its dropout mask, and its state times the
    recurrent dropout mask."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size = units, units
        self.dropout, self.recurrent_dropout = 0.5, 0.5
        self.seed_generator = keras.random.SeedGenerator(7)

    def call(self, inputs, states, training=False):
        (state,) = states
        if not training:
            return inputs, [state]
        recurrent = self.get_recurrent_dropout_mask(state)
        return inputs * self.get_dropout_mask(inputs), [state * recurrent]


def test_keras_rnn_gives_a_dropout_rnn_cell_one_mask_per_sequence_and_a_fresh_one_per_call():
    layer = keras.layers.RNN(_MaskEchoCell(64), return_sequences=True)
    ones = np.ones((2, 5, 64), "float32")
    first = keras.ops.convert_to_numpy(layer(ones, training=True))
    # Dropout happened: inverted dropout at rate 0.5 leaves 0s and 2s.
    assert set(np.unique(first)) == {0.0, 2.0}
    # One mask for the whole sequence: every step drops the same units.
    assert all(np.array_equal(first[:, 0], first[:, t]) for t in range(5)), \
        upgrade_message("DropoutRNNCell (masks per sequence)", "keras")
    # Reset after the call: the next call draws a new mask.
    second = keras.ops.convert_to_numpy(layer(ones, training=True))
    assert not np.array_equal(first, second), \
        upgrade_message("DropoutRNNCell (reset after each call)", "keras")


# --- Keras: the optimizer's variable index -------------------------------------


def test_optimizer_variable_path_names_the_weight_update_step_receives():
    seen = []

    class Recording(keras.optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            seen.append(compat.optimizer_variable_path(self, variable))
            super().update_step(gradient, variable, learning_rate)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="first"),
                              keras.layers.Dense(1, name="second")])
    model.compile(optimizer=Recording(0.1), loss="mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"), epochs=1, verbose=0)
    assert seen and set(seen) == {w.path for w in model.trainable_weights}, \
        upgrade_message("optimizer_variable_path", "keras")


# --- Keras: the export archive's variable collections ------------------------


@pytest.mark.tensorflow_only
def test_store_export_variables_once_replaces_the_archives_collections(tmp_path):
    import tensorflow as tf

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    archive = keras.export.ExportArchive()
    archive.track(model)
    assert any(isinstance(v, keras.Variable) for v in archive.variables)
    compat.store_export_variables_once(archive)
    for name in ("variables", "trainable_variables", "non_trainable_variables"):
        collection = list(getattr(archive, name))
        assert not any(isinstance(v, keras.Variable) for v in collection), \
            upgrade_message(f"store_export_variables_once ({name})", "keras")
    inner = {id(w.value) for w in model.weights}
    assert {id(v) for v in archive.variables} == inner

    archive.add_endpoint("serve", model.call,
                         input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    archive.write_out(str(tmp_path / "export"), verbose=False)
    stored = sum(int(np.prod(shape)) for _, shape in
                 tf.train.list_variables(str(tmp_path / "export" / "variables" / "variables")))
    # Each weight once (keras-team/keras#23553 writes them twice otherwise),
    # beside the checkpoint's save counter.
    assert model.count_params() <= stored <= model.count_params() + 1, \
        upgrade_message("store_export_variables_once", "keras")


# --- TensorFlow: the SavedModel fingerprint ----------------------------------


@pytest.mark.tensorflow_only
def test_write_fingerprint_follows_an_edited_saved_model_pb(tmp_path):
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return {"length": tf.strings.length(text)}

    module = Module()
    export_dir = tmp_path / "export"
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.serve})
    before = tf.saved_model.experimental.read_fingerprint(str(export_dir)).saved_model_checksum

    path = export_dir / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    saved_model.meta_graphs[0].signature_def["serving_default"].method_name = (
        tf.saved_model.CLASSIFY_METHOD_NAME)
    path.write_bytes(saved_model.SerializeToString())
    compat.write_fingerprint(export_dir)

    after = tf.saved_model.experimental.read_fingerprint(str(export_dir)).saved_model_checksum
    assert after != before, upgrade_message("write_fingerprint", "tensorflow")
    # The checksum is the one TensorFlow computes for the edited file: writing
    # it again changes nothing.
    compat.write_fingerprint(export_dir)
    assert tf.saved_model.experimental.read_fingerprint(
        str(export_dir)).saved_model_checksum == after


# --- keras-tuner: save_json ----------------------------------------------------


def test_keras_tuner_saves_its_state_through_the_patched_save_json(tmp_path, monkeypatch):
    import tensorflow as tf
    from keras_tuner.engine.trial import Trial
    from keras_tuner.src.engine import stateful, tuner

    from training import tuning

    assert compat.parameters(compat.keras_tuner_save_json()) == ("path", "obj")
    assert compat.keras_tuner_save_json() is tuning._save_json_atomically
    # keras-tuner calls it through its `utils` module, where the patch is.
    for module in (stateful, tuner):
        assert module.utils.save_json is tuning._save_json_atomically, \
            upgrade_message(f"set_keras_tuner_save_json ({module.__name__})", "keras-tuner")

    renames = []
    rename = tf.io.gfile.rename

    def recording_rename(source, target, overwrite=False):
        renames.append((source, target))
        return rename(source, target, overwrite=overwrite)

    monkeypatch.setattr(tf.io.gfile, "rename", recording_rename)
    path = str(tmp_path / "trial.json")
    Trial(keras_tuner_hyperparameters(), trial_id="7").save(path)
    assert renames == [(f"{path}.tmp", path)], \
        upgrade_message("set_keras_tuner_save_json", "keras-tuner")
    assert json.loads(pathlib.Path(path).read_text())["trial_id"] == "7"


def keras_tuner_hyperparameters():
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hp.Int("units", 4, 8)
    return hp


def test_set_keras_tuner_save_json_refuses_a_keras_tuner_without_it(monkeypatch):
    from keras_tuner.src import utils

    monkeypatch.delattr(utils, "save_json")
    with pytest.raises(RuntimeError, match="save_json is gone"):
        compat.set_keras_tuner_save_json(lambda path, obj: "")


# --- Private methods the project overrides --------------------------------------


@pytest.mark.parametrize("name", sorted(compat.PRIVATE_OVERRIDES))
def test_overridden_private_method_exists_with_its_parameters(name):
    library = name.split(".")[0].replace("_", "-")
    try:
        method = compat.resolve(name)
    except AttributeError:
        pytest.fail(upgrade_message(f"PRIVATE_OVERRIDES[{name!r}] (gone)", library))
    assert callable(method)
    assert compat.parameters(method) == compat.PRIVATE_OVERRIDES[name], \
        upgrade_message(f"PRIVATE_OVERRIDES[{name!r}] (parameters)", library)


def project_classes():
    """Every class defined in the project's modules imported so far (the
    tuners, the optimizer, the callbacks, the zoo's layers and models)."""
    for module in ("training.tuning", "training.optimizer", "training.callbacks", "zoo"):
        importlib.import_module(module)
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in PROJECT_PACKAGES:
            for cls in vars(module).values():
                if inspect.isclass(cls) and cls.__module__ == name:
                    yield cls


def test_every_private_library_method_the_project_overrides_is_listed_in_compat():
    found = set()
    for cls in project_classes():
        library_bases = [base for base in cls.__mro__
                         if base.__module__.split(".")[0] in LIBRARIES]
        # The class's own methods and its project mixins' (a tuner's TrialReports).
        project_bases = [base for base in cls.__mro__
                         if base.__module__.split(".")[0] in PROJECT_PACKAGES]
        for owner in project_bases:
            for attribute, value in vars(owner).items():
                if not attribute.startswith("_") or attribute.startswith("__"):
                    continue
                overridden = [base for base in library_bases if hasattr(base, attribute)]
                if overridden:
                    declared = getattr(value, "__private_override__", None)
                    assert declared in compat.PRIVATE_OVERRIDES, (
                        f"{owner.__module__}.{owner.__qualname__}.{attribute} overrides a "
                        f"private method of {overridden[0].__module__}."
                        f"{overridden[0].__qualname__}: list it in zoo.compat.PRIVATE_OVERRIDES "
                        f"and mark it with @compat.private_override")
                    found.add(declared)
    assert found == set(compat.PRIVATE_OVERRIDES), "a listed override no longer exists"


def test_private_override_refuses_an_unlisted_name():
    with pytest.raises(ValueError, match="not listed"):
        compat.private_override("keras.Layer._made_up")
    with pytest.raises(ValueError, match="marked as overriding"):
        compat.private_override("keras_tuner.Tuner._populate_initial_space")(lambda self: None)


def test_keras_tuner_fills_the_space_through_the_override_without_building(tmp_path):
    import keras_tuner

    from training.tuning import RandomSearch

    class NoModel(keras_tuner.HyperModel):
        def declare_hyperparameters(self, hp):
            hp.Int("units", 4, 8)
            hp.Choice("cell", ["lstm", "gru"])

        def build(self, hp):
            raise AssertionError("the chief has no data to build a model with")

    tuner = RandomSearch(NoModel(), objective="val_loss", max_trials=1,
                         directory=str(tmp_path), project_name="p")
    assert {hp.name for hp in tuner.oracle.get_space().space} == {"units", "cell"}, \
        upgrade_message("PRIVATE_OVERRIDES['keras_tuner.Tuner._populate_initial_space']",
                        "keras-tuner")
