"""`python -m serving` under hostile traffic: each class of attack that once got
through (loading models from a request, unbounded memory per request,
stalled connections, wrong methods and dtypes), then the model still
answers as before and the server's resident memory stays within a bound.

The server is the shipped `sarcasm_lstm` with the default limits, except a
short header timeout and a small connection cap so the stalled-connection
attack is quick."""

import gzip
import pathlib
import socket
import time

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tests.serving.conftest import ROOT, Server
from tests.serving.saved_models import wait_for_file, write_gate_model

pytestmark = pytest.mark.tensorflow_only
MODEL = "sarcasm_lstm"
HEADLINE = "area man wins argument with toaster"
HEADER_TIMEOUT_S = 2
MAX_CONNECTIONS = 64
# Resident memory may grow by at most this much over the server's own after
# its first answers: a 9,000-row request once took gigabytes and kept them.
RSS_GROWTH_BOUND_MB = 150


def rss_mb(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server():
    running = Server([f"--model_name={MODEL}", f"--model_base_path={ROOT / 'savedmodels' / MODEL}",
                      "--file_system_poll_wait_seconds=0", "--max_request_bytes=8388608",
                      f"--rest_api_header_timeout_seconds={HEADER_TIMEOUT_S}",
                      f"--rest_api_max_connections={MAX_CONNECTIONS}"])
    yield running
    running.stop()


def predict(server, instances, **kwargs):
    return requests.post(f"{server.url}/v1/models/{MODEL}:predict",
                         json={"instances": instances}, timeout=60, **kwargs)


def scores(server):
    response = predict(server, [HEADLINE])
    assert response.status_code == 200, response.text
    return response.json()["predictions"][0]["scores"]


def grpc_error(call, request):
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=30)
    return caught.value.code(), caught.value.details()


def string_request(dims, *values, dtype=tf.string):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    tensor = request.inputs["text"]
    tensor.dtype = dtype.as_datatype_enum
    for size in dims:
        tensor.tensor_shape.dim.add(size=size)
    if dtype == tf.string:
        tensor.string_val.extend(values)
    else:
        tensor.float_val.extend(values)
    return request


