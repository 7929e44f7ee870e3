"""Runs a command's `main` on a CPU split into two logical devices, so that
the tests can train under MirroredStrategy without a second device.

    python -m tests.on_two_logical_cpus training.train CONFIG --strategy mirrored ...

(The split must come before anything else in the process uses TensorFlow,
hence a process of its own.)
"""

import importlib
import sys

import tensorflow as tf


def main(argv):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    module, *arguments = argv
    return importlib.import_module(module).main(arguments)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
