"""TF Serving's gRPC API: `tensorflow.serving.PredictionService` and `ModelService`.

The servicers are the official generated base classes from the
`tensorflow-serving-api` package, so the method paths and messages are
TF Serving's own and its stubs work unchanged. Each call hands its request
to `serving/service.py` and returns the response it gets back; errors abort
the call with TF Serving's status code and message (cut to 1024 characters).

The server is bounded like the REST port: requests above
`--max_request_bytes` are refused by gRPC itself, at most
`--grpc_max_concurrent_rpcs` calls run at once (RESOURCE_EXHAUSTED after
that), each connection carries at most `GRPC_MAX_STREAMS` streams, idle
connections are closed, and clients that ping too often are cut off.
"""

import asyncio
import inspect
import time

import grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from serving.config import ConfigError
from serving.errors import ServingError

# TF Serving sends up to INT32_MAX bytes (clients' 4 MiB receive default is
# theirs to raise); what it accepts is bounded by --max_request_bytes.
MAX_MESSAGE_BYTES = 2**31 - 1
# Concurrent streams on one HTTP/2 connection (gRPC's default is unbounded).
GRPC_MAX_STREAMS = 100
# grpcio's keepalive enforcement: a connection idle this long is closed, and
# a client may ping without data at most every 10 s (gRPC's own default is
# 5 min; 10 s lets common client keepalive settings through).
GRPC_OPTIONS = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_concurrent_streams", GRPC_MAX_STREAMS),
    ("grpc.max_connection_idle_ms", 5 * 60 * 1000),
    ("grpc.keepalive_time_ms", 2 * 60 * 1000),
    ("grpc.keepalive_timeout_ms", 20 * 1000),
    ("grpc.http2.min_ping_interval_without_data_ms", 10 * 1000),
    ("grpc.http2.max_ping_strikes", 2),
)


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

    def __init__(self, service, calls):
        self.service = service
        self.calls = calls

    async def Predict(self, request, context):
        timeout_ms = deadline_ms(context)

        async def work():
            if self.service.submits_inline(request.ByteSize()):
                future = self.service.submit_predict(request, timeout_ms)
            else:
                future = await self.calls.in_pool(self.service.submit_predict, request, timeout_ms)
            # The request waits for its batch here, on the loop: waiting on
            # threads would cap how many requests one batch merges.
            return await asyncio.wrap_future(future)

        return await self.calls(context, "Predict", request.model_spec.name, work)

    async def Classify(self, request, context):
        timeout_ms = deadline_ms(context)
        return await self.calls(context, "Classify", request.model_spec.name,
                                lambda: self.service.classify(request, timeout_ms))

    async def Regress(self, request, context):
        timeout_ms = deadline_ms(context)
        return await self.calls(context, "Regress", request.model_spec.name,
                                lambda: self.service.regress(request, timeout_ms))

    async def MultiInference(self, request, context):
        name = request.tasks[0].model_spec.name if request.tasks else ""
        timeout_ms = deadline_ms(context)
        return await self.calls(context, "MultiInference", name,
                                lambda: self.service.multi_inference(request, timeout_ms))

    async def GetModelMetadata(self, request, context):
        return await self.calls(context, "GetModelMetadata", request.model_spec.name,
                                lambda: self.service.get_model_metadata(request))


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus and HandleReloadConfigRequest."""

    def __init__(self, service, calls):
        self.service = service
        self.calls = calls

    async def GetModelStatus(self, request, context):
        return await self.calls(context, "GetModelStatus", request.model_spec.name,
                                lambda: self.service.get_model_status(request))

    async def HandleReloadConfigRequest(self, request, context):
        return await self.calls(context, "HandleReloadConfigRequest", "",
                                lambda: self.service.reload_config(request))


def make_server(service, host, port, executor, metrics=None,
                max_request_bytes=MAX_MESSAGE_BYTES, max_concurrent_rpcs=None):
    """`(server, port)`: a `grpc.aio.Server` bound to host:port, not started yet.

    Must be called on the running event loop that will serve it. The
    servicers' work runs on `executor`. A request larger than
    `max_request_bytes` is refused by gRPC itself with RESOURCE_EXHAUSTED,
    before anything is parsed, and so is a call beyond
    `max_concurrent_rpcs` running at once.
    """
    server = grpc.aio.server(
        options=[*GRPC_OPTIONS,
                 ("grpc.max_receive_message_length", min(max_request_bytes, MAX_MESSAGE_BYTES))],
        maximum_concurrent_rpcs=max_concurrent_rpcs,
    )
    calls = _Calls(metrics, executor)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(service, calls), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(service, calls), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{port}")
    return server, bound
