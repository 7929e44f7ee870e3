"""`python -m serving` end to end: REST with a real HTTP client, gRPC with the
official tensorflow-serving-api stubs, metrics, and malformed requests.
The cases follow the conformance list of TF Serving's protocol reference."""

import gzip
import json

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

pytestmark = pytest.mark.tensorflow_only
MODEL = "half_plus_three"


def rest(server, method, path, body=None, **kwargs):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body)
    return requests.request(method, server.url + path, data=data, timeout=30, **kwargs)


def ok(response):
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


# --- REST -------------------------------------------------------------------


def test_status_lists_versions_newest_first_with_string_versions(server):
    status = ok(rest(server, "GET", f"/v1/models/{MODEL}"))["model_version_status"]
    assert [s["version"] for s in status] == ["2", "1"]
    assert {s["state"] for s in status} == {"AVAILABLE"}
    assert status[0]["status"] == {"error_code": "OK", "error_message": ""}
    for path, version in ((f"/v1/models/{MODEL}/versions/1", "1"),
                          (f"/v1/models/{MODEL}/labels/canary", "2")):
        assert [s["version"] for s in ok(rest(server, "GET", path))["model_version_status"]] == [version]
    assert ok(rest(server, "GET", f"/V1/MODELS/{MODEL}"))  # paths ignore case


def test_metadata_is_double_nested_with_string_int64s(server):
    metadata = ok(rest(server, "GET", f"/v1/models/{MODEL}/versions/1/metadata"))
    assert metadata["model_spec"] == {"name": MODEL, "signature_name": "", "version": "1"}
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    assert signature["inputs"]["x"]["dtype"] == "DT_FLOAT"
    assert signature["inputs"]["x"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]


@pytest.mark.parametrize("path, expected", [
    (f"/v1/models/{MODEL}:predict", [4.5, 5.0, 6.5]),  # latest: version 2
    (f"/v1/models/{MODEL}/versions/1:predict", [3.5, 4.0, 5.5]),
    (f"/v1/models/{MODEL}/versions/0001:predict", [3.5, 4.0, 5.5]),
    (f"/v1/models/{MODEL}/labels/stable:predict", [3.5, 4.0, 5.5]),
])
def test_predict_row_and_columnar(server, path, expected):
    response = rest(server, "POST", path, {"instances": [1.0, 2.0, 5.0]})
    assert ok(response) == {"predictions": expected}
    assert ok(rest(server, "POST", path, {"inputs": [1, 2, 5]})) == {"outputs": expected}


def test_named_inputs_outputs_and_bytes(server):
    path = f"/v1/models/{MODEL}/versions/1:predict"
    rows = ok(rest(server, "POST", path, {"signature_name": "two_inputs",
                                          "instances": [{"a": 1.0, "b": 2.0}, {"a": 3, "b": 1}]}))
    assert rows == {"predictions": [{"difference": -1.0, "sum": 3.0},
                                    {"difference": 2.0, "sum": 4.0}]}
    columns = ok(rest(server, "POST", path, {"signature_name": "two_inputs",
                                             "inputs": {"a": [1.0], "b": [2.0], "extra": [0]}}))
    assert columns == {"outputs": {"difference": [-1.0], "sum": [3.0]}}
    echoed = ok(rest(server, "POST", path, {"signature_name": "echo",
                                            "instances": [{"b64": "aGk="}, "héllo"]}))
    assert echoed == {"predictions": [{"length": 2, "text_bytes": {"b64": "aGk="}},
                                      {"length": 6, "text_bytes": {"b64": "aMOpbGxv"}}]}


def test_classify_and_regress(server):
    regress = rest(server, "POST", f"/v1/models/{MODEL}/versions/1:regress",
                   {"signature_name": "tensorflow/serving/regress",
                    "examples": [{"x": 1.0}, {"x": 2.0}]})
    assert ok(regress) == {"results": [3.5, 4.0]}
    classify = ok(rest(server, "POST", f"/v1/models/{MODEL}/versions/1:classify",
                       {"signature_name": "classify_x", "context": {"x": 1.0},
                        "examples": [{}, {"x": -8.0}]}))["results"]
    assert [[label for label, _ in row] for row in classify] == [["high", "low"]] * 2
    assert classify[0][0][1] == pytest.approx(1 / (1 + np.exp(-3.5)), rel=1e-6)
    # The example's own x = -8 overrides the context's: y = -1.
    assert classify[1][0][1] == pytest.approx(1 / (1 + np.exp(1.0)), rel=1e-6)


