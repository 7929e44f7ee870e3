"""The encoder-decoder translator: shapes, masking, saving, learning, decoding,
the string side, and the metrics. Tiny models and generated data only."""

import inspect

import keras
import numpy as np
import pytest

from tests.doctests import run_docstring_examples
from zoo.layers import GRU, LSTM, OriginalLSTM
from zoo.models import translation_metrics, translator, translator_preprocessor
from zoo.models.translation_metrics import corpus_bleu, corpus_chrf
from zoo.models.translator import (
    END_ID,
    PAD_ID,
    START_ID,
    Translator,
    translation_loss,
)
from zoo.models.translator_preprocessor import TranslationVectorizers, translate

SOURCE_VOCAB, TARGET_VOCAB = 12, 14

# (cell, variant, attention, bidirectional, encoder layers, block size)
CONFIGS = {
    "gru-dot": ("gru", None, "dot", False, 1, 1),
    "gru-additive-bi": ("gru", None, "additive", True, 1, 1),
    "lstm-vanilla-dot-bi-2": ("lstm", "vanilla", "dot", True, 2, 1),
    "lstm-cifg-additive": ("lstm", "CIFG", "additive", False, 1, 1),
    "original-dot-bi": ("original_lstm", None, "dot", True, 1, 2),
    "original-additive-2": ("original_lstm", None, "additive", False, 2, 1),
}
config = pytest.mark.parametrize("name", sorted(CONFIGS))


def tiny(configuration="gru-dot", **kwargs):
    cell, variant, attention, bidirectional, layers, block_size = CONFIGS[
        configuration
    ]
    cell_options = {}
    if variant:
        cell_options["variant"] = variant
    if block_size != 1:
        cell_options["block_size"] = block_size
    options = dict(
        cell=cell, cell_options=cell_options, attention=attention,
        bidirectional_encoder=bidirectional, encoder_layers=layers,
        units=8, embedding_dim=6,
    )
    options.update(kwargs)
    return Translator(SOURCE_VOCAB, TARGET_VOCAB, **options)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


# Right-padded sources of lengths 4, 2, 3 and target inputs [start] ...
SOURCE = np.array([[5, 6, 7, 8, 0], [9, 4, 0, 0, 0], [10, 11, 5, 0, 0]], "int32")
TARGET_IN = np.array([[2, 4, 5, 6], [2, 7, 3, 0], [2, 8, 9, 3]], "int32")


def logits_of(model, source=SOURCE, target_in=TARGET_IN):
    return numpy(model({"source_ids": source, "target_in_ids": target_in}))


@config
def test_shapes_and_layers_of_each_configuration(name):
    cell, variant, attention, bidirectional, layers, block_size = CONFIGS[name]
    model = tiny(name)
    logits = logits_of(model)
    assert logits.shape == (3, 4, TARGET_VOCAB)
    assert np.all(np.isfinite(logits))
    family = {"gru": GRU, "lstm": LSTM, "original_lstm": OriginalLSTM}[cell]
    assert type(model.decoder) is family
    assert model.decoder.units == 8
    if cell == "lstm":
        assert model.decoder.variant == variant
    if cell == "original_lstm":
        assert model.decoder.cell.block_size == block_size
    assert len(model.encoder) == layers
    for layer in model.encoder:
        assert isinstance(layer, keras.layers.Bidirectional) == bidirectional
    attention_class = {
        "dot": keras.layers.Attention, "additive": keras.layers.AdditiveAttention
    }[attention]
    assert type(model.attention_layer) is attention_class
    # Both directions together are as wide as the decoder: their final
    # states side by side start it.
    for layer in model.encoder:
        width = layer.forward_layer.units if bidirectional else layer.units
        assert width * (2 if bidirectional else 1) == model.units


@config
def test_step_decoding_computes_the_teacher_forced_function(name):
    # Greedy decoding steps the decoder cell; its running log-probability
    # must equal the teacher-forced score of the tokens it chose.
    model = tiny(name)
    ids, scores = model.greedy_decode(SOURCE, max_length=5, return_scores=True)
    np.testing.assert_allclose(
        numpy(scores),
        numpy(model.sequence_log_probability(SOURCE, ids)),
        rtol=1e-5, atol=1e-4,
    )


