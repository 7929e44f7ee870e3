"""`python -m training.export`: TF Serving SavedModels of tiny trained runs."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import prediction_log_pb2

from training import export, savedmodel, train

pytestmark = pytest.mark.tensorflow_only


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny trained classifier run and translator run."""
    from tests.training.conftest import (
        TINY_MODEL,
        TINY_TRANSLATION,
        write_table,
        write_translation_pairs,
    )

    root = tmp_path_factory.mktemp("export_runs")
    made = {}
    for kind, config_text, data in (
        ("classifier", TINY_MODEL, write_table(root / "texts.csv")),
        ("translator", TINY_TRANSLATION, write_translation_pairs(root / "spa.txt")),
    ):
        config = root / f"{kind}.yaml"
        config.write_text(config_text)
        out = root / kind
        assert train.main([str(config), "--data", str(data), "--out", str(out)]) == 0
        made[kind] = out
    return made


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tmp_path_factory.mktemp("savedmodels")


@pytest.fixture(scope="module")
def classifier_export(runs, base):
    assert export.main([str(runs["classifier"]), "--name", "tiny_classifier",
                        "--base", str(base)]) == 0
    return base / "tiny_classifier" / "1"


@pytest.fixture(scope="module")
def translator_export(runs, base):
    assert export.main([str(runs["translator"]), "--name", "tiny_translator",
                        "--base", str(base), "--version", "3"]) == 0
    return base / "tiny_translator" / "3"


def keras_model(run_dir):
    return savedmodel.load_run(run_dir)[1]


def signature_defs(export_dir):
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((export_dir / "saved_model.pb").read_bytes())
    return saved_model.meta_graphs[0].signature_def


def warmup_logs(export_dir):
    path = export_dir / "assets.extra" / savedmodel.WARMUP_FILE
    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(str(path))
    ]


def tf_example(text):
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))
    return tf.train.Example(
        features=tf.train.Features(feature={"text": feature})
    ).SerializeToString()


# --- Classifier --------------------------------------------------------------


def test_classifier_signatures_take_raw_strings(classifier_export, runs):
    class_names = json.loads((runs["classifier"] / "config.json").read_text())["data"][
        "class_names"]
    assert class_names == ["bad", "good", "neutral"]
    loaded = tf.saved_model.load(str(classifier_export))
    assert {"serving_default", "classify"} <= set(loaded.signatures)
    serve = loaded.signatures["serving_default"]
    assert serve.structured_input_signature[1] == {
        "text": tf.TensorSpec([None], tf.string, name="text")}
    outputs = serve.structured_outputs
    assert outputs["scores"].dtype == tf.float32 and outputs["scores"].shape.as_list() == [None, 3]
    assert outputs["classes"].dtype == tf.string and outputs["classes"].shape.as_list() == [None, 3]

    texts = ["alpha sunny bravo", "stormy echo golf", "cloudy hotel"]
    result = serve(text=tf.constant(texts))
    expected = keras_model(runs["classifier"]).predict(np.array(texts, dtype=object), verbose=0)
    np.testing.assert_allclose(result["scores"].numpy(), expected, atol=1e-5)
    assert result["classes"].numpy().astype(str).tolist() == [class_names] * 3
    # The tiny model learned its cue words.
    predicted = [class_names[i] for i in result["scores"].numpy().argmax(-1)]
    assert predicted == ["good", "bad", "neutral"]


def test_classify_signature_reads_serialized_examples(classifier_export):
    loaded = tf.saved_model.load(str(classifier_export))
    texts = ["alpha sunny bravo", "stormy echo golf"]
    classified = loaded.signatures["classify"](
        inputs=tf.constant([tf_example(t) for t in texts]))
    served = loaded.signatures["serving_default"](text=tf.constant(texts))
    np.testing.assert_allclose(classified["scores"].numpy(), served["scores"].numpy(), atol=1e-6)
    assert (classified["classes"].numpy() == served["classes"].numpy()).all()

    method = signature_defs(classifier_export)["classify"].method_name
    assert method == tf.saved_model.CLASSIFY_METHOD_NAME == "tensorflow/serving/classify"
    assert signature_defs(classifier_export)["serving_default"].method_name == (
        "tensorflow/serving/predict")


