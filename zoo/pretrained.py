"""The pretrained zoo: the trained models shipped in `savedmodels/`.

    import zoo.pretrained

    zoo.pretrained.list()
    # ['sarcasm_gru', 'sarcasm_lstm', 'sarcasm_original_lstm', 'translate_spa_eng']
    model = zoo.pretrained.load("sarcasm_lstm")          # raw strings in
    model.predict(tf.constant(["area man wins argument with toaster"]))
    core = zoo.pretrained.load("sarcasm_lstm", include_preprocessing=False)
    encoder = zoo.pretrained.load_layer("sarcasm_lstm", "encoder", trainable=False)

Each model lives in `BASE/NAME/`: `NAME.keras` (the end-to-end Keras
model), `README.md` (its model card) and numbered SavedModel versions for
TensorFlow Serving. BASE is `savedmodels/` beside the `zoo` package (a
checkout of the repository), or the directory named by the environment
variable `RNN_ZOO_SAVEDMODELS`, or the `base` argument.

Loading uses Keras's safe mode: a `.keras` file cannot make Python run
code it carries (a `Lambda` layer's bytecode is refused); every class it
names must be a Keras or zoo class. A missing, corrupt or newer-format file
raises an error that names the path.
"""

import json
import os
import pathlib
import zipfile

import keras

from zoo.models.language_model import LanguageModel
from zoo.models.language_model_preprocessor import TextLanguageModel
from zoo.models.text_classifier import TextClassifier
from zoo.models.translator import Translator
from zoo.models.translator_preprocessor import StringTranslator

ENV_VARIABLE = "RNN_ZOO_SAVEDMODELS"
# Files every `.keras` archive holds (keras/src/saving/saving_lib.py).
KERAS_ARCHIVE_FILES = ("metadata.json", "config.json", "model.weights.h5")
# The only SavedModel schema version TensorFlow has written so far.
SAVED_MODEL_SCHEMA_VERSION = 1


class PretrainedModelError(ValueError):
    """A pretrained model's file is corrupt, newer than this install, or unsafe."""


def default_base():
    """The directory the pretrained models live in."""
    if os.environ.get(ENV_VARIABLE):
        return pathlib.Path(os.environ[ENV_VARIABLE])
    return pathlib.Path(__file__).resolve().parent.parent / "savedmodels"


def list(base=None):  # noqa: A001 (the zoo's public name, as in keras_hub presets)
    """The names of the models in `base`, sorted.

    A model is a directory `NAME/` holding `NAME.keras`.
    """
    base = pathlib.Path(base) if base is not None else default_base()
    if not base.is_dir():
        return []
    return sorted(
        path.name for path in base.iterdir() if (path / f"{path.name}.keras").is_file()
    )


def model_dir(name, base=None):
    """`BASE/NAME`, after checking that `name` is a model there."""
    base = pathlib.Path(base) if base is not None else default_base()
    if not base.is_dir():
        raise FileNotFoundError(
            f"{base}: no such directory of pretrained models (set {ENV_VARIABLE} "
            "or pass `base`)"
        )
    names = list(base)
    if name not in names:
        raise ValueError(
            f"Argument `name` must be one of the models in {base}: {names}. "
            f"Received: name={name!r}"
        )
    return base / name


def keras_path(name, base=None):
    """The path of model `name`'s `.keras` file."""
    return model_dir(name, base) / f"{name}.keras"


def model_card(name, base=None):
    """The text of model `name`'s model card (`README.md`)."""
    path = model_dir(name, base) / "README.md"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model card missing")
    return path.read_text(encoding="utf-8")


def saved_model_versions(name, base=None):
    """The SavedModel version numbers of model `name`, ascending."""
    return version_numbers(model_dir(name, base))


