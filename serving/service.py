"""The server's operations, the same for REST and gRPC.

Both front ends decode a request into a model spec and NumPy inputs (or
tf.Examples), call one of these, and encode the result. Resolving the
version, holding it while the request runs, batching, and the request
metrics all happen here once.
"""

import concurrent.futures
import time

import grpc
from google.protobuf import any_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    inference_pb2,
)

from serving.errors import ServingError, invalid_argument
from serving.servable import CLASSIFY_METHOD, DEFAULT_SIGNATURE, REGRESS_METHOD, serialized_examples

SIGNATURE_DEF_FIELD = "signature_def"

# The front ends decode and queue requests, and encode results, up to this
# size on their event loop: for them the work costs less than the hop to a
# thread would.
INLINE_BYTES = 16 * 1024


def small_outputs(outputs):
    """Whether Predict outputs are numeric and at most INLINE_BYTES in all."""
    return all(value.dtype != object for value in outputs.values()) and sum(
        value.nbytes for value in outputs.values()) <= INLINE_BYTES


class Service:
    """Predict, Classify, Regress, MultiInference, metadata and status.

    Args:
        manager: The `ModelManager` holding the models.
        batcher: A `serving.batching.BatchScheduler`, or None for no batching.
        metrics: A `serving.metrics.Metrics`, or None.
        check_method_names: `--enable_signature_method_name_check`.
    """

    def __init__(self, manager, batcher=None, metrics=None, check_method_names=False):
        self.manager = manager
        self.batcher = batcher
        self.metrics = metrics
        self.check_method_names = check_method_names

    # --- Predict ---------------------------------------------------------------

    def submits_inline(self, request_bytes):
        """Whether a front end may call `submit_predict` on its event loop.

        With batching, submitting only queues the request, which for a
        small one is cheaper than a hop to a thread; without batching it
        runs the model, which an event loop must not.
        """
        return self.batcher is not None and request_bytes <= INLINE_BYTES

    def predict(self, spec, decode_inputs, output_filter=(), timeout_ms=None,
                signature_lookup=None):
        """Runs a Predict; returns `(version, signature_name, outputs)`.

        The blocking form of `submit_predict`, which documents the arguments.
        """
        number, signature_name, future = self.submit_predict(
            spec, decode_inputs, output_filter, timeout_ms, signature_lookup)
        return number, signature_name, future.result()

    def submit_predict(self, spec, decode_inputs, output_filter=(), timeout_ms=None,
                       signature_lookup=None):
        """Starts a Predict; returns `(version, signature_name, future)`.

        With batching the request is queued for its batch and the Future
        completes when the batch has run, so an event loop can wait on it
        without a thread per request; without batching the model runs here
        and the Future is already done. The version is held until then.

        Args:
            spec: `(name, version or None, label or None, signature_name)`.
            decode_inputs: Called with the SignatureDef; returns alias -> array.
                Decoding needs the signature (REST reads dtypes from it),
                so it runs once the version is resolved.
            output_filter: Output aliases to return; empty for all.
            timeout_ms: The deadline of the model run, or None.
            signature_lookup: `(servable, name) -> SignatureDef`; the REST
                API reports a missing signature differently from gRPC.
        """
        name, version, label, signature_name = spec
        signature_name = signature_name or DEFAULT_SIGNATURE
        output_filter = tuple(output_filter)
        held, servable = self.manager.acquire(name, version, label)
        try:
            lookup = signature_lookup or (lambda s, n: s.predict_signature(n))
            signature = lookup(servable, signature_name)
            inputs = decode_inputs(signature)
            started = time.perf_counter()

            def run_batch(batched):
                return servable.run(signature, batched, output_filter, timeout_ms)

            if self.batcher is not None:
                future = self.batcher.submit(
                    (name, held.number, signature_name, output_filter), inputs, run_batch)
            else:
                future = concurrent.futures.Future()
                try:
                    future.set_result(run_batch(inputs))
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
        return held.number, signature_name, future

    # --- Classify, Regress, MultiInference ---------------------------------

    def classify(self, spec, input_proto, timeout_ms=None):
        """`(version, signature_name, ClassificationResult)`."""
        return self._examples(spec, input_proto, CLASSIFY_METHOD, timeout_ms)

    def regress(self, spec, input_proto, timeout_ms=None):
        """`(version, signature_name, RegressionResult)`."""
        return self._examples(spec, input_proto, REGRESS_METHOD, timeout_ms)

    def _examples(self, spec, input_proto, method, timeout_ms):
        name, version, label, signature_name = spec
        signature_name = signature_name or DEFAULT_SIGNATURE
        with self.manager.servable(name, version, label) as (number, servable):
            signature = servable.example_signature(signature_name, method,
                                                   self.check_method_names)
            examples = serialized_examples(input_proto)
            if self.metrics is not None:
                self.metrics.examples(name, len(examples))
            run = servable.classify if method == CLASSIFY_METHOD else servable.regress
            result = run(signature, examples, timeout_ms)
        return number, signature_name, result

    def multi_inference(self, request, timeout_ms=None):
        """A `MultiInferenceResponse`: each task's result, in request order."""
        if not request.tasks:
            raise invalid_argument("MultiInferenceRequest must contain at least one task")
        names = {task.model_spec.name for task in request.tasks}
        if len(names) != 1:
            raise invalid_argument(
                "All ModelSpecs in a MultiInferenceRequest must access the same model name."
            )
        seen = set()
        for task in request.tasks:
            signature_name = task.model_spec.signature_name or DEFAULT_SIGNATURE
            if signature_name in seen:
                raise invalid_argument(f"Duplicate evaluation of signature: {signature_name}")
            seen.add(signature_name)
            if task.method_name not in (CLASSIFY_METHOD, REGRESS_METHOD):
                raise ServingError(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"Unsupported signature method_name: {task.method_name}",
                )
        response = inference_pb2.MultiInferenceResponse()
        # All tasks run on one resolved version: the first task's spec decides.
        first = request.tasks[0].model_spec
        version = first.version.value if first.HasField("version") else None
        label = first.version_label or None
        with self.manager.servable(first.name, version, label) as (number, servable):
            examples = serialized_examples(request.input)
            for task in request.tasks:
                signature_name = task.model_spec.signature_name or DEFAULT_SIGNATURE
                signature = servable.example_signature(signature_name, task.method_name,
                                                       self.check_method_names)
                result = response.results.add()
                result.model_spec.name = first.name
                result.model_spec.version.value = number
                result.model_spec.signature_name = signature_name
                if task.method_name == CLASSIFY_METHOD:
                    result.classification_result.CopyFrom(
                        servable.classify(signature, examples, timeout_ms))
                else:
                    result.regression_result.CopyFrom(
                        servable.regress(signature, examples, timeout_ms))
        return response

    # --- Metadata and status -----------------------------------------------

    def metadata(self, spec, fields):
        """A `GetModelMetadataResponse` with the version's SignatureDefMap."""
        name, version, label, _ = spec
        if not fields:
            raise invalid_argument(
                "GetModelMetadataRequest must specify at least one metadata_field")
        for field in fields:
            if field != SIGNATURE_DEF_FIELD:
                raise invalid_argument(f"Metadata field {field} is not supported")
        with self.manager.servable(name, version, label) as (number, servable):
            signatures = get_model_metadata_pb2.SignatureDefMap()
            for key, signature in servable.signature_defs.items():
                signatures.signature_def[key].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = name
        response.model_spec.version.value = number
        packed = any_pb2.Any()
        packed.Pack(signatures)
        response.metadata[SIGNATURE_DEF_FIELD].CopyFrom(packed)
        return response

    def status(self, name, version=None, label=None):
        """A `GetModelStatusResponse`."""
        return self.manager.status(name, version, label)
