"""How the zoo starts: TensorFlow's native start-up log held back.

When Keras first imports its backend, TensorFlow's C++ side writes lines
like these straight to the process's stderr (file descriptor 2, past
Python's `sys.stderr`), and the first device query adds CUDA's probe:

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796346701.591839 1331 cudart_stub.cc:31] Could not find cuda drivers ...
    I0000 00:00:1796346701.682201 1331 cpu_feature_guard.cc:227] This TensorFlow binary ...
    To enable the following instructions: AVX2 FMA, in other operations, rebuild ...
    E0000 00:00:1796346715.776940 1331 cuda_platform.cc:52] failed call to cuInit: ...

On a CPU machine none of it is news. `import zoo` holds stderr back while
it imports Keras and probes TensorFlow's devices, drops those native log
lines and passes everything else through, so no warning of Python's or a
library's is lost; if the import fails, everything is shown. Set
`ZOO_VERBOSE=1` (or pass `--verbose` to a command) to see it all. Nothing
else changes: TensorFlow's log level stays the user's.

This module imports nothing but the standard library.
"""

import contextlib
import os
import re
import sys
import tempfile

VERBOSE_VARIABLE = "ZOO_VERBOSE"
# absl's native log lines ("I0000 00:00:1796346701.591839  1331 file.cc:31] ..."),
# its notice before they start, and cpu_feature_guard's second line.
NATIVE_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\.)$")


def wants_verbose():
    """Whether `ZOO_VERBOSE` is set to anything but empty or 0."""
    return os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0")


def without_native_log(text):
    """`text` less TensorFlow's native log lines."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not NATIVE_LOG_LINE.match(line.rstrip("\r\n")))


@contextlib.contextmanager
def native_start_up_held_back():
    """Holds file descriptor 2 for the block; then shows all but native log lines.

    If the block raises, everything held back is shown, so a failed import
    still explains itself. With ZOO_VERBOSE set, nothing is held back.
    """
    if wants_verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        failed = False
        try:
            yield
            if "tensorflow" in sys.modules:
                # CUDA's probe (and its cuInit error on a CPU machine) runs on the
                # first device query, so it is made here.
                sys.modules["tensorflow"].config.list_physical_devices()
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode("utf-8", errors="replace")
            sys.stderr.write(text if failed else without_native_log(text))
            sys.stderr.flush()