def test_hostile_traffic_leaves_the_model_answering_within_bounded_memory(server, tmp_path):
    before = scores(server)
    baseline = rss_mb(server.process.pid)
    channel = grpc.insecure_channel(server.target)
    prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    models = model_service_pb2_grpc.ModelServiceStub(channel)

    # 1. No model comes from a request: management is off, whatever the path.
    foreign = tmp_path / "foreign"
    (foreign / "1").mkdir(parents=True)
    reload = model_management_pb2.ReloadConfigRequest()
    config = reload.config.model_config_list.config.add(name="foreign", base_path=str(foreign))
    assert grpc_error(models.HandleReloadConfigRequest, reload)[0] == (
        grpc.StatusCode.PERMISSION_DENIED)
    config.Clear()
    del reload.config.model_config_list.config[:]
    assert grpc_error(models.HandleReloadConfigRequest, reload)[0] == (
        grpc.StatusCode.PERMISSION_DENIED)  # an empty config unloads nothing
    for path in ("/v1/models/..%2F..%2Fetc:predict", "/v1/models/a%00b:predict",
                 f"/v1/models/{tmp_path}:predict"):
        response = requests.post(server.url + path, json={"instances": [HEADLINE]}, timeout=30)
        assert response.status_code in (400, 404), response.text

    # 2. Work per request is bounded: rows are capped before anything is
    # decoded, bodies by bytes, and a large allowed request runs in pieces.
    response = predict(server, [HEADLINE] * 100_000)
    assert response.status_code == 400
    assert "10000" in response.json()["error"] and "--max_request_rows" in response.json()["error"]
    for dims in ([20_000], [2**40]):  # one value claiming many rows: 40 bytes on the wire
        code, details = grpc_error(prediction.Predict, string_request(dims, HEADLINE.encode()))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "--max_request_rows" in details
    response = predict(server, [f"{HEADLINE} {i}" for i in range(9_000)])
    assert response.status_code == 200 and len(response.json()["predictions"]) == 9_000
    bomb = gzip.compress(b"[" + b" " * (200 * 2**20) + b"]")
    response = requests.post(f"{server.url}/v1/models/{MODEL}:predict", data=bomb, timeout=60,
                             headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    response = requests.post(f"{server.url}/v1/models/{MODEL}:predict", timeout=60,
                             data=b'{"instances": ["' + b"x" * (9 * 2**20) + b'"]}')
    assert response.status_code == 413
    response = requests.post(f"{server.url}/v1/models/{MODEL}:predict", timeout=60,
                             data=b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert response.status_code == 400

    # 3. Client mistakes are the client's: 400 / INVALID_ARGUMENT, never 500.
    response = requests.post(f"{server.url}/v1/models/{MODEL}:classify", timeout=30,
                             json={"examples": [{"text": HEADLINE}]})
    assert response.status_code == 400 and "method_name" in response.json()["error"]
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = MODEL
    classify.input.example_list.examples.add()
    assert grpc_error(prediction.Classify, classify)[0] == grpc.StatusCode.INVALID_ARGUMENT
    code, details = grpc_error(prediction.Predict, string_request([1], 1.0, dtype=tf.float32))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "string" in details, details

    # 4. Stalled connections are closed, and the cap turns away the rest.
    stalled = []
    for _ in range(3 * MAX_CONNECTIONS):
        connection = socket.create_connection(("127.0.0.1", server.rest_port), timeout=10)
        connection.sendall(f"POST /v1/models/{MODEL}:predict HTTP/1.1\r\nHost: x\r\n".encode())
        stalled.append(connection)
    started = time.monotonic()
    refused = 0
    for connection in stalled:
        answer = b""
        try:
            while chunk := connection.recv(4096):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        refused += answer.startswith(b"HTTP/1.1 503")
        connection.close()
    closed_after = time.monotonic() - started
    assert refused >= 2 * MAX_CONNECTIONS - 8, refused  # some were accepted after others closed
    assert closed_after < HEADER_TIMEOUT_S + 8, closed_after

    # The model still answers as before, and memory came back.
    assert scores(server) == pytest.approx(before, abs=1e-6)
    assert tf.make_ndarray(prediction.Predict(string_request([1], HEADLINE.encode()),
                                              timeout=30).outputs["scores"]).shape == (1, 2)
    channel.close()
    grown = rss_mb(server.process.pid) - baseline
    assert grown < RSS_GROWTH_BOUND_MB, f"RSS grew by {grown:.0f} MB"
    code, log = server.stop()
    assert code == 0
    assert log.count("\n") < 400, log[-3000:]  # no line per refused or stalled connection


def test_version_that_fails_to_load_says_so_in_its_status(tmp_path):
    base = tmp_path / "broken"
    (base / "1").mkdir(parents=True)
    (base / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")
    running = Server(["--model_name=broken", f"--model_base_path={base}",
                      "--max_num_load_retries=1", "--load_retry_interval_micros=60000000",
                      "--file_system_poll_wait_seconds=1"])
    try:
        status = requests.get(f"{running.url}/v1/models/broken", timeout=30).json()
    finally:
        running.stop()
    (version,) = status["model_version_status"]
    assert version["state"] in ("LOADING", "END")
    assert "attempt" in version["status"]["error_message"].lower(), version


def test_grpc_calls_beyond_the_concurrency_cap_are_refused(tmp_path):
    write_gate_model(tmp_path / "gate" / "1")
    running = Server([f"--model_base_path={tmp_path / 'gate'}", "--model_name=gate",
                      "--grpc_max_concurrent_rpcs=1", "--file_system_poll_wait_seconds=0"])
    opened = tmp_path / "open"

    def gated(path):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "gate"
        request.inputs["path"].CopyFrom(tf.make_tensor_proto(np.array([str(path)], object)))
        return request

    try:
        with grpc.insecure_channel(running.target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            busy = stub.Predict.future(gated(opened), timeout=60)
            wait_for_file(f"{opened}.waiting")  # the one allowed call is running
            at_once = gated(tmp_path / "gate")  # a path that exists: opens at once
            code, details = grpc_error(stub.Predict, at_once)
            opened.touch()
            assert busy.result().outputs["opened"].bool_val == [True]
            assert stub.Predict(at_once, timeout=30).outputs["opened"].bool_val == [True]
    finally:
        running.stop()
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details)
