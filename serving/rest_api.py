"""TF Serving's REST API on aiohttp.

Routing follows TF Serving's HTTP handler: the Prometheus path (when
enabled) is an exact match; every path under `/v1/` (matched without
regard to case) goes to the API; anything else is a plain 404 page, as
libevent answers it. Under `/v1/`:

    GET  /v1/models/NAME[/versions/N | /labels/L]           model status
    GET  /v1/models/NAME[/versions/N | /labels/L]/metadata  model metadata
    POST /v1/models/NAME[/versions/N | /labels/L]:predict|:classify|:regress

and every other method or shape is `400 Malformed request: METHOD PATH`.
Every `/v1` answer is `application/json`; errors are `{"error": message}`
with the HTTP status of the error's canonical code. The JSON codec is
`serving/json_tensors.py`; models run on a thread pool, never on the event
loop, with `--rest_api_timeout_in_ms` as the model run's deadline.
"""

import asyncio
import re
import time
import urllib.parse

import grpc
from aiohttp import web

from serving import json_tensors
from serving.errors import ServingError, invalid_argument
from serving.servable import INIT_OP_SIGNATURE
from serving.service import small_outputs

_POST = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
    r":(classify|regress|predict)",
    re.IGNORECASE,
)
_GET = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?",
    re.IGNORECASE,
)
_V1 = re.compile(r"/v1/.*", re.IGNORECASE)
_CORS_ORIGIN = re.compile(r"https?://.*")
INT64_MAX = 2**63 - 1
NOT_FOUND_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    "<body><h1>Not Found</h1></body></html>\n"
)


class _BodyTooLarge(ServingError):
    """A request body over `--max_request_bytes`: HTTP 413, not TF Serving's 429."""

    def __init__(self, limit):
        super().__init__(grpc.StatusCode.RESOURCE_EXHAUSTED,
                         f"Request body is larger than the limit of {limit} bytes")


def _version(text):
    if text is None:
        return None
    value = int(text)  # the regex allows digits only
    if value > INT64_MAX:
        raise invalid_argument(f"Failed to convert version: {text} to numeric.")
    return value