@pytest.mark.parametrize("name", ["gru-additive-bi", "lstm-cifg-additive"])
def test_source_padding_is_masked(name):
    model = tiny(name)
    logits = logits_of(model)
    # More padding columns change nothing.
    wider = np.pad(SOURCE, ((0, 0), (0, 3)))
    np.testing.assert_allclose(logits_of(model, wider), logits, atol=1e-5)
    # A short sentence gives the same logits alone as in a padded batch.
    alone = logits_of(model, SOURCE[1:2, :2], TARGET_IN[1:2])
    np.testing.assert_allclose(alone, logits[1:2], atol=1e-5)
    # Whatever the padding id embeds to is never read.
    weights = model.source_embedding.embeddings
    table = numpy(weights).copy()
    table[PAD_ID] = np.random.default_rng(0).normal(size=table.shape[1]) * 10
    weights.assign(table)
    np.testing.assert_allclose(logits_of(model), logits, atol=1e-5)
    # ...while a real token does matter.
    changed = SOURCE.copy()
    changed[0, 3] = 9
    assert not np.allclose(logits_of(model, changed)[0], logits[0], atol=1e-4)


def test_get_config_holds_every_constructor_argument():
    model = tiny("lstm-vanilla-dot-bi-2", dropout=0.25, name="translator")
    config = model.get_config()
    parameters = {
        name
        for name, p in inspect.signature(Translator.__init__).parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and name != "self"
    }
    assert parameters <= set(config)
    assert config["cell_options"] == {"variant": "vanilla"} and config["dropout"] == 0.25
    clone = Translator.from_config(config)
    assert clone.get_config() == config
    assert clone.count_params() == model.count_params()


def test_keras_file_round_trip(tmp_path):
    model = tiny("original-dot-bi", dropout=0.1)
    path = tmp_path / "translator.keras"
    model.save(path)
    # safe_mode=True: the zoo's classes load by registration, not by code.
    restored = keras.saving.load_model(path, safe_mode=True)
    assert type(restored) is Translator
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(logits_of(restored), logits_of(model))
    np.testing.assert_array_equal(
        numpy(restored.greedy_decode(SOURCE, max_length=4)),
        numpy(model.greedy_decode(SOURCE, max_length=4)),
    )


def test_dropout_is_active_in_training_only():
    model = tiny("gru-additive-bi", dropout=0.3)
    inputs = {"source_ids": SOURCE, "target_in_ids": TARGET_IN}
    inference = numpy(model(inputs, training=False))
    np.testing.assert_array_equal(numpy(model(inputs, training=False)), inference)
    assert not np.allclose(numpy(model(inputs, training=True)), inference, atol=1e-4)
    # Decoding is inference: no dropout, so it is repeatable.
    np.testing.assert_array_equal(
        numpy(model.greedy_decode(SOURCE, 4)), numpy(model.greedy_decode(SOURCE, 4))
    )


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"cell": "rnn"}, "cell='rnn'"),
        ({"cell": "lstm", "cell_options": {"variant": "XYZ"}}, "variant='XYZ'"),
        ({"cell": "gru", "cell_options": {"variant": "CIFG"}}, "Unrecognized keyword.*'variant'"),
        ({"cell_options": "CIFG"}, "cell_options='CIFG'"),
        ({"units": 0}, "units=0"),
        ({"embedding_dim": 2.5}, "embedding_dim=2.5"),
        ({"encoder_layers": 0}, "encoder_layers=0"),
        ({"bidirectional_encoder": "yes"}, "bidirectional_encoder='yes'"),
        ({"bidirectional_encoder": True, "units": 9}, "must be even.*units=9"),
        ({"attention": "general"}, "attention='general'"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"cell": "original_lstm", "cell_options": {"block_size": 3}}, "units=8, block_size=3"),
        ({"cell": "gru", "cell_options": {"block_size": 2}}, "Unrecognized keyword.*'block_size'"),
        ({"start_id": 0}, "start_id=0"),
        ({"end_id": TARGET_VOCAB}, f"end_id={TARGET_VOCAB}"),
        ({"start_id": 3, "end_id": 3}, "start_id=3, end_id=3"),
    ],
)
def test_bad_arguments_are_named(kwargs, received):
    options = dict(units=8, embedding_dim=6)
    options.update(kwargs)
    with pytest.raises(ValueError, match=received):
        Translator(SOURCE_VOCAB, TARGET_VOCAB, **options)


