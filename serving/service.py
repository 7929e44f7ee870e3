"""The server's one request path: TF Serving's request protos in, response protos out.

gRPC hands its requests here as they arrive; REST first turns its JSON into
the same request protos (`serving/rest_json.py`), as TF Serving's own HTTP
handler does. Resolving and holding the version, the request limits,
batching and the runtime metrics happen here once.

Every request is bounded: its tensors' claimed rows and elements are
checked before they are decoded, and rows beyond one model run's share
run in pieces (`max_rows_per_run`, or the batches), so a large request
costs time, not memory.
"""

import concurrent.futures
import time

import grpc
import numpy as np
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    inference_pb2,
    model_management_pb2,
    predict_pb2,
    regression_pb2,
)

from serving.errors import ServingError, invalid_argument
from serving.limits import RequestLimits
from serving.servable import CLASSIFY_METHOD, DEFAULT_SIGNATURE, REGRESS_METHOD, serialized_examples
from serving.tensors import dtype_name, to_ndarray, to_tensor_proto

SIGNATURE_DEF_FIELD = "signature_def"

# The front ends decode and queue a batched request this small, and encode an
# answer this small, on their event loop: cheaper than a hop to a thread.
INLINE_BYTES = 16 * 1024


def _spec_fields(spec):
    """`(name, version or None, label or None)` of a ModelSpec."""
    version = spec.version.value if spec.HasField("version") else None
    return spec.name, version, spec.version_label or None


def _set_spec(spec, name, number, signature_name):
    spec.name, spec.version.value, spec.signature_name = name, number, signature_name


def _deadline(timeout_ms):
    return None if not timeout_ms else time.monotonic() + timeout_ms / 1000


def _remaining_ms(deadline):
    if deadline is None:
        return None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline exceeded")
    return max(1, int(remaining * 1000))


def _rows(inputs):
    """The rows of a request: dimension 0 shared by its inputs of rank >= 1, or None."""
    sizes = {value.shape[0] for value in inputs.values() if value.ndim}
    return sizes.pop() if len(sizes) == 1 else None