def test_saved_model_cli_lists_the_signatures(classifier_export, translator_export):
    def show(export_dir, signature):
        run = subprocess.run(
            [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show",
             "--dir", str(export_dir), "--tag_set", "serve", "--signature_def", signature],
            capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        return " ".join(run.stdout.split())

    classify = show(classifier_export, "classify")
    assert "inputs['inputs'] tensor_info: dtype: DT_STRING shape: (-1)" in classify
    assert "outputs['classes'] tensor_info: dtype: DT_STRING shape: (-1, 3)" in classify
    assert "outputs['scores'] tensor_info: dtype: DT_FLOAT shape: (-1, 3)" in classify
    assert "Method name is: tensorflow/serving/classify" in classify
    translate = show(translator_export, "serving_default")
    assert "inputs['text'] tensor_info: dtype: DT_STRING shape: (-1)" in translate
    assert "inputs['beam_width'] tensor_info: dtype: DT_INT32 shape: ()" in translate
    assert "outputs['translation'] tensor_info: dtype: DT_STRING shape: (-1)" in translate


def test_warmup_requests_are_prediction_logs_the_model_answers(classifier_export):
    logs = warmup_logs(classifier_export)
    assert 2 <= len(logs) <= 1000
    signatures = tf.saved_model.load(str(classifier_export)).signatures
    asked = set()
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == "tiny_classifier"
        asked.add(request.model_spec.signature_name)
        assert set(request.inputs) == {"text"}
        texts = tf.make_ndarray(request.inputs["text"])
        assert texts.dtype == object and len(texts) >= 1
        outputs = signatures[request.model_spec.signature_name](text=tf.constant(texts))
        assert all(len(value) == len(texts) for value in outputs.values())
    # Both the predictions and the gates are warm before the first request.
    assert asked == {"serving_default", "gates"}


def test_graph_holds_core_ops_only(classifier_export, translator_export):
    from training.graph_ops import non_core_ops, saved_model_ops, xla_compiled_functions

    for export_dir in (classifier_export, translator_export):
        ops = saved_model_ops(export_dir)
        assert {"StringLower", "LookupTableFindV2"} <= set(ops)  # preprocessing inside
        assert non_core_ops(ops) == []
        # Traced with Keras's loop, not the layers' XLA-compiled one.
        assert xla_compiled_functions(export_dir) == []


# --- Translator --------------------------------------------------------------


def test_translator_beam_width_is_optional_with_the_runs_default(translator_export, runs):
    from zoo.models.translator_preprocessor import translate

    model = keras_model(runs["translator"])
    assert model.beam_width == 2  # evaluation.beam_width of TINY_TRANSLATION
    default = signature_defs(translator_export)["serving_default"].defaults["beam_width"]
    assert tf.make_ndarray(default) == 2

    texts = ["uno y dos.", "tres y cinco.", "¿cuatro?", ""]
    serve = tf.saved_model.load(str(translator_export)).signatures["serving_default"]
    for width in (1, 2, 3):
        served = serve(text=tf.constant(texts), beam_width=tf.constant(width))["translation"]
        assert [t.decode() for t in served.numpy()] == translate(
            model.translator, model.vectorizers, texts, beam_width=width)
    most = savedmodel.beam_widths(model)[-1]
    for width in (99, 0):
        with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(
                f"beam_width must be between 1 and {most} (the beam widths this model "
                f"serves). Received: beam_width={width}")):
            serve(text=tf.constant(texts), beam_width=tf.constant(width))


def test_translator_warmup_names_the_model_and_states_the_beam_width(translator_export):
    logs = warmup_logs(translator_export)
    assert logs
    inputs = {}
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == "tiny_translator"
        inputs.setdefault(request.model_spec.signature_name, set(request.inputs))
        if request.model_spec.signature_name == "serving_default":
            assert tf.make_ndarray(request.inputs["beam_width"]) == 2
    assert inputs == {"serving_default": {"text", "beam_width"}, "gates": {"text"}}


# --- The Keras model and the model card --------------------------------------


