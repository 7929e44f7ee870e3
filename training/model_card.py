"""Model cards: the `README.md` beside each exported model.

A card says what the model does, on what data (and its license), how it
is built and trained (the exact command), how well it did on validation
data, how big it is, what it gets wrong, and a table of example inputs
(drawn from the run's validation rows) with the outputs the Keras model
gave at export. The table is a record to check a copy of the files
against (`read_examples`); the tests do so for the shipped models.
"""

import json
import os
import pathlib
import re

import numpy as np

# What the cards say about the data sets the zoo trains on, by file name.
DATA_SETS = {
    "Sarcasm_Headlines_Dataset.json": (
        "News Headlines Dataset for Sarcasm Detection, v1 (Misra & Arora): "
        "headlines from TheOnion (sarcastic) and HuffPost (not sarcastic), "
        "JSON lines. No license is stated upstream; cite Misra & Arora, "
        "\"Sarcasm Detection using News Headlines Dataset\", AI Open 4 (2023)."
    ),
    "tinyshakespeare.txt": (
        "Tiny shakespeare (Karpathy's char-rnn data set, the `input.txt` of nanoGPT's "
        "`shakespeare_char`): 40,000 lines of Shakespeare's plays, public domain; this "
        "copy is its first 90% (1,003,854 characters), the last 10% being held back."
    ),
    "spa.txt": (
        "Tatoeba sentence pairs from manythings.org (`spa.txt`, the 2018-05-13 "
        "file of the Keras English-Spanish tutorial), CC-BY 2.0 France; "
        "attribution to the Tatoeba contributors."
    ),
}

# ManyThings names its pair files by the other language's ISO 639-3 code.
MANYTHINGS_FILE = re.compile(r"[a-z]{3}\.txt")

# Known limits: of the data set (by file name), then of every model of a task.
DATA_LIMITS = {
    "Sarcasm_Headlines_Dataset.json": [
        "Trained on the headlines of two news sites: much of what it learned "
        "is the two sites' topics and style, so sarcasm in other genres, "
        "registers or years is detected far less reliably.",
        "Odd but true news can read as satire to it; see the score of the "
        "frog headline among the examples below.",
        "English only.",
    ],
    "tinyshakespeare.txt": [
        "It writes pastiche of Shakespeare's plays in their layout (a speaker's name, "
        "a colon, verse): modern or other text is outside what it has seen, and its "
        "log-likelihoods there say so.",
        "A character model spells words it makes up; the text has the rhythm of the "
        "plays, not their sense.",
    ],
    "spa.txt": [
        "Trained on short, simple Tatoeba sentences (most under 10 words); "
        "long or technical text translates poorly.",
        "Tatoeba's sentences carry its contributors' biases (e.g. the gender "
        "a translation picks by default).",
    ],
}
TASK_LIMITS = {
    "language_model": [
        "Its vocabulary is the {vocabulary_size:,} tokens of its training text "
        "(padding and [UNK] included); any other {level_name} in a prompt or a "
        "scored text is [UNK].",
        "Validation loss {loss:.3f} nats per {level_name} ({bits_per_token:.3f} bits, "
        "perplexity {perplexity:.2f}), on its validation text; other text scores worse.",
    ],
    "classification": [
        "Text is lowercased and cut to {sequence_length} tokens; words outside "
        "its {vocabulary_size:,}-token vocabulary are all one unknown token.",
        "Validation accuracy {accuracy:.3f}: about one text in {one_in} is "
        "misclassified. The scores are softmax outputs, not checked for "
        "calibration.",
    ],
    "translation": [
        "Output is lowercased, with punctuation re-attached; source and "
        "output are cut to {sequence_length} tokens.",
        "Words outside its vocabularies ({source_vocabulary_size:,} source, "
        "{target_vocabulary_size:,} target tokens) become [UNK]; most names do.",
    ],
}

EXAMPLES_HEADING = "## Example predictions"
# Tokens a language model's card shows after each prompt.
EXAMPLE_LENGTH = 200


def directory_size(path):
    """Bytes in the files under `path` (or of the file `path`)."""
    path = pathlib.Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def megabytes(size):
    return f"{size / 2**20:.1f} MB"


