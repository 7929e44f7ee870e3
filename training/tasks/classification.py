"""Text classification as a training task: sarcasm headlines or a user's CSV/TSV.

The task turns a resolved config into data, a vectorizer, a compiled
`zoo.models.TextClassifier`, tf.data pipelines, and metrics; `train.py`
drives it.
"""

import copy

import numpy as np
import tensorflow as tf

import keras
from training.config import ConfigError
from training.defaults import TASK_DEFAULTS
from training.optimizer import make_optimizer
from training.tasks.epochs import shuffled_epochs
from training.tasks.task_run import TaskRun
from training.tasks.pretrained import load_language_model, take_sizes
from zoo.data.classification import (
    default_sarcasm_path,
    load_sarcasm,
    load_text_table,
    split_labeled_texts,
)
from zoo.data.errors import DataArgumentError
from zoo.models.text_classifier import TextClassifier
from zoo.models.text_classifier_preprocessor import string_classifier, text_vectorizer

# The task's config with its default values: plain data in training/defaults.py,
# which the commands check configs against before TensorFlow is imported.
DEFAULTS = TASK_DEFAULTS["classification"]


VOCABULARY_FILE = "vocabulary.txt"


def load_file(config, path=None):
    """All labelled texts of the configured file (`path` overrides it).

    Prints the loader's one-line summary of what it read (examples, classes
    with counts, how the file was parsed, what was skipped).

    Args:
        config: The resolved config; its `data` section says how to read.
        path: The file, instead of `data.path`.

    Returns:
        `LabeledTexts`.

    Raises:
        ConfigError: A `data` key cannot say how to read the file; names the
            key and the value received.
        DataFormatError: The file is malformed (names file and line).
    """
    data_config = config["data"]
    path = path or data_config["path"]
    if data_config["format"] == "sarcasm":
        data = load_sarcasm(path or default_sarcasm_path())
    elif data_config["format"] == "table":
        if not path:
            raise ConfigError("data.format 'table' needs a file: pass --data PATH")
        try:
            data = load_text_table(
                path,
                text_column=data_config["text_column"],
                label_column=data_config["label_column"],
                delimiter=data_config["delimiter"],
                header=data_config["header"],
                class_names=data_config["class_names"],
                # A run saved before `quoting` existed has no such key.
                quoting=data_config.get("quoting"),
            )
        except DataArgumentError as error:
            # The loader names its argument; the user wrote the config key.
            raise ConfigError(
                f"data.{error.argument} must be {error.expected}. "
                f"Received: {error.value!r}"
            ) from None
    else:
        raise ConfigError(
            f"data.format must be 'sarcasm' or 'table'. Received: {data_config['format']!r}"
        )
    print(data.summary, flush=True)
    return data


def load_data(config, data_path=None):
    """`(train, validation)` `LabeledTexts` from the configured file."""
    data_config = config["data"]
    return split_labeled_texts(
        load_file(config, data_path),
        data_config["validation_fraction"],
        data_config["split_seed"],
    )


