"""Serving benchmark: our server against the in-process call and a naive wrapper.

    python -m benchmarks.serving [--json PATH] [--quick] [--model NAME]

For one shipped classifier (default `sarcasm_lstm`), one headline per
request:

* the floor: the SavedModel's `serving_default` called in this process;
* `python -m serving` over REST and over gRPC, without and with
  `--enable_batching`, at 1, 8 and 64 concurrent clients;
* the same REST request against a naive one-file FastAPI app around
  `tf.saved_model.load` (what a user would write instead), run by uvicorn.

Each setting sends a fixed number of requests and reports throughput,
p50/p99 latency, errors and the server's resident memory. Clients are
asyncio tasks (aiohttp, grpc.aio) in this process, so they share the two
cores with the server, as they would on one machine. Results go to
`docs/serving_benchmark.md` (and `--json PATH`).
"""

import argparse
import asyncio
import json
import os
import pathlib
import platform
import socket
import subprocess
import sys
import tempfile
import time

import aiohttp
import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from zoo.pretrained import version_numbers

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ROOT / "savedmodels"
DOC = ROOT / "docs" / "serving_benchmark.md"
HEADLINE = "area man wins argument with toaster"
CLIENTS = (1, 8, 64)
# Requests per setting: enough for a p99 at 64 clients.
REQUESTS = {1: 400, 8: 1200, 64: 3000}
QUICK_REQUESTS = {1: 60, 8: 160, 64: 320}
# One batch at a time uses both cores (TensorFlow's own threads); 5 ms lets
# batches fill under load (REST at 64 clients: 1,562 req/s with 2 ms and 2
# threads, 1,652 to 1,803 with these; docs/serving.md).
BATCHING_PARAMETERS = """
max_batch_size { value: 64 }
batch_timeout_micros { value: 5000 }
max_enqueued_batches { value: 100 }
num_batch_threads { value: 1 }
"""
NAIVE_APP = '''
"""A naive REST wrapper: what a user writes instead of a model server."""
import os
import tensorflow as tf
from fastapi import FastAPI, Request

model = tf.saved_model.load(os.environ["MODEL_DIR"])
predict = model.signatures["serving_default"]
app = FastAPI()


@app.post("/v1/models/{name}:predict")
async def serve(name: str, request: Request):
    body = await request.json()
    outputs = predict(text=tf.constant(body["instances"]))
    return {"predictions": outputs["scores"].numpy().tolist()}
'''


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(latencies, errors, seconds):
    latencies = np.array(latencies) * 1000
    return {
        "requests": len(latencies) + errors,
        "errors": errors,
        "throughput_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2) if len(latencies) else None,
        "p99_ms": round(float(np.percentile(latencies, 99)), 2) if len(latencies) else None,
    }


# --- The floor ---------------------------------------------------------------


def in_process(version_dir, count):
    signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    text = tf.constant([HEADLINE])
    for _ in range(20):
        signature(text=text)
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        begin = time.perf_counter()
        signature(text=text)
        latencies.append(time.perf_counter() - begin)
    return summary(latencies, 0, time.perf_counter() - started)


# --- Load generators -----------------------------------------------------------


async def drive(clients, total, send):
    """Runs `total` calls of `send()` from `clients` concurrent tasks."""
    latencies, errors, remaining = [], 0, total

    async def client():
        nonlocal errors, remaining
        while remaining > 0:
            remaining -= 1
            begin = time.perf_counter()
            try:
                ok = await send()
            except Exception:  # a refused or failed request counts, never stops the run
                ok = False
            if ok:
                latencies.append(time.perf_counter() - begin)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return summary(latencies, errors, time.perf_counter() - started)


async def rest_load(url, clients, total):
    body = json.dumps({"instances": [HEADLINE]}).encode()
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def send():
            async with session.post(url, data=body) as response:
                await response.read()
                return response.status == 200

        for _ in range(10):
            await send()  # warm the connections and the model
        return await drive(clients, total, send)


async def grpc_load(target, model, clients, total):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs["text"].CopyFrom(tf.make_tensor_proto([HEADLINE]))
    async with grpc.aio.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        async def send():
            await stub.Predict(request, timeout=60)
            return True

        for _ in range(10):
            await send()
        return await drive(clients, total, send)


# --- Servers -------------------------------------------------------------------


