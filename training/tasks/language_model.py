"""Language modelling as a training task: a text file read as one stream.

Turns a resolved config into a tokenizer (characters or words), the
stream's ids, a compiled `zoo.models.LanguageModel` trained with teacher
forcing on windows of `training.sequence_length` tokens, and the validation
loss in nats per token, bits per token and perplexity; `train.py` drives it.

Two ways to cut the training stream into batches, by `training.stateful`:

- true (char-rnn, AWD-LSTM): the stream is laid out as `batch_size` rows,
  each a contiguous stretch of it, and batch j holds window j of every row;
  the layers are stateful, so row b's state runs on from one window to the
  next (truncated backpropagation through time), and is zeroed at the start
  of each epoch and of each validation pass.
- false (nanoGPT): the stream is cut into windows, shuffled; every window
  starts from the zero state.

Every epoch cuts its windows from its own offset into the stream (drawn
from the seed and the epoch number), so windows straddle new boundaries
each epoch and a resumed run sees the batches an unbroken run would.
"""

import json
import math

import keras
import numpy as np
import tensorflow as tf

from training.config import ConfigError
from training.defaults import TASK_DEFAULTS
from training.optimizer import make_optimizer
from training.tasks.pretrained import INHERITED, load_language_model, take_sizes
from training.tasks.task_run import TaskRun
from zoo.data.classification import default_sarcasm_path, load_sarcasm, split_labeled_texts
from zoo.data.language import load_text, split_text
from zoo.data.translation import load_translation_pairs
from zoo.models.language_model import LanguageModel
from zoo.models.language_model_preprocessor import LanguageModelTokenizer, TextLanguageModel

# The task's config with its default values: plain data in training/defaults.py,
# which the commands check configs against before TensorFlow is imported.
DEFAULTS = TASK_DEFAULTS["language_model"]

VOCABULARY_FILE = "vocabulary.json"
# nanoGPT's context in its shakespeare_char CPU run, whose validation loss
# averages every position of windows of 64 characters read from scratch.
NANOGPT_CONTEXT = 64


FORMATS = ("text", "sarcasm")


def load_file(config, path=None):
    """The whole text a config reads (`--split all` of `training.evaluate`)."""
    return "".join(load_data(config, path))


def load_data(config, data_path=None):
    """`(train, validation)` texts.

    "text": the file, its tail held out. "sarcasm": the headlines of the
    sarcasm file, one per line, split as the text classifier splits them
    (`split_labeled_texts` with the same `validation_fraction` and
    `split_seed`), so that no headline a classifier validates on is in
    the language model's training text.
    """
    data = config["data"]
    path = data_path or data["path"]
    if data["format"] == "sarcasm":
        headlines = load_sarcasm(path or default_sarcasm_path())
        train, validation = split_labeled_texts(
            headlines, data["validation_fraction"], data["split_seed"])
        train, validation = ("".join(f"{text}\n" for text in part.texts)
                             for part in (train, validation))
    elif data["format"] == "text":
        train, validation = split_text(load_text(path), data["validation_fraction"])
    else:
        raise ConfigError(f"data.format must be one of {FORMATS}. Received: {data['format']!r}")
    if data["translation_pairs"]:
        train += english_sentences(data["translation_pairs"])
    return train, validation


def english_sentences(path):
    """The English side of a translation pairs file (`English<TAB>other`),
    each sentence once, one per line: more training text in the language
    of the headlines (the validation text stays the data's own)."""
    pairs = load_translation_pairs(path)
    return "".join(f"{english}\n" for english in dict.fromkeys(t for _, t in pairs))


class ResetStates(keras.callbacks.Callback):
    """Zeroes a stateful model's carried states where a stream starts over:
    each epoch, and each validation pass (which reads its own stream)."""

    def _reset(self, *args):
        self.model.reset_states()

    on_epoch_begin = on_test_begin = on_test_end = _reset