def test_gzip_body_and_cors_preflight(server):
    body = gzip.compress(json.dumps({"instances": [1.0]}).encode())
    response = rest(server, "POST", f"/v1/models/{MODEL}/versions/1:predict", body,
                    headers={"Content-Encoding": "gzip"})
    assert ok(response) == {"predictions": [3.5]}
    assert rest(server, "OPTIONS", f"/v1/models/{MODEL}",
                headers={"Origin": "https://example.org"}).status_code == 200
    assert rest(server, "OPTIONS", f"/v1/models/{MODEL}").status_code == 400
    assert "Access-Control-Allow-Origin" not in response.headers  # only with the flag


# Malformed requests: (method, path, body, HTTP status, message). At least 50.
P = f"/v1/models/{MODEL}/versions/1:predict"
BAD_REQUESTS = [
    ("POST", P, b"", 400, "JSON Parse error: The document is empty"),
    ("POST", P, b"x", 400, "JSON Parse error: Invalid value. at offset: 0"),
    ("POST", P, b"[1, 2]", 400, "Is not object"),
    ("POST", P, b'{"instances": [1,]}', 400, "JSON Parse error: Invalid value. at offset: 17"),
    ("POST", P, b'{"instances": [1.0], "inputs": [1.0]}', 400, "instances"),
    ("POST", P, b'{"signature_name": "serving_default"}', 400, "instances"),
    ("POST", P, b'{"instances": []}', 400, "instances"),
    ("POST", P, b'{"instances": 5}', 400, "instances"),
    ("POST", P, b'{"instances": ["x"]}', 400, "is not of expected type: float"),
    ("POST", P, b'{"instances": [true]}', 400, "is not of expected type: float"),
    ("POST", P, b'{"instances": [null]}', 400, "is not of expected type: float"),
    ("POST", P, b'{"instances": [{"b64": "aGk="}]}', 400, "float"),
    ("POST", P, b'{"instances": [[1.0], 2.0]}', 400, "Expecting"),
    ("POST", P, b'{"instances": [[1.0, 2.0], [3.0]]}', 400, "Expecting"),
    ("POST", P, b'{"instances": [1e999]}', 400, "Number too big to be stored in double"),
    ("POST", P, b'{"instances": [1.0], "signature_name": 7}', 400, "signature_name"),
    ("POST", P, b'{"instances": [1.0], "signature_name": "nope"}', 400,
     'Serving signature name: "nope" not found in signature def'),
    ("POST", P, b'{"inputs": {"y": [1.0]}}', 400, "Missing named input"),
    ("POST", P, b'{"instances": [{"x": 1.0, "y": 2.0}]}', 400, "does not have named input: y"),
    ("POST", P, b"{" * 5000, 400, "JSON Parse error"),
    ("POST", P, b'{"instances": ' + b"[" * 100000 + b"]" * 100000 + b"}", 400, "JSON Parse error"),
    ("POST", P, b'{"instances": ["\xff\xfe"]}', 400, "JSON Parse error: Invalid encoding"),
    ("POST", P, b"\xff\xfe", 400, "JSON Parse error: Invalid value. at offset: 0"),
    ("POST", P, b'{"instances": [1.0]', 400, "JSON Parse error"),
    ("POST", P, b'{"instances": [1.0]} trailing', 200, ""),  # TF Serving ignores the rest
    ("POST", P, b'{"inputs": "x"}', 400, "is not of expected type: float"),
    ("POST", P, b'{"instances": [[[1.0]]]}', 400, "Cannot feed value of shape (1, 1, 1)"),
    ("POST", P.replace(":predict", ":regress"), b'{"examples": []}', 400,
     "'examples' value is an empty array"),
    ("POST", P.replace(":predict", ":regress"), b'{"instances": [1]}', 400,
     "key 'examples' is expected and was not found"),
    ("POST", P.replace(":predict", ":regress"), b'{"examples": 1}', 400,
     "Expecting 'examples' value to be an list/array"),
    ("POST", P.replace(":predict", ":regress"), b'{"examples": [1]}', 400,
     "Example must be JSON object but got JSON"),
    ("POST", P.replace(":predict", ":regress"), b'{"examples": [{"x": null}]}', 400,
     "has element with unexpected JSON type: Null"),
    ("POST", P.replace(":predict", ":regress"), b'{"examples": [{"x": [1, 2.5]}]}', 400,
     "Unexpected element type in feature: x"),
    ("POST", P.replace(":predict", ":regress"), b'{"examples": [{"x": [[1]]}]}', 400,
     "unexpected JSON type: Array"),
    ("POST", P.replace(":predict", ":classify"), b'{"signature_name": "x", "examples": [{}]}',
     400, "No signature was found with the name: x"),
    ("POST", P.replace(":predict", ":classify"),
     b'{"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}]}', 400,
     "Expected classify signature method_name to be tensorflow/serving/classify. "
     "Was: tensorflow/serving/regress"),
    ("POST", P.replace(":predict", ":classify"), b'{"examples": [{"x": 1.0}]}', 400,
     "Was: tensorflow/serving/predict"),  # serving_default is a predict signature
    ("POST", P.replace(":predict", ":regress"), b'{"examples": [{"x": 1.0}]}', 400,
     "Expected regress signature method_name"),
    ("POST", "/v1/models/nope:predict", b'{"instances": [1.0]}', 404,
     "Servable not found for request: Latest(nope)"),
    ("POST", "/v1/models/nope:predict", b"x", 400, "JSON Parse error"),  # parsed first
    ("POST", f"/v1/models/{MODEL}/versions/9:predict", b'{"instances": [1.0]}', 404,
     f"Servable not found for request: Specific({MODEL}, 9)"),
    ("POST", f"/v1/models/{MODEL}/labels/beta:predict", b'{"instances": [1.0]}', 400,
     "Unrecognized servable version label: beta"),
    ("POST", f"/v1/models/{MODEL}/versions/99999999999999999999:predict", b"{}", 400,
     "Failed to convert version: 99999999999999999999 to numeric."),
    ("POST", f"/v1/models/{MODEL}/version/1:predict", b"{}", 400, "Malformed request: POST"),
    ("POST", f"/v1/models/{MODEL}/versions/abc:predict", b"{}", 400, "Malformed request"),
    ("POST", f"/v1/models/{MODEL}/versions/1/labels/stable:predict", b"{}", 400,
     "Malformed request"),
    ("POST", f"/v1/models/{MODEL}:PREDICT", b"{}", 400, "Malformed request"),
    ("POST", f"/v1/models/{MODEL}:explain", b"{}", 400, "Malformed request"),
    ("POST", f"/v1/models/{MODEL}/metadata", b"{}", 400, "Malformed request"),
    ("GET", f"/v1/models/{MODEL}:predict", None, 400, "Malformed request: GET"),
    ("GET", f"/v1/models/{MODEL}/", None, 400, "Malformed request"),
    ("PUT", f"/v1/models/{MODEL}", b"{}", 400, "Malformed request: PUT"),
    ("DELETE", f"/v1/models/{MODEL}", None, 400, "Malformed request: DELETE"),
    ("GET", "/v1/models", None, 400, "Missing model name in request."),
    ("GET", "/v1/models/nope", None, 404, "Could not find any versions of model nope"),
    ("GET", f"/v1/models/{MODEL}/versions/9", None, 404,
     f"Could not find version 9 of model {MODEL}"),
    ("GET", f"/v1/models/{MODEL}/labels/beta", None, 400,
     "Unrecognized servable version label: beta"),
    ("GET", "/v1/models/nope/metadata", None, 404, "Servable not found for request: Latest(nope)"),
]


