"""The scoring behind `python -m training.evaluate` (its command line and
what it scores are in `training/evaluate.py`): a run's `model.keras` or a
SavedModel's `serving_default` on a data file's validation split or all of it.
"""

import pathlib

import keras
import numpy as np

from training.callbacks import RunStateError, read_json
from training.config import ConfigError, apply_overrides
from training.evaluate import DEFAULT_SPLIT, SPLITS
from training.tasks import classification, language_model, translation
from zoo.data.translation import group_by_source
from zoo.models.translation_metrics import protocol_scores
from zoo.models.translator_preprocessor import translate
from zoo.data.download import DataUnavailableError
from zoo.data.errors import DataFormatError
from zoo.data.split import check_fraction


def saved_model_scores(path):
    """A function texts -> (scores, class names) over a SavedModel."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures.get("serving_default")
    outputs = set(serve.structured_outputs) if serve is not None else set()
    if serve is None or not {"scores", "classes"} <= outputs:
        raise ValueError(
            f"{path}: expected a classifier SavedModel whose serving_default "
            f"returns 'scores' and 'classes'; got {sorted(outputs)}"
        )

    def predict(texts):
        scores, names = [], None
        for start in range(0, len(texts), 512):
            result = serve(text=tf.constant(texts[start:start + 512]))
            scores.append(result["scores"].numpy())
            names = [n.decode() for n in result["classes"].numpy()[0]]
        return np.concatenate(scores), names

    return predict




def examples(task, config, data_path, split):
    """The file's examples, or only its validation part under `config`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}. Received: {split!r}")
    if split == "validation":
        check_fraction(config["data"]["validation_fraction"], name="data.validation_fraction")
        return task.load_data(config, data_path)[1]
    return task.load_file(config, data_path)


def split_of(config, data_path, split):
    """What was scored, for the metrics: the split, the file and the rule."""
    data = data_path or config["data"].get("path")
    described = {"split": split, "data": None if data is None else str(data)}
    if split == "validation":
        described["validation_fraction"] = config["data"]["validation_fraction"]
        described["split_seed"] = config["data"]["split_seed"]
    return described


def evaluate(target, data_path, overrides=(), split=DEFAULT_SPLIT):
    """The metrics of `target` on `data_path`'s `split`, with `split_of`'s
    description of what was scored."""
    metrics, config = _evaluate(pathlib.Path(target), data_path, overrides, split)
    return {**metrics, **split_of(config, data_path, split)}


def _evaluate(target, data_path, overrides, split):
    if (target / "saved_model.pb").exists():
        config = apply_overrides(classification.DEFAULTS, overrides)
        data = examples(classification, config, data_path, split)
        scores, names = saved_model_scores(target)(data.texts)
        order = [names.index(n) if n in names else None for n in data.class_names]
        if None in order:
            raise ValueError(
                f"{target} predicts classes {names}; the data has {list(data.class_names)}"
            )
        # Columns in the data's class order.
        predictions = np.argmax(scores[:, order], axis=-1)
    elif (target / "config.json").exists():
        config = apply_overrides(read_json(target / "config.json"), overrides)
        if not (target / "model.keras").exists():
            raise FileNotFoundError(
                f"{target} has no model.keras: the run has not finished. Finish it with "
                f"python -m training.train ENTRY --out {target} --resume"
            )
        if config["task"] == "translation":
            pairs = examples(translation, config, data_path, split)
            return evaluate_translator(target, pairs, config["evaluation"]), config
        if config["task"] == "language_model":
            text = examples(language_model, config, data_path, split)
            model = keras.saving.load_model(target / "model.keras", compile=False)
            window = config["training"]["sequence_length"]
            return language_model.text_metrics(
                model.language_model, model.tokenizer, text, window), config
        data = examples(classification, config, data_path, split)
        model = keras.saving.load_model(target / "model.keras")
        scores = model.predict(np.array(data.texts, dtype=object), batch_size=512, verbose=0)
        predictions = scores.argmax(-1)
    else:
        raise FileNotFoundError(
            f"{target} is neither a run directory (config.json) nor a SavedModel "
            f"(saved_model.pb)"
        )
    metrics = classification.classification_metrics(data.labels, predictions, data.class_names)
    return metrics, config