@pytest.mark.parametrize(
    "method, kwargs, received",
    [
        ("greedy_decode", {"max_length": 0}, "max_length=0"),
        ("beam_search", {"beam_width": 0}, "beam_width=0"),
        ("beam_search", {"beam_width": TARGET_VOCAB - 1},
         f"beam_width={TARGET_VOCAB - 1}"),
        ("beam_search", {"length_penalty": -0.5}, "length_penalty=-0.5"),
        ("beam_search", {"max_length": 2.0}, "max_length=2.0"),
    ],
)
def test_bad_decoding_arguments_are_named(method, kwargs, received):
    model = tiny()
    with pytest.raises(ValueError, match=received):
        getattr(model, method)(SOURCE, **kwargs)


def assert_valid(ids, max_length):
    """[end] then only padding; never padding or [start] before [end]."""
    ids = numpy(ids)
    assert ids.shape[1] == max_length and ids.dtype == np.int32
    for row in ids:
        ends = np.flatnonzero(row == END_ID)
        stop = ends[0] + 1 if len(ends) else max_length
        assert np.all(row[stop:] == PAD_ID)
        assert np.all(row[:stop] != PAD_ID) and np.all(row[:stop] != START_ID)
        assert np.all((row[:stop] > 0) & (row[:stop] < TARGET_VOCAB))


@pytest.mark.parametrize("name", ["gru-additive-bi", "original-additive-2"])
def test_beam_of_width_one_is_greedy(name):
    model = tiny(name)
    greedy, greedy_scores = model.greedy_decode(
        SOURCE, max_length=6, return_scores=True
    )
    beam, beam_scores = model.beam_search(
        SOURCE, beam_width=1, max_length=6, length_penalty=1.0,
        return_scores=True,
    )
    np.testing.assert_array_equal(numpy(beam), numpy(greedy))
    np.testing.assert_allclose(numpy(beam_scores), numpy(greedy_scores), atol=1e-5)
    assert_valid(greedy, 6)


def reversal_pairs(count=48, symbols=8, seed=0, max_length=6):
    """Sources of 3-5 symbols; the target is the source reversed, then [end]."""
    rng = np.random.default_rng(seed)
    source = np.zeros((count, 5), "int32")
    target_out = np.zeros((count, max_length), "int32")
    for row in range(count):
        length = rng.integers(3, 6)
        tokens = rng.integers(4, 4 + symbols, size=length)
        source[row, :length] = tokens
        target_out[row, :length] = tokens[::-1]
        target_out[row, length] = END_ID
    target_in = np.concatenate(
        [np.full((count, 1), START_ID, "int32"), target_out[:, :-1]], axis=1
    )
    return source, target_in, target_out


@pytest.fixture(scope="module")
def trained():
    """A GRU translator taught to reverse 48 sequences by teacher forcing."""
    keras.utils.set_random_seed(1337)
    source, target_in, target_out = reversal_pairs()
    model = Translator(
        SOURCE_VOCAB, TARGET_VOCAB, cell="gru", units=16, embedding_dim=16
    )
    model.compile(keras.optimizers.Adam(0.02), translation_loss())
    history = model.fit(
        {"source_ids": source, "target_in_ids": target_in},
        target_out, batch_size=16, epochs=40, verbose=0,
    )
    return model, history.history["loss"], (source, target_out)


def test_teacher_forcing_learns_to_reverse(trained):
    model, losses, (source, target_out) = trained
    assert losses[-1] < 0.1 * losses[0]
    greedy = numpy(model.greedy_decode(source, max_length=6))
    assert np.mean(np.all(greedy == target_out, axis=1)) >= 0.75


def test_beam_search_is_valid_and_at_least_as_probable_as_greedy(trained):
    model, _, (source, target_out) = trained
    greedy, greedy_scores = model.greedy_decode(
        source, max_length=6, return_scores=True
    )
    beam, beam_scores = model.beam_search(
        source, beam_width=4, max_length=6, return_scores=True
    )
    assert_valid(beam, 6)
    # Its score is the log-probability of the sequence it returns...
    np.testing.assert_allclose(
        numpy(beam_scores),
        numpy(model.sequence_log_probability(source, beam)),
        rtol=1e-5, atol=1e-4,
    )
    # ...and no worse than greedy's for any source.
    assert np.all(numpy(beam_scores) >= numpy(greedy_scores) - 1e-4)
    assert np.mean(np.all(numpy(beam) == target_out, axis=1)) >= 0.75


