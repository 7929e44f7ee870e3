"""Writes and checks TensorFlow Serving SavedModel versions of a training run.

The work behind `python -m training.export` (its command line, arguments
and version numbering are in `training/export.py`; the whole story is in
docs/export.md).

The graph takes raw strings: tokenization, the model and decoding all run
inside it, with core TensorFlow ops only (no `py_function`, no `Cudnn*`),
so the stock `tensorflow/serving` image on a CPU-only host runs it.

Classifier signatures:
    serving_default  text: DT_STRING [-1]
                     -> scores: DT_FLOAT [-1, C], classes: DT_STRING [-1, C]
                     (each row of `classes` holds the label names, in the
                     columns' order)
    classify         inputs: DT_STRING [-1], serialized tf.Example with a
                     bytes feature `text` -> the same `scores` and `classes`;
                     method `tensorflow/serving/classify`, for the Classify
                     API

Translator signature:
    serving_default  text: DT_STRING [-1], beam_width: DT_INT32 []
                     (optional; its SignatureDef default is the run's
                     `evaluation.beam_width`) -> translation: DT_STRING [-1]

Language-model signatures:
    serving_default  prompts: DT_STRING [-1], and optional scalars
                     max_length: DT_INT32 (the run's `generation.length`,
                     at most 2048), temperature: DT_FLOAT, top_k: DT_INT32,
                     top_p: DT_FLOAT (the run's `generation` settings) and
                     seed: DT_INT64 (-1: a fresh draw; from 0: repeatable)
                     -> text: DT_STRING [-1], each prompt's continuation
    log_prob         texts: DT_STRING [-1] -> log_prob: DT_FLOAT [-1] (the
                     total log-likelihood in nats of every token after the
                     first), token_count: DT_INT32 [-1] (how many tokens
                     that is)

Every model also has
    gates            text: DT_STRING [-1] -> tokens: DT_STRING [-1, T],
                     token_count: DT_INT32 [-1], score: DT_FLOAT [-1], and
                     for each recurrent layer L, direction D (forward,
                     backward) and quantity Q (the cell's gates and states:
                     i, f, z, o, c, y for the LSTM family; z, r, h_tilde, h
                     for the GRU; y_in, y_out, g, s_c, y_c for the 1997
                     LSTM...) "L/D/Q": DT_FLOAT [-1, T, width], and
                     "L/D/importance": DT_FLOAT [-1, units] (gradient x
                     activation of `score`); a translator adds
                     target_tokens and target_token_count, the tokens of its
                     greedy translation that the layer "decoder" reads
                     (`zoo.diagnostics.text_gates`)

The check: a fresh Python process (`python -m training.check_export`),
which never imports `zoo`, loads the new version as TF Serving does (a TF1
session over the SignatureDefs, so an omitted `beam_width` takes its
default), runs a batch of texts through every signature, and the outputs
must match the Keras model's (scores within 1e-5, translations and seeded
generations exactly, log-likelihoods within 1e-4 nats, gates within 1e-4);
and every op of the graph must be core TensorFlow (`training/graph_ops.py`).
A version that fails is deleted. Errors exit with status 2 and name what was wrong.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from google.protobuf import text_format
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from training import model_card
from training.export import (DEFAULT_BASE, MODELS_CONFIG, ExportError, check_run_dir,
                              version_path)
from training.graph_ops import non_core_ops, saved_model_ops, xla_compiled_functions
from training.model_card import directory_size, run_data_path, shown_path
from training.tasks import TASKS
from zoo import compat
from zoo.diagnostics.text_gates import text_gates
from zoo.layers.xla_loop import keras_loop
# Importing any zoo module registers the zoo's layers and models with Keras,
# which loading a run's model.keras needs.
from zoo.models.language_model_preprocessor import checked_generation_arguments
from zoo.models.translator_preprocessor import checked_beam_width, translate

WARMUP_FILE = "tf_serving_warmup_requests"
# The stock tensorflow/serving image's mount point for models.
CONTAINER_MODELS_ROOT = "/models"
# Validation texts drawn for the warmup requests and the card's examples.
EXAMPLE_COUNT = 6
# Beam widths a translator's `beam_width` input accepts (each width is a
# branch of the graph, since beam search's tensors are shaped by it).
MAX_BEAM_WIDTH = 8
SCORE_TOLERANCE = 1e-5
# Log-likelihoods are sums over every token of a text.
LOG_PROB_TOLERANCE = 1e-4
GATES_TOLERANCE = 1e-4
# Texts whose gates the check compares (the signature's output is large).
GATES_CHECKED = 3
EXPORTED_TASKS = ("classification", "translation", "language_model")
# What the check and the warmup requests generate: short continuations,
# greedy and seeded, so that they are repeatable.
CHECK_LENGTH = 40

# Headline-like texts for classifiers, sentences for translators: the
# warmup requests and the card's examples when the run's data cannot be
# read (and the check's batch always, with a few awkward inputs added).
CLASSIFIER_EXAMPLES = (
    "local man shocked to learn houseplants need water",
    "senate passes bill to fund highway repairs",
    "scientists discover new species of frog in peru",
    "nation's dogs vow to keep chasing own tails",
)
TRANSLATOR_EXAMPLES = (
    "¿Dónde está la biblioteca?",
    "Tengo dos gatos.",
    "Hace mucho frío hoy.",
    "Me gusta leer libros.",
)
PROMPT_EXAMPLES = ("ROMEO:", "The ", "\n")
AWKWARD_EXAMPLES = ("", "A", "ÑANDÚ, «¡ya!» 123 …", "word " * 40)

# --- The run -----------------------------------------------------------------


def load_run(run_dir):
    """`(config, model)` of a run directory: `config.json` and `model.keras`."""
    config_path, model_path = check_run_dir(run_dir)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ExportError(f"{config_path}: not valid JSON ({error})") from None
    if config.get("task") not in EXPORTED_TASKS:
        raise ExportError(
            f"{config_path}: task must be one of {EXPORTED_TASKS}; got {config.get('task')!r}"
        )
    if config["task"] == "classification" and not config.get("data", {}).get("class_names"):
        raise ExportError(f"{config_path} holds no data.class_names")


    try:
        # Safe mode stays on: a .keras file cannot run arbitrary code.
        model = keras.saving.load_model(model_path, compile=False)
    except Exception as error:  # corrupt, newer format, unknown class
        raise ExportError(f"{model_path}: cannot be loaded ({error})") from None
    drop_optimizers(model)
    return config, model


def drop_optimizers(model):
    """Detaches optimizers from `model` and the models nested in it.

    Runs written before training saved an uncompiled inference model keep
    the token-id core's optimizer inside `model.keras`; tracked, its slots
    (two per weight for Adam) would triple the SavedModel's variables.
    """
    if getattr(model, "optimizer", None) is not None:
        model.optimizer = None
    for layer in model.layers if isinstance(model, keras.Model) else ():
        if isinstance(layer, keras.Model):
            drop_optimizers(layer)


# --- Signatures --------------------------------------------------------------


def archive_of(model):
    """An `ExportArchive` tracking `model`, each weight stored once.

    `ExportArchive.track` collects Keras variable wrappers while the traced
    endpoints capture the `tf.Variable`s inside them; TensorFlow's
    checkpoint sees two objects and writes every weight twice
    (keras-team/keras#23553). With the inner variables in the collections
    the two references are one object, saved once
    (`zoo.compat.store_export_variables_once`).
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    return compat.store_export_variables_once(archive)


def add_gates_endpoint(archive, model):
    """The `gates` signature: raw text -> tokens and every recurrent layer's
    gates and states at each of them (`zoo.diagnostics.text_gates`)."""
    archive.add_endpoint(
        "gates",
        lambda text: text_gates(model, text),
        input_signature=[tf.TensorSpec([None], tf.string, name="text")],
    )
    return archive


def classifier_archive(model, class_names):
    """An `ExportArchive` with `serving_default` and `classify`."""

    names = tf.constant([list(class_names)])

    def serve(text):
        scores = tf.cast(model(text, training=False), tf.float32)
        classes = tf.tile(names, [tf.shape(scores)[0], 1])
        return {
            tf.saved_model.CLASSIFY_OUTPUT_SCORES: scores,
            tf.saved_model.CLASSIFY_OUTPUT_CLASSES: classes,
        }

    def classify(inputs):
        features = tf.io.parse_example(inputs, {"text": tf.io.FixedLenFeature([], tf.string)})
        return serve(features["text"])

    archive = archive_of(model)
    archive.add_endpoint(
        tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY,
        serve,
        input_signature=[tf.TensorSpec([None], tf.string, name="text")],
    )
    archive.add_endpoint(
        "classify",
        classify,
        input_signature=[
            tf.TensorSpec([None], tf.string, name=tf.saved_model.CLASSIFY_INPUTS)
        ],
    )
    return add_gates_endpoint(archive, model)


def beam_widths(model):
    """The beam widths a translator's export accepts: 1 .. N."""
    # A step can emit every target token but padding and [start].
    most = max(MAX_BEAM_WIDTH, model.beam_width)
    return range(1, min(most, model.translator.target_vocab_size - 2) + 1)


def translator_archive(model):
    """An `ExportArchive` with `serving_default(text, beam_width=default)`."""

    vectorizers, translator = model.vectorizers, model.translator
    max_length = vectorizers.sequence_length
    widths = beam_widths(model)

    def decode(source_ids, width):
        if width == 1:
            return translator.greedy_decode(source_ids, max_length=max_length)
        return translator.beam_search(
            source_ids, beam_width=width, max_length=max_length,
            length_penalty=model.length_penalty,
        )

    # A tensor default in the Python signature becomes the SignatureDef's
    # `defaults` entry (and a PlaceholderWithDefault in the graph), so a
    # request may leave beam_width out.
    def serve(text, beam_width=tf.constant(model.beam_width, tf.int32)):
        beam_width = checked_beam_width(beam_width, widths[-1])
        source_ids = vectorizers.vectorize_source(text)
        # Beam search is shaped by its width, so each width is a branch.
        ids = tf.switch_case(
            beam_width - 1, [lambda w=w: decode(source_ids, w) for w in widths]
        )
        return {"translation": vectorizers.detokenize(ids)}

    archive = archive_of(model)
    archive.add_endpoint(
        tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY,
        serve,
        input_signature=[
            tf.TensorSpec([None], tf.string, name="text"),
            tf.TensorSpec([], tf.int32, name="beam_width"),
        ],
    )
    return add_gates_endpoint(archive, model)


def language_model_archive(model, generation):
    """An `ExportArchive` with `serving_default` (generation) and `log_prob`.

    `generation` is the run's `generation` config section: the defaults of
    the optional inputs.
    """

    # Tensor defaults become the SignatureDef's `defaults`: a request may
    # leave any of them out.
    def serve(
        prompts,
        max_length=tf.constant(generation["length"], tf.int32),
        temperature=tf.constant(generation["temperature"], tf.float32),
        top_k=tf.constant(generation["top_k"], tf.int32),
        top_p=tf.constant(generation["top_p"], tf.float32),
        seed=tf.constant(-1, tf.int64),
    ):
        max_length, temperature, top_k, top_p = checked_generation_arguments(
            max_length, temperature, top_k, top_p)
        ids = model.generate_ids(prompts, max_length, temperature, top_k, top_p, seed)
        return {"text": model.tokenizer.detokenize(ids)}

    def log_prob(texts):
        nats, count = model.score(texts)
        return {"log_prob": nats, "token_count": count}

    archive = archive_of(model)
    archive.add_endpoint(
        tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY,
        serve,
        input_signature=[
            tf.TensorSpec([None], tf.string, name="prompts"),
            tf.TensorSpec([], tf.int32, name="max_length"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ],
    )
    archive.add_endpoint(
        "log_prob", log_prob, input_signature=[tf.TensorSpec([None], tf.string, name="texts")]
    )
    return add_gates_endpoint(archive, model)


def set_method_name(export_dir, signature, method_name):
    """Sets a SignatureDef's method name in `saved_model.pb`.

    `tf.saved_model.save` marks every signature `tensorflow/serving/predict`
    and has no argument for another; TF Serving's Classify API (with
    `--enable_signature_method_name_check`) and tools that sort signatures
    by kind read this field, so it is set in the proto afterwards.
    """

    path = pathlib.Path(export_dir) / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        meta_graph.signature_def[signature].method_name = method_name
    path.write_bytes(saved_model.SerializeToString())
    # fingerprint.pb holds a checksum of saved_model.pb; keep it true.
    compat.write_fingerprint(export_dir)


# --- Warmup ------------------------------------------------------------------


def warmup_requests(name, texts, extra_inputs=None,
                    signature=tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY, key="text"):
    """PredictionLogs: one request per text, then one with all of them.

    The texts go to input `key` of `signature`, with `extra_inputs` beside.
    """

    logs = []
    for batch in [[text] for text in texts] + [list(texts)]:
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=name, signature_name=signature)
        )
        request.inputs[key].CopyFrom(tf.make_tensor_proto(batch, dtype=tf.string))
        for input_name, value in (extra_inputs or {}).items():
            request.inputs[input_name].CopyFrom(tf.make_tensor_proto(value))
        logs.append(
            prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
        )
    return logs


