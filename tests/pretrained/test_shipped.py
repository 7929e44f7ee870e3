"""The shipped pretrained zoo: what `savedmodels/` holds, its size budget,
its TF Serving config, and that each model still gives the outputs its
model card records; and the transfer-learning example of docs/pretrained.md."""

import json
import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from training.model_card import directory_size, read_examples
from zoo import pretrained

pytestmark = pytest.mark.tensorflow_only

REQUIRED = ["sarcasm_gru", "sarcasm_lstm", "sarcasm_lstm_pretrained", "sarcasm_original_lstm",
            "shakespeare_char_gru", "translate_spa_eng"]
MODEL_BUDGET = 20 * 2**20
# The translator's own budget (issue 24: both files within 40 MB).
BUDGETS = {"translate_spa_eng": 40 * 10**6}
ZOO_BUDGET = 160 * 2**20


def test_the_zoo_ships_the_required_models():
    assert set(REQUIRED) <= set(pretrained.list())


def test_models_config_serves_every_shipped_model():
    base = pretrained.default_base()
    config = text_format.Parse(
        (base / "models.config").read_text(encoding="utf-8"),
        model_server_config_pb2.ModelServerConfig(),
    )
    entries = config.model_config_list.config
    assert [entry.name for entry in entries] == pretrained.list()
    for entry in entries:
        # Absolute, as TF Serving needs: the stock image's /models mount.
        assert entry.base_path == f"/models/{entry.name}"
        assert entry.model_platform == "tensorflow"
        assert pretrained.saved_model_versions(entry.name), entry.name


def test_size_budget():
    base = pretrained.default_base()
    sizes = {name: directory_size(base / name) for name in pretrained.list()}
    assert {n: s for n, s in sizes.items() if s > BUDGETS.get(n, MODEL_BUDGET)} == {}
    assert directory_size(base) <= ZOO_BUDGET, sizes


@pytest.mark.parametrize("name", REQUIRED)
def test_shipped_model_gives_the_outputs_in_its_card(name):
    card = pretrained.model_card(name)
    version = pretrained.saved_model_versions(name)[-1]
    assert f"SavedModel version | {version} " in card  # the card is the newest's
    header, rows = read_examples(card)
    assert len(rows) >= 4
    texts = [row[0] for row in rows]
    model = pretrained.load(name)
    serving = pretrained.load_saved_model(name).signatures["serving_default"]
    if header == ["prompt", "seed", "continuation"]:
        for prompt, seed, continuation in rows:
            assert model.generate_text([prompt], len(continuation), 0.8,
                                       seed=int(seed)) == [continuation]
            served = serving(prompts=tf.constant([prompt]),
                             max_length=tf.constant(len(continuation)),
                             temperature=tf.constant(0.8), top_k=tf.constant(0),
                             top_p=tf.constant(1.0), seed=tf.constant(int(seed), tf.int64))
            assert served["text"].numpy()[0].decode() == continuation
    elif header[1:] == ["translation"]:
        expected = [row[1] for row in rows]
        assert [t.decode() for t in model(np.array(texts, dtype=object)).numpy()] == expected
        served = serving(text=tf.constant(texts), beam_width=tf.constant(model.beam_width))
        assert [t.decode() for t in served["translation"].numpy()] == expected
    else:
        expected = np.array([[float(v) for v in row[1:]] for row in rows])
        np.testing.assert_allclose(
            model.predict(np.array(texts, dtype=object), verbose=0), expected, atol=2e-5)
        served = serving(text=tf.constant(texts))
        np.testing.assert_allclose(served["scores"].numpy(), expected, atol=2e-5)
        assert served["classes"].numpy()[0].astype(str).tolist() == header[1:]


