"""A model server started as users start it: `python -m serving ...` in a subprocess."""

import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

from tests.serving.saved_models import write_half_plus_three

ROOT = pathlib.Path(__file__).resolve().parents[2]
READY_LINE = "Exporting HTTP/REST API at:"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def config_text(models):
    """A `--model_config_file`'s text serving each `{name: base_path}` of `models`."""
    entries = "".join(f"  config {{ name: '{name}' base_path: '{path}' }}\n"
                      for name, path in models.items())
    return f"model_config_list {{\n{entries}}}\n"


class Server:
    """A running `python -m serving`; `stop()` sends SIGTERM and returns its log."""

    def __init__(self, flags, timeout=120):
        self.grpc_port, self.rest_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.rest_port}"
        self.target = f"127.0.0.1:{self.grpc_port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "serving", f"--port={self.grpc_port}",
             f"--rest_api_port={self.rest_port}", *flags],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            # A crash in native code then prints its Python stack instead of nothing.
            env={**os.environ, "PYTHONFAULTHANDLER": "1"})
        self.log = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.log.append(line)
            if READY_LINE in line:
                return
        self.process.kill()
        self.process.wait(timeout=30)
        raise RuntimeError(
            f"the server did not start (exit status {self.process.returncode}):\n"
            + "".join(self.log[-40:]))

    def stop(self, timeout=60):
        self.process.terminate()
        out, _ = self.process.communicate(timeout=timeout)
        self.log.append(out)
        return self.process.returncode, "".join(self.log)


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """`half_plus_three` versions 1 (y = x/2 + 3) and 2 (y = x/2 + 4), with warmup."""
    base = tmp_path_factory.mktemp("models")
    write_half_plus_three(base / "half_plus_three" / "1", offset=3.0, warmup=2)
    write_half_plus_three(base / "half_plus_three" / "2", offset=4.0, warmup=2)
    return base


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    directory = tmp_path_factory.mktemp("server")
    config = directory / "models.config"
    config.write_text(
        "model_config_list {\n  config {\n    name: 'half_plus_three'\n"
        f"    base_path: '{models / 'half_plus_three'}'\n    model_platform: 'tensorflow'\n"
        "    model_version_policy { all {} }\n"
        "    version_labels { key: 'stable' value: 1 }\n"
        "    version_labels { key: 'canary' value: 2 }\n  }\n}\n")
    monitoring = directory / "monitoring.config"
    monitoring.write_text('prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }\n')
    running = Server([f"--model_config_file={config}", f"--monitoring_config_file={monitoring}",
                      "--file_system_poll_wait_seconds=0",
                      # test_grpc_accepts_messages_over_4_mib sends 1,400,000 rows
                      "--max_request_rows=1500000"])
    yield running
    running.stop()