def write_warmup(export_dir, logs):

    directory = pathlib.Path(export_dir) / "assets.extra"
    directory.mkdir(exist_ok=True)
    with tf.io.TFRecordWriter(str(directory / WARMUP_FILE)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())


# --- The check ---------------------------------------------------------------

def run_check_process(export_dir, texts, widths=(), generations=None):
    """`python -m training.check_export`'s report on `export_dir`, from a
    fresh process that never imports `zoo`.

    `generations` maps a name to the options of one language-model call.
    The process runs in the directory holding the `training` package, which
    also heads its PYTHONPATH, so it finds this checkout's module whatever
    the caller's working directory.
    """
    request = {"texts": list(texts), "beam_widths": list(widths),
               "generations": generations or {}, "gates_texts": list(texts)[:GATES_CHECKED]}
    root = pathlib.Path(__file__).resolve().parents[1]
    python_path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": python_path}
    process = subprocess.run(
        [sys.executable, "-m", "training.check_export", str(pathlib.Path(export_dir).resolve())],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=root,
        env=environment,
        timeout=600,
    )
    if process.returncode != 0:
        raise ExportError(
            f"check: the SavedModel in {export_dir} failed to load or run in a "
            f"fresh process:\n{process.stderr[-2000:]}"
        )
    return json.loads(process.stdout.strip().splitlines()[-1])


