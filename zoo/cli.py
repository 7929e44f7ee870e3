"""What every command line of the project shares: TensorFlow imported late and quietly.

Each command (`python -m training.train`, `python -m zoo`, ...) parses and
checks its arguments first, with the standard library only, so a typo is
reported at once instead of after TensorFlow's start-up of several
seconds; then it calls `import_tensorflow`.

TensorFlow's C++ side writes to the process's stderr while it starts:
absl's "All log messages before absl::InitializeLog()", the CUDA probe's
"Could not find cuda drivers" and "failed call to cuInit", oneDNN and
CPU-feature notices. On a CPU machine none of it is news, so it is kept
off the screen unless asked for: `--verbose` on any command, or the
environment variable `ZOO_VERBOSE=1`. A `TF_CPP_MIN_LOG_LEVEL` the user set
is always respected. If the import itself fails, what was held back is
printed before the error.

This module imports nothing from TensorFlow, Keras or the rest of `zoo`.
"""

import contextlib
import os
import sys
import tempfile

VERBOSE_VARIABLE = "ZOO_VERBOSE"


def add_verbose_flag(parser):
    """Adds `--verbose` to an argparse parser."""
    parser.add_argument(
        "--verbose", action="store_true",
        help=f"show TensorFlow's start-up log (or set {VERBOSE_VARIABLE}=1)")


def wants_verbose(verbose=False):
    """`--verbose`, or `ZOO_VERBOSE` set to anything but empty or 0."""
    return verbose or os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0")


@contextlib.contextmanager
def native_stderr_held_back():
    """Sends what is written to file descriptor 2 to a temporary file.

    Native code writes there directly, past `sys.stderr`. The held-back text
    is printed if the block raises, so a failed import still explains itself.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode("utf-8", errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow(verbose=False):
    """Imports TensorFlow (and probes its devices) without its start-up noise.

    Returns:
        The `tensorflow` module.
    """
    if wants_verbose(verbose):
        import tensorflow as tf

        return tf
    # Only INFO and WARNING lines are hidden from here on; errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_held_back():
        import tensorflow as tf

        # The CUDA probe (and its cuInit error on a CPU machine) runs on first
        # device use, so it is made here, inside the held-back block.
        tf.config.list_physical_devices()
    return tf