class RestApi:
    """The aiohttp application of the REST API.

    Args:
        service: The `serving.service.Service`.
        executor: The thread pool models run on (`--rest_api_num_threads`).
        timeout_ms: `--rest_api_timeout_in_ms`.
        metrics: A `serving.metrics.Metrics`, or None.
        monitoring_path: The Prometheus path, or None when monitoring is off.
        enable_cors: `--rest_api_enable_cors_support`.
        max_body_bytes: Request bodies above this get 413.
    """

    def __init__(self, service, executor, timeout_ms=30000, metrics=None, monitoring_path=None,
                 enable_cors=False, max_body_bytes=64 * 2**20):
        self.service = service
        self.executor = executor
        self.timeout_ms = timeout_ms or None
        self.metrics = metrics
        self.monitoring_path = monitoring_path
        self.enable_cors = enable_cors
        self.max_body_bytes = max_body_bytes

    def application(self):
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    # --- Dispatch ------------------------------------------------------------

    async def dispatch(self, request):
        path = request.rel_url.raw_path
        if self.monitoring_path is not None and path == self.monitoring_path:
            return web.Response(body=self.metrics.exposition(),
                                headers={"Content-Type": "text/plain; version=0.0.4"})
        if not _V1.fullmatch(path):
            return web.Response(status=404, text=NOT_FOUND_PAGE, content_type="text/html")
        started = time.perf_counter()
        model_name, api = "", ""
        try:
            if request.method == "OPTIONS":
                return self._preflight(request)
            if request.method == "POST" and (match := _POST.fullmatch(path)):
                model_name = urllib.parse.unquote(match.group(1))
                api = match.group(4)
                if api not in ("classify", "regress", "predict"):  # the regex ignores case
                    raise invalid_argument(f"Malformed request: POST {path}")
                body = await self._body(request)
                if api == "predict":
                    # A batched request waits for its batch on the event loop,
                    # not on a thread: threads would cap how many requests one
                    # batch merges.
                    if self.service.submits_inline(len(body)):
                        row_format, future = self._submit_predict(match, model_name, body)
                    else:
                        row_format, future = await self._in_pool(
                            self._submit_predict, match, model_name, body)
                    outputs = await asyncio.wrap_future(future)
                    # Large outputs take long to write: not on the event loop.
                    if small_outputs(outputs):
                        result = json_tensors.predict_response(outputs, row_format)
                    else:
                        result = await self._in_pool(
                            json_tensors.predict_response, outputs, row_format)
                else:
                    result = await self._in_pool(self._post, match, model_name, api, body)
            elif request.method == "GET" and (match := _GET.fullmatch(path)):
                if match.group(1) is None:
                    raise invalid_argument("Missing model name in request.")
                model_name = urllib.parse.unquote(match.group(1))
                result = await self._in_pool(self._get, match, model_name)
            else:
                raise invalid_argument(f"Malformed request: {request.method} {path}")
        except ServingError as error:
            self._record(model_name, error.code.name, api, None)
            status = 413 if isinstance(error, _BodyTooLarge) else error.http_status
            return self._json(json_tensors.error_body(error.message), status)
        self._record(model_name, "OK", api, time.perf_counter() - started)
        return self._json(result, 200)

    async def _body(self, request):
        """The request body, gzip undone; over the limit it is a 413."""
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _BodyTooLarge(self.max_body_bytes) from None
        if "gzip" in request.headers.get("Content-Encoding", ""):
            # Not aiohttp's own decompression: this one stops at the limit.
            try:
                body = json_tensors.decompress_gzip(body, self.max_body_bytes)
            except ServingError as error:
                if error.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise _BodyTooLarge(self.max_body_bytes) from None
                raise
        return body

    async def _in_pool(self, function, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, function, *args)

    def _preflight(self, request):
        if _CORS_ORIGIN.fullmatch(request.headers.get("Origin", "")):
            return self._json(b"", 200)
        raise ServingError(grpc.StatusCode.FAILED_PRECONDITION,
                           "Origin header is missing in CORS preflight")

    def _json(self, body, status):
        response = web.Response(body=body, status=status,
                                headers={"Content-Type": "application/json"})
        if self.enable_cors:
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Allow-Methods"] = "POST, GET"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        return response

    def _record(self, model_name, status, api, seconds):
        if self.metrics is not None:
            self.metrics.request(model_name, status, api, "REST", seconds)

    # --- Handlers (on the thread pool) ------------------------------------

    def _get(self, match, model_name):
        version = _version(match.group(2))
        label = urllib.parse.unquote(match.group(3)) if match.group(3) else None
        if match.group(4):
            response = self.service.metadata((model_name, version, label, ""), ["signature_def"])
            return json_tensors.metadata_json(response)
        return json_tensors.model_status_json(self.service.status(model_name, version, label))

    def _parse(self, match, model_name, body):
        """`(spec, document)` of a POST: its model spec and parsed body."""
        version = _version(match.group(2))
        label = urllib.parse.unquote(match.group(3)) if match.group(3) else None
        document = json_tensors.parse_body(body)
        return (model_name, version, label, json_tensors.signature_name(document)), document

    def _submit_predict(self, match, model_name, body):
        spec, document = self._parse(match, model_name, body)
        decode, row_format = _predict_decoder(document)
        _, _, future = self.service.submit_predict(
            spec, decode, timeout_ms=self.timeout_ms, signature_lookup=_rest_signature)
        return row_format[0], future

    def _post(self, match, model_name, api, body):
        """`:classify` and `:regress`."""
        spec, document = self._parse(match, model_name, body)
        input_proto = json_tensors.classify_request(document)
        if api == "classify":
            _, _, result = self.service.classify(spec, input_proto, self.timeout_ms)
            return json_tensors.classify_response(result)
        _, _, result = self.service.regress(spec, input_proto, self.timeout_ms)
        return json_tensors.regress_response(result)


def _predict_decoder(document):
    """`(decode, row_format)`: decodes a predict body against a signature.

    `row_format` (a list) receives whether the body used `instances`.
    """
    row_format = []

    def decode(signature):
        specs = {alias: (info.dtype, _shape(info)) for alias, info in signature.inputs.items()}
        inputs, row = json_tensors.predict_inputs(document, specs)
        row_format.append(row)
        return inputs

    return decode, row_format


def _shape(tensor_info):
    shape = tensor_info.tensor_shape
    if shape.unknown_rank:
        return None
    return [dim.size for dim in shape.dim]


def _rest_signature(servable, name):
    """The REST API's lookup: its own message for a missing signature."""
    if name not in servable.signature_defs or name == INIT_OP_SIGNATURE:
        raise invalid_argument(f'Serving signature name: "{name}" not found in signature def')
    return servable.signature_defs[name]