def test_length_penalty_favours_longer_translations():
    # Constant output logits: token 4 is a little likelier than [end] at
    # every step, whatever the source. Greedy never stops; the most
    # probable sequence is [end] alone, and longer sentences gain rank as
    # the length penalty α grows.
    model = tiny("gru-dot")
    bias = np.full((TARGET_VOCAB,), -5.0, "float32")
    bias[4], bias[END_ID] = 0.0, -0.1
    kernel = model.output_projection.kernel
    kernel.assign(np.zeros(kernel.shape, "float32"))
    model.output_projection.bias.assign(bias)

    greedy, greedy_scores = model.greedy_decode(
        SOURCE, max_length=6, return_scores=True
    )
    assert np.all(numpy(greedy) == 4)

    def decode(alpha):
        ids, scores = model.beam_search(
            SOURCE, 4, 6, length_penalty=alpha, return_scores=True
        )
        assert_valid(ids, 6)
        return (numpy(ids) != PAD_ID).sum(axis=1), numpy(scores)

    (plain, plain_scores), (mild, _), (strong, _) = map(decode, (0.0, 1.0, 5.0))
    assert np.all(plain == 1)  # [end] alone
    assert np.all(plain_scores > numpy(greedy_scores))
    # The penalty only re-ranks the same hypotheses, and a larger α never
    # picks a shorter one.
    assert np.all(plain <= mild) and np.all(mild <= strong)
    assert np.all(strong >= 3)


@pytest.mark.tensorflow_only
def test_decoding_traces_once_for_any_batch_size():
    import tensorflow as tf

    model = tiny("lstm-cifg-additive")
    spec = [tf.TensorSpec((None, None), tf.int32)]
    greedy = tf.function(
        lambda ids: model.greedy_decode(ids, max_length=5), input_signature=spec
    )
    beam = tf.function(
        lambda ids: model.beam_search(ids, beam_width=3, max_length=5),
        input_signature=spec,
    )
    for source in (SOURCE, SOURCE[:1, :2], np.tile(SOURCE, (3, 2))):
        np.testing.assert_array_equal(
            greedy(source).numpy(), numpy(model.greedy_decode(source, 5))
        )
        np.testing.assert_array_equal(
            beam(source).numpy(), numpy(model.beam_search(source, 3, 5))
        )
        assert beam(source).shape == (len(source), 5)
    assert greedy.experimental_get_tracing_count() == 1
    assert beam.experimental_get_tracing_count() == 1


# --- Strings (TensorFlow) ----------------------------------------------------

# A word-for-word "Spanish" -> English lexicon with Spanish punctuation.
LEXICON = {
    "yo": "i", "tú": "you", "como": "eat", "veo": "see", "pan": "bread",
    "agua": "water", "él": "he", "ella": "she",
}


def sentence_pairs(count=40, seed=0):
    rng = np.random.default_rng(seed)
    words = sorted(LEXICON)
    pairs = []
    for _ in range(count):
        chosen = list(rng.choice(words, size=rng.integers(2, 4)))
        spanish = " ".join(chosen)
        english = " ".join(LEXICON[w] for w in chosen)
        if rng.random() < 0.5:
            pairs.append((f"¿{spanish.capitalize()}?", f"{english.capitalize()}?"))
        else:
            pairs.append((f"{spanish.capitalize()}.", f"{english.capitalize()}."))
    return pairs


@pytest.mark.tensorflow_only
def test_standardization_splits_sentence_punctuation():
    texts = ["¿DÓNDE  está, \"Tom\"?", "¡No lo SÉ!", "Don’t stop… (now)"]
    result = [t.decode() for t in translator_preprocessor.standardize_text(texts).numpy()]
    assert result == [
        "¿ dónde está , tom ?", "¡ no lo sé !", "don't stop now",
    ]


