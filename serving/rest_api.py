"""TF Serving's REST API on aiohttp: a thin adapter over the gRPC request path.

As in TF Serving, a request's JSON becomes the proto a gRPC client sends
(`serving/rest_json.py`) for the same `serving/service.py` calls, and the
answer proto is written back as JSON. The Prometheus path (when enabled) and
the demo page's three paths (`serving/demo_page.py`, unless `--demo_page=false`)
are exact matches, a path under `/v1/` (any case) goes to

    GET  /v1/models/NAME[/versions/N | /labels/L][/metadata]
    POST /v1/models/NAME[/versions/N | /labels/L]:predict|:classify|:regress

or else is `400 Malformed request: METHOD PATH`, and any other path is a
plain 404 page. `/v1` answers are JSON, errors `{"error": message}` with
the HTTP status of the error's code.
"""

import asyncio
import re
import time
import urllib.parse

import grpc
from aiohttp import web
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2

from serving import rest_json
from serving.errors import ServingError, invalid_argument
from serving.servable import INIT_OP_SIGNATURE
from serving.service import INLINE_BYTES

_VERSION = r"(?:/versions/(\d+)|/labels/([^/:]+))?"
_POST = re.compile(rf"/v1/models/([^/:]+){_VERSION}:(classify|regress|predict)", re.IGNORECASE)
_GET = re.compile(rf"/v1/models(?:/([^/:]+))?{_VERSION}(?:/(metadata))?", re.IGNORECASE)
_V1 = re.compile(r"/v1/.*", re.IGNORECASE)
_CORS_ORIGIN = re.compile(r"https?://.*")
_JSON_HEADERS = {"Content-Type": "application/json"}
_CORS_JSON_HEADERS = {**_JSON_HEADERS, "Access-Control-Allow-Origin": "*",
                      "Access-Control-Allow-Methods": "POST, GET",
                      "Access-Control-Allow-Headers": "Content-Type"}
INT64_MAX = 2**63 - 1
NOT_FOUND_PAGE = ("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
                  "<body><h1>Not Found</h1></body></html>\n")


class _HttpError(ServingError):
    """A body refused before it is read whole: 413 or 408, and the connection closed."""

    def __init__(self, http_status, code, message):
        super().__init__(code, message)
        self.status = http_status


def _model_spec(match):
    """The ModelSpec a path names: model, and version or label."""
    spec = model_pb2.ModelSpec(name=urllib.parse.unquote(match.group(1)))
    version, label = match.group(2, 3)
    if version is not None:
        if int(version) > INT64_MAX:  # the regex allows digits only
            raise invalid_argument(f"Failed to convert version: {version} to numeric.")
        spec.version.value = int(version)
    elif label is not None:
        spec.version_label = urllib.parse.unquote(label)
    return spec


