"""Classifiers that start from a pretrained word-level language model
(ULMFiT): the language model's text, its export, and the fine-tuning run."""

import json

import keras
import numpy as np
import pytest

from tests.training.conftest import CUES, TINY_MODEL, WORDS, write_table
from training import export, train
from training.tasks import language_model as lm_task

pytestmark = pytest.mark.tensorflow_only

WORD_LM = """
task: language_model
data: {format: text, validation_fraction: 0.2}
preprocessing: {level: word}
model: {cell: gru, units: 8, num_layers: 1, embedding_dim: 8}
training: {epochs: 2, batch_size: 4, sequence_length: 8, learning_rate: 0.01}
generation: {prompt: "alpha", length: 5, samples: 1}
"""


@pytest.fixture(scope="module")
def word_lm(tmp_path_factory):
    """A tiny word-level language model of the table's texts, exported as
    `tiny_word_lm` into a base of its own."""
    root = tmp_path_factory.mktemp("pretraining")
    table = write_table(root / "texts.csv")
    texts = [line.rsplit(",", 1)[0] for line in table.read_text().splitlines()[1:]]
    (root / "texts.txt").write_text("\n".join(texts) + "\n")
    (root / "lm.yaml").write_text(WORD_LM)
    assert train.main([str(root / "lm.yaml"), "--data", str(root / "texts.txt"),
                       "--out", str(root / "lm")]) == 0
    base = root / "models"
    assert export.main([str(root / "lm"), "--name", "tiny_word_lm", "--base", str(base)]) == 0
    return {"root": root, "table": table, "base": base}


def classifier_config(root, base, **model):
    text = TINY_MODEL.replace("model:\n", "model:\n  pretrained: {name: tiny_word_lm, base: "
                              f"{base}}}\n  bidirectional: false\n")
    text = text.replace("preprocessing: {max_tokens: 60, sequence_length: 8}",
                        "preprocessing: {max_tokens: 60, sequence_length: 8, "
                        "standardize: lower_and_split_punctuation}")
    path = root / "classifier.yaml"
    path.write_text(text)
    return path


def test_a_classifier_starts_from_the_language_models_weights(word_lm, tmp_path, capsys):
    from zoo import pretrained
    from training.tasks.classification import ClassificationRun, load_data

    config_path = classifier_config(word_lm["root"], word_lm["base"])
    out = tmp_path / "run"
    # Eight epochs: on this toy task the language model has learnt the three
    # cue words alike (they share every context), and the classifier must
    # first pull them apart (from scratch it needs three).
    assert train.main([str(config_path), "--data", str(word_lm["table"]), "--out", str(out),
                       "--set", "model.units=12", "--epochs", "8"]) == 0
    assert "note: model.pretrained sets {'units': 8}" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    # the language model's sizes and vocabulary, token for token
    assert (config["model"]["cell"], config["model"]["units"], config["model"]["embedding_dim"]) == (
        "gru", 8, 8)
    lm = pretrained.load("tiny_word_lm", base=word_lm["base"])
    vocabulary = (out / "vocabulary.txt").read_text().split("\n")
    # row for row, the line end under a name no text tokenizes to
    assert vocabulary == [t if t != "\n" else "[LINE END]" for t in lm.tokenizer.vocabulary]
    assert json.loads((out / "metrics.json").read_text())["accuracy"] > 0.8
    # Its export says where it started from.
    assert export.main([str(out), "--name", "tiny_classifier", "--base", str(tmp_path)]) == 0
    card = (tmp_path / "tiny_classifier" / "README.md").read_text()
    assert ("Its training started with the embedding and recurrent layers of the language "
            "model `tiny_word_lm`.") in card
    # Built afresh, the classifier holds the language model's layers.

    run = ClassificationRun(config, *load_data(config, str(word_lm["table"])))
    model = run.build_model()
    for name in ("embedding", "recurrent_0"):
        for mine, theirs in zip(model.get_layer(name).get_weights(),
                                pretrained.load_layer("tiny_word_lm", name,
                                                      base=word_lm["base"]).get_weights()):
            np.testing.assert_array_equal(mine, theirs)


def test_ulmfit_settings_give_each_layer_its_rate_and_epoch(word_lm):
    from training.optimizer import LayerwiseAdam
    from training.tasks.classification import ClassificationRun, load_data
    from training.config import read_config_file, resolve
    from training.defaults import TASK_DEFAULTS

    path = classifier_config(word_lm["root"], word_lm["base"])
    config = resolve(TASK_DEFAULTS["classification"], read_config_file(path), path)
    config["training"].update(gradual_unfreezing=True, discriminative_lr_factor=2.0)
    run = ClassificationRun(config, *load_data(config, str(word_lm["table"])))
    optimizer = run.build_model().optimizer
    steps = run.steps_per_epoch(config["training"]["batch_size"])
    assert isinstance(optimizer, LayerwiseAdam)
    # the head from the start at the full rate; below it, one layer per epoch
    assert optimizer.groups == [
        {"layers": ["recurrent_0"], "factor": 0.5, "start_step": steps},
        {"layers": ["embedding"], "factor": 0.25, "start_step": 2 * steps},
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model.bidirectional": "true"}, "model.pretrained needs model.bidirectional: false"),
        ({"preprocessing.standardize": "lower_and_strip_punctuation"},
         "model.pretrained needs preprocessing.standardize: lower_and_split_punctuation"),
        ({"model.pretrained": "{name: nothing_here}"}, "model.pretrained: .*nothing_here"),
        ({"model.pretrained": "tiny_word_lm"},
         "model.pretrained must be dict. Received: 'tiny_word_lm'"),
        ({"model.pretrained": "{nme: tiny_word_lm}"}, "model.pretrained must be null or"),
        ({"model.pretrained": "{name: shakespeare_char_gru}"},
         "'shakespeare_char_gru' is not a word-level language model"),
    ],
)
def test_a_pretrained_setting_that_cannot_work_is_named(word_lm, tmp_path, capsys, change,
                                                        message):
    import re

    config_path = classifier_config(word_lm["root"], word_lm["base"])
    sets = [arg for key, value in change.items() for arg in ("--set", f"{key}={value}")]
    code = train.main([str(config_path), "--data", str(word_lm["table"]),
                       "--out", str(tmp_path / "run"), *sets])
    assert code == 2
    assert re.search(message, capsys.readouterr().err)


