"""Choosing the tf.distribute strategy a run trains under.

`auto`: a TPU if one is found, all GPUs if there are several, otherwise the
default (one device) strategy. `multi_worker` reads the cluster from the
TF_CONFIG environment variable, as every tf.distribute multi-worker job does.
"""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "cpu", "mirrored", "tpu", "multi_worker")


class StrategyError(RuntimeError):
    """The asked-for strategy cannot run here; the message says why."""


def _tpu_strategy():
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def make_strategy(name):
    """The `tf.distribute.Strategy` named by `--strategy`."""
    if name not in STRATEGIES:
        raise StrategyError(f"--strategy must be one of {STRATEGIES}. Received: {name!r}")
    if name == "auto":
        try:
            return _tpu_strategy()
        except (ValueError, tf.errors.NotFoundError, tf.errors.UnavailableError):
            pass  # no TPU here
        if len(tf.config.list_logical_devices("GPU")) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "tpu":
        try:
            return _tpu_strategy()
        except (ValueError, tf.errors.NotFoundError, tf.errors.UnavailableError) as error:
            raise StrategyError(f"--strategy tpu: no TPU found ({error})") from None
    if "TF_CONFIG" not in os.environ:
        raise StrategyError(
            "--strategy multi_worker needs the cluster in TF_CONFIG, e.g. "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}'
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief():
    """Whether this process writes the run's files (worker 0 or the chief)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    return task.get("type", "worker") == "chief" or (
        task.get("type", "worker") == "worker"
        and task.get("index", 0) == 0
        and "chief" not in config.get("cluster", {})
    )
