"""One loaded SavedModel version, run the way TF Serving runs it.

Like TF Serving, `Servable` loads the `serve` MetaGraph into a TF1 session
and runs SignatureDefs by tensor name, which keeps semantics a TF2
function call would lose: an input with a default may be left out,
outputs can be filtered (only fetched ones run), and a request's deadline
is the session's `timeout_in_ms`. The session runs requests concurrently
without the GIL. The checks and messages of Predict, Classify and Regress
are those of TF Serving's `predict_util`, `classifier` and `regressor`;
warmup replays `assets.extra/tf_serving_warmup_requests` before a version
serves.
"""

import pathlib

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2, prediction_log_pb2, regression_pb2

from serving.errors import ServingError, invalid_argument
from serving.tensors import to_ndarray

DEFAULT_SIGNATURE = "serving_default"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
PREDICT_METHODS = ("tensorflow/serving/predict", CLASSIFY_METHOD, REGRESS_METHOD)
INIT_OP_SIGNATURE = "__saved_model_init_op"
WARMUP_FILE = pathlib.Path("assets.extra") / "tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000


def status_of(error):
    """A `ServingError` for an exception raised while loading or running."""
    if isinstance(error, ServingError):
        return error
    if isinstance(error, tf.errors.OpError):
        code = grpc.StatusCode.UNKNOWN
        for candidate in grpc.StatusCode:
            if candidate.value[0] == error.error_code:
                code = candidate
        if code is grpc.StatusCode.OK:
            code = grpc.StatusCode.UNKNOWN
        # TF's Python session adds this line; TF Serving's messages start with the op's own.
        return ServingError(code, error.message.removeprefix("Graph execution error:\n\n"))
    if isinstance(error, (TypeError, ValueError)):
        # Raised by the session while converting a feed (e.g. strings fed
        # to a float input): the request's fault, as in TF Serving.
        return invalid_argument(str(error))
    return ServingError(grpc.StatusCode.UNKNOWN, f"{type(error).__name__}: {error}")


def _set(names):
    return "{" + ",".join(sorted(names)) + "}"