@pytest.mark.parametrize("kind", ["classifier", "translator"])
def test_export_writes_the_keras_model_and_a_model_card(kind, runs, base, request):
    from training.model_card import read_examples
    from zoo import pretrained

    version = request.getfixturevalue(f"{kind}_export")
    name = version.parent.name
    card = (version.parent / "README.md").read_text(encoding="utf-8")
    run = runs[kind]
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    for heading in ("## Data", "## Architecture", "## Hyperparameters", "## Validation metrics",
                    "## Training command", "## Known limits", "## Example predictions"):
        assert heading in card
    assert f"python -m training.train {run.parent / (kind + '.yaml')} --data " in card
    assert "--out" not in card
    assert f"SavedModel version | {version.name} " in card
    assert f"`training.learning_rate` | `{config['training']['learning_rate']}`" in card
    if kind == "classifier":
        assert "texts.csv`; its license is its owner's" in card  # a user's own file
        assert f"| accuracy | {metrics['accuracy']:.4f} |" in card
    else:  # a file named like ManyThings' Spanish pairs is taken for them
        assert "CC-BY 2.0 France" in card
        assert (f"| BLEU, beam search (2), one reference per pair | "
                f"{metrics['bleu_beam_one_ref']:.2f} |") in card
        assert (f"| chrF, greedy, all references per source | "
                f"{metrics['chrf_greedy_all_refs']:.2f} |") in card

    # The real vocabulary, not the config's ceiling (60 / 40 / 40 tokens).
    model = pretrained.load(name, base=base)
    if kind == "classifier":
        vocabulary = model.get_layer("vectorizer").vocabulary_size()
        assert f"TextVectorization ({vocabulary} tokens," in card
        assert f"its {vocabulary}-token vocabulary" in card
    else:
        sizes = len(model.vectorizers.source_vocabulary), len(model.vectorizers.target_vocabulary)
        assert max(sizes) < config["preprocessing"]["source_vocab_size"]
        assert "Words outside its vocabularies ({} source, {} target tokens)".format(*sizes) in card

    # The examples are the run's own validation rows; NAME.keras gives the table's outputs.
    header, rows = read_examples(card)
    texts = np.array([row[0] for row in rows], dtype=object)
    assert "texts from the validation split of `" in card
    # The tiny translation data has few distinct validation sources.
    assert len(rows) == savedmodel.EXAMPLE_COUNT if kind == "classifier" else 1 <= len(rows) <= 6
    assert not set(texts) & set(savedmodel.CLASSIFIER_EXAMPLES + savedmodel.TRANSLATOR_EXAMPLES)
    data_file = next(run.parent.glob("texts.csv" if kind == "classifier" else "spa.txt"))
    assert all(text in data_file.read_text() for text in texts)
    if kind == "classifier":
        assert header == ["text", *config["data"]["class_names"]]
        recorded = np.array([[float(v) for v in row[1:]] for row in rows])
        np.testing.assert_allclose(model.predict(texts, verbose=0), recorded, atol=1e-6)
    else:
        assert header == ["text", "translation"]
        assert [t.decode() for t in model(texts).numpy()] == [row[1] for row in rows]


def test_classifier_examples_cover_every_class(classifier_export, runs):
    from tests.training.conftest import CUES
    from training.model_card import read_examples

    header, rows = read_examples((classifier_export.parent / "README.md").read_text())
    config = json.loads((runs["classifier"] / "config.json").read_text())
    cues = {cue: label for label, cue in CUES.items()}
    labels = {cues[word] for row in rows for word in row[0].split() if word in cues}
    assert labels == set(config["data"]["class_names"])


def test_warmup_requests_replay_the_runs_validation_texts(classifier_export, runs):
    from training.model_card import read_examples

    _, rows = read_examples((classifier_export.parent / "README.md").read_text())
    first = next(iter(tf.data.TFRecordDataset(
        str(classifier_export / "assets.extra" / savedmodel.WARMUP_FILE))))
    log = prediction_log_pb2.PredictionLog.FromString(first.numpy())
    assert tf.make_ndarray(log.predict_log.request.inputs["text"]).tolist() == [
        rows[0][0].encode()]


def test_a_run_whose_data_is_gone_exports_with_built_in_texts_and_says_so(
        runs, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["classifier"], run)
    config = json.loads((run / "config.json").read_text())
    config["data"]["path"] = str(tmp_path / "moved.csv")
    (run / "config.json").write_text(json.dumps(config))
    assert export.main([str(run), "--name", "m", "--base", str(tmp_path / "base")]) == 0
    assert "warning: the run's data cannot be read" in capsys.readouterr().err
    card = (tmp_path / "base" / "m" / "README.md").read_text()
    assert "texts from built-in example texts (the run's data could not be read:" in card
    assert "moved.csv" in card
    assert savedmodel.CLASSIFIER_EXAMPLES[0] in card


