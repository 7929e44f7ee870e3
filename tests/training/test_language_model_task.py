"""The language_model task: batches of a stream, a whole run, generation
from it, and the losses it reports."""

import copy
import json
import math
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from training import generate, train
from training.defaults import TASK_DEFAULTS
from training.tasks import language_model as task
from zoo.models.language_model import LanguageModel

pytestmark = pytest.mark.tensorflow_only

TINY_LM = """
task: language_model
preprocessing: {level: char}
model: {cell: gru, units: 16, num_layers: 1, embedding_dim: 8}
training: {epochs: 2, batch_size: 4, sequence_length: 16, learning_rate: 0.01}
generation: {prompt: "the ", length: 12, samples: 2}
"""


def verse(lines=200):
    """A learnable stream: counting rhymes over a few words."""
    words = ["the cat", "a dog", "my hat", "one log"]
    return "".join(f"{words[i % 4]} sat on {words[(i * 3 + 1) % 4]}\n" for i in range(lines))


def epoch(run, index, batch_size=3):
    """Epoch `index`'s batches as NumPy arrays `(steps, batch, T)`."""
    inputs, targets = run.epoch_batches(
        tf.constant(run.train_ids), index, run._epoch_offset(index), batch_size)
    return inputs.numpy(), targets.numpy()


def config(**training):
    resolved = copy.deepcopy(TASK_DEFAULTS["language_model"])
    resolved["training"].update({"batch_size": 3, "sequence_length": 5, **training})
    return resolved


def test_stateful_batches_continue_each_row_of_the_stream():
    run = task.LanguageModelRun(config(), *task.split_text(verse(), 0.2))
    inputs, targets = epoch(run, 0)
    offset = run._epoch_offset(0)
    rows = (len(run.train_ids) - offset) // 3
    for row in range(3):
        # Row b of consecutive batches reads one contiguous stretch.
        stretch = np.concatenate([batch[row] for batch in inputs])
        start = offset + row * rows
        np.testing.assert_array_equal(stretch, run.train_ids[start:start + len(stretch)])
    np.testing.assert_array_equal(targets[:, :, :-1], inputs[:, :, 1:])
    np.testing.assert_array_equal(targets[0, :, -1], inputs[1, :, 0])


def test_every_epoch_cuts_the_same_number_of_batches_from_its_own_offset():
    for stateful in (True, False):
        run = task.LanguageModelRun(config(stateful=stateful), *task.split_text(verse(), 0.2))
        offsets = {run._epoch_offset(epoch) for epoch in range(6)}
        assert len(offsets) > 1  # windows straddle new boundaries
        steps = run.steps_per_epoch(3)
        for index in range(6):
            inputs, targets = epoch(run, index)
            assert inputs.shape == targets.shape == (steps, 3, 5)
        batches = list(run.train_dataset(3, 1, 3).as_numpy_iterator())
        assert len(batches) == 2 * steps
        np.testing.assert_array_equal(batches[0][0], epoch(run, 1)[0][0])
        np.testing.assert_array_equal(batches[steps][1], epoch(run, 2)[1][0])


def test_independent_windows_are_shuffled_and_targets_shift_by_one():
    run = task.LanguageModelRun(config(stateful=False), *task.split_text(verse(), 0.2))
    inputs, targets = epoch(run, 0)
    np.testing.assert_array_equal(targets[..., :-1], inputs[..., 1:])
    first = inputs.reshape(-1, 5)
    starts = [np.flatnonzero(np.all(
        np.lib.stride_tricks.sliding_window_view(run.train_ids, 5) == w, axis=1))[0]
        for w in first[:6]]
    assert starts != sorted(starts)


def test_stream_loss_equals_the_mean_token_loss_of_one_read():
    tokenizer_run = task.LanguageModelRun(config(), *task.split_text(verse(40), 0.5))
    model = LanguageModel(tokenizer_run.tokenizer.vocabulary_size, cell="lstm", units=8,
                          num_layers=2, embedding_dim=4)
    ids = tokenizer_run.validation_ids[:60]
    logits = keras.ops.convert_to_numpy(model(ids[None, :-1]))[0]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.mean(log_probs[np.arange(59), ids[1:]])
    # Windows of 7 carry the state: the same as reading all 59 at once.
    assert task.stream_loss(model, ids, 7) == pytest.approx(expected, rel=1e-5)