@pytest.mark.parametrize("method, path, body, status, message", BAD_REQUESTS,
                         ids=[f"{i}" for i in range(len(BAD_REQUESTS))])
def test_malformed_requests_get_tf_servings_errors(server, method, path, body, status, message):
    response = rest(server, method, path, body)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    if status != 200:
        assert message in response.json()["error"]


def test_not_v1_paths_get_a_plain_404_and_the_server_stays_healthy(server):
    # `/` is the demo page (tests/serving/test_demo_page.py).
    for path in ("/foo", "/v2/models/x", "/index.html"):
        response = rest(server, "GET", path)
        assert response.status_code == 404 and "text/html" in response.headers["Content-Type"]
    assert len(BAD_REQUESTS) >= 50
    assert ok(rest(server, "POST", P, {"instances": [1.0]})) == {"predictions": [3.5]}


# --- gRPC -------------------------------------------------------------------


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.target) as channel:
        yield channel


def predict_request(signature="", **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    request.model_spec.signature_name = signature
    for alias, values in inputs.items():
        request.inputs[alias].CopyFrom(tf.make_tensor_proto(values, tf.float32))
    return request


def rpc_error(call, request):
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=30)
    return caught.value.code(), caught.value.details()


def test_grpc_predict_echoes_the_resolved_spec_and_filters_outputs(channel):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    response = stub.Predict(predict_request(x=[1.0, 2.0]), timeout=30)
    assert response.model_spec.version.value == 2
    assert response.model_spec.signature_name == "serving_default"
    assert tf.make_ndarray(response.outputs["y"]).tolist() == [4.5, 5.0]
    assert list(response.outputs["y"].float_val) == [4.5, 5.0]  # typed fields, as TF Serving
    request = predict_request("two_inputs", a=[1.0], b=[2.0])
    request.output_filter.append("sum")
    assert list(stub.Predict(request, timeout=30).outputs) == ["sum"]
    request.output_filter.append("nope")
    code, details = rpc_error(stub.Predict, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("output tensor alias not found in signature: nope")


def test_grpc_predict_errors(channel):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    assert rpc_error(stub.Predict, predict_request("two_inputs", a=[1.0])) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "input size does not match signature: 1!=2 len({a}) != len({a,b}). "
        "Sent extra: {}. Missing but required: {b}.")
    assert rpc_error(stub.Predict, predict_request("nope", x=[1.0])) == (
        grpc.StatusCode.FAILED_PRECONDITION, 'Serving signature key "nope" not found.')
    request = predict_request(x=[1.0])
    request.model_spec.name = "nope"
    assert rpc_error(stub.Predict, request) == (
        grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)")