# The transfer-learning example of docs/pretrained.md, on a small task of
# its own: which of three topics a sentence is about.
TOPICS = {
    "sports": ["team", "game", "coach", "season", "players", "win", "league", "fans"],
    "weather": ["rain", "storm", "snow", "forecast", "winds", "heat", "flooding", "cold"],
    "money": ["stocks", "market", "bank", "prices", "tax", "budget", "investors", "debt"],
}
FILLER = ["the", "new", "after", "local", "officials", "say", "this", "week", "more", "city"]


def topic_sentences(count, seed):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(count):
        label = int(rng.integers(len(TOPICS)))
        words = list(rng.choice(list(TOPICS.values())[label], 2)) + list(rng.choice(FILLER, 4))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return np.array(texts, dtype=object), np.array(labels)


def test_transfer_learning_reuses_the_sarcasm_encoder(tmp_path):
    vectorizer = pretrained.load_layer("sarcasm_lstm", "vectorizer")
    embedding = pretrained.load_layer("sarcasm_lstm", "embedding", trainable=False)
    encoder = pretrained.load_layer("sarcasm_lstm", "encoder")  # fine-tuned
    frozen = [w.numpy().copy() for w in embedding.weights]
    pretrained_encoder = [w.numpy().copy() for w in encoder.weights]

    # The new model takes token ids; tokenizing runs in the tf.data pipeline.
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = encoder(embedding(token_ids))  # (batch, time, 2 x 64), padding masked
    x = keras.layers.GlobalAveragePooling1D()(x)
    scores = keras.layers.Dense(len(TOPICS), activation="softmax")(x)
    model = keras.Model(token_ids, scores)
    # The encoder's 2 x 3 weights and the new head's 2; not the embedding.
    assert len(model.trainable_weights) == 8
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    def dataset(texts, labels):
        data = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(32)
        return data.map(lambda text, label: (vectorizer(text), label))

    x_train, y_train = topic_sentences(300, seed=1)
    x_test, y_test = topic_sentences(200, seed=2)
    model.fit(dataset(x_train, y_train).shuffle(10, seed=0), epochs=8, verbose=0)
    _, accuracy = model.evaluate(dataset(x_test, y_test), verbose=0)
    assert accuracy >= 0.9
    for before, after in zip(frozen, embedding.weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert any(not np.array_equal(b, a.numpy()) for b, a in zip(pretrained_encoder, encoder.weights))

    # Raw strings in for inference; it saves and loads like any Keras model.
    text = keras.Input(shape=(), dtype="string", name="text")
    end_to_end = keras.Model(text, model(vectorizer(text)))
    end_to_end.save(tmp_path / "topics.keras")
    reloaded = keras.saving.load_model(tmp_path / "topics.keras")
    np.testing.assert_allclose(
        reloaded.predict(x_test[:8], verbose=0),
        model.predict(vectorizer(x_test[:8]), verbose=0), atol=1e-6)


def test_the_readme_shows_what_the_shipped_language_model_answers():
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    exchanges = re.findall(
        r"curl -d '(.*)' \\\n +http://localhost:8501/v1/models/shakespeare_char_gru:predict\n"
        r"(.*)\n", readme)
    assert len(exchanges) == 2
    loaded = pretrained.load_saved_model("shakespeare_char_gru")
    (generate, generated), (score, scored) = [(json.loads(a), json.loads(b)) for a, b in exchanges]
    options = generate["inputs"]
    served = loaded.signatures["serving_default"](
        prompts=tf.constant(options["prompts"]), max_length=tf.constant(options["max_length"]),
        temperature=tf.constant(float(options["temperature"])),
        top_k=tf.constant(options["top_k"]), top_p=tf.constant(float(options["top_p"])),
        seed=tf.constant(options["seed"], tf.int64))
    assert [t.decode() for t in served["text"].numpy()] == generated["outputs"]
    result = loaded.signatures["log_prob"](texts=tf.constant(score["instances"]))
    [expected] = scored["predictions"]
    assert result["token_count"].numpy().tolist() == [expected["token_count"]]
    assert result["log_prob"].numpy()[0] == pytest.approx(expected["log_prob"], abs=1e-3)