def evaluate_translator(run_dir, pairs, evaluation):
    """BLEU and chrF of a translation run's `model.keras` on `(source, target)`
    pairs: greedy and with the beam of `evaluation` (the run's config
    section, `--set evaluation.beam_width=8` and `evaluation.length_penalty`
    overriding it), each under both protocols (one reference per pair, all
    references per source; `protocol_scores`)."""
    sources, references = group_by_source(pairs)
    model = keras.saving.load_model(run_dir / "model.keras")
    width, penalty = evaluation["beam_width"], evaluation["length_penalty"]
    metrics = {"sentences": len(sources), "pairs": sum(map(len, references)),
               "beam_width": width, "length_penalty": penalty}
    for name, beam in (("greedy", 1), ("beam", width)):
        hypotheses = []
        for start in range(0, len(sources), 256):
            hypotheses += translate(model.translator, model.vectorizers,
                                    sources[start:start + 256], beam_width=beam,
                                    length_penalty=penalty)
        for key, value in protocol_scores(hypotheses, references).items():
            metric, protocol = key.split("_", 1)
            metrics[f"{metric}_{name}_{protocol}"] = value
    metrics["bleu"], metrics["chrf"] = metrics["bleu_beam_one_ref"], metrics["chrf_beam_one_ref"]
    return metrics


def scored(metrics):
    """Which examples were scored, in words."""
    data = metrics.get("data") or "the task's standard data set"
    if metrics["split"] == "validation":
        return (f"the validation split of {data}, data.validation_fraction "
                f"{metrics['validation_fraction']}, data.split_seed {metrics['split_seed']}")
    return f"all of {data}, training rows included"


def report(metrics):
    if "perplexity" in metrics:
        unit = "char" if metrics["level"] == "char" else "token"
        return (f"loss {metrics['loss']:.4f} nats/{unit}   {metrics['bits_per_token']:.4f} "
                f"bits/{unit}   perplexity {metrics['perplexity']:.2f}   windows of 64: "
                f"{metrics['loss_windows_64']:.4f}   ({metrics['tokens']} tokens of "
                f"{scored(metrics)})")
    if "bleu" in metrics:
        lines = [f"{'':<30}{'BLEU':>8}{'chrF':>8}"]
        beam = f"beam {metrics['beam_width']}, α {metrics['length_penalty']:g}"
        for name, decoder in (("greedy", "greedy"), ("beam", beam)):
            for protocol, words in (("one_ref", "one reference"), ("all_refs", "all references")):
                lines.append(f"{decoder + ', ' + words:<30}"
                             f"{metrics[f'bleu_{name}_{protocol}']:>8.2f}"
                             f"{metrics[f'chrf_{name}_{protocol}']:>8.2f}")
        lines.append(f"({metrics['pairs']} pairs, {metrics['sentences']} distinct source "
                     f"sentences, of {scored(metrics)}; one reference: each pair on its own; "
                     f"all references: each source against all its targets)")
        return "\n".join(lines)
    lines = [f"accuracy {metrics['accuracy']:.4f}   macro F1 {metrics['macro_f1']:.4f}   "
             f"({metrics['examples']} examples: {scored(metrics)})",
             f"{'class':<20} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}"]
    for name, c in metrics["per_class"].items():
        lines.append(f"{name:<20} {c['precision']:>9.4f} {c['recall']:>7.4f} "
                     f"{c['f1']:>7.4f} {c['support']:>8}")
    return "\n".join(lines)


# What a user's command or files got wrong: one line and exit status 2.
USER_ERRORS = (ConfigError, DataFormatError, DataUnavailableError, FileNotFoundError,
               RunStateError, ValueError)