@pytest.mark.tensorflow_only
def test_vectorizers_layout_and_round_trip():
    pairs = sentence_pairs()
    vectorizers = TranslationVectorizers(
        source_vocab_size=30, target_vocab_size=30, sequence_length=7
    )
    vectorizers.adapt(pairs)
    target_vocabulary = vectorizers.target_vocabulary
    assert target_vocabulary[:4] == ["", "[UNK]", "[start]", "[end]"]
    assert "¿" in vectorizers.source_vocabulary
    assert "?" in target_vocabulary and "¿" not in target_vocabulary

    inputs, target_out = vectorizers.teacher_forcing_inputs(
        ["¿Yo como pan?", "Él ve agua."], ["I eat bread?", "He sees water."]
    )
    source_ids = inputs["source_ids"].numpy()
    target_in = inputs["target_in_ids"].numpy()
    target_out = target_out.numpy()
    assert source_ids.shape == target_in.shape == target_out.shape == (2, 7)
    assert source_ids.dtype == target_in.dtype == np.int32
    # target_in is [start] then target_out shifted right.
    assert np.all(target_in[:, 0] == START_ID)
    np.testing.assert_array_equal(target_in[:, 1:], target_out[:, :-1])
    assert list(target_out[0, :5]) == [
        target_vocabulary.index(t) for t in ("i", "eat", "bread", "?", "[end]")
    ]
    # Unknown words ("ve", "sees") are [UNK], id 1.
    assert source_ids[1, 1] == 1 and target_out[1, 1] == 1
    text = vectorizers.detokenize(target_out).numpy()
    assert [t.decode() for t in text] == ["i eat bread?", "he [UNK] water."]
    # Everything after the first [end] is dropped, [start] too.
    noisy = np.array([[START_ID, target_out[0, 0], END_ID, target_out[0, 1]]])
    assert vectorizers.detokenize(noisy).numpy()[0].decode() == "i"

    clone = TranslationVectorizers.from_config(vectorizers.get_config())
    assert clone.target_vocabulary == target_vocabulary
    np.testing.assert_array_equal(
        clone.vectorize_source(["¿Yo como pan?"]).numpy(), source_ids[:1]
    )


@pytest.mark.tensorflow_only
@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"target_vocab_size": 3}, "target_vocab_size=3"),
        ({"sequence_length": 0}, "sequence_length=0"),
        ({"source_vocab_size": "big"}, "source_vocab_size='big'"),
        ({"target_vocabulary": ["a", "[start]"]}, r"target_vocabulary=\['a'"),
    ],
)
def test_bad_vectorizer_arguments_are_named(kwargs, received):
    with pytest.raises(ValueError, match=received):
        TranslationVectorizers(**kwargs)
    with pytest.raises(ValueError, match="pairs=\\[\\]"):
        TranslationVectorizers().adapt([])


@pytest.fixture(scope="module")
def string_translator():
    """Vectorizers and an LSTM translator trained on generated sentences."""
    keras.utils.set_random_seed(1337)
    pairs = sentence_pairs(48)
    vectorizers = TranslationVectorizers(sequence_length=7)
    vectorizers.adapt(pairs)
    model = Translator(
        len(vectorizers.source_vocabulary), len(vectorizers.target_vocabulary),
        cell="lstm", units=16, embedding_dim=8, attention="additive",
    )
    model.compile(keras.optimizers.Adam(0.02), translation_loss())
    dataset = vectorizers.make_dataset(pairs, batch_size=16, shuffle=True, seed=0)
    history = model.fit(dataset, epochs=40, verbose=0, shuffle=False)
    return model, vectorizers, pairs, history.history["loss"]


@pytest.mark.tensorflow_only
def test_strings_to_translations_end_to_end(string_translator):
    model, vectorizers, pairs, losses = string_translator
    assert losses[-1] < 0.1 * losses[0]
    sources = [source for source, _ in pairs]
    references = [target for _, target in pairs]
    hypotheses = translate(model, vectorizers, sources)
    assert corpus_bleu(hypotheses, references) > 80
    beam = translate(model, vectorizers, sources, beam_width=3)
    assert corpus_bleu(beam, references) > 80
    # Questions come out as questions.
    questions = [h for h, s in zip(hypotheses, sources) if s.startswith("¿")]
    assert np.mean([h.endswith("?") for h in questions]) > 0.8