class RestApi:
    """The aiohttp application of the REST API, for a `serving.service.Service`.

    `executor` is the thread pool models run on (`--rest_api_num_threads`);
    `metrics` a `serving.metrics.Metrics` or None; `monitoring_path` None
    when monitoring is off; bodies over `max_body_bytes` get 413, and those
    not arrived after `body_timeout_s` 408; `demo_page` a
    `serving.demo_page.DemoPage` or None.
    """

    def __init__(self, service, executor, timeout_ms=30000, metrics=None, monitoring_path=None,
                 enable_cors=False, max_body_bytes=64 * 2**20, body_timeout_s=30.0,
                 middlewares=(), demo_page=None):
        self.service = service
        self.executor = executor
        self.timeout_ms = timeout_ms or None
        self.metrics = metrics
        self.monitoring_path = monitoring_path
        self.enable_cors = enable_cors
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.middlewares = tuple(middlewares)
        self.demo_page = demo_page

    def application(self):
        app = web.Application(client_max_size=self.max_body_bytes, middlewares=self.middlewares)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def dispatch(self, request):
        path = request.rel_url.raw_path
        if self.monitoring_path is not None and path == self.monitoring_path:
            return web.Response(body=self.metrics.exposition(),
                                headers={"Content-Type": "text/plain; version=0.0.4"})
        if self.demo_page is not None and (page := self.demo_page.response(request)) is not None:
            return page
        if not _V1.fullmatch(path):
            return web.Response(status=404, text=NOT_FOUND_PAGE, content_type="text/html")
        started = time.perf_counter()
        model_name, api = "", ""
        try:
            if request.method == "OPTIONS":
                return self._preflight(request)
            if request.method == "POST" and (match := _POST.fullmatch(path)):
                model_name, api = urllib.parse.unquote(match.group(1)), match.group(4)
                if api not in ("classify", "regress", "predict"):  # the regex ignores case
                    raise invalid_argument(f"Malformed request: POST {path}")
                body = await self._body(request)
                if api == "predict":
                    result = await self._predict(match, body)
                else:
                    result = await self._in_pool(self._examples, match, api, body)
            elif request.method == "GET" and (match := _GET.fullmatch(path)):
                if match.group(1) is None:
                    raise invalid_argument("Missing model name in request.")
                model_name = urllib.parse.unquote(match.group(1))
                result = await self._in_pool(self._get, match)
            else:
                raise invalid_argument(f"Malformed request: {request.method} {path}")
        except ServingError as error:
            self._record(model_name, error.code.name, api, None)
            response = self._json(rest_json.error_body(error.message),
                                  getattr(error, "status", error.http_status))
            if isinstance(error, _HttpError):
                response.force_close()  # the rest of the body is not read
            return response
        self._record(model_name, "OK", api, time.perf_counter() - started)
        return self._json(result, 200)

    async def _body(self, request):
        """The request body, gzip undone; over the limit 413, too slow 408."""
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _HttpError(413, grpc.StatusCode.RESOURCE_EXHAUSTED,
                             f"Request body is larger than the limit of {self.max_body_bytes} "
                             "bytes") from None
        except TimeoutError:
            raise _HttpError(408, grpc.StatusCode.DEADLINE_EXCEEDED,
                             f"Request body did not arrive within {self.body_timeout_s:g} s "
                             "(--rest_api_body_timeout_seconds)") from None
        if "gzip" in request.headers.get("Content-Encoding", ""):
            # Not aiohttp's own decompression: this one stops at the limit.
            try:
                body = rest_json.decompress_gzip(body, self.max_body_bytes)
            except ServingError as error:
                if error.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise _HttpError(413, error.code, error.message) from None
                raise
        return body

    async def _predict(self, match, body):
        # With batching, a small request is queued on the loop and waits for
        # its batch there: threads would cap how many requests a batch merges.
        if self.service.submits_inline(len(body)):
            row_format, future = self._submit_predict(match, body)
        else:
            row_format, future = await self._in_pool(self._submit_predict, match, body)
        response = await asyncio.wrap_future(future)
        if response.ByteSize() <= INLINE_BYTES:  # cheaper here than a hop to a thread
            return rest_json.predict_response(response, row_format)
        return await self._in_pool(rest_json.predict_response, response, row_format)

    async def _in_pool(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    def _preflight(self, request):
        if _CORS_ORIGIN.fullmatch(request.headers.get("Origin", "")):
            return self._json(b"", 200)
        raise ServingError(grpc.StatusCode.FAILED_PRECONDITION,
                           "Origin header is missing in CORS preflight")

    def _json(self, body, status):
        headers = _CORS_JSON_HEADERS if self.enable_cors else _JSON_HEADERS
        return web.Response(body=body, status=status, headers=headers)

    def _record(self, model_name, status, api, seconds):
        if self.metrics is not None:
            self.metrics.request(model_name, status, api, "REST", seconds)

    def _submit_predict(self, match, body):
        """`(row_format, Future of PredictResponse)`: TF Serving's order of checks."""
        document = rest_json.parse_body(body)
        signature_name = rest_json.signature_name(document)
        spec = _model_spec(match)
        _, signature_defs = self.service.signature_defs(spec)
        if signature_name not in signature_defs or signature_name == INIT_OP_SIGNATURE:
            raise invalid_argument(
                f'Serving signature name: "{signature_name}" not found in signature def')
        request, row_format = rest_json.predict_request(
            document, spec, signature_defs[signature_name])
        return row_format, self.service.submit_predict(request, self.timeout_ms)

    def _examples(self, match, api, body):
        """`:classify` and `:regress`; the body is read before the model is looked up."""
        document = rest_json.parse_body(body)
        spec = _model_spec(match)
        if api == "classify":
            request = rest_json.classification_request(document, spec)
            return rest_json.classify_response(self.service.classify(request, self.timeout_ms))
        request = rest_json.regression_request(document, spec)
        return rest_json.regress_response(self.service.regress(request, self.timeout_ms))

    def _get(self, match):
        spec = _model_spec(match)
        if match.group(4):
            request = get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec=spec, metadata_field=["signature_def"])
            return rest_json.metadata(self.service.get_model_metadata(request))
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        return rest_json.model_status(self.service.get_model_status(request))