def training_command(run_dir):
    """`(command, run)`: how the run was trained (no `--out`, `--resume`), run.json."""
    run = json.loads((pathlib.Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    args = list(run["command"])
    module = args.index("training.train")
    args = args[module + 1:]
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif arg != "--resume" and not arg.startswith("--out="):
            kept.append(arg)
    return "python -m training.train " + " ".join(_quote(a) for a in kept), run


def run_data_path(run_dir, config):
    """The data file a run trained on: `data.path`, else its command's `--data`.

    None means the task's standard data set (downloaded by the loader).
    """
    path = config.get("data", {}).get("path")
    if path:
        return path
    run_file = pathlib.Path(run_dir) / "run.json"
    if not run_file.exists():
        return None
    return _data_argument(json.loads(run_file.read_text(encoding="utf-8"))["command"])


def shown_path(path):
    """`path` as a card shows it: relative to the working directory when it
    lies beside it (`../shared/data/...`), since the absolute path names
    one machine; else as given."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith(os.path.join("..", "..")) else str(path)


def vocabulary_sizes(config, model):
    """The model's real vocabulary sizes (padding and [UNK] included), by name.

    The config's `max_tokens` is only a ceiling: a small data set has fewer
    distinct words.
    """
    if config["task"] == "translation":
        return {"source_vocabulary_size": len(model.vectorizers.source_vocabulary),
                "target_vocabulary_size": len(model.vectorizers.target_vocabulary)}
    if config["task"] == "language_model":
        return {"vocabulary_size": model.tokenizer.vocabulary_size}
    vectorizer = next(layer for layer in model.layers if hasattr(layer, "vocabulary_size"))
    return {"vocabulary_size": vectorizer.vocabulary_size()}


def _data_argument(command):
    for index, arg in enumerate(command):
        if arg == "--data" and index + 1 < len(command):
            return command[index + 1]
        if arg.startswith("--data="):
            return arg.split("=", 1)[1]
    return None


def _quote(arg):
    return arg if re.fullmatch(r"[\w./=:,+-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"


def _cell(text):
    # Line ends are kept, as the two characters \n (generated text has them).
    return str(text).replace("|", "\\|").replace("\n", "\\n")


def _verbatim(text):
    """A cell whose spaces at either end count: a code span, read back whole."""
    return f"`{text}`"


def _uncell(cell):
    text = cell.strip().replace("\\|", "|").replace("\\n", "\n")
    if len(text) >= 2 and text[0] == text[-1] == "`":
        return text[1:-1]
    return text


def _table(rows):
    lines = ["| " + " | ".join(_cell(c) for c in rows[0]) + " |",
             "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _settings(config):
    rows = [("setting", "value")]
    for section in ("preprocessing", "model", "training", "evaluation"):
        for key, value in sorted(config.get(section, {}).items()):
            rows.append((f"`{section}.{key}`", f"`{json.dumps(value)}`"))
    return _table(rows)


def _metrics(config, metrics, run):
    # Runs written before run.json named the cores were timed on two.
    machine = f"{run.get('cpu_cores', 2)}-core CPU"
    if config["task"] == "classification":
        rows = [("metric", "value"),
                ("accuracy", f"{metrics['accuracy']:.4f}"),
                ("macro F1", f"{metrics['macro_f1']:.4f}")]
        for label, values in metrics.get("per_class", {}).items():
            rows.append((f"`{label}` precision / recall / F1", " / ".join(
                f"{values[k]:.4f}" for k in ("precision", "recall", "f1"))))
        rows.append(("validation examples", str(metrics["examples"])))
    elif config["task"] == "language_model":
        unit = "character" if config["preprocessing"]["level"] == "char" else "word"
        rows = [("metric", "value"),
                (f"loss, nats per {unit} (the validation text read as one stream)",
                 f"{metrics['loss']:.4f}"),
                (f"bits per {unit}", f"{metrics['bits_per_token']:.4f}"),
                ("perplexity", f"{metrics['perplexity']:.3f}"),
                ("loss over windows of 64 read from scratch (nanoGPT's protocol)",
                 f"{metrics['loss_windows_64']:.4f}"),
                (f"training time (seconds, {machine})", f"{metrics['training_seconds']:.0f}")]
    else:
        beam = f"beam search ({config['evaluation']['beam_width']})"
        rows = [("metric", "value")]
        for protocol, words in (("one_ref", "one reference per pair"),
                                ("all_refs", "all references per source")):
            for name, decoder in (("greedy", "greedy"), ("beam", beam)):
                for metric in ("bleu", "chrf"):
                    key = f"{metric}_{name}_{protocol}"
                    rows.append((f"{'BLEU' if metric == 'bleu' else 'chrF'}, {decoder}, {words}",
                                 f"{metrics[key]:.2f}" if key in metrics else "not measured"))
        rows.append(("validation pairs / distinct source sentences",
                     f"{metrics.get('pairs', '?')} / {metrics['sentences']}"))
    if "members" in metrics:  # an ensemble: one row per member
        for index, member in enumerate(metrics["members"]):
            rows.append((f"member {index} accuracy / macro F1 / best epoch of epochs run",
                         f"{member['accuracy']:.4f} / {member['macro_f1']:.4f} / "
                         f"{member['best_epoch']} of {member['epochs_run']}"))
    else:
        rows.append(("best epoch / epochs run", f"{metrics['best_epoch']} / {metrics['epochs_run']}"))
    rows.append((f"seconds per epoch ({machine})", f"{metrics['seconds_per_epoch']:.0f}"))
    return _table(rows)


def example_rows(config, model, texts):
    """Header and rows of the examples table, from the Keras model's outputs."""
    inputs = np.array(list(texts), dtype=object)
    if config["task"] == "classification":
        names = config["data"]["class_names"]
        scores = np.asarray(model.predict(inputs, verbose=0))
        rows = [("text", *names)]
        rows += [(t, *(f"{s:.6f}" for s in row)) for t, row in zip(texts, scores)]
    elif config["task"] == "language_model":
        rows = [("prompt", "seed", "continuation")]
        generation = config["generation"]
        for seed, prompt in enumerate(texts):
            [continuation] = model.generate_text(
                [prompt], EXAMPLE_LENGTH, generation["temperature"], generation["top_k"],
                generation["top_p"], seed=seed)
            rows.append((_verbatim(prompt), str(seed), _verbatim(continuation)))
    else:
        translations = [t.decode("utf-8") for t in np.asarray(model(inputs))]
        rows = [("text", "translation")] + list(zip(texts, translations))
    return rows


def read_examples(card_text):
    """`(header, rows)` of a card's examples table, cells unescaped."""
    lines = card_text.split(EXAMPLES_HEADING, 1)[1].splitlines()
    table = []
    for line in lines:
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
            table.append([_uncell(c) for c in cells])
        elif table:
            break
    return table[0], table[2:]


def _validation_split(config):
    data = config["data"]
    if config["task"] == "language_model" and data.get("format", "text") == "text":
        return (f"Validation text: the last {data['validation_fraction']:.0%} of the file's "
                "characters, from the next line start (`zoo.data.split_text`); the "
                "metrics below are on it.")
    return (f"Validation split: {data.get('validation_fraction', 0.1):.0%} of the file, drawn "
            f"with seed {data.get('split_seed')} (`zoo.data`); the metrics below are on it.")


def _pretrained_note(model_config, what):
    """Where a run that began from a pretrained language model began."""
    if not model_config.get("pretrained"):
        return ""
    return (f" Its training started with {what} of the language model "
            f"`{model_config['pretrained']['name']}`.")


def _sampling(config):
    if config["task"] != "language_model":
        return ""
    generation = config["generation"]
    return (f" ({EXAMPLE_LENGTH} tokens each, temperature {generation['temperature']}, "
            f"top_k {generation['top_k']}, top_p {generation['top_p']}, the seed shown; "
            f"line ends written \\n)")


def _use(name, task):
    if task == "language_model":
        return f"""```python
import zoo.pretrained
model = zoo.pretrained.load("{name}")                      # text in (TensorFlow backend)
model.generate_text(["ROMEO:"], max_length=300, temperature=0.8, seed=0)
nats, tokens = model.score(["To be, or not to be"])
core = zoo.pretrained.load("{name}", include_preprocessing=False)  # token ids, any backend
encoder = zoo.pretrained.load_layer("{name}", "encoder", trainable=False)
```"""
    return f"""```python
import zoo.pretrained
model = zoo.pretrained.load("{name}")                      # raw strings in (TensorFlow backend)
core = zoo.pretrained.load("{name}", include_preprocessing=False)  # token ids, any backend
encoder = zoo.pretrained.load_layer("{name}", "encoder", trainable=False)
```"""


SIGNATURES = {
    "classification": "`serving_default` (`text` -> `scores`, `classes`), `classify` "
                      "(tf.Example with a bytes feature `text`)",
    "language_model": "`serving_default` (`prompts`, optional `max_length`, `temperature`, "
                      "`top_k`, `top_p`, `seed` -> `text`), `log_prob` (`texts` -> "
                      "`log_prob` in nats, `token_count`)",
    "translation": "`serving_default` (`text`, optional `beam_width` -> `translation`)",
}
GATES_SIGNATURE = ("`gates` (`text` -> `tokens` and, for every recurrent layer and "
                   "direction, each gate and state at every token and the units' importance; "
                   "docs/gates.md)")


def served_signatures(task):
    """The card's sentence on the signatures a model of `task` serves."""
    return f"{SIGNATURES[task]} and {GATES_SIGNATURE}"


def _family(model_config):
    """The cell and its options, as the card names them: "lstm (variant=CIFG)"."""
    options = model_config.get("cell_options")
    shown = ", ".join(f"{k}={v}" for k, v in options.items()) if options else ""
    return model_config["cell"] + (f" ({shown})" if shown else "")


def _classifier_description(config, metrics, vocabulary):
    """`(summary, architecture, values of the known limits)` of a classifier."""
    model_config = config["model"]
    class_names = config["data"]["class_names"]
    summary = (f"Text classifier: raw text in, scores for "
               f"{', '.join(f'`{c}`' for c in class_names)} out.")
    architecture = (
        f"TextVectorization ({vocabulary['vocabulary_size']:,} tokens, "
        f"{config['preprocessing']['sequence_length']} per text) -> embedding "
        f"({model_config['embedding_dim']}) -> {model_config['num_layers']} x "
        f"{'bidirectional ' if model_config['bidirectional'] else ''}{_family(model_config)}, "
        f"{model_config['units']} units -> {model_config['pooling']} pooling -> "
        f"dropout {model_config['dropout']} -> softmax over {len(class_names)} classes."
    ) + _pretrained_note(model_config, "the embedding and recurrent layers")
    members = model_config.get("ensemble_size", 1)
    if members > 1:
        seed = config["training"]["seed"]
        architecture = (
            f"An ensemble of {members} such classifiers, trained separately (seeds "
            f"{seed} to {seed + members - 1}), their probabilities averaged; each: "
            f"{architecture}"
        )
    values = {**config["preprocessing"], **vocabulary, "accuracy": metrics["accuracy"],
              "one_in": round(1 / max(1 - metrics["accuracy"], 1e-9))}
    return summary, architecture, values


def _language_model_description(config, metrics, vocabulary):
    """`(summary, architecture, values of the known limits)` of a language model."""
    model_config, training = config["model"], config["training"]
    level_name = "character" if config["preprocessing"]["level"] == "char" else "word"
    summary = (f"Language model, one {level_name} at a time: prompts in, sampled "
               f"continuations out; texts in, their log-likelihood out.")
    tied = " (its weights the embedding, tied)" if model_config["tie_embeddings"] else ""
    windows = ("a continuous stream, the state carried across" if training["stateful"]
               else "independent")
    architecture = (
        f"{level_name.capitalize()} tokens ({vocabulary['vocabulary_size']:,}, padding "
        f"and [UNK] included) -> embedding ({model_config['embedding_dim']}) -> "
        f"{model_config['num_layers']} x {_family(model_config)}, {model_config['units']} "
        f"units -> softmax over the tokens{tied}; locked dropout {model_config['dropout']}. "
        f"Trained on {windows} windows of {training['sequence_length']} tokens. "
        f"Generation reads the prompt once and then steps the cell one token at a time."
    ) + _pretrained_note(model_config, "every weight")
    return summary, architecture, {**vocabulary, **metrics, "level_name": level_name}


def _translator_description(config, model, vocabulary):
    """`(summary, architecture, values of the known limits)` of a translator."""
    model_config, family = config["model"], _family(config["model"])
    architecture = (
        f"{model_config.get('encoder_layers', 1)} x "
        f"{'bidirectional ' if model_config.get('bidirectional_encoder') else ''}"
        f"{family} encoder and a {family} decoder, {model_config['units']} units, "
        f"embeddings of {model_config['embedding_dim']}, "
        f"{model_config.get('attention', 'dot')} attention (Luong-style, on the "
        f"decoder's outputs); {vocabulary['source_vocabulary_size']:,} source "
        f"and {vocabulary['target_vocabulary_size']:,} target tokens; "
        f"beam search of width {model.beam_width} by default."
    )
    return ("Translator: raw source sentences in, translations out.", architecture,
            {**config["preprocessing"], **vocabulary})


def _data_section(run_dir, config):
    """`(data file name, the card's Data paragraph)`: the data set's
    description and license, or the file's path where it is not a known one."""
    task = config["task"]
    data_path = run_data_path(run_dir, config)
    # Without --data the loader downloaded the task's standard data set.
    data_file = pathlib.Path(data_path).name if data_path else (
        "spa.txt" if task == "translation" else "Sarcasm_Headlines_Dataset.json")
    data = DATA_SETS.get(data_file) or (
        f"Trained on `{shown_path(data_path)}`; its license is its owner's."
    )
    if data_file not in DATA_SETS and task == "translation" and MANYTHINGS_FILE.fullmatch(
            data_file):
        data += (" A file of this name from manythings.org holds Tatoeba sentence pairs, "
                 "CC-BY 2.0 France, with attribution to the Tatoeba contributors.")
    return data_file, data


def render(name, version, run_dir, config, model, texts, sizes, texts_source):
    """The model card's Markdown text; `texts_source` says where `texts` come from."""
    run_dir = pathlib.Path(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    command, run = training_command(run_dir)
    task = config["task"]
    vocabulary = vocabulary_sizes(config, model)
    if task == "classification":
        summary, architecture, limits_values = _classifier_description(config, metrics, vocabulary)
    elif task == "language_model":
        summary, architecture, limits_values = _language_model_description(
            config, metrics, vocabulary)
    else:
        summary, architecture, limits_values = _translator_description(config, model, vocabulary)
    signatures = served_signatures(task)
    data_file, data = _data_section(run_dir, config)
    parameters = model.count_params()
    limits = "\n".join(
        f"- {line.format(**limits_values)}"
        for line in DATA_LIMITS.get(data_file, []) + TASK_LIMITS[task]
    )
    versions = run.get("versions", {})
    return f"""# {name}

{summary}

| | |
|---|---|
| task | {task} |
| SavedModel version | {version} (`{name}/{version}/`, for TensorFlow Serving) |
| Keras model | `{name}.keras` (`zoo.pretrained.load("{name}")`) |
| parameters | {parameters:,} |
| size on disk | SavedModel {megabytes(sizes['saved_model'])}, `.keras` {megabytes(sizes['keras'])} |
| trained with | TensorFlow {versions.get('tensorflow', '?')}, Keras {versions.get('keras', '?')}, seed {run.get('seed', '?')} |

## Data

{data}

{_validation_split(config)}

## Architecture

{architecture}

## Hyperparameters

{_settings(config)}

## Validation metrics

{_metrics(config, metrics, run)}

## Training command

```sh
{command}
```

## Use

{_use(name, task)}

Served by TensorFlow Serving or `python -m serving` as model `{name}`:
{signatures}.

## Known limits

{limits}

{EXAMPLES_HEADING}

Outputs of `{name}.keras` at export, for texts from {texts_source}{_sampling(config)}.
A copy of the files that gives other outputs is not this model.

{_table(example_rows(config, model, texts))}
"""