def check_ops(export_dir):

    bad = non_core_ops(saved_model_ops(export_dir))
    if bad:
        raise ExportError(
            f"check: the graph uses ops outside core TensorFlow, which a stock "
            f"CPU TensorFlow Serving cannot run: {bad}"
        )
    compiled = xla_compiled_functions(export_dir)
    if compiled:
        raise ExportError(
            f"check: the graph has functions that must be compiled by XLA, and a "
            f"served model must run without XLA: {compiled}"
        )


def check_gates(report, model, texts):
    """The served `gates` against `text_gates` on the Keras model: the same
    keys and tokens, every value within `GATES_TOLERANCE`."""
    texts = list(texts)[:GATES_CHECKED]
    expected = {k: v.numpy() for k, v in text_gates(model, np.array(texts, dtype=object)).items()}
    served = report["results"].get("gates")
    if served is None or set(served) != set(expected):
        raise ExportError(
            f"check: signature 'gates' outputs {sorted(served or [])}, expected {sorted(expected)}"
        )
    for key, value in expected.items():
        if value.dtype == object:  # token strings
            if served[key] != [[t.decode("utf-8") for t in row] for row in value]:
                raise ExportError(
                    f"check: signature 'gates' {key} are {served[key][:1]}, the Keras "
                    f"model's {value[:1].tolist()}")
            continue
        got = np.asarray(served[key])
        if got.shape != value.shape or not np.allclose(got, value, atol=GATES_TOLERANCE, rtol=1e-4):
            gap = np.max(np.abs(got - value)) if got.shape == value.shape else None
            raise ExportError(
                f"check: signature 'gates' {key} differs from the Keras model's (shape "
                f"{got.shape} vs {value.shape}, largest gap {gap})")


