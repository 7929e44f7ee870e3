"""TF Serving's gRPC API: `tensorflow.serving.PredictionService` and `ModelService`.

The servicers are the official generated base classes from the
`tensorflow-serving-api` package, so the method paths and messages are
TF Serving's own and its stubs work unchanged. Errors abort the call
with TF Serving's status code and message (cut to 1024 characters).
"""

import asyncio
import inspect
import time

import grpc
from tensorflow_serving.apis import (
    classification_pb2,
    model_service_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tensorflow_serving.apis import status_pb2 as serving_status_pb2

from serving.config import ConfigError
from serving.errors import ServingError, invalid_argument
from serving.service import small_outputs
from serving.tensors import to_ndarray, to_tensor_proto

# TF Serving sends up to INT32_MAX bytes (clients' 4 MiB receive default is
# theirs to raise); what it accepts is bounded here by --max_request_bytes.
MAX_MESSAGE_BYTES = 2**31 - 1


def model_spec_fields(spec):
    """`(name, version, label, signature_name)` of a ModelSpec."""
    version = spec.version.value if spec.HasField("version") else None
    return spec.name, version, spec.version_label or None, spec.signature_name


def deadline_ms(context):
    """The client's deadline as a run timeout in ms, or None."""
    remaining = context.time_remaining()
    if remaining is None or remaining > 1e9:
        return None
    return max(1, int(remaining * 1000))


class _Calls:
    """Runs a call: metrics, and ServingError -> gRPC status.

    The servicers are coroutines on the server's event loop. The work
    (decoding, running the model, encoding) goes to a pool of
    `--grpc_max_threads` threads, so it never stalls the loop.
    """

    def __init__(self, metrics, executor):
        self.metrics = metrics
        self.executor = executor

    async def __call__(self, context, api, model_name, work):
        """`work`: a coroutine function, or a plain function run on the pool."""
        started = time.perf_counter()
        try:
            if inspect.iscoroutinefunction(work):
                response = await work()
            else:
                response = await self.in_pool(work)
        except ServingError as error:
            self._record(model_name, api, error.code.name, None)
            await context.abort(error.code, error.grpc_message)
        except ConfigError as error:
            self._record(model_name, api, "INVALID_ARGUMENT", None)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error)[:1024])
        self._record(model_name, api, "OK", time.perf_counter() - started)
        return response

    async def in_pool(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    def _record(self, model_name, api, status, seconds):
        if self.metrics is not None:
            self.metrics.request(model_name, status, api, "GRPC", seconds)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict, Classify, Regress, MultiInference and GetModelMetadata."""

    def __init__(self, service, calls, tensor_content=False):
        self.service = service
        self.calls = calls
        self.tensor_content = tensor_content

    async def Predict(self, request, context):
        spec = model_spec_fields(request.model_spec)
        timeout_ms = deadline_ms(context)

        def decode_inputs(signature):
            return {alias: to_ndarray(tensor, alias) for alias, tensor in request.inputs.items()}

        def submit():
            if not spec[0]:
                raise invalid_argument("Missing ModelSpec")
            return self.service.submit_predict(
                spec, decode_inputs, list(request.output_filter), timeout_ms)

        async def work():
            if self.service.submits_inline(request.ByteSize()):
                number, signature_name, future = submit()
            else:
                number, signature_name, future = await self.calls.in_pool(submit)
            # The request waits for its batch here, on the loop: waiting on
            # threads would cap how many requests one batch merges.
            outputs = await asyncio.wrap_future(future)
            if small_outputs(outputs):
                return self._predict_response(spec[0], number, signature_name, outputs)
            return await self.calls.in_pool(
                self._predict_response, spec[0], number, signature_name, outputs)

        return await self.calls(context, "Predict", spec[0], work)

    def _predict_response(self, name, number, signature_name, outputs):
        response = predict_pb2.PredictResponse()
        for alias, value in outputs.items():
            response.outputs[alias].CopyFrom(to_tensor_proto(value, self.tensor_content))
        response.model_spec.name = name
        response.model_spec.version.value = number
        response.model_spec.signature_name = signature_name
        return response

    async def Classify(self, request, context):
        return await self._examples(request, context, "Classify", self.service.classify,
                                    classification_pb2.ClassificationResponse)

    async def Regress(self, request, context):
        return await self._examples(request, context, "Regress", self.service.regress,
                                    regression_pb2.RegressionResponse)

    async def _examples(self, request, context, api, run, response_class):
        timeout_ms = deadline_ms(context)

        def work():
            spec = model_spec_fields(request.model_spec)
            number, signature_name, result = run(spec, request.input, timeout_ms)
            response = response_class(result=result)
            response.model_spec.name = spec[0]
            response.model_spec.version.value = number
            response.model_spec.signature_name = signature_name
            return response

        return await self.calls(context, api, request.model_spec.name, work)

    async def MultiInference(self, request, context):
        name = request.tasks[0].model_spec.name if request.tasks else ""
        timeout_ms = deadline_ms(context)
        return await self.calls(context, "MultiInference", name,
                                lambda: self.service.multi_inference(request, timeout_ms))

    async def GetModelMetadata(self, request, context):
        return await self.calls(
            context, "GetModelMetadata", request.model_spec.name,
            lambda: self.service.metadata(
                model_spec_fields(request.model_spec), list(request.metadata_field)))


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus and HandleReloadConfigRequest."""

    def __init__(self, service, reload_config, calls):
        self.service = service
        self.reload_config = reload_config
        self.calls = calls

    async def GetModelStatus(self, request, context):
        def work():
            if not request.HasField("model_spec"):
                raise invalid_argument("Missing ModelSpec")
            name, version, label, _ = model_spec_fields(request.model_spec)
            return self.service.status(name, version, label)

        return await self.calls(context, "GetModelStatus", request.model_spec.name, work)

    async def HandleReloadConfigRequest(self, request, context):
        def work():
            if request.config.WhichOneof("config") != "model_config_list":
                raise invalid_argument(
                    "ServerModelConfig type not supported by HandleReloadConfigRequest. "
                    "Only ModelConfigList is currently supported"
                )
            self.reload_config(request.config)
            return model_service_pb2.ReloadConfigResponse(
                status=serving_status_pb2.StatusProto(error_code=0))

        return await self.calls(context, "HandleReloadConfigRequest", "", work)


def make_server(service, reload_config, host, port, executor, metrics=None,
                tensor_content=False, max_request_bytes=MAX_MESSAGE_BYTES):
    """`(server, port)`: a `grpc.aio.Server` bound to host:port, not started yet.

    Must be called on the running event loop that will serve it. The
    servicers' work runs on `executor`. A request larger than
    `max_request_bytes` is refused by gRPC itself with RESOURCE_EXHAUSTED,
    before anything is parsed.
    """
    server = grpc.aio.server(
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", min(max_request_bytes, MAX_MESSAGE_BYTES)),
        ],
    )
    calls = _Calls(metrics, executor)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(service, calls, tensor_content), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        ModelServicer(service, reload_config, calls), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{port}")
    return server, bound
