"""Prometheus metrics with TF Serving's names, on `prometheus-client`.

TF Serving exports its TF-monitoring metrics with every character outside
`[a-zA-Z0-9_]` turned into `:` (`/tensorflow/serving/request_count` is
`:tensorflow:serving:request_count`), latencies in microseconds, and some
counters without a `_total` suffix. Histograms are
`prometheus_client.Histogram`s; a counter TF Serving names `..._total` is a
`prometheus_client.Counter`; the two others (`request_count`,
`wrapped_run_count`) are a small collector so that their samples keep TF
Serving's names, which are what dashboards query. The page is the
library's own exposition, which names such a counter's family
`NAME_total` in its `# HELP`/`# TYPE` lines. Each server has its own
registry, so tests can run several.
"""

import collections
import threading

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import Metric

from serving.config import ConfigError, read_text_proto
from serving.server_config_pb2 import MonitoringConfig

# TF Serving writes no `_created` samples.
prometheus_client.disable_created_metrics()

DEFAULT_PATH = "/monitoring/prometheus/metrics"
PREFIX = ":tensorflow:serving:"
# TF Serving's latency buckets: Exponential(10, 1.8, 33) microseconds.
LATENCY_BUCKETS_US = tuple(10 * 1.8**i for i in range(33))
BATCH_SIZE_BUCKETS = tuple(2**i for i in range(15))


class _Counter:
    """A labelled counter written as `name{labels} value` (no `_total`)."""

    def __init__(self, name, label_names, registry):
        self.name = name
        self.label_names = label_names
        self.values = collections.defaultdict(float)
        self.lock = threading.Lock()
        registry.register(self)

    def inc(self, *labels, amount=1):
        with self.lock:
            self.values[labels] += amount

    def collect(self):
        metric = Metric(self.name, self.name, "counter")
        with self.lock:
            for labels, value in sorted(self.values.items()):
                metric.add_sample(self.name, dict(zip(self.label_names, labels)), value)
        yield metric


class Metrics:
    """The server's metrics; `exposition()` is the Prometheus text."""

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=False)
        self.request_count = _Counter(
            PREFIX + "request_count", ("model_name", "status"), self.registry)
        self.request_latency = Histogram(
            PREFIX + "request_latency", "Request latency in microseconds.",
            ("model_name", "API", "entrypoint"), buckets=LATENCY_BUCKETS_US,
            registry=self.registry)
        self.runtime_latency = Histogram(
            PREFIX + "runtime_latency", "Model run latency in microseconds.",
            ("model_name", "API", "runtime"), buckets=LATENCY_BUCKETS_US,
            registry=self.registry)
        self.example_counts = Histogram(
            PREFIX + "request_example_counts", "tf.Examples per request.", ("model",),
            buckets=BATCH_SIZE_BUCKETS, registry=self.registry)
        self.example_count_total = Counter(
            PREFIX + "request_example_count", "tf.Examples in all requests.", ("model",),
            registry=self.registry)
        batching = PREFIX + "batching_session:"
        self.queuing_latency = Histogram(
            batching + "queuing_latency", "Time a task waited for its batch, microseconds.",
            ("thread_pool_name",), buckets=LATENCY_BUCKETS_US, registry=self.registry)
        self.input_batch_size = Histogram(
            batching + "input_batch_size", "Rows in a batch before padding.",
            ("thread_pool_name",), buckets=BATCH_SIZE_BUCKETS, registry=self.registry)
        self.processed_batch_size = Histogram(
            batching + "processed_batch_size", "Rows in a batch after padding.",
            ("thread_pool_name",), buckets=BATCH_SIZE_BUCKETS, registry=self.registry)
        self.padding_size = Histogram(
            batching + "padding_size", "Padding rows added to a batch.",
            ("thread_pool_name",), buckets=BATCH_SIZE_BUCKETS, registry=self.registry)
        self.wrapped_run_count = _Counter(
            batching + "wrapped_run_count", ("thread_pool_name",), self.registry)

    def request(self, model_name, status, api, entrypoint, seconds=None):
        """One finished request; its latency only if it succeeded (as TF Serving)."""
        self.request_count.inc(model_name, status)
        if seconds is not None:
            self.request_latency.labels(model_name, api, entrypoint).observe(seconds * 1e6)

    def runtime(self, model_name, api, seconds):
        self.runtime_latency.labels(model_name, api, "TF1").observe(seconds * 1e6)

    def examples(self, model_name, count):
        self.example_counts.labels(model_name).observe(count)
        self.example_count_total.labels(model_name).inc(count)

    def batch(self, input_size, processed_size, queuing_seconds, pool="model_server_batch_threads"):
        """One executed batch (the batch scheduler's `on_batch` hook)."""
        self.input_batch_size.labels(pool).observe(input_size)
        self.processed_batch_size.labels(pool).observe(processed_size)
        self.padding_size.labels(pool).observe(processed_size - input_size)
        self.wrapped_run_count.inc(pool)
        for seconds in queuing_seconds:
            self.queuing_latency.labels(pool).observe(seconds * 1e6)

    def exposition(self):
        """The Prometheus text format of every metric."""
        return prometheus_client.generate_latest(self.registry)


def read_monitoring_config(path):
    """The Prometheus path a `--monitoring_config_file` enables, or None.

    The file is a `MonitoringConfig` text proto, `prometheus_config { enable:
    true, path: "/metrics" }`; an empty path is TF Serving's default.
    """
    config = read_text_proto(path, MonitoringConfig(), "monitoring config file")
    prometheus = config.prometheus_config
    if not prometheus.enable:
        return None
    metrics_path = prometheus.path or DEFAULT_PATH
    if not metrics_path.startswith("/"):
        raise ConfigError(
            f"{path}: prometheus_config.path must start with '/'; got {metrics_path!r}")
    return metrics_path