def check_classifier(export_dir, model, class_names, texts):

    expected = model.predict(np.array(texts, dtype=object), verbose=0)
    report = run_check_process(export_dir, texts)
    check_gates(report, model, texts)
    if report["methods"].get("classify") != tf.saved_model.CLASSIFY_METHOD_NAME:
        raise ExportError(
            f"check: signature 'classify' has method {report['methods'].get('classify')!r}, "
            f"not {tf.saved_model.CLASSIFY_METHOD_NAME!r}"
        )
    for key in ("serving_default", "classify"):
        result = report["results"][key]
        scores = np.asarray(result["scores"])
        if scores.shape != expected.shape or not np.allclose(
            scores, expected, atol=SCORE_TOLERANCE, rtol=0
        ):
            gap = np.max(np.abs(scores - expected)) if scores.shape == expected.shape else None
            raise ExportError(
                f"check: signature {key!r} scores differ from the Keras model's "
                f"(shape {scores.shape} vs {expected.shape}, largest gap {gap})"
            )
        if result["classes"] != [list(class_names)] * len(texts):
            raise ExportError(
                f"check: signature {key!r} classes are {result['classes'][:1]}, "
                f"expected rows of {list(class_names)}"
            )


def check_translator(export_dir, model, texts):

    texts = list(texts)
    expected = {"serving_default": [t.decode("utf-8") for t in np.asarray(
        model(np.array(texts, dtype=object)))]}
    # Greedy (one end of the accepted range) as well as the default width.
    expected["beam_width=1"] = translate(
        model.translator, model.vectorizers, texts, beam_width=1,
        length_penalty=model.length_penalty,
    )
    report = run_check_process(export_dir, texts, widths=[1])
    check_gates(report, model, texts)
    for key, translations in expected.items():
        served = report["results"][key]["translation"]
        if served != translations:
            wrong = [(t, s, k) for t, s, k in zip(texts, served, translations) if s != k]
            raise ExportError(
                f"check: {key} translations differ from the Keras model's; first "
                f"(source, served, keras): {wrong[:1] or (len(served), len(translations))}"
            )


