"""The server under change and under faults: new versions and config edits
while clients keep predicting (no request may fail), and broken models,
slow models and vanishing clients, which must not disturb the others."""

import json
import os
import shutil
import socket
import threading
import time

import pytest
import requests

from tests.serving.conftest import Server, config_text
from tests.serving.saved_models import (wait_for_file, write_gate_model,
                                       write_no_inputs_model, write_slow_model)

pytestmark = pytest.mark.tensorflow_only


def wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def versions(server, model):
    response = requests.get(f"{server.url}/v1/models/{model}", timeout=10)
    if response.status_code != 200:
        return {}
    return {int(s["version"]): s["state"] for s in response.json()["model_version_status"]}


def publish(source, target):
    """Copies a version in the way `training.export` publishes: whole, then renamed."""
    temporary = target.parent / f".{target.name}.tmp"
    shutil.copytree(source, temporary)
    os.rename(temporary, target)


def test_versions_and_config_change_under_load_without_a_failed_request(tmp_path, models):
    base = tmp_path / "m"
    base.mkdir()
    publish(models / "half_plus_three" / "1", base / "1")
    other = tmp_path / "other"
    publish(models / "half_plus_three" / "1", other / "1")
    config = tmp_path / "models.config"
    config.write_text(config_text({"m": base}))
    server = Server([f"--model_config_file={config}", "--model_config_file_poll_wait_seconds=1",
                     "--file_system_poll_wait_seconds=1"])
    failures, answers, stop = [], [], threading.Event()

    def client():
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    response = session.post(f"{server.url}/v1/models/m:predict",
                                            json={"instances": [1.0]}, timeout=30)
                    if response.status_code != 200:
                        failures.append(response.text)
                    else:
                        answers.append(response.json()["predictions"][0])
                except requests.RequestException as error:
                    failures.append(repr(error))

    clients = [threading.Thread(target=client) for _ in range(3)]
    try:
        for thread in clients:
            thread.start()
        wait_for(lambda: len(answers) > 20, what="first answers")
        publish(models / "half_plus_three" / "2", base / "2")  # y = x/2 + 4
        wait_for(lambda: versions(server, "m") == {2: "AVAILABLE", 1: "END"}, what="version 2")
        count = len(answers)
        wait_for(lambda: len(answers) > count + 20, what="answers from version 2")
        shutil.rmtree(base / "1")
        config.write_text(config_text({"m": base, "other": other}))
        wait_for(lambda: versions(server, "other") == {1: "AVAILABLE"}, what="model added")
        config.write_text(config_text({"m": base}))
        wait_for(lambda: versions(server, "other") == {1: "END"}, what="model removed")
        count = len(answers)
        wait_for(lambda: len(answers) > count + 20, what="answers after the edits")
    finally:
        stop.set()
        for thread in clients:
            thread.join(60)
        code, log = server.stop()
    assert failures == []
    assert answers[0] == 3.5 and answers[-1] == 4.5 and set(answers) == {3.5, 4.5}
    assert code == 0 and "Unloaded servable version {name: m version: 1}" in log


