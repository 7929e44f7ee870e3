"""Translation as a training task: ManyThings/Tatoeba sentence pairs.

Turns a resolved config into pairs, fitted vectorizers, a compiled
`zoo.models.Translator` trained with teacher forcing, tf.data pipelines,
and BLEU/chrF on held-out source sentences; `train.py` drives it.
"""

import numpy as np
import tensorflow as tf

import keras
from training.defaults import TASK_DEFAULTS
from training.optimizer import make_optimizer
from training.tasks.epochs import shuffled_epochs
from training.tasks.task_run import TaskRun
from zoo.data.translation import (
    default_translation_path,
    group_by_source,
    load_translation_pairs,
    split_translation_pairs,
)
from zoo.models.translation_metrics import protocol_scores
from zoo.models.translator import Translator, translation_loss
from zoo.models.translator_preprocessor import (
    StringTranslator,
    TranslationVectorizers,
    translate,
)

# The task's config with its default values: plain data in training/defaults.py,
# which the commands check configs against before TensorFlow is imported.
DEFAULTS = TASK_DEFAULTS["translation"]

VOCABULARY_FILES = ("source_vocabulary.txt", "target_vocabulary.txt")


def load_file(config, path=None):
    data = config["data"]
    return load_translation_pairs(
        path or data["path"] or default_translation_path(),
        source_column=data["source_column"],
        target_column=data["target_column"],
    )


def load_data(config, data_path=None):
    data = config["data"]
    return split_translation_pairs(
        load_file(config, data_path), data["validation_fraction"], data["split_seed"]
    )