def check_language_model(export_dir, model, texts):
    """Served generations (greedy, seeded, the defaults) and log-likelihoods
    against the Keras model's."""

    texts = list(texts)
    calls = {
        "greedy": {"max_length": CHECK_LENGTH, "temperature": 0.0, "seed": 0},
        "seeded": {"max_length": CHECK_LENGTH, "temperature": 1.0, "top_k": 5, "top_p": 0.9,
                   "seed": 7},
    }
    expected = {
        name: model.generate_text(
            texts, options["max_length"], options["temperature"], options.get("top_k", 0),
            options.get("top_p", 1.0), seed=options["seed"])
        for name, options in calls.items()
    }
    report = run_check_process(export_dir, texts, generations={**calls, "defaults": {}})
    check_gates(report, model, texts)
    for name, continuations in expected.items():
        served = report["results"][name]["text"]
        if served != continuations:
            wrong = [(t, s, k) for t, s, k in zip(texts, served, continuations) if s != k]
            raise ExportError(
                f"check: {name} generations differ from the Keras model's; first "
                f"(prompt, served, keras): {wrong[:1] or (len(served), len(continuations))}"
            )
    # The defaults draw afresh (seed -1): only their count and presence are known.
    served = report["results"]["defaults"]["text"]
    if len(served) != len(texts) or not all(served):
        raise ExportError(
            f"check: generating with the signature's defaults gave {served!r} for "
            f"{len(texts)} prompts"
        )
    nats, counts = (np.asarray(v) for v in model.score(texts))
    served = report["results"]["log_prob"]
    if served["token_count"] != counts.tolist() or not np.allclose(
        served["log_prob"], nats, atol=LOG_PROB_TOLERANCE, rtol=1e-6
    ):
        raise ExportError(
            f"check: log_prob differs from the Keras model's score: served "
            f"{served['log_prob'][:3]} over {served['token_count'][:3]} tokens, keras "
            f"{nats[:3].tolist()} over {counts[:3].tolist()}"
        )


# --- Examples from the run's data --------------------------------------------