def test_too_little_text_for_one_batch_is_named():
    with pytest.raises(ValueError, match="validation text has .* fewer than one batch"):
        task.LanguageModelRun(config(batch_size=8, sequence_length=50), "abc " * 1000, "abc abc\n")


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    """One finished tiny run, shared by the tests that read it."""
    root = tmp_path_factory.mktemp("lm")
    (root / "tiny.yaml").write_text(TINY_LM)
    (root / "verse.txt").write_text(verse(160))
    out = root / "run"
    assert train.main([str(root / "tiny.yaml"), "--data", str(root / "verse.txt"),
                       "--out", str(out)]) == 0
    return out


def test_a_run_learns_and_reports_nats_bits_and_perplexity(lm_run):
    metrics = json.loads((lm_run / "metrics.json").read_text())
    history = json.loads((lm_run / "run_state.json").read_text())["history"]
    assert history[-1]["logs"]["val_loss"] < history[0]["logs"]["val_loss"]
    # far below a uniform guess over the vocabulary
    assert metrics["loss"] < 0.7 * math.log(metrics["vocabulary_size"])
    assert metrics["bits_per_token"] == pytest.approx(metrics["loss"] / math.log(2))
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))
    # windows read from scratch see less context than the stream
    assert metrics["loss_windows_64"] > metrics["loss"]
    assert [len(s["text"]) for s in metrics["samples"]] == [12, 12]
    vocabulary = json.loads((lm_run / "vocabulary.json").read_text())
    assert vocabulary[:2] == ["", "[UNK]"] and "\n" in vocabulary


def test_generate_continues_the_prompt_from_the_run(lm_run, capsys):
    arguments = [str(lm_run), "--prompt", "the cat", "--length", "30", "--seed", "2",
                 "--temperature", "0.5"]
    assert generate.main(arguments) == 0
    first = capsys.readouterr().out
    assert first.startswith("the cat") and len(first.rstrip("\n")) >= len("the cat") + 20
    assert generate.main(arguments) == 0
    assert capsys.readouterr().out == first  # the same seed, the same text


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--length", "0"], "--length must be at least 1. Received: 0"),
        (["--top-p", "1.5"], r"--top-p must be in \(0, 1\]. Received: 1.5"),
        (["--temperature", "-1"], "--temperature must be at least 0. Received: -1.0"),
    ],
)
def test_bad_generation_options_are_named(tmp_path, capsys, arguments, message):
    with pytest.raises(SystemExit):
        generate.main([str(tmp_path), *arguments])
    assert re.search(message, capsys.readouterr().err)


def test_generate_refuses_a_directory_without_a_model(tmp_path, capsys):
    assert generate.main([str(tmp_path)]) == 2
    assert "holds no model.keras" in capsys.readouterr().err


def test_a_language_model_run_needs_a_text_file(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY_LM)
    assert train.main([str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "run")]) == 2
    assert "--data" in capsys.readouterr().err


def test_a_stateful_run_zeroes_its_states_where_a_stream_starts_over():
    run = task.LanguageModelRun(config(), *task.split_text(verse(), 0.2))
    assert [type(c).__name__ for c in run.callbacks()] == ["ResetStates"]
    assert task.LanguageModelRun(config(stateful=False), *task.split_text(verse(), 0.2)).callbacks() == []
    model = run.build_model()
    reset = run.callbacks()[0]
    reset.set_model(model)
    for hook in (reset.on_epoch_begin, reset.on_test_begin, reset.on_test_end):
        model(epoch(run, 0)[0][0])
        carried = [keras.ops.convert_to_numpy(s) for s in model.recurrent[0].states]
        assert any(np.abs(s).max() > 0 for s in carried)
        hook(0)
        assert all(np.abs(keras.ops.convert_to_numpy(s)).max() == 0
                   for s in model.recurrent[0].states)