def version_numbers(directory):
    """The numbers of the version folders (TF Serving's `NAME/VERSION`
    layout) in `directory`, ascending; [] if it does not exist.

    The two other scans stay apart on purpose: `training.export` checks a
    version before TensorFlow is imported (and `import zoo` imports it), and
    the server imports nothing from zoo.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return []
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit() and p.is_dir())

# --- Loading -----------------------------------------------------------------


def check_keras_file(path):
    """Raises a clear error unless `path` is a `.keras` archive this Keras reads."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .keras file")
    if not zipfile.is_zipfile(path):
        raise PretrainedModelError(f"{path}: not a .keras file (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            missing = [f for f in KERAS_ARCHIVE_FILES if f not in archive.namelist()]
            if missing:
                raise PretrainedModelError(
                    f"{path}: corrupt .keras file, {', '.join(missing)} missing"
                )
            damaged = archive.testzip()
            if damaged is not None:
                raise PretrainedModelError(
                    f"{path}: corrupt .keras file, {damaged} fails its checksum"
                )
            metadata = json.loads(archive.read("metadata.json"))
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        if isinstance(error, PretrainedModelError):
            raise
        raise PretrainedModelError(f"{path}: corrupt .keras file ({error})") from None
    saved = str(metadata.get("keras_version", ""))
    if _major_minor(saved) > _major_minor(keras.__version__):
        raise PretrainedModelError(
            f"{path}: written by Keras {saved}, a newer format than the installed "
            f"Keras {keras.__version__}; upgrade Keras to load it"
        )


def _major_minor(version):
    parts = version.split(".")[:2]
    try:
        return tuple(int(part) for part in parts)
    except ValueError:
        return (0, 0)


def load_keras_file(path):
    """Loads a `.keras` file in safe mode, uncompiled; errors name the path."""
    check_keras_file(path)
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # unknown class, unsafe content, bad weights
        raise PretrainedModelError(f"{path}: cannot be loaded ({error})") from None


def load_argument(argument, others=()):
    """The end-to-end Keras model a command's MODEL argument names.

    Args:
        argument: A shipped model's name (`list()`), a training run
            directory (its `model.keras`), a model directory `NAME/` (its
            `NAME.keras`) or a `.keras` file.
        others: What else the command accepts and reads itself, for the
            error message (e.g. "a SavedModel version directory").

    Raises:
        ValueError: naming the argument and what MODEL may be.
        FileNotFoundError / PretrainedModelError: from the file it names.
    """
    path = pathlib.Path(argument)
    if path.suffix == ".keras" or path.is_file():
        return load_keras_file(path)
    if path.is_dir():
        for keras_file in (path / "model.keras", path / f"{path.name}.keras"):
            if keras_file.is_file():
                return load_keras_file(keras_file)
        raise FileNotFoundError(f"MODEL={argument!r} is a directory without model.keras (a "
                                f"training run) or {path.name}.keras (a model directory)")
    if argument in list():
        return load(argument)
    kinds = ["a training run directory", "a .keras file", *others]
    raise ValueError(
        "MODEL must be a shipped model (" + ", ".join(list()) + "), "
        + ", ".join(kinds[:-1]) + f" or {kinds[-1]}. Received: MODEL={argument!r}")


def load(name, include_preprocessing=True, base=None):
    """Loads pretrained model `name`.

    Args:
        name: A name from `zoo.pretrained.list()`.
        include_preprocessing: `True` for the end-to-end model on raw strings
            (a classifier returns class probabilities, a translator
            translations, a language model a `TextLanguageModel` that
            generates and scores text); it needs the TensorFlow backend, whose string ops
            do the tokenizing. `False` for the token-id model (a
            `TextClassifier`, a `Translator` or a `LanguageModel`), which runs on any backend;
            tokenize with `load_layer(name, "vectorizer")`.
        base: The directory of pretrained models (default: `savedmodels/`).

    Returns:
        A `keras.Model`.
    """
    if include_preprocessing and keras.backend.backend() != "tensorflow":
        raise ValueError(
            "`include_preprocessing=True` needs the TensorFlow backend (the "
            "tokenizer is TensorFlow string ops); pass include_preprocessing=False "
            f"for the token-id model. Received: backend={keras.backend.backend()!r}"
        )
    path = keras_path(name, base)
    model = load_keras_file(path)
    if include_preprocessing:
        return model
    return token_id_model(model, path)


def token_id_model(model, path="model"):
    """The `TextClassifier`, `Translator` or `LanguageModel` inside an
    end-to-end model."""
    if isinstance(model, StringTranslator):
        return model.translator
    if isinstance(model, TextLanguageModel):
        return model.language_model
    for layer in model.layers:
        if isinstance(layer, (TextClassifier, Translator)):
            return layer
    raise PretrainedModelError(
        f"{path}: holds no TextClassifier, Translator or LanguageModel "
        f"(layers: {[layer.name for layer in model.layers]})"
    )


def load_layer(name, layer, trainable=True, base=None):
    """One pretrained layer of model `name`, weights included.

    The layer can be called in a new `keras.Model` (it keeps its weights;
    Keras shares a layer between models).

    Args:
        name: A name from `zoo.pretrained.list()`.
        layer: `"encoder"` (the recurrent layer, `Bidirectional` if the model
            is; a language model's only recurrent layer), `"vectorizer"` (raw strings -> token ids; TensorFlow
            backend), or the name of any layer of the token-id model, e.g.
            `"embedding"`, `"attention_pooling"`, `"source_embedding"`,
            `"decoder"`.
        trainable: Sets the layer's `trainable` flag; `False` freezes it.
        base: The directory of pretrained models (default: `savedmodels/`).

    Returns:
        A `keras.layers.Layer`.
    """
    path = keras_path(name, base)
    model = load_keras_file(path)
    core = token_id_model(model, path)
    if layer == "vectorizer":
        found = _vectorizer(model)
    elif layer == "encoder":
        if isinstance(core, Translator):
            encoder = core.encoder
        elif isinstance(core, LanguageModel):
            encoder = core.recurrent
        else:
            encoder = core.recurrent_layers()
        if len(encoder) != 1:
            raise ValueError(
                f"Model {name!r} has {len(encoder)} encoder layers; ask for one "
                f"by name: {[l.name for l in encoder]}. Received: layer='encoder'"
            )
        found = encoder[0]
    else:
        names = [l.name for l in core.layers]
        if layer not in names:
            raise ValueError(
                f"Argument `layer` must be 'encoder', 'vectorizer' or a layer of "
                f"model {name!r}: {names}. Received: layer={layer!r}"
            )
        found = core.get_layer(layer)
    found.trainable = trainable
    return found


def _vectorizer(model):
    if isinstance(model, StringTranslator):
        return model.vectorizers
    if isinstance(model, TextLanguageModel):
        return model.tokenizer
    return model.get_layer("vectorizer")


def load_saved_model(name, version=None, base=None):
    """Loads a SavedModel version of `name` (default: the newest) with TF.

    Returns what `tf.saved_model.load` returns; its `signatures` are the ones
    TF Serving serves. Needs no zoo class: the graph is self-contained.
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    available = saved_model_versions(name, base)
    if version is None:
        if not available:
            raise FileNotFoundError(f"{model_dir(name, base)}: no SavedModel versions")
        version = available[-1]
    path = model_dir(name, base) / str(version)
    proto_path = path / "saved_model.pb"
    if not proto_path.is_file():
        raise FileNotFoundError(
            f"{proto_path}: missing (versions of {name!r}: {available})"
        )
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(proto_path.read_bytes())
    except Exception as error:  # protobuf's DecodeError
        raise PretrainedModelError(f"{proto_path}: corrupt SavedModel ({error})") from None
    if proto.saved_model_schema_version > SAVED_MODEL_SCHEMA_VERSION:
        raise PretrainedModelError(
            f"{proto_path}: SavedModel schema version "
            f"{proto.saved_model_schema_version}, newer than the "
            f"{SAVED_MODEL_SCHEMA_VERSION} TensorFlow {tf.__version__} reads"
        )
    try:
        return tf.saved_model.load(str(path))
    except Exception as error:  # missing or damaged variables, unknown ops
        raise PretrainedModelError(f"{path}: cannot be loaded ({error})") from None
