"""`--enable_batching` end to end: concurrent requests merge into batches,
each client gets its own answer (over REST and gRPC, small requests and
large), the batching metrics count the batches, and an oversize request
gets TF Serving's error."""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.serving.conftest import Server, config_text
from tests.serving.saved_models import (wait_for_file, write_gate_model,
                                       write_slow_model)

pytestmark = pytest.mark.tensorflow_only


def test_concurrent_requests_are_batched_and_counted(models, tmp_path):
    """A `gate` request holds the one batch thread while eight clients send
    theirs (3 s, against the milliseconds a request takes to arrive), so they
    share a batch whatever the machine's load; unheld, each might find its
    queue idle and run alone, as an idle queue runs a request at once."""
    parameters = tmp_path / "batching.config"
    parameters.write_text("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 200000 }\n"
                          "num_batch_threads { value: 1 }\nmax_enqueued_batches { value: 4 }\n")
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text('prometheus_config { enable: true path: "/metrics" }')
    write_gate_model(tmp_path / "gate" / "1")
    config = tmp_path / "models.config"
    config.write_text(config_text({"half_plus_three": models / "half_plus_three",
                                   "gate": tmp_path / "gate"}))
    server = Server([f"--model_config_file={config}", "--enable_batching",
                     f"--batching_parameters_file={parameters}",
                     f"--monitoring_config_file={monitoring}", "--rest_api_num_threads=16"])
    url = f"{server.url}/v1/models/half_plus_three:predict"  # version 2: y = x/2 + 4
    opened = tmp_path / "open"
    answers = {}

    def client(index):
        response = requests.post(url, json={"instances": [float(index)]}, timeout=60)
        answers[index] = response.json()

    try:
        with ThreadPoolExecutor(1) as executor:
            gate = executor.submit(requests.post, f"{server.url}/v1/models/gate:predict",
                                   json={"instances": [str(opened)]}, timeout=60)
            wait_for_file(f"{opened}.waiting")  # The gate holds the batch thread.
            threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
            for thread in threads:
                thread.start()
            time.sleep(3)  # The clients' requests reach the server and queue.
            opened.touch()
            gate_answer = gate.result().json()
        for thread in threads:
            thread.join(60)
        oversize = requests.post(url, json={"instances": [1.0] * 9}, timeout=60)
        metrics = requests.get(f"{server.url}/metrics", timeout=10).text
    finally:
        code, _ = server.stop()
    assert gate_answer == {"predictions": [True]}
    assert answers == {i: {"predictions": [0.5 * i + 4]} for i in range(8)}
    assert oversize.status_code == 400
    assert oversize.json()["error"] == "Task size 9 is larger than maximum input batch size 8"
    batches = float(re.search(
        r':tensorflow:serving:batching_session:processed_batch_size_count\{[^}]*\} (\S+)',
        metrics).group(1))
    rows = float(re.search(
        r':tensorflow:serving:batching_session:input_batch_size_sum\{[^}]*\} (\S+)',
        metrics).group(1))
    # The gate's row and 8 one-row clients (warmup runs the session directly):
    # the clients queued behind the gate run together, in one batch.
    assert rows == 9 and batches == 2
    assert code == 0


def test_grpc_requests_get_their_own_rows_and_a_client_giving_up_costs_no_one_else(
        models, tmp_path):
    """Small gRPC requests are queued on the event loop, large ones (over
    16 KiB) decoded on a thread; both kinds get their own rows back. A
    client whose deadline passes while its request waits for a batch
    leaves the others of that batch their answers."""
    parameters = tmp_path / "batching.config"
    parameters.write_text("max_batch_size { value: 20000 }\n"
                          "batch_timeout_micros { value: 1000000 }\n"
                          "num_batch_threads { value: 1 }\n")
    write_slow_model(tmp_path / "slow" / "1")
    write_gate_model(tmp_path / "gate" / "1")
    config = tmp_path / "models.config"
    config.write_text(config_text({"half_plus_three": models / "half_plus_three",
                                   "slow": tmp_path / "slow", "gate": tmp_path / "gate"}))
    server = Server([f"--model_config_file={config}", "--enable_batching",
                     f"--batching_parameters_file={parameters}"])
    sizes = [1, 2, 8000, 3, 10000]  # 8000 floats: 32 KB
    answers = {}

    def request(model, values, dtype=np.float32):
        message = predict_pb2.PredictRequest()
        message.model_spec.name = model
        message.inputs[{"slow": "n", "gate": "path"}.get(model, "x")].CopyFrom(
            tf.make_tensor_proto(np.asarray(values, dtype)))
        return message

    def client(index, stub):
        values = np.arange(sizes[index], dtype=np.float32) + index
        response = stub.Predict(request("half_plus_three", values), timeout=60)
        answers[index] = (values, tf.make_ndarray(response.outputs["y"]))

    try:
        with grpc.insecure_channel(server.target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            threads = [threading.Thread(target=client, args=(i, stub))
                       for i in range(len(sizes))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            # The gate's batch runs at once (its queue is idle) and holds the
            # one batch thread until the file exists; the next two requests
            # wait for it, and the first of them gives up at 0.2 s.
            opened = tmp_path / "open"
            running = stub.Predict.future(request("gate", [str(opened)], object), timeout=60)
            wait_for_file(f"{opened}.waiting")
            impatient = stub.Predict.future(request("slow", [10], np.int64), timeout=0.2)
            patient = stub.Predict.future(request("slow", [10], np.int64), timeout=60)
            with pytest.raises(grpc.RpcError) as gave_up:
                impatient.result()
            opened.touch()
            answer = tf.make_ndarray(patient.result().outputs["total"])
            running.result()
    finally:
        code, _ = server.stop()
    assert sorted(answers) == list(range(len(sizes)))
    for values, outputs in answers.values():
        np.testing.assert_allclose(outputs, values / 2 + 4)
    assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert answer.tolist() == [45]  # 0 + 1 + ... + 9
    assert code == 0
