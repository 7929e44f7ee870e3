"""Tiny SavedModels for the server tests, written with TensorFlow alone.

`half_plus_three` is TF Serving's own test model in spirit: `y = 0.5 x + 3`
for Predict (input `x`, DT_FLOAT `[-1]`), with a Regress signature
(`tensorflow/serving/regress`, tf.Examples with a float feature `x`) and a
Classify signature (`classify_x`: label `"high"`/`"low"` scored by y).
`two_inputs` adds `a + b` with a default for `b`; `echo_bytes` returns its
string input under an alias ending in `_bytes`; `slow` spins for as many
loop iterations as asked; `gate` marks that it is running and then waits until a
file exists, so a test holds a request in flight (and a batch thread busy) for
exactly as long as it needs, whatever the machine's speed or load.

For the demo page: `headlines`, a classifier with a `gates` signature in the
layout `training/savedmodel.py` exports; `broken`, whose every prediction
fails; a fake translator (with `gates`: an encoder and a decoder) and a fake
language model, which echo their inputs.
"""

import pathlib
import time

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2


class HalfPlusThree(tf.Module):
    def __init__(self, offset=3.0):
        super().__init__()
        self.offset = tf.Variable(offset)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def predict(self, x):
        return {"y": 0.5 * x + self.offset}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress(self, inputs):
        x = tf.io.parse_example(inputs, {"x": tf.io.FixedLenFeature([], tf.float32)})["x"]
        return {"outputs": 0.5 * x + self.offset}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify(self, inputs):
        x = tf.io.parse_example(inputs, {"x": tf.io.FixedLenFeature([], tf.float32)})["x"]
        y = 0.5 * x + self.offset
        scores = tf.stack([tf.sigmoid(y), 1 - tf.sigmoid(y)], axis=1)
        classes = tf.tile(tf.constant([["high", "low"]]), [tf.shape(x)[0], 1])
        return {"scores": scores, "classes": classes}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.float32, name="a"),
        tf.TensorSpec([None], tf.float32, name="b"),
    ])
    def two_inputs(self, a, b):
        return {"sum": a + b, "difference": a - b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def echo(self, text):
        return {"text_bytes": text, "length": tf.strings.length(text)}


def write_half_plus_three(path, offset=3.0, warmup=0):
    """Writes the model to `path` (a version directory); returns the path."""
    path = pathlib.Path(path)
    module = HalfPlusThree(offset)
    tf.saved_model.save(module, str(path), signatures={
        "serving_default": module.predict,
        "tensorflow/serving/regress": module.regress,
        "classify_x": module.classify,
        "two_inputs": module.two_inputs,
        "echo": module.echo,
    })
    _set_method(path, "tensorflow/serving/regress", "tensorflow/serving/regress")
    _set_method(path, "classify_x", "tensorflow/serving/classify")
    if warmup:
        write_warmup(path, warmup)
    return path


def _set_method(path, signature, method):
    proto_path = path / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(proto_path.read_bytes())
    for meta_graph in proto.meta_graphs:
        meta_graph.signature_def[signature].method_name = method
    proto_path.write_bytes(proto.SerializeToString())


def write_warmup(path, count, model_name="half_plus_three"):
    """`count` Predict records in the version's warmup file."""
    directory = pathlib.Path(path) / "assets.extra"
    directory.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(directory / "tf_serving_warmup_requests")) as writer:
        for index in range(count):
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.inputs["x"].CopyFrom(tf.make_tensor_proto([float(index)], tf.float32))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


class Slow(tf.Module):
    """Spins `n` loop iterations: a model that takes as long as it is asked to."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="n")])
    def spin(self, n):
        total = tf.while_loop(lambda i, s: i < n[0], lambda i, s: (i + 1, s + i),
                              (tf.constant(0, tf.int64), tf.constant(0, tf.int64)))[1]
        return {"total": tf.fill(tf.shape(n), total)}


class Gate(tf.Module):
    """Writes `path[0] + ".waiting"` when it starts, then polls until a file
    matches `path[0]`, and answers `opened` for each row."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="path")])
    def wait(self, path):
        waiting = tf.io.write_file(path[0] + ".waiting", "")
        with tf.control_dependencies([waiting]):
            none_yet = tf.constant(0)
        matches = tf.while_loop(lambda found: found == 0,
                                lambda found: tf.size(tf.io.matching_files(path[0])),
                                (none_yet,))[0]
        return {"opened": tf.fill(tf.shape(path), matches > 0)}