class LanguageModelRun(TaskRun):
    """Everything a training run needs for one language-model config.

    Args:
        config: The resolved config.
        train, validation: The texts.
        saved: A run directory whose vocabulary to reuse (`--resume`).
    """

    DEFAULTS = DEFAULTS
    load_data = staticmethod(load_data)

    def __init__(self, config, train, validation, saved=None):
        super().__init__(config, train, validation)
        pre = config["preprocessing"]
        vocabulary = None
        self.pretrained = None
        if config["model"]["pretrained"]:
            # ULMFiT's second step: a language model trained on other text
            # goes on training here, with its own vocabulary and sizes.
            self.pretrained = load_language_model(config["model"]["pretrained"], pre["level"])
            take_sizes(config, self.pretrained.language_model, INHERITED + ("tie_embeddings",))
            pre["max_tokens"] = self.pretrained.tokenizer.vocabulary_size
            vocabulary = self.pretrained.tokenizer.vocabulary[2:]
        if saved is not None and (saved / VOCABULARY_FILE).exists():
            vocabulary = json.loads((saved / VOCABULARY_FILE).read_text(encoding="utf-8"))[2:]
        self.tokenizer = LanguageModelTokenizer(
            pre["level"], vocabulary=vocabulary, max_tokens=pre["max_tokens"]
        )
        if vocabulary is None:
            self.tokenizer.adapt(train)
        self.train_ids = self.tokenizer.encode(train)
        self.validation_ids = self.tokenizer.encode(validation)
        training = config["training"]
        self.sequence_length = training["sequence_length"]
        if not isinstance(self.sequence_length, int) or self.sequence_length < 2:
            raise ValueError(
                "training.sequence_length must be an integer of at least 2. "
                f"Received: {self.sequence_length!r}"
            )
        self.stateful = training["stateful"]
        batch_size = training["batch_size"]
        for name, ids in (("training", self.train_ids), ("validation", self.validation_ids)):
            if len(ids) < batch_size * (self.sequence_length + 1):
                raise ValueError(
                    f"the {name} text has {len(ids):,} tokens, fewer than one batch of "
                    f"training.batch_size={batch_size} windows of "
                    f"training.sequence_length={self.sequence_length} + 1 tokens: use a "
                    f"larger file, a smaller batch or shorter windows"
                )

    def __len__(self):
        return len(self.train_ids)

    def save_preprocessing(self, run_dir):
        (run_dir / VOCABULARY_FILE).write_text(
            json.dumps(self.tokenizer.vocabulary, ensure_ascii=False), encoding="utf-8"
        )

    def build_model(self):
        training = self.config["training"]
        model = LanguageModel(
            self.tokenizer.vocabulary_size,
            stateful=self.stateful,
            batch_size=training["batch_size"] if self.stateful else None,
            name="language_model",
            **{k: v for k, v in self.config["model"].items() if k != "pretrained"},
        )
        if self.pretrained is not None:
            model.copy_weights_from(self.pretrained.language_model)
        model.compile(
            make_optimizer(training, self.steps_per_epoch(training["batch_size"])),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    def callbacks(self):
        """The reset of carried states as each epoch and validation pass
        begins (a stateful model only)."""
        return [ResetStates()] if self.stateful else []

    # --- Batches -------------------------------------------------------------

    def _epoch_offset(self, epoch):
        """Where epoch `epoch` starts cutting windows: from (seed, epoch) alone."""
        seed = self.config["training"]["seed"]
        return int(np.random.default_rng([seed, epoch]).integers(self.sequence_length))

    def _stream_batches(self, ids, batch_size, offset=0):
        """`(inputs, targets)` tensors `(steps, batch, T)`: row b of batch j
        is window j of the b-th contiguous stretch of the stream."""
        length = self.sequence_length
        rows = (tf.size(ids, tf.int64) - offset) // batch_size
        stretches = tf.reshape(ids[offset:offset + rows * batch_size], (batch_size, -1))
        steps = (rows - 1) // length

        def windows(start):
            part = stretches[:, start:start + steps * length]
            return tf.transpose(tf.reshape(part, (batch_size, -1, length)), (1, 0, 2))

        return windows(0), windows(1)

    def _windows(self, ids, offset=0):
        """`(inputs, targets)` tensors `(n, T)`: the stream's windows from `offset`."""
        length = self.sequence_length
        count = (tf.size(ids, tf.int64) - offset - 1) // length
        return (tf.reshape(ids[offset:offset + count * length], (-1, length)),
                tf.reshape(ids[offset + 1:offset + 1 + count * length], (-1, length)))

    def epoch_batches(self, ids, epoch, offset, batch_size):
        """Epoch `epoch`'s batches of the stream `ids`, `(inputs, targets)`
        of `(steps, batch, T)`, cut from `offset` (TensorFlow ops, so that
        tf.data runs them without Python)."""
        steps = self.steps_per_epoch(batch_size)
        if self.stateful:
            inputs, targets = self._stream_batches(ids, batch_size, offset)
        else:
            inputs, targets = self._windows(ids, offset)
            seed = tf.stack([tf.constant(self.config["training"]["seed"], tf.int64),
                             tf.cast(epoch, tf.int64)])
            order = tf.random.experimental.stateless_shuffle(
                tf.range(tf.shape(inputs, tf.int64)[0]), seed=seed)[:steps * batch_size]
            shape = (steps, batch_size, self.sequence_length)
            inputs = tf.reshape(tf.gather(inputs, order), shape)
            targets = tf.reshape(tf.gather(targets, order), shape)
        return inputs[:steps], targets[:steps]

    def steps_per_epoch(self, batch_size):
        """Batches per epoch: the same for every epoch's offset (the largest
        offset, T - 1, is the one that leaves fewest)."""
        length = self.sequence_length
        usable = len(self.train_ids) - (length - 1)
        if self.stateful:
            return (usable // batch_size - 1) // length
        return ((usable - 1) // length) // batch_size

    def train_dataset(self, batch_size, start_epoch, epochs):
        """Epochs `start_epoch..epochs-1` of batches, each from its own offset."""
        ids = tf.constant(self.train_ids)
        offsets = tf.constant([self._epoch_offset(e) for e in range(epochs)], tf.int64)

        def epoch(index):
            batches = self.epoch_batches(ids, index, offsets[index], batch_size)
            return tf.data.Dataset.from_tensor_slices(batches)

        return tf.data.Dataset.range(start_epoch, epochs).flat_map(epoch).prefetch(
            tf.data.AUTOTUNE)

    def validation_dataset(self, batch_size):
        """The validation stream as the training batches are cut (from 0,
        in order)."""
        ids = tf.constant(self.validation_ids)
        if self.stateful:
            return tf.data.Dataset.from_tensor_slices(self._stream_batches(ids, batch_size))
        inputs, targets = self._windows(ids)
        count = tf.shape(inputs)[0] // batch_size * batch_size
        return tf.data.Dataset.from_tensor_slices(
            (inputs[:count], targets[:count])
        ).batch(batch_size)

    def inference_model(self, core):
        """Text in, text or scores out: the tokenizer and a stateless copy."""
        return TextLanguageModel(self.tokenizer, _stateless(core))

    def evaluate(self, core, text=None):
        """`text_metrics` of the validation text (or `text`), and samples."""
        model = _stateless(core)
        metrics = text_metrics(model, self.tokenizer,
                               self.validation if text is None else text, self.sequence_length)
        generation = self.config["generation"]
        text_model = TextLanguageModel(self.tokenizer, model)
        metrics["samples"] = [
            {"prompt": generation["prompt"], "seed": seed, "text": text_model.generate_text(
                [generation["prompt"]], generation["length"], generation["temperature"],
                generation["top_k"], generation["top_p"], seed=seed)[0]}
            for seed in range(generation["samples"])
        ]
        return metrics


def text_metrics(model, tokenizer, text, window):
    """How well a (stateless) language model predicts `text`.

    - `loss`: nats per token over the whole text read as one stream, in
      windows of `window` tokens with the state carried, so every token is
      predicted from all that precedes it; `bits_per_token` (bits per
      character at character level) and `perplexity` from it.
    - `loss_windows_64`: the mean over windows of 64 tokens, each read from
      the zero state (nanoGPT's `estimate_loss` on its CPU shakespeare_char
      run): less context, a higher figure.
    """
    ids = tokenizer.encode(text)
    loss = stream_loss(model, ids, window)
    windows = ids[:(len(ids) - 1) // NANOGPT_CONTEXT * NANOGPT_CONTEXT + 1]
    return {
        "loss": loss,
        "bits_per_token": loss / math.log(2),
        "perplexity": math.exp(loss),
        "loss_windows_64": window_loss(model, windows, NANOGPT_CONTEXT),
        "tokens": int(len(ids) - 1),
        "level": tokenizer.level,
        "vocabulary_size": tokenizer.vocabulary_size,
    }


def _stateless(core):
    return core.stateless_copy() if core.stateful else core


def stream_loss(model, ids, window):
    """Mean nats per token of `ids` read as one stream, the state carried
    from window to window: every token predicted from all before it."""
    states = model.initial_states(1)
    read = tf.function(lambda x, states: model.read(x, states=states), reduce_retracing=True)
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, window):
        inputs = ids[start:start + window][None, :]
        targets = ids[start + 1:start + window + 1]
        inputs = inputs[:, :len(targets)]
        logits, states = read(tf.constant(inputs), states)
        log_probs = tf.nn.log_softmax(logits[0], axis=-1).numpy()
        total -= float(log_probs[np.arange(len(targets)), targets].sum())
        count += len(targets)
    return total / count


def window_loss(model, ids, window, batch_size=64):
    """Mean nats per token over windows of `window` tokens, each read from
    the zero state."""
    count = (len(ids) - 1) // window
    inputs = ids[:count * window].reshape(count, window)
    targets = ids[1:count * window + 1].reshape(count, window)
    losses = []
    for start in range(0, count, batch_size):
        logits = model.predict_on_batch(inputs[start:start + batch_size])
        losses.append(keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(
            targets[start:start + batch_size], logits, from_logits=True)))
    return float(np.mean(np.concatenate(losses)))