def test_headlines_split_as_the_classifier_splits_them(tmp_path):
    from zoo.data.classification import load_sarcasm, split_labeled_texts

    path = tmp_path / "headlines.json"
    rows = [{"headline": f"headline number {i} about {verse(1)[:-1]}", "is_sarcastic": i % 2,
             "article_link": "x"} for i in range(60)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    resolved = config()
    resolved["data"].update(format="sarcasm", validation_fraction=0.25, split_seed=7)
    train_text, validation_text = task.load_data(resolved, str(path))
    _, held_out = split_labeled_texts(load_sarcasm(path), 0.25, 7)
    assert validation_text.splitlines() == held_out.texts
    assert not set(train_text.splitlines()) & set(held_out.texts)
    assert len(train_text.splitlines()) + len(held_out.texts) == 60


def test_an_unknown_data_format_is_named():
    resolved = config()
    resolved["data"]["format"] = "csv"
    with pytest.raises(ValueError, match="data.format must be one of .* Received: 'csv'"):
        task.load_data(resolved, "x.txt")


def test_evaluate_scores_a_language_model_run(lm_run, capsys):
    from training import evaluate

    assert evaluate.main([str(lm_run), "--json", str(lm_run / "scored.json")]) == 0
    printed = capsys.readouterr().out
    scored = json.loads((lm_run / "scored.json").read_text())
    metrics = json.loads((lm_run / "metrics.json").read_text())
    # the validation split, as the run measured it when training ended
    assert scored["loss"] == pytest.approx(metrics["loss"], rel=1e-5)
    assert scored["split"] == "validation" and "nats/char" in printed
    assert evaluate.main([str(lm_run), "--split", "all"]) == 0
    assert "nats/char" in capsys.readouterr().out


# --- Export: the SavedModel of a language-model run --------------------------


@pytest.fixture(scope="module")
def lm_export(lm_run, tmp_path_factory):
    from training import export

    base = tmp_path_factory.mktemp("lm_savedmodels")
    assert export.main([str(lm_run), "--name", "tiny_lm", "--base", str(base)]) == 0
    return base / "tiny_lm" / "1"


def loaded_keras(lm_run):
    return keras.saving.load_model(lm_run / "model.keras", compile=False)


def test_the_export_has_generation_and_log_prob_signatures_with_defaults(lm_export):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((lm_export / "saved_model.pb").read_bytes())
    signatures = proto.meta_graphs[0].signature_def
    serve = signatures["serving_default"]
    assert set(serve.inputs) == {"prompts", "max_length", "temperature", "top_k", "top_p",
                                 "seed"}
    assert set(serve.outputs) == {"text"}
    # every input but the prompts may be left out; the run's generation section
    defaults = {k: tf.make_ndarray(v).item() for k, v in serve.defaults.items()}
    assert defaults == {"max_length": 12, "temperature": pytest.approx(0.8), "top_k": 0,
                        "top_p": 1.0, "seed": -1}
    log_prob = signatures["log_prob"]
    assert set(log_prob.inputs) == {"texts"} and not log_prob.defaults
    assert set(log_prob.outputs) == {"log_prob", "token_count"}


def test_the_served_graph_generates_and_scores_as_the_keras_model(lm_export, lm_run):
    model = loaded_keras(lm_run)
    loaded = tf.saved_model.load(str(lm_export))
    prompts = ["the cat", "", "my hat sat on"]
    for seed, temperature in ((5, 1.0), (0, 0.0)):
        served = loaded.signatures["serving_default"](
            prompts=tf.constant(prompts), max_length=tf.constant(25),
            temperature=tf.constant(temperature), top_k=tf.constant(3),
            top_p=tf.constant(0.95), seed=tf.constant(seed, tf.int64))
        assert [t.decode() for t in served["text"].numpy()] == model.generate_text(
            prompts, 25, temperature, 3, 0.95, seed=seed)
    texts = ["the cat sat on a dog\n", "zz"]
    scored = loaded.signatures["log_prob"](texts=tf.constant(texts))
    nats, counts = model.score(texts)
    np.testing.assert_allclose(scored["log_prob"].numpy(), nats.numpy(), atol=1e-4)
    assert scored["token_count"].numpy().tolist() == [20, 1]
    # a text the model has learnt is likelier, token for token, than noise
    per_token = scored["log_prob"].numpy() / scored["token_count"].numpy()
    assert per_token[0] > per_token[1]


def test_a_seed_of_minus_one_draws_afresh(lm_export):
    serve = tf.saved_model.load(str(lm_export)).signatures["serving_default"]
    arguments = dict(prompts=tf.constant(["the "] * 4), max_length=tf.constant(40),
                     temperature=tf.constant(1.5), top_k=tf.constant(0),
                     top_p=tf.constant(1.0), seed=tf.constant(-1, tf.int64))
    drawn = [t.decode() for t in serve(**arguments)["text"].numpy()]
    assert len(set(drawn)) > 1  # four rows, four draws
    arguments["seed"] = tf.constant(9, tf.int64)
    assert serve(**arguments)["text"].numpy().tolist() == serve(**arguments)["text"].numpy().tolist()


@pytest.mark.parametrize(
    "argument, value, message",
    [
        ("max_length", 5000, "max_length must be an integer between 1 and 2048. Received: max_length=5000"),
        ("max_length", 0, "max_length must be an integer between 1 and 2048. Received: max_length=0"),
        ("temperature", -0.5, "temperature must be a number of at least 0. Received: temperature=-0.5"),
        ("top_k", -1, "top_k must be an integer of at least 0. Received: top_k=-1"),
        ("top_p", 0.0, r"top_p must be a number in \(0, 1\]. Received: top_p=0"),
    ],
)
def test_the_served_graph_refuses_options_out_of_range_by_name(lm_export, argument, value,
                                                               message):
    serve = tf.saved_model.load(str(lm_export)).signatures["serving_default"]
    arguments = dict(prompts=tf.constant(["the "]), max_length=tf.constant(5),
                     temperature=tf.constant(1.0), top_k=tf.constant(0),
                     top_p=tf.constant(1.0), seed=tf.constant(1, tf.int64))
    arguments[argument] = tf.constant(value, arguments[argument].dtype)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(**arguments)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"max_length": 0}, "Argument `max_length` must be an integer of at least 1. Received: max_length=0"),
        ({"top_k": 2.5}, "Argument `top_k` must be an integer of at least 0. Received: top_k=2.5"),
        ({"top_p": 0}, r"Argument `top_p` must be a number in \(0, 1\]. Received: top_p=0"),
        ({"seed": -3}, "Argument `seed` must be None or a non-negative integer. Received: seed=-3"),
        ({"seed": 1.5}, "Argument `seed` must be None or a non-negative integer. Received: seed=1.5"),
        ({"temperature": "hot"},
         "Argument `temperature` must be a number of at least 0. Received: temperature='hot'"),
    ],
)
def test_generate_text_names_a_bad_argument(lm_run, options, message):
    arguments = {"max_length": 5, "temperature": 1.0, "top_k": 0, "top_p": 1.0, **options}
    with pytest.raises(ValueError, match=message):
        loaded_keras(lm_run).generate_text(["the "], **arguments)


