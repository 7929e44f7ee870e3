"""Raw text in, every gate at every token out: the `gates` signature's function.

`text_gates(model, texts)` takes an end-to-end model as `zoo.pretrained.load`
gives it (a string classifier, a `TextLanguageModel` or a
`StringTranslator`), tokenizes `texts` as the model does, traces every
recurrent layer (`zoo.diagnostics.trace`), and ranks the units by how much
they moved the model's own score (gradient × activation). The result is a
flat dict of tensors, the layout of the exported `gates` signature:

    tokens                      (batch, time) strings, "" after token_count
    token_count                 (batch,) int32
    LAYER/DIRECTION/NAME        (batch, time, width) float32, e.g.
                                "bidirectional_0/forward/i"
    LAYER/DIRECTION/importance  (batch, units) float32, >= 0
    score                       (batch,) float32: the log-probability the
                                importance is the gradient of (the
                                predicted class; the text, for a language
                                model; the translation, for a translator)

A translator adds `target_tokens` and `target_token_count` (its greedy
translation, [end] included) and the layer `decoder`, whose steps are
labelled by the target tokens.

TensorFlow only (string ops and a `tf.GradientTape`), like the
end-to-end models themselves.
"""

import keras
import tensorflow as tf

from zoo.diagnostics.trace import unit_importance
from zoo.models.language_model_preprocessor import TextLanguageModel
from zoo.models.text_classifier import TextClassifier
from zoo.models.text_classifier_preprocessor import words_as_vectorized
from zoo.models.translator_preprocessor import StringTranslator

# Keys of the result that are not a layer's.
TOKENS, TOKEN_COUNT, SCORE = "tokens", "token_count", "score"
TARGET_TOKENS, TARGET_TOKEN_COUNT = "target_tokens", "target_token_count"


def text_gates(model, texts):
    """Every recurrent layer's gates and states for each of `texts`.

    Args:
        model: An end-to-end model: `keras.Model` of strings over a
            `TextClassifier`, `TextLanguageModel` or `StringTranslator`.
        texts: `(batch,)` strings.

    Returns:
        The dict of tensors in the module docstring.
    """
    texts = tf.convert_to_tensor(texts, tf.string)
    if isinstance(model, TextLanguageModel):
        return _language_model_gates(model, texts)
    if isinstance(model, StringTranslator):
        return _translator_gates(model, texts)
    parts = {type(layer): layer for layer in getattr(model, "layers", [])}
    if TextClassifier in parts and keras.layers.TextVectorization in parts:
        return _classifier_gates(parts[keras.layers.TextVectorization], parts[TextClassifier], texts)
    raise ValueError(
        "Argument `model` must be an end-to-end zoo model (a string classifier, "
        "a TextLanguageModel or a StringTranslator, as zoo.pretrained.load gives "
        f"them). Received: {type(model).__name__} {getattr(model, 'name', '')!r}"
    )


def _traced(trace, *inputs):
    """Runs `trace(*inputs)` under a tape; the flat activations, the units'
    importance and the score."""
    with tf.GradientTape() as tape:
        activations, outputs, score = trace(*inputs)
    gradients = tape.gradient(score, outputs)
    result = {SCORE: tf.cast(score, tf.float32)}
    for layer, directions in activations.items():
        for direction, values in directions.items():
            for name, value in values.items():
                result[f"{layer}/{direction}/{name}"] = tf.cast(value, tf.float32)
        importance = unit_importance(
            tf.cast(outputs[layer], tf.float32), tf.cast(gradients[layer], tf.float32),
            list(directions))
        for direction, value in importance.items():
            result[f"{layer}/{direction}/importance"] = value
    return result


def _tokens(strings, ids_mask):
    """Token strings where `ids_mask`, "" elsewhere, and how many."""
    return tf.where(ids_mask, strings, ""), tf.reduce_sum(tf.cast(ids_mask, tf.int32), axis=1)


def _classifier_gates(vectorizer, classifier, texts):
    ids = tf.cast(vectorizer(texts), tf.int32)
    result = _traced(classifier.trace, ids)
    words = words_as_vectorized(vectorizer, texts)
    result[TOKENS], result[TOKEN_COUNT] = _tokens(words, ids != 0)
    return result


def _language_model_gates(model, texts):
    tokens = model.tokenizer.split(texts)
    if model.tokenizer.level == "word":  # as `tokenize` drops them
        tokens = tf.ragged.boolean_mask(tokens, tokens != "")
    ids = model.tokenizer.tokenize(texts)
    # At least one step, padding, so that a batch of empty texts still runs.
    width = tf.maximum(ids.bounding_shape(axis=1), 1)
    mask = tf.sequence_mask(ids.row_lengths(), width)
    dense = ids.to_tensor(shape=tf.stack([tf.shape(texts, out_type=tf.int64)[0], width]))
    result = _traced(model.language_model.trace, dense, mask)
    strings = tokens.to_tensor("", shape=tf.stack([tf.shape(texts, out_type=tf.int64)[0], width]))
    result[TOKENS], result[TOKEN_COUNT] = _tokens(strings, mask)
    return result


def _translator_gates(model, texts):
    vectorizers, translator = model.vectorizers, model.translator
    source_ids = vectorizers.vectorize_source(texts)
    target_ids = translator.greedy_decode(source_ids, max_length=vectorizers.sequence_length)
    result = _traced(translator.trace, source_ids, target_ids)
    source_tokens = vectorizers.source_words(texts)
    result[TOKENS], result[TOKEN_COUNT] = _tokens(source_tokens, source_ids != 0)
    target_tokens = vectorizers.target_tokens(tf.cast(target_ids, tf.int64))
    result[TARGET_TOKENS], result[TARGET_TOKEN_COUNT] = _tokens(target_tokens, target_ids != 0)
    return result