def validation_examples(config, run_dir, count=EXAMPLE_COUNT):
    """`(texts, source)`: inputs from the run's validation split, and where from.

    Classifier texts are taken class by class in turn, so every class shows;
    translator inputs are the first source sentences; language-model
    prompts are the run's `generation.prompt` and the first words of the
    first validation lines. When the data file
    cannot be read (moved, or a download that fails offline) the built-in
    texts stand in, and `source` says so.
    """
    builtin = {"classification": CLASSIFIER_EXAMPLES, "translation": TRANSLATOR_EXAMPLES,
               "language_model": PROMPT_EXAMPLES}[config["task"]]
    path = run_data_path(run_dir, config)
    try:
        _, validation = TASKS[config["task"]].load_data(config, path)
    except Exception as error:  # missing file, changed format, no network
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"warning: the run's data cannot be read ({reason}); the warmup requests and "
              f"the model card use built-in example texts instead", file=sys.stderr)
        return builtin, f"built-in example texts (the run's data could not be read: {reason})"
    where = f"`{shown_path(path)}`" if path else "the task's standard data set"
    if config["task"] == "classification":
        by_class = [[t for t, y in zip(validation.texts, validation.labels) if y == c]
                    for c in range(len(validation.class_names))]
        texts = [t for group in zip(*by_class) for t in group][:count]
        if len(texts) < count:  # a class has too few rows: fill from the rest
            texts += [t for t in validation.texts if t not in texts][:count - len(texts)]
    elif config["task"] == "translation":
        texts = list(dict.fromkeys(source for source, _ in validation))[:count]
    else:
        texts = language_model_prompts(config, validation, count)
    if not texts:
        return builtin, "built-in example texts (the run's validation split is empty)"
    return tuple(texts), f"the validation split of {where}"


def language_model_prompts(config, validation_text, count):
    """The run's own prompt, then the first three words of validation lines."""
    prompts = [config["generation"]["prompt"]] if config["generation"]["prompt"] else []
    for line in validation_text.splitlines():
        prompt = " ".join(line.split()[:3])
        if len(prompts) >= count:
            break
        if prompt and prompt not in prompts:
            prompts.append(prompt)
    return prompts


# --- models.config -------------------------------------------------------------


def read_models_config(base):
    """`(comment, config)` of `BASE/models.config`; a missing file is empty.

    `comment` is the file's leading comment block, kept when it is rewritten.
    """
    path = pathlib.Path(base) / MODELS_CONFIG
    config = model_server_config_pb2.ModelServerConfig()
    if not path.exists():
        return "", config
    try:
        text = path.read_text(encoding="utf-8")
        text_format.Parse(text, config)
    except (OSError, UnicodeDecodeError) as error:
        raise ExportError(f"{path}: cannot be read ({error})") from None
    except text_format.ParseError as error:  # "line:column : message"
        raise ExportError(f"{path}:{error} (it must be a TF Serving ModelServerConfig "
                          "in text format; fix or remove it)") from None
    if config.WhichOneof("config") == "custom_model_config":
        raise ExportError(f"{path}: holds a custom_model_config; only a model_config_list "
                          "can list the exported model")
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line)
    return "\n".join(comment), config


def model_base_path(base, name, config):
    """The base path NAME gets in `config`: absolute, or the stock image's form."""
    models = config.model_config_list.config
    if models and all(m.base_path == f"{CONTAINER_MODELS_ROOT}/{m.name}" for m in models):
        return f"{CONTAINER_MODELS_ROOT}/{name}"
    return str((pathlib.Path(base) / name).resolve())


def add_to_models_config(base, name):
    """Lists NAME in `BASE/models.config`; returns the file's path.

    A model already listed keeps its entry (its version policy, labels and
    base path are the operator's); a new one goes in name order if the list
    is in name order, else at the end. The file is replaced whole, atomically,
    so a server polling it never reads half of it.
    """
    path = pathlib.Path(base) / MODELS_CONFIG
    comment, config = read_models_config(base)
    models = config.model_config_list.config
    if any(model.name == name for model in models):
        return path
    was_sorted = [m.name for m in models] == sorted(m.name for m in models)
    models.add(name=name, base_path=model_base_path(base, name, config),
               model_platform="tensorflow")
    if was_sorted:  # keep a sorted list sorted; an operator's own order stays
        models.sort(key=lambda m: m.name)
    comment = comment or ("# Models for TensorFlow Serving (a ModelServerConfig in text format), "
                          "kept by python -m training.export.\n"
                          f"# Serve them: python -m serving --model_config_file {path}")
    partial = path.with_name(f".{MODELS_CONFIG}.tmp")
    partial.write_text(f"{comment}\n{text_format.MessageToString(config)}", encoding="utf-8")
    os.replace(partial, path)
    return path


# --- Export ------------------------------------------------------------------