def test_generate_text_takes_numpy_numbers(lm_run):
    model = loaded_keras(lm_run)
    assert model.generate_text(["the "], np.int64(6), np.float32(0.5), np.int32(0), 1.0,
                               seed=np.int64(4)) == model.generate_text(["the "], 6, 0.5, seed=4)


def test_every_warmup_request_runs_on_the_export(lm_export):
    from tensorflow_serving.apis import prediction_log_pb2

    from training.savedmodel import WARMUP_FILE

    loaded = tf.saved_model.load(str(lm_export))
    logs = [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(str(lm_export / "assets.extra" / WARMUP_FILE))]
    signatures = [log.predict_log.request.model_spec.signature_name for log in logs]
    assert set(signatures) == {"serving_default", "log_prob", "gates"}
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == "tiny_lm"
        function = loaded.signatures[request.model_spec.signature_name]
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        # TF Serving's REST layer wants every input: the warmup names them all
        assert set(inputs) == set(function.structured_input_signature[1])
        outputs = function(**inputs)
        key = next(k for k in ("prompts", "texts", "text") if k in inputs)
        rows = len(tf.make_ndarray(request.inputs[key]))
        assert all(len(v) == rows for v in outputs.values())


def test_the_model_card_reports_the_losses_and_repeatable_samples(lm_export, lm_run):
    from training.model_card import read_examples

    card = (lm_export.parent / "README.md").read_text()
    metrics = json.loads((lm_run / "metrics.json").read_text())
    assert f"| {metrics['loss']:.4f} |" in card and f"| {metrics['loss_windows_64']:.4f} |" in card
    assert "`log_prob`" in card and "nats per character" in card
    header, rows = read_examples(card)
    assert header == ["prompt", "seed", "continuation"]
    assert rows[0][0] == "the " and len(rows) >= 4  # the run's prompt, then validation lines
    model = keras.saving.load_model(lm_export.parent / "tiny_lm.keras", compile=False)
    for prompt, seed, continuation in rows:
        assert len(continuation) == 200
        assert model.generate_text([prompt], 200, 0.8, seed=int(seed)) == [continuation]