class Servable:
    """A SavedModel version in a TensorFlow session.

    Args:
        path: The version directory (`BASE/NAME/VERSION`).
        tags: The MetaGraph tags to load (`--saved_model_tags`).
        session_config: An optional `tf.compat.v1.ConfigProto`.

    Raises:
        ServingError: The SavedModel could not be loaded.
    """

    def __init__(self, path, tags=("serve",), session_config=None):
        self.path = pathlib.Path(path)
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph, config=session_config)
        try:
            with self.graph.as_default():
                meta_graph = tf.compat.v1.saved_model.load(self.session, list(tags), str(self.path))
        except Exception as error:
            self.session.close()
            raise status_of(error) from None
        # Every SignatureDef, init op included, as GetModelMetadata lists them.
        self.signature_defs = dict(meta_graph.signature_def)

    def close(self):
        self.session.close()

    def predict_signature(self, name, check_method=False):
        """The SignatureDef Predict runs (gRPC's message for a missing one).

        With `check_method` (`--enable_signature_method_name_check`) its
        method must be predict, classify or regress, as in TF Serving.
        """
        name = name or DEFAULT_SIGNATURE
        if name == INIT_OP_SIGNATURE or name not in self.signature_defs:
            raise ServingError(grpc.StatusCode.FAILED_PRECONDITION,
                               f'Serving signature key "{name}" not found.')
        signature = self.signature_defs[name]
        if check_method and signature.method_name not in PREDICT_METHODS:
            raise invalid_argument(
                f"Expected prediction signature method_name to be one of "
                f"{{{', '.join(PREDICT_METHODS)}}}. Was: {signature.method_name}")
        return signature

    def run(self, signature, inputs, output_filter=(), timeout_ms=None):
        """Runs `signature` on `inputs` (alias -> array); returns alias -> array.

        Args:
            signature: A SignatureDef of this servable.
            inputs: Input alias -> NumPy array. Inputs the SignatureDef has a
                default for may be left out.
            output_filter: Output aliases to compute; empty for all.
            timeout_ms: The session run's deadline, or None.

        Raises:
            ServingError: TF Serving's INVALID_ARGUMENT for a wrong input
                set or output filter; the TF runtime's error otherwise.
        """
        expected = set(signature.inputs)
        sent = set(inputs)
        if sent != expected:
            missing = expected - sent
            extra = sent - expected
            if len(sent) != len(expected) and not (
                not extra and missing <= set(signature.defaults)
            ):
                raise invalid_argument(
                    f"input size does not match signature: {len(sent)}!={len(expected)} "
                    f"len({_set(sent)}) != len({_set(expected)}). Sent extra: {_set(extra)}. "
                    f"Missing but required: {_set(missing - set(signature.defaults))}.")
            for alias in sorted(extra):
                raise invalid_argument(
                    f"input tensor alias not found in signature: {alias}. "
                    f"Inputs expected to be in the set {_set(expected)}.")
        outputs = list(output_filter) or sorted(signature.outputs)
        seen = set()
        for alias in outputs:
            if alias not in signature.outputs:
                raise invalid_argument(
                    f"output tensor alias not found in signature: {alias} "
                    f"Outputs expected to be in the set {_set(signature.outputs)}.")
            if alias in seen:
                raise invalid_argument(f"duplicate output tensor alias: {alias}")
            seen.add(alias)
        feed = {signature.inputs[alias].name: value for alias, value in inputs.items()}
        fetches = {alias: signature.outputs[alias].name for alias in outputs}
        options = None
        if timeout_ms:
            options = tf.compat.v1.RunOptions(timeout_in_ms=int(timeout_ms))
        try:
            return self.session.run(fetches, feed, options=options)
        except Exception as error:
            raise status_of(error) from None

    def example_signature(self, name, method_name):
        """The SignatureDef Classify/Regress runs, with TF Serving's checks.

        Its method must be `method_name`: a predict signature fed serialized
        tf.Examples would score their bytes as if they were its input.
        """
        name = name or DEFAULT_SIGNATURE
        signature = self.signature_defs.get(name)
        if signature is None or name == INIT_OP_SIGNATURE:
            raise invalid_argument(f"No signature was found with the name: {name}")
        if signature.method_name != method_name:
            raise invalid_argument(
                f"Expected {method_name.split('/')[-1]} signature method_name to be "
                f"{method_name}. Was: {signature.method_name}")
        if len(signature.inputs) != 1:
            raise invalid_argument(
                f"Expected one input Tensor. Found {len(signature.inputs)} inputs.")
        (input_info,) = signature.inputs.values()
        if input_info.dtype != tf.string.as_datatype_enum:
            raise invalid_argument(
                "Input to the signature must be serialized tf.Examples (DT_STRING).")
        return signature

    def classify(self, signature, serialized_examples, timeout_ms=None):
        """A `ClassificationResult` for serialized tf.Examples."""
        has_classes = "classes" in signature.outputs
        has_scores = "scores" in signature.outputs
        if not (has_classes or has_scores):
            raise invalid_argument(
                'Expected classification signature outputs to contain at least one of '
                f'"classes" or "scores". Signature was: {signature}')
        (alias,) = signature.inputs
        wanted = [a for a in ("classes", "scores") if a in signature.outputs]
        outputs = self.run(
            signature, {alias: np.array(serialized_examples, dtype=object)}, wanted, timeout_ms
        )
        count = len(serialized_examples)
        classes, scores = outputs.get("classes"), outputs.get("scores")
        for name, value in (("classes", classes), ("scores", scores)):
            if value is not None and (value.ndim != 2 or value.shape[0] != count):
                raise invalid_argument(
                    f"Expected Tensor shape: [{count} num_classes] but got "
                    f"{list(value.shape)} for output {name}")
        if classes is not None and scores is not None and classes.shape != scores.shape:
            raise invalid_argument(
                f"Tensors class and score should match in shape: {list(classes.shape)} "
                f"vs {list(scores.shape)}")
        result = classification_pb2.ClassificationResult()
        for row in range(count):
            entry = result.classifications.add()
            width = (classes if classes is not None else scores).shape[1]
            for column in range(width):
                label = entry.classes.add()
                if classes is not None:
                    label.label = classes[row, column].decode("utf-8", "replace")
                if scores is not None:
                    label.score = float(scores[row, column])
        return result

    def regress(self, signature, serialized_examples, timeout_ms=None):
        """A `RegressionResult` for serialized tf.Examples."""
        if "outputs" not in signature.outputs:
            raise invalid_argument(
                f'No output Tensor named "outputs" was found in signature: {signature}')
        (alias,) = signature.inputs
        outputs = self.run(
            signature, {alias: np.array(serialized_examples, dtype=object)}, ["outputs"],
            timeout_ms,
        )
        values = outputs["outputs"]
        count = len(serialized_examples)
        if not (values.shape == (count,) or values.shape == (count, 1)):
            raise invalid_argument(
                f"Expected output Tensor shape to be either [{count}] or [{count},1] but "
                f"got {list(values.shape)}")
        result = regression_pb2.RegressionResult()
        for value in values.reshape(-1):
            result.regressions.add().value = float(value)
        return result

    def warmup(self, iterations=1, check_method=False):
        """Replays the version's warmup requests; returns how many ran.

        Raises:
            ServingError: Too many records, an unreadable file, or a request
                that fails (the version must then not become available).
        """
        path = self.path / WARMUP_FILE
        if not path.is_file():
            return 0
        try:
            records = [r.numpy() for r in tf.data.TFRecordDataset(str(path))]
        except Exception as error:
            raise ServingError(
                grpc.StatusCode.DATA_LOSS, f"Failed to read warmup file {path}: {error}"
            ) from None
        if len(records) > MAX_WARMUP_RECORDS:
            raise invalid_argument(
                f"Number of warmup records exceeds the maximum ({MAX_WARMUP_RECORDS}) at {path}")
        for record in records:
            log = prediction_log_pb2.PredictionLog.FromString(record)
            for _ in range(max(1, iterations)):
                self.replay(log, check_method)
        return len(records)

    def replay(self, log, check_method=False):
        kind = log.WhichOneof("log_type")
        if kind == "predict_log":
            request = log.predict_log.request
            signature = self.predict_signature(request.model_spec.signature_name, check_method)
            inputs = {a: to_ndarray(t, a) for a, t in request.inputs.items()}
            self.run(signature, inputs, list(request.output_filter))
        elif kind in ("classify_log", "regress_log"):
            request = getattr(log, kind).request
            method = CLASSIFY_METHOD if kind == "classify_log" else REGRESS_METHOD
            signature = self.example_signature(request.model_spec.signature_name, method)
            examples = serialized_examples(request.input)
            (self.classify if kind == "classify_log" else self.regress)(signature, examples)
        elif kind == "multi_inference_log":
            request = log.multi_inference_log.request
            examples = serialized_examples(request.input)
            for task in request.tasks:
                method = task.method_name
                signature = self.example_signature(task.model_spec.signature_name, method)
                (self.classify if method == CLASSIFY_METHOD else self.regress)(
                    signature, examples)
        else:
            raise invalid_argument(f"Unsupported log_type for warmup: {kind}")


def serialized_examples(input_proto):
    """The serialized tf.Examples of a `tensorflow.serving.Input`.

    With a context, each example is the context merged with it: the two
    serialized messages concatenated, which protobuf parses as a merge
    (TF Serving builds the batch the same way).
    """
    kind = input_proto.WhichOneof("kind")
    if kind == "example_list":
        examples = [e.SerializeToString() for e in input_proto.example_list.examples]
    elif kind == "example_list_with_context":
        listed = input_proto.example_list_with_context
        context = listed.context.SerializeToString()
        examples = [context + e.SerializeToString() for e in listed.examples]
    else:
        raise invalid_argument("Input is empty")
    if not examples:
        raise invalid_argument("Input is empty")
    return examples
