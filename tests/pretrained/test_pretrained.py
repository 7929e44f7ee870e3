"""`zoo.pretrained` on tiny models written by the tests: listing, loading,
layers, and the errors for missing, corrupt, newer and unsafe files."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import pretrained
from zoo.models import TextClassifier
from zoo.models.text_classifier_preprocessor import string_classifier, text_vectorizer

TEXTS = ["area man wins argument", "senate passes bill", "why? because."]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A models directory holding one tiny classifier, `tiny`."""
    base = tmp_path_factory.mktemp("savedmodels")
    keras.utils.set_random_seed(7)
    vectorizer = text_vectorizer(TEXTS, 30, 6, "lower_and_split_punctuation")
    core = TextClassifier(len(vectorizer.get_vocabulary()), 2, units=4, embedding_dim=4,
                          attention_units=4, name="core")
    (base / "tiny").mkdir()
    string_classifier(vectorizer, core).save(base / "tiny" / "tiny.keras")
    (base / "tiny" / "README.md").write_text("# tiny\n", encoding="utf-8")
    (base / "not_a_model").mkdir()  # no NAME.keras: not listed
    return base


def test_list_names_the_directories_holding_name_keras(base, tmp_path):
    assert pretrained.list(base) == ["tiny"]
    assert pretrained.list(tmp_path / "nowhere") == []


def test_default_base_is_the_repository_savedmodels_or_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(pretrained.ENV_VARIABLE, raising=False)
    assert pretrained.default_base().name == "savedmodels"
    assert (pretrained.default_base().parent / "zoo" / "pretrained.py").is_file()
    monkeypatch.setenv(pretrained.ENV_VARIABLE, str(tmp_path))
    assert pretrained.default_base() == tmp_path


def test_load_with_and_without_preprocessing_agree(base):
    model = pretrained.load("tiny", base=base)
    core = pretrained.load("tiny", include_preprocessing=False, base=base)
    assert isinstance(core, TextClassifier)
    vectorizer = pretrained.load_layer("tiny", "vectorizer", base=base)
    texts = np.array(TEXTS, dtype=object)
    expected = model.predict(texts, verbose=0)
    np.testing.assert_allclose(core.predict(vectorizer(texts), verbose=0), expected, atol=1e-6)
    # Weights really were loaded: a fresh model of the same config differs.
    fresh = TextClassifier.from_config(core.get_config())
    assert not np.allclose(fresh.predict(vectorizer(texts), verbose=0), expected, atol=1e-4)


def test_token_id_model_loads_and_runs_under_jax(base):
    """include_preprocessing=False gives a model for any backend."""
    core = pretrained.load("tiny", include_preprocessing=False, base=base)
    ids = np.array([[2, 3, 4, 0, 0, 0], [5, 1, 0, 0, 0, 0]], dtype="int32")
    script = (
        "import sys, json, numpy as np\n"
        "from zoo import pretrained\n"
        "core = pretrained.load('tiny', include_preprocessing=False, base=sys.argv[1])\n"
        "ids = np.array(json.loads(sys.argv[2]), dtype='int32')\n"
        "print(json.dumps(np.asarray(core(ids)).tolist()))\n"
        "try:\n"
        "    pretrained.load('tiny', base=sys.argv[1])\n"
        "except ValueError as error:\n"
        "    print(error)\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", script, str(base), json.dumps(ids.tolist())],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert process.returncode == 0, process.stderr[-2000:]
    scores, message = process.stdout.strip().splitlines()[-2:]
    np.testing.assert_allclose(json.loads(scores), core(ids).numpy(), atol=1e-5)
    assert "needs the TensorFlow backend" in message and "backend='jax'" in message


def test_load_layer_returns_pretrained_layers_with_trainable_set(base):
    core = pretrained.load("tiny", include_preprocessing=False, base=base)
    encoder = pretrained.load_layer("tiny", "encoder", trainable=False, base=base)
    assert isinstance(encoder, keras.layers.Bidirectional) and not encoder.trainable
    assert encoder.trainable_weights == []
    for loaded, reference in zip(encoder.weights, core.get_layer("bidirectional_0").weights):
        np.testing.assert_array_equal(loaded.numpy(), reference.numpy())
    embedding = pretrained.load_layer("tiny", "embedding", base=base)
    assert embedding.trainable and embedding.input_dim == core.vocabulary_size


def test_load_layer_rejects_unknown_names(base):
    with pytest.raises(ValueError, match=r"'embedding'.*Received: layer='decoder'"):
        pretrained.load_layer("tiny", "decoder", base=base)
    with pytest.raises(ValueError, match=r"\['tiny'\]. Received: name='tinny'"):
        pretrained.load("tinny", base=base)


def test_model_card_and_missing_files_name_the_path(base, tmp_path):
    assert pretrained.model_card("tiny", base=base) == "# tiny\n"
    with pytest.raises(FileNotFoundError, match="no such directory"):
        pretrained.load("tiny", base=tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"missing\.keras: no such \.keras file"):
        pretrained.load_keras_file(tmp_path / "missing.keras")
    with pytest.raises(FileNotFoundError, match="no SavedModel versions"):
        pretrained.load_saved_model("tiny", base=base)
    with pytest.raises(FileNotFoundError, match=r"tiny/3/saved_model.pb: missing"):
        pretrained.load_saved_model("tiny", version=3, base=base)