def start(command, port, log_path, environment=None):
    """Starts a server; returns once `port` accepts connections."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env=environment)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {command}\n"
                       + pathlib.Path(log_path).read_text()[-3000:])


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def our_server(model, model_dir, batching, workdir):
    grpc_port, rest_port = free_port(), free_port()
    # A request waits for its batch on a request thread, so a batch merges at
    # most as many requests as there are threads: one thread per client (the
    # defaults, 4 per core, would cap batches at 8). Unbatched runs get the
    # same threads, so only batching differs.
    threads = max(CLIENTS)
    command = [sys.executable, "-m", "serving", f"--port={grpc_port}",
               f"--rest_api_port={rest_port}", f"--model_name={model}",
               f"--model_base_path={model_dir}", "--file_system_poll_wait_seconds=0",
               f"--rest_api_num_threads={threads}", f"--grpc_max_threads={threads}"]
    if batching:
        parameters = workdir / "batching.config"
        parameters.write_text(BATCHING_PARAMETERS)
        command += ["--enable_batching", f"--batching_parameters_file={parameters}"]
    # Our server opens its REST port last, once the models are loaded.
    process = start(command, rest_port, workdir / "server.log")
    return process, f"http://127.0.0.1:{rest_port}/v1/models/{model}:predict", \
        f"127.0.0.1:{grpc_port}"


def naive_server(version_dir, workdir):
    port = free_port()
    (workdir / "naive_app.py").write_text(NAIVE_APP)
    environment = {**os.environ, "MODEL_DIR": str(version_dir), "PYTHONPATH": str(workdir),
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = start([sys.executable, "-m", "uvicorn", "naive_app:app", "--host", "127.0.0.1",
                     "--port", str(port), "--log-level", "warning"],
                    port, workdir / "naive.log", environment)
    return process, f"http://127.0.0.1:{port}/v1/models/naive:predict"


# --- The run -------------------------------------------------------------------


def run(model, quick):
    model_dir = MODELS / model
    version_dir = model_dir / str(version_numbers(model_dir)[-1])
    requests = QUICK_REQUESTS if quick else REQUESTS
    rows = [{"setting": "in-process SavedModel call", "clients": 1,
             **in_process(version_dir, requests[1])}]
    print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory() as directory:
        workdir = pathlib.Path(directory)
        for batching in (False, True):
            process, url, target = our_server(model, model_dir, batching, workdir)
            name = "batching" if batching else "no batching"
            try:
                for protocol in ("REST", "gRPC"):
                    for clients in CLIENTS:
                        load = (rest_load(url, clients, requests[clients]) if protocol == "REST"
                                else grpc_load(target, model, clients, requests[clients]))
                        result = asyncio.run(load)
                        rows.append({"setting": f"python -m serving, {protocol}, {name}",
                                     "clients": clients, **result,
                                     "server_rss_mb": round(rss_mb(process.pid))})
                        print(rows[-1], flush=True)
            finally:
                stop(process)
        process, url = naive_server(version_dir, workdir)
        try:
            for clients in CLIENTS:
                result = asyncio.run(rest_load(url, clients, requests[clients]))
                rows.append({"setting": "naive FastAPI wrapper, REST", "clients": clients,
                             **result, "server_rss_mb": round(rss_mb(process.pid))})
                print(rows[-1], flush=True)
        finally:
            stop(process)
    return rows


def markdown(rows, model, quick, command):
    lines = [
        "# Serving benchmark",
        "",
        f"`{command}` on {platform.node() or 'this machine'}: {platform.processor() or platform.machine()},"
        f" {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()},"
        f" TensorFlow {tf.__version__}. Model `{model}`, one headline per request"
        f"{' (--quick: few requests)' if quick else ''}. Written by `benchmarks/serving.py`.",
        "",
        "| setting | clients | requests | errors | throughput (req/s) | p50 (ms) | p99 (ms) | server RSS (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['setting']} | {row['clients']} | {row['requests']} | {row['errors']} | "
            f"{row['throughput_per_s']} | {row['p50_ms']} | {row['p99_ms']} | "
            f"{row.get('server_rss_mb', '')} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="also write the rows as JSON here")
    parser.add_argument("--quick", action="store_true", help="few requests (a smoke run)")
    parser.add_argument("--model", default="sarcasm_lstm", help="a classifier in savedmodels/")
    args = parser.parse_args(argv)
    if not (MODELS / args.model).is_dir():
        parser.error(f"--model: no model {args.model!r} in {MODELS}")
    rows = run(args.model, args.quick)
    command = "python -m benchmarks.serving" + (" --quick" if args.quick else "")
    if args.model != "sarcasm_lstm":
        command += f" --model {args.model}"
    DOC.write_text(markdown(rows, args.model, args.quick, command), encoding="utf-8")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(f"Wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