def export(run_dir, name, base=DEFAULT_BASE, version=None):
    """Exports a run to `base/name/VERSION` and lists it in `base/models.config`.

    Returns:
        The version's path.
    """
    config, model = load_run(run_dir)
    target = version_path(base, name, version)
    read_models_config(base)  # a broken config fails before anything is written
    examples, examples_source = validation_examples(config, run_dir)
    publish_version(target, config, model, name, examples)
    model_dir = target.parent
    write_keras_and_card(model_dir, name, target, run_dir, config, model,
                         examples, examples_source)
    add_to_models_config(base, name)
    return target


def publish_version(target, config, model, name, examples):
    """Writes and checks the version `target` (`BASE/NAME/VERSION`).

    It is written to a hidden directory beside it and renamed into place
    only once it passed the check, so a polling server never loads half a
    model; on failure nothing is left behind.
    """
    model_dir = target.parent
    created = not model_dir.exists()
    model_dir.mkdir(parents=True, exist_ok=True)
    temporary = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=model_dir))
    # mkdtemp makes it private (0700); a server running as another user
    # must read the published version, so give it the usual permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o777 & ~umask)
    try:
        write_version(temporary, config, model, name, examples)
        # Another export may have taken the version meanwhile.
        version_path(model_dir.parent, name, int(target.name))
        os.rename(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        if created and not any(model_dir.iterdir()):
            model_dir.rmdir()
        raise


def write_keras_and_card(model_dir, name, version_dir, run_dir, config, model,
                         examples, examples_source):
    """`NAME.keras` and the model card `README.md`, for the newest version.

    Each is written under a hidden name and renamed over the old one, so a
    reader sees the previous file or the new one, never half of one.
    """
    keras_path = model_dir / f"{name}.keras"
    partial = model_dir / f".{name}.tmp.keras"  # Keras insists on the suffix
    model.save(partial)
    os.replace(partial, keras_path)
    sizes = {"saved_model": directory_size(version_dir), "keras": directory_size(keras_path)}
    card = model_card.render(name, int(version_dir.name), run_dir, config, model, examples,
                             sizes, examples_source)
    partial = model_dir / ".README.md.tmp"
    partial.write_text(card, encoding="utf-8")
    os.replace(partial, model_dir / "README.md")


def write_version(export_dir, config, model, name, examples):
    """Writes and checks one SavedModel version in `export_dir`.

    `examples` are the texts of its warmup requests.

    The recurrent layers are traced with Keras's uncompiled loop, so the
    graph holds plain TensorFlow ops and no XLA-compiled functions.
    """
    with keras_loop():
        if config["task"] == "classification":
            class_names = config["data"]["class_names"]
            classifier_archive(model, class_names).write_out(str(export_dir), verbose=False)
            set_method_name(export_dir, "classify", tf.saved_model.CLASSIFY_METHOD_NAME)
            write_warmup(export_dir, warmup_requests(name, examples)
                         + warmup_requests(name, examples, signature="gates"))
            check_ops(export_dir)
            check_classifier(
                export_dir, model, class_names,
                tuple(examples) + CLASSIFIER_EXAMPLES + AWKWARD_EXAMPLES)
        elif config["task"] == "language_model":
            generation = config["generation"]
            language_model_archive(model, generation).write_out(str(export_dir), verbose=False)
            # Warmup states every option, so it runs on servers that ignore
            # defaults; short continuations keep the server's start quick.
            options = {"max_length": np.int32(CHECK_LENGTH),
                       "temperature": np.float32(generation["temperature"]),
                       "top_k": np.int32(generation["top_k"]),
                       "top_p": np.float32(generation["top_p"]), "seed": np.int64(0)}
            write_warmup(export_dir, warmup_requests(name, examples, options, key="prompts")
                         + warmup_requests(name, examples, signature="log_prob", key="texts")
                         + warmup_requests(name, examples, signature="gates"))
            check_ops(export_dir)
            check_language_model(export_dir, model, tuple(examples) + AWKWARD_EXAMPLES)
        else:
            translator_archive(model).write_out(str(export_dir), verbose=False)
            # Warmup states beam_width, so it runs on servers that ignore defaults.
            write_warmup(export_dir, warmup_requests(
                name, examples, {"beam_width": np.int32(model.beam_width)})
                + warmup_requests(name, examples, signature="gates"))
            check_ops(export_dir)
            check_translator(export_dir, model,
                             tuple(examples) + TRANSLATOR_EXAMPLES + AWKWARD_EXAMPLES)