def wait_for_file(path, timeout=60):
    """Returns once `path` exists (a gate's `.waiting` mark); fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not pathlib.Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.02)


class NoInputs(tf.Module):
    @tf.function(input_signature=[])
    def constant(self):
        return {"y": tf.constant([1.0])}


def write_slow_model(path):
    module = Slow()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.spin})
    return pathlib.Path(path)


def write_gate_model(path):
    module = Gate()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.wait})
    return pathlib.Path(path)


def write_no_inputs_model(path):
    module = NoInputs()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.constant})
    return pathlib.Path(path)


# --- The demo page's models (tests/serving/test_demo_browser.py) ---------------------

HEADLINE_CLASSES = ("not sarcastic", "sarcastic")
GATE_UNITS = 6
# Distinct scores per unit: the page orders the forward units 3, 1, 5, 2, 4, 0.
GATE_IMPORTANCE = {"forward": [0.1, 0.7, 0.3, 0.9, 0.2, 0.5],
                   "backward": [0.6, 0.05, 0.4, 0.25, 0.8, 0.15]}


class Headlines(tf.Module):
    """A two-class headline "classifier" with the export's `gates` signature.

    The sarcastic score is sigmoid(0.5 * words - 2). The gates are those of a
    fake bidirectional LSTM `bidirectional_0` of `GATE_UNITS` units: each
    quantity a fixed function of the token's position t and the unit u.
    """

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def predict(self, text):
        words = tf.cast(tf.strings.split(text).row_lengths(), tf.float32)
        sarcastic = tf.sigmoid(0.5 * words - 2.0)
        classes = tf.tile(tf.constant([HEADLINE_CLASSES]), [tf.shape(text)[0], 1])
        return {"scores": tf.stack([1.0 - sarcastic, sarcastic], axis=1), "classes": classes}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def gates(self, text):
        words = tf.strings.split(text)
        tokens = words.to_tensor(default_value="")
        batch, time = tf.shape(tokens)[0], tf.shape(tokens)[1]
        t = tf.cast(tf.range(time), tf.float32)[:, None]
        u = tf.range(GATE_UNITS, dtype=tf.float32)[None, :]
        outputs = {"tokens": tokens, "token_count": tf.cast(words.row_lengths(), tf.int32),
                   "score": tf.zeros([batch])}
        for direction, sign in (("forward", 1.0), ("backward", -1.0)):
            grid = sign * (0.6 * t - 0.4 * u)
            layer = f"bidirectional_0/{direction}"
            for name, value in _headline_quantities(grid, t).items():
                outputs[f"{layer}/{name}"] = tf.tile(value[None], [batch, 1, 1])
            outputs[f"{layer}/importance"] = tf.tile(
                tf.constant([GATE_IMPORTANCE[direction]]), [batch, 1])
        return outputs


def _headline_quantities(grid, t):
    """The fake LSTM's i, f, z, o, c, y from `grid` = ±(0.6 t - 0.4 u)."""
    c = 2.0 * tf.tanh(grid) + 0.25 * t - 1.0  # a state: negative and positive
    o = tf.sigmoid(-grid)
    return {"i": tf.sigmoid(grid), "f": tf.sigmoid(grid + 1.0), "z": tf.tanh(0.5 * grid),
            "o": o, "c": c, "y": o * tf.tanh(c)}