@pytest.mark.tensorflow_only
def test_export_translates_raw_strings_with_core_ops_only(
    string_translator, tmp_path
):
    import tensorflow as tf

    from training.graph_ops import non_core_ops, saved_model_ops

    model, vectorizers, pairs, _ = string_translator
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(vectorizers)
    spec = [tf.TensorSpec((None,), tf.string)]
    archive.add_endpoint(
        "greedy",
        lambda texts: vectorizers.detokenize(
            model.greedy_decode(vectorizers.vectorize_source(texts), 7)
        ),
        input_signature=spec,
    )
    archive.add_endpoint(
        "beam",
        lambda texts: vectorizers.detokenize(
            model.beam_search(vectorizers.vectorize_source(texts), 3, 7)
        ),
        input_signature=spec,
    )
    archive.write_out(str(tmp_path / "1"), verbose=False)
    assert non_core_ops(saved_model_ops(tmp_path / "1")) == []
    served = tf.saved_model.load(str(tmp_path / "1"))
    sources = [source for source, _ in pairs[:10]]
    texts = tf.constant(sources)
    assert [t.decode() for t in served.greedy(texts).numpy()] == translate(
        model, vectorizers, sources
    )
    assert [t.decode() for t in served.beam(texts).numpy()] == translate(
        model, vectorizers, sources, beam_width=3
    )


@pytest.mark.tensorflow_only
def test_a_string_translator_refuses_a_beam_wider_than_its_vocabulary():
    from zoo.models.translator_preprocessor import StringTranslator

    model = tiny()
    assert model.max_beam_width == TARGET_VOCAB - 2
    assert StringTranslator(TranslationVectorizers(), model, TARGET_VOCAB - 2).beam_width == 12
    with pytest.raises(ValueError, match=(
            f"`beam_width` must be at most {TARGET_VOCAB - 2} \\(the translator's "
            f"{TARGET_VOCAB} target tokens less padding and \\[start\\]\\). "
            f"Received: beam_width={TARGET_VOCAB - 1}")):
        StringTranslator(TranslationVectorizers(), model, TARGET_VOCAB - 1)


@pytest.mark.tensorflow_only
def test_a_served_beam_width_out_of_range_is_a_400_naming_it(tmp_path):
    """In a SavedModel, `checked_beam_width` fails a request with
    INVALID_ARGUMENT (HTTP 400) and a message naming the limit and value."""
    import tensorflow as tf

    from serving.servable import Servable
    from zoo.models.translator_preprocessor import checked_beam_width

    class Served(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text"),
                                      tf.TensorSpec([], tf.int32, name="beam_width")])
        def serve(self, text, beam_width):
            width = checked_beam_width(beam_width, 8)
            return {"translation": tf.strings.join([text, tf.strings.as_string(width)], " ")}

    served = Served()
    tf.saved_model.save(served, str(tmp_path / "1"), signatures={"serving_default": served.serve})
    servable = Servable(tmp_path / "1")
    signature = servable.signature_defs["serving_default"]
    text = np.array([b"hola"])
    assert servable.run(signature, {"text": text, "beam_width": np.int32(8)})[
        "translation"].tolist() == [b"hola 8"]
    for width in (9, 0, -3):
        with pytest.raises(Exception) as raised:
            servable.run(signature, {"text": text, "beam_width": np.int32(width)})
        assert raised.value.http_status == 400
        assert raised.value.message.startswith(
            f"assertion failed: [beam_width must be between 1 and 8 (the beam widths this "
            f"model serves). Received: beam_width={width}]")
    with pytest.raises(ValueError, match="most=0"):
        checked_beam_width(tf.constant(1), 0)


@pytest.mark.tensorflow_only
def test_docstring_examples_run():
    from zoo.data import translation

    results = run_docstring_examples(
        [translator, translator_preprocessor, translation_metrics, translation]
    )
    assert results.attempted >= 15
    assert results.failed == 0


# --- Metrics -----------------------------------------------------------------


def test_one_reference_scores_every_pair_and_all_references_every_source():
    from zoo.models.translation_metrics import protocol_scores

    hypotheses = ["go.", "i see it."]
    references = [["Go.", "Leave.", "Get out."], ["I see it."]]
    scores = protocol_scores(hypotheses, references)
    # All references: "go." matches one of its three, so both are exact.
    assert scores["bleu_all_refs"] == pytest.approx(100.0)
    # One reference: "go." is scored three times, right once.
    pairs = (["go.", "go.", "go.", "i see it."], ["Go.", "Leave.", "Get out.", "I see it."])
    assert scores["bleu_one_ref"] == pytest.approx(corpus_bleu(*pairs))
    assert scores["chrf_one_ref"] == pytest.approx(corpus_chrf(*pairs))
    assert scores["bleu_one_ref"] < 90.0
    with pytest.raises(ValueError, match="one entry per sentence"):
        protocol_scores(["go."], [["Go."], ["Hi."]])