def test_the_english_side_of_translation_pairs_joins_the_training_text_only(tmp_path):
    from tests.training.test_language_model_task import config

    pairs = tmp_path / "spa.txt"
    pairs.write_text("Go.\tVe.\tCC-BY\nGo.\tVete.\tCC-BY\nHi.\tHola.\tCC-BY\n")
    text = tmp_path / "text.txt"
    text.write_text("".join(f"line {i}\n" for i in range(20)))
    resolved = config()
    resolved["data"]["translation_pairs"] = str(pairs)
    train_text, validation_text = lm_task.load_data(resolved, str(text))
    plain_train, plain_validation = lm_task.load_data(config(), str(text))
    assert validation_text == plain_validation
    assert train_text == plain_train + "Go.\nHi.\n"  # each English sentence once


def test_every_member_of_an_ensemble_starts_from_the_language_model(word_lm):
    from zoo import pretrained
    from training.config import read_config_file, resolve
    from training.defaults import TASK_DEFAULTS
    from training.tasks.classification import ClassificationRun, load_data

    path = classifier_config(word_lm["root"], word_lm["base"])
    config = resolve(TASK_DEFAULTS["classification"], read_config_file(path), path)
    config["model"]["ensemble_size"] = 2
    config["training"]["discriminative_lr_factor"] = 2.0
    model = ClassificationRun(config, *load_data(config, str(word_lm["table"]))).build_model()
    embedding = pretrained.load_layer("tiny_word_lm", "embedding", base=word_lm["base"])
    for member in ("member_0_", "member_1_"):
        np.testing.assert_array_equal(model.get_layer(member + "embedding").get_weights()[0],
                                      embedding.get_weights()[0])
    assert [g["layers"] for g in model.optimizer.groups] == [
        ["member_0_recurrent_0", "member_1_recurrent_0"],
        ["member_0_embedding", "member_1_embedding"]]


def test_a_language_model_goes_on_training_from_a_pretrained_one(word_lm, tmp_path, capsys):
    from zoo import pretrained
    from training.config import read_config_file, resolve
    from training.defaults import TASK_DEFAULTS

    root = word_lm["root"]
    text = tmp_path / "more.txt"
    text.write_text("".join(f"{w} sunny {v}\n" for w in CUES for v in WORDS) * 20)
    config = root / "finetune.yaml"
    config.write_text(WORD_LM.replace(
        "model: {cell: gru, units: 8, num_layers: 1, embedding_dim: 8}",
        f"model: {{units: 32, pretrained: {{name: tiny_word_lm, base: {word_lm['base']}}}}}"))
    out = tmp_path / "run"
    assert train.main([str(config), "--data", str(text), "--out", str(out)]) == 0
    assert "note: model.pretrained sets" in capsys.readouterr().out
    source = pretrained.load("tiny_word_lm", base=word_lm["base"])
    assert json.loads((out / "vocabulary.json").read_text()) == source.tokenizer.vocabulary
    saved = json.loads((out / "config.json").read_text())["model"]
    assert (saved["cell"], saved["units"], saved["embedding_dim"]) == ("gru", 8, 8)
    # Built afresh, the network is the pretrained one, weight for weight.
    resolved = resolve(TASK_DEFAULTS["language_model"], read_config_file(config), config)
    run = lm_task.LanguageModelRun(resolved, *lm_task.load_data(resolved, str(text)))
    model = run.build_model()
    for mine, theirs in zip(model.recurrent[0].cell.get_weights(),
                            source.language_model.recurrent[0].cell.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(model.output_layer.get_weights()[0],
                                  source.language_model.output_layer.get_weights()[0])
    # Its export says where it started from.
    assert export.main([str(out), "--name", "tuned_lm", "--base", str(tmp_path)]) == 0
    assert ("Its training started with every weight of the language model `tiny_word_lm`."
            in (tmp_path / "tuned_lm" / "README.md").read_text())


def test_a_language_model_refuses_a_pretrained_model_of_another_level(word_lm, tmp_path, capsys):
    (tmp_path / "text.txt").write_text("the cat sat\n" * 400)
    config = tmp_path / "char.yaml"
    config.write_text(WORD_LM.replace("level: word", "level: char").replace(
        "model: {cell: gru, units: 8, num_layers: 1, embedding_dim: 8}",
        f"model: {{pretrained: {{name: tiny_word_lm, base: {word_lm['base']}}}}}"))
    assert train.main([str(config), "--data", str(tmp_path / "text.txt"),
                       "--out", str(tmp_path / "run")]) == 2
    assert "'tiny_word_lm' is not a char-level language model" in capsys.readouterr().err