# --- models.config -------------------------------------------------------------


def read_models_config(path):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())
    return {m.name: (m.base_path, m.model_platform) for m in config.model_config_list.config}


def test_exports_are_listed_in_models_config_beside_them(classifier_export, translator_export,
                                                         base):
    assert read_models_config(base / "models.config") == {
        "tiny_classifier": (str(base.resolve() / "tiny_classifier"), "tensorflow"),
        "tiny_translator": (str(base.resolve() / "tiny_translator"), "tensorflow"),
    }


def test_models_config_keeps_the_operators_entries_comment_and_container_paths(tmp_path):
    base = tmp_path / "zoo"
    base.mkdir()
    (base / "models.config").write_text(
        "# the operator's note\n"
        'model_config_list { config { name: "old" base_path: "/models/old" '
        'model_platform: "tensorflow" model_version_policy { all {} } } }\n')
    savedmodel.add_to_models_config(base, "new")
    savedmodel.add_to_models_config(base, "old")  # listed already: left as it is
    text = (base / "models.config").read_text()
    assert text.startswith("# the operator's note\n")
    assert "all {" in text
    assert read_models_config(base / "models.config") == {
        "old": ("/models/old", "tensorflow"), "new": ("/models/new", "tensorflow")}


@pytest.mark.parametrize("listed, expected", [(["b", "d"], ["b", "c", "d"]),
                                              (["d", "b"], ["d", "b", "c"])])
def test_a_new_model_keeps_a_sorted_models_config_sorted_and_an_operators_order(
        tmp_path, listed, expected):
    entries = " ".join(f'config {{ name: "{n}" base_path: "/models/{n}" '
                       f'model_platform: "tensorflow" }}' for n in listed)
    (tmp_path / "models.config").write_text(f"model_config_list {{ {entries} }}\n")
    savedmodel.add_to_models_config(tmp_path, "c")
    assert list(read_models_config(tmp_path / "models.config")) == expected


def test_a_broken_models_config_fails_the_export_before_anything_is_written(
        runs, tmp_path, capsys):
    base = tmp_path / "base"
    base.mkdir()
    (base / "models.config").write_text("model_config_list {\n  config { nme: 'x' }\n}\n")
    assert export.main([str(runs["classifier"]), "--name", "m", "--base", str(base)]) == 2
    err = capsys.readouterr().err
    assert f"{base / 'models.config'}:2:" in err and "nme" in err
    assert sorted(p.name for p in base.iterdir()) == ["models.config"]


def test_default_export_goes_to_ignored_exports_and_serves_at_once(runs, tmp_path, monkeypatch,
                                                                   capsys):
    """The README's round trip: export with no --base, then serve the config it wrote."""
    import subprocess
    import urllib.request

    from tests.serving.conftest import ROOT, Server

    monkeypatch.chdir(tmp_path)
    assert export.main([str(runs["classifier"]), "--name", "mine"]) == 0
    config_file = tmp_path / "exports" / "models.config"
    assert f"python -m serving --model_config_file exports/models.config" in capsys.readouterr().out
    assert (tmp_path / "exports" / "mine" / "1" / "saved_model.pb").exists()
    ignored = subprocess.run(["git", "check-ignore", "-q", "exports/mine/1/saved_model.pb"],
                             cwd=ROOT)
    assert ignored.returncode == 0, "exports/ must be ignored by git"

    server = Server([f"--model_config_file={config_file}"])
    try:
        request = urllib.request.Request(
            f"{server.url}/v1/models/mine:predict",
            data=json.dumps({"instances": ["alpha sunny bravo"]}).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            prediction = json.load(response)["predictions"][0]
    finally:
        server.stop()
    config = json.loads((runs["classifier"] / "config.json").read_text())
    assert prediction["classes"] == config["data"]["class_names"]
    assert abs(sum(prediction["scores"]) - 1) < 1e-5


@pytest.mark.slow  # trains a two-member ensemble: about a minute on two cores
def test_an_ensemble_run_exports_as_one_model_with_its_members_in_the_card(tmp_path):
    from tests.training.conftest import TINY_MODEL, write_table

    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_MODEL)
    run = tmp_path / "run"
    assert train.main([str(config), "--data", str(write_table(tmp_path / "texts.csv")),
                       "--out", str(run), "--set", "model.ensemble_size=2", "--epochs", "2"]) == 0
    assert export.main([str(run), "--name", "tiny_ensemble", "--base", str(tmp_path / "base")]) == 0
    version = tmp_path / "base" / "tiny_ensemble" / "1"
    texts = ["alpha sunny bravo", "stormy golf hotel"]
    served = tf.saved_model.load(str(version)).signatures["serving_default"](
        text=tf.constant(texts))
    scores = served["scores"].numpy()
    np.testing.assert_allclose(scores, keras_model(run).predict(np.array(texts, dtype=object), verbose=0),
                               atol=1e-5)
    card = (version.parent / "README.md").read_text(encoding="utf-8")
    assert "An ensemble of 2 such classifiers, trained separately (seeds 1337 to 1338)" in card
    members = json.loads((run / "metrics.json").read_text())["members"]
    assert f"| member 1 accuracy / macro F1 / best epoch of epochs run | {members[1]['accuracy']:.4f} /" in card