class TranslationRun(TaskRun):
    """Everything a training run needs for one translation config.

    Args:
        config: The resolved config.
        train, validation: Lists of `(source, target)` pairs.
        saved: A run directory whose vocabularies to reuse (`--resume`).
    """

    DEFAULTS = DEFAULTS
    load_data = staticmethod(load_data)

    def __init__(self, config, train, validation, saved=None):
        super().__init__(config, list(train), list(validation))
        pre = config["preprocessing"]
        vocabularies = [None, None]
        if saved is not None and all((saved / f).exists() for f in VOCABULARY_FILES):
            # Files hold the whole vocabulary; the layer adds padding and [UNK].
            vocabularies = [
                (saved / f).read_text(encoding="utf-8").split("\n")[2:] for f in VOCABULARY_FILES
            ]
        self.vectorizers = TranslationVectorizers(
            pre["source_vocab_size"],
            pre["target_vocab_size"],
            pre["sequence_length"],
            source_vocabulary=vocabularies[0],
            target_vocabulary=vocabularies[1],
        )
        if vocabularies[0] is None:
            self.vectorizers.adapt(self.train)
        self.train_arrays = self._arrays(self.train)
        self.validation_arrays = self._arrays(self.validation)

    def _arrays(self, pairs):
        inputs, target_out = self.vectorizers.teacher_forcing_inputs(
            [s for s, _ in pairs], [t for _, t in pairs]
        )
        return (
            np.asarray(inputs["source_ids"]),
            np.asarray(inputs["target_in_ids"]),
            np.asarray(target_out),
        )

    def save_preprocessing(self, run_dir):
        for name, vocabulary in zip(
            VOCABULARY_FILES,
            (self.vectorizers.source_vocabulary, self.vectorizers.target_vocabulary),
        ):
            (run_dir / name).write_text("\n".join(vocabulary), encoding="utf-8")

    def check_evaluation(self, target_vocab_size):
        """Raises ValueError naming a bad `evaluation` field, or a bad
        `training.average_checkpoints`: checked before training, as they are
        first used only when it is over."""
        evaluation = self.config["evaluation"]
        width, most = evaluation["beam_width"], target_vocab_size - 2
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(
                f"evaluation.beam_width must be a positive integer. Received: {width!r}")
        if width > most:
            # A step can emit every target token but padding and [start].
            raise ValueError(
                f"evaluation.beam_width must be at most {most} (the target vocabulary's "
                f"{target_vocab_size} tokens less padding and [start]). Received: {width}")
        penalty = evaluation["length_penalty"]
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not penalty >= 0:
            raise ValueError(
                f"evaluation.length_penalty must be a number >= 0. Received: {penalty!r}")
        average = self.config["training"]["average_checkpoints"]
        if isinstance(average, bool) or not isinstance(average, int) or average < 1:
            raise ValueError(
                f"training.average_checkpoints must be a positive integer (1: no "
                f"averaging). Received: {average!r}")
        limit = evaluation["max_sentences"]
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(
                f"evaluation.max_sentences must be a positive integer or null (all). "
                f"Received: {limit!r}")

    def build_model(self):
        self.check_evaluation(len(self.vectorizers.target_vocabulary))
        model = Translator(
            len(self.vectorizers.source_vocabulary),
            len(self.vectorizers.target_vocabulary),
            name="translator",
            **self.config["model"],
        )
        training = self.config["training"]
        model.compile(
            make_optimizer(training, self.steps_per_epoch(training["batch_size"])),
            translation_loss(training["label_smoothing"]),
            # Token accuracy over real target tokens (sample weights mask padding).
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
        return model

    @staticmethod
    def _batches(arrays, order, batch_size):
        source, target_in, target_out = (tf.gather(a, order) for a in arrays)
        weights = tf.cast(target_out != 0, tf.float32)
        return tf.data.Dataset.from_tensor_slices(
            ({"source_ids": source, "target_in_ids": target_in}, target_out, weights)
        ).batch(batch_size)

    def train_dataset(self, batch_size, start_epoch, epochs):
        """Epochs `start_epoch..epochs-1`, each shuffled by its own seed."""
        return shuffled_epochs(
            len(self.train), self.config["training"]["seed"], start_epoch, epochs,
            lambda order: self._batches(self.train_arrays, order, batch_size))

    def validation_dataset(self, batch_size):
        return self._batches(
            self.validation_arrays, tf.range(len(self.validation)), batch_size
        )

    def inference_model(self, core):
        evaluation = self.config["evaluation"]
        return StringTranslator(
            self.vectorizers, core, evaluation["beam_width"], evaluation["length_penalty"]
        )

    def evaluate(self, core, pairs=None):
        """BLEU and chrF (greedy and beam) on held-out source sentences."""
        sources, references = group_by_source(pairs or self.validation)
        evaluation = self.config["evaluation"]
        limit = evaluation["max_sentences"]
        if limit and limit < len(sources):
            # A seeded sample: Tatoeba files run from short to long
            # sentences, so the first ones would flatter the model.
            rng = np.random.default_rng(self.config["data"]["split_seed"])
            chosen = np.sort(rng.choice(len(sources), size=limit, replace=False))
            sources = [sources[i] for i in chosen]
            references = [references[i] for i in chosen]
        metrics = {"sentences": len(sources), "pairs": sum(map(len, references))}
        for name, beam in (("greedy", 1), ("beam", evaluation["beam_width"])):
            hypotheses = []
            for start in range(0, len(sources), 256):
                hypotheses += translate(
                    core, self.vectorizers, sources[start:start + 256], beam_width=beam,
                    length_penalty=evaluation["length_penalty"],
                )
            # bleu_greedy_one_ref, ..., chrf_beam_all_refs: the protocol in the name
            for key, value in protocol_scores(hypotheses, references).items():
                metric, protocol = key.split("_", 1)
                metrics[f"{metric}_{name}_{protocol}"] = value
        metrics["bleu"] = metrics["bleu_beam_one_ref"]
        metrics["examples"] = [
            {"source": s, "translation": h, "references": r}
            for s, h, r in list(zip(sources, hypotheses, references))[:10]
        ]
        return metrics