def test_faults_leave_the_other_models_serving(tmp_path, models):
    good, broken, empty, slow = (tmp_path / name for name in ("good", "broken", "empty", "slow"))
    publish(models / "half_plus_three" / "1", good / "1")
    (broken / "1").mkdir(parents=True)
    (broken / "1" / "saved_model.pb").write_bytes(b"\x08garbage")
    write_no_inputs_model(empty / "1")
    write_slow_model(slow / "1")
    config = tmp_path / "models.config"
    config.write_text(config_text({"good": good, "broken": broken, "empty": empty,
                                   "slow": slow}))
    server = Server([f"--model_config_file={config}", "--rest_api_timeout_in_ms=300",
                     "--max_num_load_retries=0", "--file_system_poll_wait_seconds=0"])
    try:
        # A corrupt version ends with its error in the status.
        status = requests.get(f"{server.url}/v1/models/broken", timeout=10).json()
        entry = status["model_version_status"][0]
        assert entry["state"] == "END" and entry["status"]["error_code"] != "OK"
        assert entry["status"]["error_message"]
        # A signature without inputs: any request naming an input is refused.
        response = requests.post(f"{server.url}/v1/models/empty:predict",
                                 json={"instances": [1.0]}, timeout=10)
        assert response.status_code == 400
        # A model slower than --rest_api_timeout_in_ms: 504, DEADLINE_EXCEEDED.
        started = time.monotonic()
        response = requests.post(f"{server.url}/v1/models/slow:predict",
                                 json={"instances": [10**12]}, timeout=60)
        assert response.status_code == 504, response.text
        assert time.monotonic() - started < 30
        # A client that sends a slow request and vanishes.
        body = json.dumps({"instances": [10**12]}).encode()
        with socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) as vanishing:
            vanishing.sendall(b"POST /v1/models/slow:predict HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/json\r\n"
                              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        # Through all of it the good model answers. First let the vanished
        # request reach its 300 ms deadline: on a loaded machine a request
        # queued behind it for the two cores would hit the same deadline,
        # which measures capacity, not whether the faults broke anything.
        time.sleep(1.0)
        for _ in range(5):
            response = requests.post(f"{server.url}/v1/models/good:predict",
                                     json={"instances": [1.0]}, timeout=10)
            assert response.json() == {"predictions": [3.5]}
        small = requests.post(f"{server.url}/v1/models/slow:predict",
                              json={"instances": [10]}, timeout=10)
        assert small.json() == {"predictions": [45]}
    finally:
        code, log = server.stop()
    assert code == 0


def test_sigterm_finishes_requests_in_flight(tmp_path):
    write_gate_model(tmp_path / "gate" / "1")
    server = Server([f"--model_base_path={tmp_path / 'gate'}", "--model_name=gate",
                     "--rest_api_timeout_in_ms=60000"])
    opened = tmp_path / "open"
    result = {}

    def gated_request():
        result["response"] = requests.post(f"{server.url}/v1/models/gate:predict",
                                           json={"instances": [str(opened)]}, timeout=120)

    def stop():
        result["stopped"] = server.stop(timeout=120)

    thread = threading.Thread(target=gated_request)
    thread.start()
    wait_for_file(f"{opened}.waiting")  # the request is running
    stopper = threading.Thread(target=stop)
    stopper.start()  # SIGTERM
    time.sleep(1.0)  # the server is shutting down, waiting for the request
    opened.touch()
    stopper.join(120)
    thread.join(120)
    code, log = result["stopped"]
    assert code == 0
    assert result["response"].status_code == 200
    assert result["response"].json() == {"predictions": [True]}
    assert "Shutting down: finishing the requests in flight." in log
    assert "Running gRPC ModelServer at 127.0.0.1:" in log


@pytest.mark.parametrize("problem", ["syntax", "relative", "batching_without_flag",
                                     "bad_monitoring"])
def test_bad_start_up_configuration_fails_naming_the_problem(problem, tmp_path, caplog, capsys):
    # In this process (a server subprocess costs seconds of TensorFlow
    # import per case); the test below runs one case as a user would.
    from serving.__main__ import main

    flags, expected = _bad_start_up(problem, tmp_path)
    try:
        code = main(["--port=0", "--rest_api_port=0", *flags])
    except SystemExit as exit_:  # argparse's errors
        code = exit_.code
    assert code not in (0, None)
    assert expected in caplog.text + capsys.readouterr().err


def test_a_bad_config_stops_the_command_with_its_message(tmp_path):
    import subprocess
    import sys

    from tests.serving.conftest import ROOT

    flags, expected = _bad_start_up("syntax", tmp_path)
    process = subprocess.run([sys.executable, "-m", "serving", "--port=0", "--rest_api_port=0",
                              *flags], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert process.returncode == 1
    assert expected in process.stderr


def _bad_start_up(problem, tmp_path):
    """The flags of a start-up that must fail, and its expected message."""
    config = tmp_path / "models.config"
    flags = [f"--model_config_file={config}"]
    if problem == "syntax":
        config.write_text("model_config_list {\n  config { name: 'm' base_path: }\n}\n")
        expected = f"{config}:2:"
    elif problem == "relative":
        config.write_text("model_config_list { config { name: 'm' base_path: 'models/m' } }")
        expected = "Expected model m to have an absolute path or URI; got base_path()=models/m"
    elif problem == "batching_without_flag":
        config.write_text("")
        flags.append("--batching_parameters_file=b.config")
        expected = "--batching_parameters_file set without --enable_batching"
    else:
        config.write_text("model_config_list {}")
        monitoring = tmp_path / "monitoring.config"
        monitoring.write_text("prometheus_config { enable: maybe }")
        flags.append(f"--monitoring_config_file={monitoring}")
        expected = f"{monitoring}:1:"
    return flags, expected


def test_requests_over_the_size_limit_are_refused_by_both_protocols(models):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    server = Server([f"--model_base_path={models / 'half_plus_three'}",
                     "--model_name=half_plus_three", f"--max_request_bytes={2**20}"])
    try:
        big = [0.5] * 300_000  # about 2 MB as JSON or as a TensorProto
        response = requests.post(f"{server.url}/v1/models/half_plus_three:predict",
                                 json={"instances": big}, timeout=60)
        assert response.status_code == 413
        assert "larger than the limit of 1048576 bytes" in response.json()["error"]
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "half_plus_three"
        with grpc.insecure_channel(server.target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            request.inputs["x"].CopyFrom(tf.make_tensor_proto(big, tf.float32))
            with pytest.raises(grpc.RpcError) as caught:
                stub.Predict(request, timeout=60)
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            # A request under the limit is served; the server is still healthy.
            request.inputs["x"].CopyFrom(tf.make_tensor_proto([1.0] * 1000, tf.float32))
            assert len(stub.Predict(request, timeout=60).outputs["y"].float_val) == 1000
        assert requests.get(f"{server.url}/v1/models/half_plus_three", timeout=10).ok
    finally:
        code, _ = server.stop()
    assert code == 0