def test_bleu_and_chrf_of_identical_and_garbage_output():
    references = ["¿Dónde está el gato?", "Tom is here.", "I don't know it."]
    lowered = [r.lower() for r in references]
    assert corpus_bleu(lowered, references) == pytest.approx(100.0)
    assert corpus_chrf(lowered, references) == pytest.approx(100.0)
    garbage = ["zebra quantum", "xylophone", "purple monkey dishwasher"]
    assert corpus_bleu(garbage, references) < 5.0
    assert corpus_chrf(garbage, references) < 20.0
    # Half right is in between.
    partial = ["¿dónde está el perro?", "tom is there.", "i know it."]
    assert 5.0 < corpus_bleu(partial, references) < 90.0


def test_every_reference_of_a_source_counts():
    references = [
        ["Tom went to the old station.", "Tom left for the old station."],
        ["Mary is reading a long book."],
    ]
    hypotheses = ["tom left for the old station.", "mary is reading a long book."]
    assert corpus_bleu(hypotheses, references) == pytest.approx(100.0)
    assert corpus_chrf(hypotheses, references) == pytest.approx(100.0)
    first_only = [[refs[0]] for refs in references]
    assert corpus_bleu(hypotheses, first_only) < 80.0
    assert corpus_chrf(hypotheses, first_only) < 95.0


def test_metric_arguments_are_checked():
    with pytest.raises(ValueError, match="2 hypotheses, 1 references"):
        corpus_bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one reference"):
        corpus_chrf(["a"], [[]])


@pytest.mark.parametrize("cell", ["min_gru", "mlstm", "slstm"])
def test_catalogued_cells_translate_step_by_step_as_teacher_forced(cell):
    # Teacher forcing runs the decoder layer (the parallel form for
    # min_gru and mlstm); decoding steps its cell (the recurrent form).
    model = Translator(SOURCE_VOCAB, TARGET_VOCAB, cell=cell, units=8, embedding_dim=6)
    ids, scores = model.greedy_decode(SOURCE, max_length=5, return_scores=True)
    np.testing.assert_allclose(
        numpy(scores), numpy(model.sequence_log_probability(SOURCE, ids)), rtol=1e-5, atol=1e-4
    )


def test_a_cell_whose_state_cannot_be_split_refuses_a_bidirectional_encoder():
    with pytest.raises(ValueError, match="Cell 'mlstm' cannot start the decoder.*bidirectional_encoder=False"):
        Translator(SOURCE_VOCAB, TARGET_VOCAB, cell="mlstm", units=8, bidirectional_encoder=True)


def test_label_smoothing_mixes_the_uniform_cross_entropy_and_ignores_padding():
    logits = np.array([[[2.0, 0.0, 0.0, 1.0], [0.5, 0.5, 3.0, 0.0], [9.0, 9.0, 9.0, 9.0]]],
                      "float32")
    targets = np.array([[1, 2, 0]])  # the last position is padding
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.array([log_p[0, 0, 1], log_p[0, 1, 2]])
    uniform = -log_p[0, :2].mean(-1)
    expected = np.mean(0.9 * nll + 0.1 * uniform)
    smoothed = translation_loss(0.1)
    assert float(smoothed(targets, logits)) == pytest.approx(expected, rel=1e-5)
    # With ε = 0 it is the plain loss, padding ignored the same way.
    plain = translation_loss()
    assert float(plain(targets, logits)) == pytest.approx(nll.mean(), rel=1e-5)
    assert float(translation_loss(1e-12)(targets, logits)) == pytest.approx(nll.mean(), rel=1e-5)
    # The loss round-trips through a .keras file's compile config.
    restored = keras.losses.deserialize(keras.losses.serialize(smoothed))
    assert restored.label_smoothing == pytest.approx(0.1)


@pytest.mark.parametrize("value", [-0.1, 1.0, True, "0.1"])
def test_a_bad_label_smoothing_is_named(value):
    with pytest.raises(ValueError, match=f"Received: label_smoothing={value!r}"):
        translation_loss(value)