class Service:
    """Predict, Classify, Regress, MultiInference, metadata, status and reloads.

    Args:
        manager: The `ModelManager` holding the models.
        batcher: A `serving.batching.BatchScheduler`, or None for no batching.
        metrics: A `serving.metrics.Metrics`, or None.
        limits: A `RequestLimits`.
        check_method_names: `--enable_signature_method_name_check` (Predict;
            Classify and Regress always check their signature's method).
        reload_config: Called with a checked `ModelServerConfig` to serve it,
            or None when model management requests are refused.
        tensor_content: `--enable_serialization_as_tensor_content`: Predict
            outputs packed instead of in typed fields.
    """

    def __init__(self, manager, batcher=None, metrics=None, limits=RequestLimits(),
                 check_method_names=False, reload_config=None, tensor_content=False):
        self.manager = manager
        self.batcher = batcher
        self.metrics = metrics
        self.limits = limits
        self.check_method_names = check_method_names
        self._reload_config = reload_config
        self.tensor_content = tensor_content

    # --- Predict ---------------------------------------------------------------

    def submits_inline(self, request_bytes):
        """Whether a front end may call `submit_predict` on its event loop.

        With batching it only queues the request; without, it runs the model.
        """
        return self.batcher is not None and request_bytes <= INLINE_BYTES

    def submit_predict(self, request, timeout_ms=None):
        """Starts a Predict; returns a Future of its `PredictResponse`.

        With batching the Future completes when the request's batch has run,
        so an event loop can wait without a thread per request; without, the
        model runs here. The version is held until the Future is done.

        Raises:
            ServingError: For a request refused before it runs (unknown
                model or signature, a wrong input, a limit).
        """
        name, version, label = _spec_fields(request.model_spec)
        if not name:
            raise invalid_argument("Missing ModelSpec")
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        output_filter = tuple(request.output_filter)
        held, servable = self.manager.acquire(name, version, label)
        try:
            signature = servable.predict_signature(signature_name, self.check_method_names)
            inputs = self._decode_inputs(request, signature)
            started = time.perf_counter()

            def respond(outputs):
                response = predict_pb2.PredictResponse()
                _set_spec(response.model_spec, name, held.number, signature_name)
                for alias, value in outputs.items():
                    response.outputs[alias].CopyFrom(to_tensor_proto(value, self.tensor_content))
                return response

            if self.batcher is not None:
                future = _then(self.batcher.submit(
                    (name, held.number, signature_name, output_filter), inputs,
                    lambda batch: servable.run(signature, batch, output_filter, timeout_ms)),
                    respond)
            else:
                future = concurrent.futures.Future()
                try:
                    future.set_result(respond(self._run_in_pieces(
                        servable, signature, inputs, output_filter, timeout_ms)))
                except Exception as error:
                    future.set_exception(error)
        except BaseException:
            self.manager.release(held)
            raise

        def finished(_):
            self.manager.release(held)
            if self.metrics is not None:
                self.metrics.runtime(name, "Predict", time.perf_counter() - started)

        future.add_done_callback(finished)
        return future

    def _decode_inputs(self, request, signature):
        """alias -> array, each checked against the signature's dtype and the limits."""
        inputs = {}
        for index, (alias, proto) in enumerate(sorted(request.inputs.items())):
            expected = signature.inputs.get(alias)
            if expected is not None and proto.dtype != expected.dtype:
                # TensorFlow's wording; without the check a session would
                # fail inside the graph with an INTERNAL error.
                raise invalid_argument(
                    f"Expects arg[{index}] ({alias}) to be {dtype_name(expected.dtype)} but "
                    f"{dtype_name(proto.dtype)} is provided")
            inputs[alias] = to_ndarray(proto, alias, self.limits.max_request_rows,
                                       self.limits.max_elements)
        return inputs

    def _run_in_pieces(self, servable, signature, inputs, output_filter, timeout_ms):
        """Runs `inputs`, at most `max_rows_per_run` rows at a time."""
        rows, step = _rows(inputs), self.limits.max_rows_per_run
        if rows is None or rows <= step:
            return servable.run(signature, inputs, output_filter, timeout_ms)
        deadline = _deadline(timeout_ms)
        pieces = []
        for start in range(0, rows, step):
            piece = {alias: value[start:start + step] if value.ndim else value
                     for alias, value in inputs.items()}
            outputs = servable.run(signature, piece, output_filter, _remaining_ms(deadline))
            for alias, value in outputs.items():
                if np.ndim(value) == 0 or np.shape(value)[0] != min(step, rows - start):
                    raise ServingError(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"A request of {rows} rows runs in pieces of {step} "
                        f"(--max_rows_per_run), but output {alias} has no row per input row")
            pieces.append(outputs)
        return {alias: np.concatenate([piece[alias] for piece in pieces]) for alias in pieces[0]}

    # --- Classify, Regress, MultiInference ---------------------------------

    def classify(self, request, timeout_ms=None):
        """A `ClassificationResponse`."""
        response = classification_pb2.ClassificationResponse()
        self._examples(request, CLASSIFY_METHOD, timeout_ms, response)
        return response

    def regress(self, request, timeout_ms=None):
        """A `RegressionResponse`."""
        response = regression_pb2.RegressionResponse()
        self._examples(request, REGRESS_METHOD, timeout_ms, response)
        return response

    def _examples(self, request, method, timeout_ms, response):
        name, version, label = _spec_fields(request.model_spec)
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        with self.manager.servable(name, version, label) as (number, servable):
            signature = servable.example_signature(signature_name, method)
            examples = self._bounded_examples(request.input)
            if self.metrics is not None:
                self.metrics.examples(name, len(examples))
            response.result.CopyFrom(
                self._run_examples(servable, signature, method, examples, timeout_ms))
        _set_spec(response.model_spec, name, number, signature_name)

    def _bounded_examples(self, input_proto):
        examples = serialized_examples(input_proto)
        if len(examples) > self.limits.max_request_rows:
            raise invalid_argument(
                f"Request has {len(examples)} examples; this server takes at most "
                f"{self.limits.max_request_rows} per request (--max_request_rows)")
        return examples

    def _run_examples(self, servable, signature, method, examples, timeout_ms):
        """A Classification- or RegressionResult, run `max_rows_per_run` examples at a time."""
        run = servable.classify if method == CLASSIFY_METHOD else servable.regress
        step, deadline = self.limits.max_rows_per_run, _deadline(timeout_ms)
        result = None
        for start in range(0, len(examples), step):
            piece = run(signature, examples[start:start + step], _remaining_ms(deadline))
            if result is None:
                result = piece
            else:
                result.MergeFrom(piece)  # repeated fields: appended in order
        return result

    def multi_inference(self, request, timeout_ms=None):
        """A `MultiInferenceResponse`: each task's result, in request order."""
        if not request.tasks:
            raise invalid_argument("MultiInferenceRequest must contain at least one task")
        if len({task.model_spec.name for task in request.tasks}) != 1:
            raise invalid_argument(
                "All ModelSpecs in a MultiInferenceRequest must access the same model name.")
        seen = set()
        for task in request.tasks:
            signature_name = task.model_spec.signature_name or DEFAULT_SIGNATURE
            if signature_name in seen:
                raise invalid_argument(f"Duplicate evaluation of signature: {signature_name}")
            seen.add(signature_name)
            if task.method_name not in (CLASSIFY_METHOD, REGRESS_METHOD):
                raise ServingError(grpc.StatusCode.UNIMPLEMENTED,
                                   f"Unsupported signature method_name: {task.method_name}")
        response = inference_pb2.MultiInferenceResponse()
        # All tasks run on one resolved version: the first task's spec decides.
        name, version, label = _spec_fields(request.tasks[0].model_spec)
        with self.manager.servable(name, version, label) as (number, servable):
            examples = self._bounded_examples(request.input)
            deadline = _deadline(timeout_ms)
            for task in request.tasks:
                signature_name = task.model_spec.signature_name or DEFAULT_SIGNATURE
                signature = servable.example_signature(signature_name, task.method_name)
                result = response.results.add()
                _set_spec(result.model_spec, name, number, signature_name)
                outcome = self._run_examples(servable, signature, task.method_name, examples,
                                             _remaining_ms(deadline))
                if task.method_name == CLASSIFY_METHOD:
                    result.classification_result.CopyFrom(outcome)
                else:
                    result.regression_result.CopyFrom(outcome)
        return response

    # --- Metadata, status, model management --------------------------------

    def signature_defs(self, model_spec):
        """`(version, {name: SignatureDef})` of the version a ModelSpec resolves to."""
        with self.manager.servable(*_spec_fields(model_spec)) as (number, servable):
            return number, servable.signature_defs

    def get_model_metadata(self, request):
        """A `GetModelMetadataResponse` with the version's SignatureDefMap."""
        if not request.metadata_field:
            raise invalid_argument(
                "GetModelMetadataRequest must specify at least one metadata_field")
        for field in request.metadata_field:
            if field != SIGNATURE_DEF_FIELD:
                raise invalid_argument(f"Metadata field {field} is not supported")
        number, signature_defs = self.signature_defs(request.model_spec)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in signature_defs.items():
            signatures.signature_def[key].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = number
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signatures)
        return response

    def get_model_status(self, request):
        """A `GetModelStatusResponse`."""
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        return self.manager.status(*_spec_fields(request.model_spec))

    def reload_config(self, request):
        """A `ReloadConfigResponse` once the request's models are served.

        Raises:
            ServingError: PERMISSION_DENIED when model management is off;
                INVALID_ARGUMENT for a config that is refused (a base path
                outside the operator's roots, among others), which then
                changes nothing.
        """
        if self._reload_config is None:
            raise ServingError(
                grpc.StatusCode.PERMISSION_DENIED,
                "Model management requests are disabled on this server; the operator can "
                "enable them with --enable_model_management")
        if request.config.WhichOneof("config") != "model_config_list":
            raise invalid_argument(
                "ServerModelConfig type not supported by HandleReloadConfigRequest. "
                "Only ModelConfigList is currently supported")
        self._reload_config(request.config)
        return model_management_pb2.ReloadConfigResponse(status={"error_code": 0})


def _then(future, convert):
    """A Future of `convert(future.result())`, run where `future` completes."""
    converted = concurrent.futures.Future()
    converted.set_running_or_notify_cancel()

    def done(source):
        try:
            converted.set_result(convert(source.result()))
        except BaseException as error:
            converted.set_exception(error)

    future.add_done_callback(done)
    return converted
