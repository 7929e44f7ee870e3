"""`--monitoring_config_file`: where the Prometheus metrics are served.

The file is a `MonitoringConfig` text proto:

    prometheus_config {
      enable: true,
      path: "/monitoring/prometheus/metrics"
    }

With `enable: true` the metrics are served on the REST port at `path`
(TF Serving's default path when it is empty); otherwise not at all.
"""

from serving.config import ConfigError, read_text_proto
from serving.server_config_pb2 import MonitoringConfig

DEFAULT_PATH = "/monitoring/prometheus/metrics"


def read_monitoring_config(path):
    """The Prometheus path the file enables, or None; errors name the file."""
    config = read_text_proto(path, MonitoringConfig(), "monitoring config file")
    prometheus = config.prometheus_config
    if not prometheus.enable:
        return None
    metrics_path = prometheus.path or DEFAULT_PATH
    if not metrics_path.startswith("/"):
        raise ConfigError(f"{path}: prometheus_config.path must start with '/'; got {metrics_path!r}")
    return metrics_path