def test_published_versions_are_readable_by_other_users(classifier_export):
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(classifier_export.stat().st_mode) == 0o777 & ~umask


def test_training_command_drops_out_and_resume(tmp_path):
    from training.model_card import training_command

    (tmp_path / "run.json").write_text(json.dumps({"command": [
        "/usr/bin/python3", "-m", "training.train", "sarcasm_lstm", "--data", "my data.json",
        "--out", "runs/x", "--resume", "--set", "model.units=32"]}))
    command, _ = training_command(tmp_path)
    assert command == (
        "python -m training.train sarcasm_lstm --data 'my data.json' --set model.units=32"
    )


# --- Versions and errors -----------------------------------------------------


def test_next_free_version_ignores_non_numeric_entries(tmp_path):
    for name in ("1", "3", "notes", ".4.tmp-abc"):
        (tmp_path / "m" / name).mkdir(parents=True)
    assert export.versions(tmp_path / "m") == [1, 3]
    assert export.version_path(tmp_path, "m") == tmp_path / "m" / "4"
    assert export.version_path(tmp_path, "new") == tmp_path / "new" / "1"
    assert export.version_path(tmp_path, "m", 2) == tmp_path / "m" / "2"


@pytest.mark.slow  # a second full export, 20-25 s; version numbering is tested by default
def test_second_export_takes_the_next_version_and_refuses_to_overwrite(
    classifier_export, runs, base, capsys
):
    model_dir = classifier_export.parent
    assert export.main([str(runs["classifier"]), "--name", "tiny_classifier",
                        "--base", str(base)]) == 0
    files = ["1", "2", "README.md", "tiny_classifier.keras"]
    assert sorted(p.name for p in model_dir.iterdir()) == files  # no temporaries
    assert "version 2" in capsys.readouterr().out
    before = (model_dir / "1" / "saved_model.pb").stat().st_mtime_ns

    code = export.main([str(runs["classifier"]), "--name", "tiny_classifier",
                        "--base", str(base), "--version", "1"])
    assert code == 2
    error = capsys.readouterr().err
    assert str(model_dir / "1") in error and "already exists" in error
    assert (model_dir / "1" / "saved_model.pb").stat().st_mtime_ns == before
    assert sorted(p.name for p in model_dir.iterdir()) == files
    assert "SavedModel version | 2 " in (model_dir / "README.md").read_text()


@pytest.mark.parametrize("problem", ["no_run_dir", "no_model", "bad_version", "bad_name"])
def test_bad_inputs_exit_2_naming_what_was_wrong(problem, runs, tmp_path, capsys):
    run_dir, args = runs["classifier"], ["--name", "m"]
    if problem == "no_run_dir":
        run_dir = tmp_path / "missing_run"
        named = str(run_dir)
    elif problem == "no_model":
        run_dir = tmp_path / "half_run"
        run_dir.mkdir()
        (run_dir / "config.json").write_text((runs["classifier"] / "config.json").read_text())
        named = str(run_dir / "model.keras")
    elif problem == "bad_version":
        args += ["--version", "0"]
        named = "bad version 0"
    else:
        args = ["--name", "../escape"]
        named = "bad model name '../escape'"
    code = export.main([str(run_dir), *args, "--base", str(tmp_path / "base")])
    assert code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "base").exists()