class ClassificationRun(TaskRun):
    """Everything a training run needs for one classification config.

    Args:
        config: The resolved config.
        train, validation: `LabeledTexts`.
        saved: A run directory whose vocabulary to reuse (`--resume`); else
            the vectorizer is adapted on `train`.
    """

    DEFAULTS = DEFAULTS
    load_data = staticmethod(load_data)

    def __init__(self, config, train, validation, saved=None):
        super().__init__(config, train, validation)
        self.class_names = list(train.class_names)
        # Saved with the run, so evaluating another file keeps this order
        # and rejects labels the model never saw.
        config["data"]["class_names"] = self.class_names
        pre = config["preprocessing"]
        vocabulary = None
        # Loaded once: its vocabulary and sizes here, its layers in each
        # model built (every ensemble member's too).
        self.pretrained = None
        if config["model"]["pretrained"]:
            self.pretrained = load_language_model(config["model"]["pretrained"], "word")
        if saved is not None and (saved / VOCABULARY_FILE).exists():
            vocabulary = (saved / VOCABULARY_FILE).read_text(encoding="utf-8").split("\n")
        elif self.pretrained is not None:
            vocabulary = pretrained_vocabulary(config, self.pretrained)
        self.vectorizer = text_vectorizer(
            train.texts,
            len(vocabulary) if vocabulary is not None else pre["max_tokens"],
            pre["sequence_length"],
            pre["standardize"],
            # A saved vocabulary starts with padding and [UNK], which the
            # layer adds itself.
            vocabulary=None if vocabulary is None else vocabulary[2:],
        )
        self.train_ids = self._ids(train.texts)
        self.validation_ids = self._ids(validation.texts)

    def _ids(self, texts):
        return np.asarray(self.vectorizer(np.array(texts, dtype=object)))

    @property
    def vocabulary(self):
        return self.vectorizer.get_vocabulary()

    def save_preprocessing(self, run_dir):
        (run_dir / VOCABULARY_FILE).write_text("\n".join(self.vocabulary), encoding="utf-8")

    def member(self, index):
        """This run as ensemble member `index`: one classifier, seed + index
        (its own initialisation and data order), the same vocabulary."""
        member = copy.copy(self)
        member.config = copy.deepcopy(self.config)
        member.config["model"]["ensemble_size"] = 1
        member.config["training"]["seed"] += index
        return member

    def ensemble(self, members):
        """The trained member classifiers as one ensemble classifier."""
        return TextClassifier.from_members(members, name="text_classifier_core")

    def build_model(self):
        """The compiled token-id classifier (call inside a strategy scope)."""
        model_config = self.config["model"]
        model = TextClassifier(
            vocabulary_size=len(self.vocabulary),
            num_classes=len(self.class_names),
            name="text_classifier_core",
            **{k: v for k, v in model_config.items() if k != "pretrained"},
        )
        # Each member's layers of one depth share a group (one classifier:
        # no prefix).
        members = model_config["ensemble_size"]
        prefixes = [""] if members == 1 else [f"member_{k}_" for k in range(members)]
        if self.pretrained is not None:
            copy_pretrained_layers(model, self.pretrained.language_model, prefixes)
        training = self.config["training"]
        # Below the head, from the top down: ULMFiT's layer groups.
        depths = [f"recurrent_{i}" for i in reversed(range(model_config["num_layers"]))]
        model.compile(
            make_optimizer(training, self.steps_per_epoch(training["batch_size"]),
                           layer_groups=[[p + name for p in prefixes]
                                         for name in depths + ["embedding"]]),
            keras.losses.SparseCategoricalCrossentropy(),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
        return model

    def train_dataset(self, batch_size, start_epoch, epochs):
        """Batches of epochs `start_epoch..epochs-1`, each shuffled by its
        own seed, so a resumed run sees the same batches as an unbroken one."""
        ids, labels = self.train_ids, np.asarray(self.train.labels)
        return shuffled_epochs(
            len(labels), self.config["training"]["seed"], start_epoch, epochs,
            lambda order: tf.data.Dataset.from_tensor_slices(
                (tf.gather(ids, order), tf.gather(labels, order))).batch(batch_size))

    def validation_dataset(self, batch_size):
        return tf.data.Dataset.from_tensor_slices(
            (self.validation_ids, np.asarray(self.validation.labels))
        ).batch(batch_size)

    def inference_model(self, core):
        """Raw strings -> class probabilities, for saving and serving."""
        return string_classifier(self.vectorizer, core)

    def evaluate(self, core, data=None):
        """Accuracy and per-class/macro F1 on `data` (default: validation)."""
        data = data or self.validation
        ids = self._ids(data.texts) if data is not self.validation else self.validation_ids
        scores = core.predict(ids, batch_size=256, verbose=0)
        return classification_metrics(
            np.asarray(data.labels), scores.argmax(-1), self.class_names
        )


# --- Fine-tuning a pretrained language model (ULMFiT) -------------------------

LINE_END_ROW = "[LINE END]"


def pretrained_vocabulary(config, model):
    """The vocabulary of `model` (a word-level `TextLanguageModel`), padding
    and [UNK] first, after checking that the classifier can read it and
    taking over its sizes.

    The classifier tokenizes as the language model did (the same
    standardization), so token i is row i of the pretrained embedding.
    """
    if config["preprocessing"]["standardize"] != "lower_and_split_punctuation":
        raise ConfigError(
            "model.pretrained needs preprocessing.standardize: lower_and_split_punctuation "
            "(the language model's tokenization). Received: "
            f"{config['preprocessing']['standardize']!r}")
    if config["model"]["bidirectional"]:
        raise ConfigError("model.pretrained needs model.bidirectional: false (the language "
                          "model read its text forward). Received: true")
    take_sizes(config, model.language_model)
    config["preprocessing"]["max_tokens"] = model.tokenizer.vocabulary_size
    # The line-end token keeps its row under a name no headline tokenizes
    # to (the classifier's standardization lowercases and splits off "["),
    # and vocabulary.txt, one token per line, can hold it.
    return [LINE_END_ROW if token == "\n" else token for token in model.tokenizer.vocabulary]


def copy_pretrained_layers(model, language_model, prefixes=("",)):
    """Copies the embedding and recurrent layers of `language_model` (a
    `LanguageModel`) into `model`, a TextClassifier built with the same
    sizes and vocabulary: into each member's (`prefixes`) of an ensemble.
    The layers have the same names in both."""
    names = ["embedding"] + [layer.name for layer in language_model.recurrent]
    for name in names:
        weights = language_model.get_layer(name).get_weights()
        for prefix in prefixes:
            model.get_layer(prefix + name).set_weights(weights)


def classification_metrics(labels, predictions, class_names):
    """Accuracy, per-class precision/recall/F1, and macro F1."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    per_class = {}
    for index, name in enumerate(class_names):
        true_positive = int(np.sum((predictions == index) & (labels == index)))
        predicted = int(np.sum(predictions == index))
        actual = int(np.sum(labels == index))
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": actual}
    return {
        "accuracy": float(np.mean(labels == predictions)),
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "per_class": per_class,
        "examples": int(len(labels)),
    }