def _copy_with(source, target, replace):
    """Copies a .keras zip, replacing the members named in `replace`."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            if item.filename in replace:
                if replace[item.filename] is not None:
                    new.writestr(item.filename, replace[item.filename])
            else:
                new.writestr(item, old.read(item.filename))


def test_corrupt_keras_files_fail_with_the_path(base, tmp_path):
    good = base / "tiny" / "tiny.keras"
    not_zip = tmp_path / "text.keras"
    not_zip.write_text("not a model", encoding="utf-8")
    with pytest.raises(pretrained.PretrainedModelError, match=r"text\.keras: not a \.keras file"):
        pretrained.load_keras_file(not_zip)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(pretrained.PretrainedModelError, match=r"truncated\.keras"):
        pretrained.load_keras_file(truncated)
    flipped = tmp_path / "flipped.keras"
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as archive:
        info = archive.getinfo("model.weights.h5")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle] ^= 0xFF
    flipped.write_bytes(bytes(data))
    with pytest.raises(pretrained.PretrainedModelError,
                       match=r"flipped\.keras: corrupt .keras file, model.weights.h5 fails"):
        pretrained.load_keras_file(flipped)
    no_weights = tmp_path / "no_weights.keras"
    _copy_with(good, no_weights, {"model.weights.h5": None})
    with pytest.raises(pretrained.PretrainedModelError, match="model.weights.h5 missing"):
        pretrained.load_keras_file(no_weights)


def test_a_newer_keras_format_is_refused(base, tmp_path):
    good = base / "tiny" / "tiny.keras"
    with zipfile.ZipFile(good) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    metadata["keras_version"] = "9.1.0"
    newer = tmp_path / "newer.keras"
    _copy_with(good, newer, {"metadata.json": json.dumps(metadata)})
    with pytest.raises(pretrained.PretrainedModelError,
                       match=r"newer\.keras: written by Keras 9\.1\.0, a newer format"):
        pretrained.load_keras_file(newer)


def test_safe_mode_refuses_code_in_a_keras_file(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(pretrained.PretrainedModelError, match=r"lambda\.keras: cannot be loaded.*safe"):
        pretrained.load_keras_file(path)


@pytest.mark.tensorflow_only
def test_saved_model_errors_name_the_path(base, tmp_path):
    from tensorflow.core.protobuf import saved_model_pb2

    version = base / "tiny" / "1"
    module = tf.Module()
    module.double = tf.function(lambda x: 2 * x, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, str(version))
    try:
        loaded = pretrained.load_saved_model("tiny", base=base)
        assert loaded.double(tf.constant([1.5])).numpy().tolist() == [3.0]
        proto_path = version / "saved_model.pb"
        good = proto_path.read_bytes()
        proto = saved_model_pb2.SavedModel.FromString(good)
        proto.saved_model_schema_version = 2
        proto_path.write_bytes(proto.SerializeToString())
        with pytest.raises(pretrained.PretrainedModelError,
                           match=r"tiny/1/saved_model.pb: SavedModel schema version 2, newer"):
            pretrained.load_saved_model("tiny", base=base)
        proto_path.write_bytes(b"\xff\xfe garbage")
        with pytest.raises(pretrained.PretrainedModelError,
                           match=r"tiny/1/saved_model.pb: corrupt SavedModel"):
            pretrained.load_saved_model("tiny", 1, base=base)
        proto_path.write_bytes(good)
        for path in (version / "variables").iterdir():
            path.write_bytes(b"")
        with pytest.raises(pretrained.PretrainedModelError, match=r"tiny/1: cannot be loaded"):
            pretrained.load_saved_model("tiny", base=base)
    finally:
        shutil.rmtree(version)


def test_version_numbers_are_the_numbered_folders_in_order(tmp_path):
    for name in ("2", "10", "007", "latest", "3.1"):
        (tmp_path / name).mkdir()
    (tmp_path / "5").write_text("a file, not a version")
    assert pretrained.version_numbers(tmp_path) == [2, 7, 10]
    assert pretrained.version_numbers(tmp_path / "missing") == []


def test_load_argument_reads_a_run_a_model_directory_or_a_keras_file(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
    (tmp_path / "run").mkdir()
    model.save(tmp_path / "run" / "model.keras")
    (tmp_path / "mine").mkdir()
    model.save(tmp_path / "mine" / "mine.keras")
    for argument in ("run", "mine", "run/model.keras"):
        loaded = pretrained.load_argument(str(tmp_path / argument))
        np.testing.assert_array_equal(loaded.get_layer("dense").kernel, model.get_layer("dense").kernel)


def test_load_argument_names_what_model_may_be(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"MODEL='.*empty' is a directory without "
                                                r"model\.keras \(a training run\) or empty\.keras"):
        pretrained.load_argument(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match=r"a training run directory or a \.keras file\. "
                                         r"Received: MODEL='nope'"):
        pretrained.load_argument("nope")
    with pytest.raises(ValueError, match="a .keras file or a SavedModel version directory. "
                                         "Received: MODEL='nope'"):
        pretrained.load_argument("nope", others=["a SavedModel version directory"])
    with pytest.raises(FileNotFoundError):
        pretrained.load_argument(str(tmp_path / "missing.keras"))