class Broken(tf.Module):
    """A classifier's signature whose every run fails (INVALID_ARGUMENT)."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def predict(self, text):
        check = tf.debugging.assert_less(tf.size(text), 0, message="the broken model always fails")
        with tf.control_dependencies([check]):
            scores = tf.zeros([tf.shape(text)[0], 2])
        classes = tf.tile(tf.constant([HEADLINE_CLASSES]), [tf.shape(text)[0], 1])
        return {"scores": scores, "classes": classes}


# The fake translator's units: the encoder's 4 cells in 2 blocks (block 1
# weighs 1.3, block 0 0.3), the decoder's 3 units.
ENCODER_IMPORTANCE = [0.1, 0.2, 0.9, 0.4]
DECODER_IMPORTANCE = [0.2, 0.5, 0.1]


class EchoTranslator(tf.Module):
    """The translator's signatures: `serving_default` (scalar `beam_width`),
    whose translation is the text upper-cased with the beam width; `gates`,
    with an `encoder` shaped like the 1997 LSTM (2 blocks of 2 cells: per-block
    `y_in`, `y_out`) over the text's words and a GRU `decoder` over the
    translation's (`target_tokens`, "[end]" included)."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text"),
                                  tf.TensorSpec([], tf.int32, name="beam_width")])
    def translate(self, text, beam_width):
        return {"translation": tf.strings.join(
            [tf.strings.upper(text), tf.strings.format(" (beam {})", beam_width)])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def gates(self, text):
        source = tf.strings.split(text).to_tensor(default_value="")
        target = tf.strings.split(
            tf.strings.join([tf.strings.upper(text), " [end]"])).to_tensor(default_value="")
        batch = tf.shape(text)[0]
        outputs = {"tokens": source, "token_count": _count(source),
                   "target_tokens": target, "target_token_count": _count(target),
                   "score": tf.zeros([batch])}
        for name, width in (("y_in", 2), ("y_out", 2), ("g", 4), ("s_c", 4), ("y_c", 4)):
            grid = _position_grid(source, width)
            outputs[f"encoder/forward/{name}"] = (
                tf.sigmoid(grid) if name.startswith("y_") else 2.0 * tf.tanh(grid))
        for name in ("z", "r", "h_tilde", "h"):
            grid = _position_grid(target, 3)
            outputs[f"decoder/forward/{name}"] = (
                tf.sigmoid(grid) if name in ("z", "r") else tf.tanh(grid))
        for layer, importance in (("encoder", ENCODER_IMPORTANCE), ("decoder", DECODER_IMPORTANCE)):
            outputs[f"{layer}/forward/importance"] = tf.tile(tf.constant([importance]), [batch, 1])
        return outputs


def _count(tokens):
    return tf.reduce_sum(tf.cast(tokens != "", tf.int32), axis=1)


def _position_grid(tokens, width):
    """(batch, time, width): 0.6 t - 0.4 u at token t and unit u, alike in every row."""
    t = tf.cast(tf.range(tf.shape(tokens)[1]), tf.float32)[:, None]
    u = tf.range(width, dtype=tf.float32)[None, :]
    return tf.tile((0.6 * t - 0.4 * u)[None], [tf.shape(tokens)[0], 1, 1])


class EchoLanguageModel(tf.Module):
    """The language model's signatures; the continuation spells out the options it got."""

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="prompts"),
        tf.TensorSpec([], tf.int32, name="max_length"),
        tf.TensorSpec([], tf.float32, name="temperature"),
        tf.TensorSpec([], tf.int32, name="top_k"),
        tf.TensorSpec([], tf.float32, name="top_p"),
        tf.TensorSpec([], tf.int64, name="seed"),
    ])
    def generate(self, prompts, max_length, temperature, top_k, top_p, seed):
        options = tf.strings.format(
            " max_length={} temperature={} top_k={} top_p={} seed={}",
            (max_length, temperature, top_k, top_p, seed))
        return {"text": tf.fill(tf.shape(prompts), options)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def log_prob(self, texts):
        return {"log_prob": tf.zeros(tf.shape(texts)),
                "token_count": tf.strings.length(texts)}


def _save(module, path, **signatures):
    tf.saved_model.save(module, str(path), signatures=signatures)
    return pathlib.Path(path)


def write_headlines(path):
    module = Headlines()
    return _save(module, path, serving_default=module.predict, gates=module.gates)


def write_broken(path):
    module = Broken()
    return _save(module, path, serving_default=module.predict)


def write_echo_translator(path):
    module = EchoTranslator()
    return _save(module, path, serving_default=module.translate, gates=module.gates)


def write_echo_language_model(path):
    module = EchoLanguageModel()
    return _save(module, path, serving_default=module.generate, log_prob=module.log_prob)
