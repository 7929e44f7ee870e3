"""Another ManyThings language pair with the same command: `translate_manythings`."""

import json
import random

import keras
import numpy as np
import pytest

from training import export, train

pytestmark = pytest.mark.tensorflow_only

GERMAN = {"eins": "one", "zwei": "two", "drei": "three", "vier": "four", "fünf": "five"}
# The entry's architecture at a size that trains in seconds.
TINY = ["--set", "preprocessing.source_vocab_size=40", "--set", "preprocessing.target_vocab_size=40",
        "--set", "preprocessing.sequence_length=6", "--set", "model.units=16",
        "--set", "model.embedding_dim=8", "--set", "model.dropout=0.0",
        "--set", "training.learning_rate=0.01", "--set", "training.batch_size=16",
        "--set", "evaluation.beam_width=2", "--set", "evaluation.max_sentences=20",
        "--set", "training.lr_schedule=constant", "--epochs", "8"]


@pytest.fixture(scope="module")
def deu(tmp_path_factory):
    """A ManyThings-format German file: English, German, attribution."""
    rng = random.Random(3)
    lines = []
    for index in range(300):
        a, b = rng.sample(sorted(GERMAN), 2)
        lines.append(f"{GERMAN[a].capitalize()} and {GERMAN[b]}.\t{a.capitalize()} und {b}."
                     f"\tCC-BY 2.0 (France) Attribution: tatoeba.org #{index} (a) & #{index + 1} (b)")
    path = tmp_path_factory.mktemp("manythings") / "deu.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("direction", ["into English", "from English"])
def test_the_same_command_trains_another_pair_either_way(direction, deu, tmp_path):
    out = tmp_path / "run"
    swap = ([] if direction == "into English" else
            ["--set", "data.source_column=0", "--set", "data.target_column=1"])
    assert train.main(["translate_manythings", "--data", str(deu), "--out", str(out),
                       *TINY, *swap]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["chrf_greedy_one_ref"] > 30  # untrained output scores about 10
    model = keras.saving.load_model(out / "model.keras")
    source = "Zwei und drei." if direction == "into English" else "Two and three."
    translation = model(np.array([source], dtype=object)).numpy()[0].decode()
    words = ("two", "three") if direction == "into English" else ("zwei", "drei")
    assert any(word in translation for word in words), translation
    german = "source" if direction == "into English" else "target"
    vocabulary = (out / f"{german}_vocabulary.txt").read_text(encoding="utf-8")
    assert "fünf" in vocabulary.split("\n")  # lowercased, its umlaut kept


def test_the_card_of_a_manythings_file_names_tatoebas_license(deu, tmp_path):
    out = tmp_path / "run"
    assert train.main(["translate_manythings", "--data", str(deu), "--out", str(out),
                       *TINY]) == 0
    assert export.main([str(out), "--name", "deu_eng", "--base", str(tmp_path / "zoo")]) == 0
    card = (tmp_path / "zoo" / "deu_eng" / "README.md").read_text()
    assert "deu.txt" in card and "CC-BY 2.0 France" in card
    assert "| BLEU, greedy, one reference per pair |" in card