def test_pretrained_loads_the_language_model_and_its_layers(lm_export):
    from zoo import pretrained
    from zoo.models.language_model_preprocessor import LanguageModelTokenizer

    base = lm_export.parent.parent
    assert pretrained.list(base) == ["tiny_lm"]
    core = pretrained.load("tiny_lm", include_preprocessing=False, base=base)
    assert isinstance(core, LanguageModel)
    encoder = pretrained.load_layer("tiny_lm", "encoder", trainable=False, base=base)
    assert isinstance(encoder, keras.layers.Layer) and not encoder.trainable
    assert encoder.cell.units == 16
    assert isinstance(pretrained.load_layer("tiny_lm", "vectorizer", base=base),
                      LanguageModelTokenizer)
    assert pretrained.load_layer("tiny_lm", "embedding", base=base).output_dim == 8


def test_an_export_whose_generations_drift_from_the_keras_model_fails_its_check(
        lm_export, lm_run):
    from training.export import ExportError
    from training.savedmodel import check_language_model

    model = loaded_keras(lm_run)
    honest = model.generate_text

    def drifted(prompts, *args, **kwargs):
        return [text[::-1] for text in honest(prompts, *args, **kwargs)]

    model.generate_text = drifted
    with pytest.raises(ExportError, match="greedy generations differ from the Keras model's"):
        check_language_model(lm_export, model, ["the cat sat on a"])


def test_the_gates_signature_reads_each_character_and_scores_it_as_log_prob(lm_export):
    loaded = tf.saved_model.load(str(lm_export))
    texts = tf.constant(["the cat sat", "a"])
    gates = {k: v.numpy() for k, v in loaded.signatures["gates"](text=texts).items()}
    assert gates["tokens"][0].tolist() == [c.encode() for c in "the cat sat"]
    assert gates["token_count"].tolist() == [11, 1]
    scored = loaded.signatures["log_prob"](texts=texts)
    np.testing.assert_allclose(gates["score"], scored["log_prob"].numpy(), atol=1e-4)
    layers = {key.rsplit("/", 1)[0] for key in gates if key.count("/") == 2}
    assert layers == {"recurrent_0/forward"}
    assert gates["recurrent_0/forward/importance"].shape[0] == 2
    # A batch of empty texts: no tokens, nothing read, no error.
    empty = loaded.signatures["gates"](text=tf.constant(["", ""]))
    assert empty["token_count"].numpy().tolist() == [0, 0]
    assert not empty["recurrent_0/forward/h"].numpy().any()


def test_generate_names_a_file_that_is_no_keras_model(tmp_path, capsys):
    (tmp_path / "model.keras").write_text("not a zip archive")
    assert generate.main([str(tmp_path)]) == 2
    assert f"{tmp_path / 'model.keras'}: not a .keras file" in capsys.readouterr().err