def test_a_failed_check_publishes_nothing(runs, tmp_path, monkeypatch, capsys):
    base = tmp_path / "base"
    load_run = savedmodel.load_run

    def drifted_run(run_dir):
        # A Keras model whose scores drift from the exported graph's by 1e-3.
        config, model = load_run(run_dir)
        predict = model.predict
        model.predict = lambda *args, **kwargs: predict(*args, **kwargs) + 1e-3
        return config, model

    monkeypatch.setattr(savedmodel, "load_run", drifted_run)
    code = export.main([str(runs["classifier"]), "--name", "m", "--base", str(base)])
    assert code == 2
    assert "scores differ from the Keras model's" in capsys.readouterr().err
    assert not (base / "m").exists()  # neither version nor temporary directory

    # An op a CPU server lacks (pretend `While` is one) stops the export too,
    # and a model directory that existed before stays, empty of temporaries.
    (base / "m").mkdir(parents=True)
    monkeypatch.setattr(savedmodel, "load_run", load_run)
    monkeypatch.setattr("training.graph_ops._UNSERVABLE_OPS", {"While"})
    code = export.main([str(runs["classifier"]), "--name", "m", "--base", str(base)])
    assert code == 2
    assert "ops outside core TensorFlow" in capsys.readouterr().err
    assert list((base / "m").iterdir()) == []


def test_an_export_with_xla_compiled_loops_is_refused(runs, tmp_path, monkeypatch, capsys):
    import contextlib

    # Without `keras_loop()` the recurrent layers trace their compiled loop.
    monkeypatch.setattr(savedmodel, "keras_loop", contextlib.nullcontext)
    base = tmp_path / "base"
    code = export.main([str(runs["classifier"]), "--name", "m", "--base", str(base)])
    assert code == 2
    err = capsys.readouterr().err
    assert "must be compiled by XLA" in err and "__inference" in err
    assert not (base / "m").exists()


def test_no_optimizer_state_in_model_keras_or_the_export(runs, classifier_export, tmp_path):
    import zipfile

    import h5py

    # Training saves the inference model uncompiled ...
    with zipfile.ZipFile(runs["classifier"] / "model.keras") as archive:
        archive.extract("model.weights.h5", tmp_path)
    names = []
    with h5py.File(tmp_path / "model.weights.h5") as weights:
        weights.visit(names.append)
    assert names and not [n for n in names if "optimizer" in n]
    # ... and the export holds the model's weights only.
    variables = [n for n, _ in tf.train.list_variables(str(classifier_export / "variables" / "variables"))]
    assert variables and not [n for n in variables if "optimizer" in n.lower()]


def test_an_old_run_with_optimizer_state_exports_without_it(runs, tmp_path):
    import keras

    model = keras.saving.load_model(runs["classifier"] / "model.keras")
    core = [layer for layer in model.layers if isinstance(layer, keras.Model)][0]
    core.compile(keras.optimizers.Adam(), "sparse_categorical_crossentropy")
    core.optimizer.build(core.trainable_variables)  # as old runs saved it
    savedmodel.drop_optimizers(model)
    assert core.optimizer is None
    np.testing.assert_allclose(
        model.predict(np.array(["alpha sunny"], dtype=object), verbose=0).sum(), 1.0, atol=1e-5)


@pytest.mark.parametrize("kind", ["classifier", "translator"])
def test_every_weight_is_stored_once(runs, kind, request):
    import keras

    path = request.getfixturevalue(f"{kind}_export")
    stored = sum(int(np.prod(shape)) for _, shape in
                 tf.train.list_variables(str(path / "variables" / "variables")))
    params = keras.saving.load_model(runs[kind] / "model.keras").count_params()
    # Weights once (keras#23553 writes them twice), plus a few scalars
    # such as seed-generator states.
    assert params <= stored < params + 64