def examples_input(message, *values):
    for value in values:
        example = message.input.example_list.examples.add()
        example.features.feature["x"].float_list.value.append(value)
    return message


def test_grpc_classify_regress_and_multi_inference(channel):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = examples_input(regression_pb2.RegressionRequest(), 1.0, 2.0)
    request.model_spec.name = MODEL
    request.model_spec.version.value = 1
    request.model_spec.signature_name = "tensorflow/serving/regress"
    response = stub.Regress(request, timeout=30)
    assert [r.value for r in response.result.regressions] == [3.5, 4.0]
    request = examples_input(classification_pb2.ClassificationRequest(), 1.0)
    request.model_spec.name = MODEL
    request.model_spec.signature_name = "classify_x"
    classes = stub.Classify(request, timeout=30).result.classifications[0].classes
    assert [c.label for c in classes] == ["high", "low"]

    multi = examples_input(inference_pb2.MultiInferenceRequest(), 2.0)
    for signature, method in (("classify_x", "tensorflow/serving/classify"),
                              ("tensorflow/serving/regress", "tensorflow/serving/regress")):
        task = multi.tasks.add(method_name=method)
        task.model_spec.name = MODEL
        task.model_spec.signature_name = signature
    results = stub.MultiInference(multi, timeout=30).results
    assert results[0].HasField("classification_result")
    assert results[1].regression_result.regressions[0].value == 5.0  # version 2
    multi.tasks[1].model_spec.name = "other"
    assert rpc_error(stub.MultiInference, multi)[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_grpc_metadata_and_status(channel):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = MODEL
    assert rpc_error(stub.GetModelMetadata, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "GetModelMetadataRequest must specify at least one metadata_field")
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, timeout=30)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    assert "classify_x" in signatures.signature_def

    models = model_service_pb2_grpc.ModelServiceStub(channel)
    status = get_model_status_pb2.GetModelStatusRequest()
    status.model_spec.name = MODEL
    assert [s.version for s in models.GetModelStatus(status, timeout=30).model_version_status] == [2, 1]
    reload = model_management_pb2.ReloadConfigRequest()
    reload.config.model_config_list.config.add(name="x", base_path="/tmp")
    code, details = rpc_error(models.HandleReloadConfigRequest, reload)
    assert code == grpc.StatusCode.PERMISSION_DENIED and "--enable_model_management" in details


def test_long_grpc_errors_are_truncated(channel):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_request(x=[1.0])
    request.model_spec.name = "m" * 2000
    code, details = rpc_error(stub.Predict, request)
    assert code == grpc.StatusCode.NOT_FOUND
    assert len(details) == 1024 + len("...TRUNCATED") and details.endswith("...TRUNCATED")


# --- Metrics ----------------------------------------------------------------


def test_prometheus_metrics_count_both_protocols(server, channel):
    rest(server, "POST", P, {"instances": [1.0]})
    prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
        predict_request(x=[1.0]), timeout=30)
    response = rest(server, "GET", "/monitoring/prometheus/metrics")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    assert "# TYPE :tensorflow:serving:request_latency histogram" in text
    assert f':tensorflow:serving:request_count{{model_name="{MODEL}",status="OK"}}' in text
    assert ':tensorflow:serving:request_count{model_name="nope",status="NOT_FOUND"}' in text
    for entrypoint, api in (("REST", "predict"), ("GRPC", "Predict")):
        assert (f':tensorflow:serving:request_latency_count{{API="{api}",'
                f'entrypoint="{entrypoint}",model_name="{MODEL}"}}') in text
    assert rest(server, "GET", "/monitoring/other").status_code == 404


def test_grpc_accepts_messages_over_4_mib(server):
    options = [("grpc.max_receive_message_length", 64 * 2**20)]
    with grpc.insecure_channel(server.target, options=options) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = MODEL
        request.model_spec.version.value = 1
        values = np.arange(1_400_000, dtype=np.float32)  # 5.6 MB
        request.inputs["x"].CopyFrom(tf.make_tensor_proto(values))
        assert request.ByteSize() > 4 * 2**20
        outputs = tf.make_ndarray(stub.Predict(request, timeout=60).outputs["y"])
    np.testing.assert_allclose(outputs, 0.5 * values + 3)