def test_argument_errors_come_before_tensorflow_is_imported(tmp_path):
    """A typo is reported without TensorFlow's start-up of several seconds."""
    empty, finished = tmp_path / "empty", tmp_path / "finished"
    empty.mkdir()
    finished.mkdir()
    (finished / "config.json").write_text("{}")
    (finished / "model.keras").write_text("")
    probe = ("import sys; from training import export; code = export.main(sys.argv[1:]); "
             "print(sorted({'tensorflow', 'keras'} & set(sys.modules))); sys.exit(code)")
    for args, message in (
        ([str(tmp_path / "nowhere"), "--name", "m"], "nowhere: no such run directory"),
        ([str(empty), "--name", "m"], "config.json is missing"),
        ([str(finished), "--name", "bad name"], "bad model name 'bad name'"),
        ([str(finished), "--name", "m", "--version", "0"], "bad version 0"),
    ):
        process = subprocess.run([sys.executable, "-c", probe, *args],
                                 capture_output=True, text=True, timeout=60)
        assert process.returncode == 2, process.stderr
        assert message in process.stderr
        assert process.stdout.strip() == "[]"


# --- The gates signature -----------------------------------------------------


def served_gates(export_dir, texts):
    gates = tf.saved_model.load(str(export_dir)).signatures["gates"]
    return {k: v.numpy() for k, v in gates(text=tf.constant(texts)).items()}


def test_classifier_gates_show_every_gate_at_every_word(classifier_export, runs):
    from zoo.diagnostics.text_gates import text_gates

    texts = ["sunny alpha bravo", "stormy echo golf hotel delta, charlie"]
    served = served_gates(classifier_export, texts)
    # The tiny run is a bidirectional GRU: z, r, h_tilde and h both ways.
    for direction in ("forward", "backward"):
        for name in ("z", "r", "h_tilde", "h"):
            assert served[f"bidirectional_0/{direction}/{name}"].shape == (2, 8, 8)
        importance = served[f"bidirectional_0/{direction}/importance"]
        assert importance.shape == (2, 8) and np.all(importance >= 0) and importance.any()
    assert served["tokens"][0, :4].tolist() == [b"sunny", b"alpha", b"bravo", b""]
    assert served["token_count"].tolist() == [3, 6]
    # Padding shows no activity.
    assert not served["bidirectional_0/forward/z"][0, 3:].any()
    # The score whose gradient ranks the units is the predicted class's log p.
    scores = tf.saved_model.load(str(classifier_export)).signatures["serving_default"](
        text=tf.constant(texts))["scores"].numpy()
    np.testing.assert_allclose(served["score"], np.log(scores.max(axis=1)), atol=1e-5)
    expected = text_gates(keras_model(runs["classifier"]), np.array(texts, dtype=object))
    for key, value in expected.items():
        if value.dtype == tf.string:
            assert served[key].tolist() == value.numpy().tolist()
        else:
            np.testing.assert_allclose(served[key], value.numpy(), atol=1e-5)


def test_translator_gates_cover_the_encoder_and_the_decoder_of_its_translation(
        translator_export, runs):
    texts = ["hola mundo", "el gato"]
    served = served_gates(translator_export, texts)
    greedy = tf.saved_model.load(str(translator_export)).signatures["serving_default"](
        text=tf.constant(texts), beam_width=tf.constant(1))["translation"].numpy()
    for row, translation in enumerate(greedy):
        count = served["target_token_count"][row]
        words = [t.decode() for t in served["target_tokens"][row, :count]]
        # The decoder's steps are labelled by the tokens it gave, [end] last.
        if words[-1] == "[end]":
            words = words[:-1]
        assert re.sub(r" ([.,!?;:])", r"\1", " ".join(words)) == translation.decode()
    assert served["tokens"][0, :3].tolist() == [b"hola", b"mundo", b""]
    assert {key.split("/")[0] for key in served if "/" in key} == {"encoder_0", "decoder"}
    assert served["decoder/forward/h"].shape[:2] == served["target_tokens"].shape


def test_an_export_whose_gates_drift_from_the_keras_model_fails_its_check(
        runs, tmp_path, monkeypatch, capsys):
    from zoo.diagnostics import text_gates as gates_module

    original = gates_module.text_gates

    def drifted(model, texts):
        result = original(model, texts)
        if tf.executing_eagerly():  # the check's side, not the exported graph
            key = next(k for k in result if k.endswith("/z"))
            result[key] = result[key] + 1e-3
        return result

    monkeypatch.setattr(savedmodel, "text_gates", drifted)
    code = export.main([str(runs["classifier"]), "--name", "m", "--base", str(tmp_path)])
    assert code == 2
    assert "signature 'gates' bidirectional_0/" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
