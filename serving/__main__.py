"""`python -m serving`: the flags (`serving/flags.py`), then TensorFlow, then the server.

The flags are checked before the slow TensorFlow import, so a typo costs no
start-up. TensorFlow's native start-up lines (absl's pre-init notice, the
CUDA probe on a CPU host, CPU-feature notices) are dropped unless
`--verbose` or ZOO_VERBOSE=1 asks for them; anything else written then
is shown, and everything if the import fails. (`zoo/startup.py` does the
same for `import zoo`; `serving/` does not import `zoo`, so it has its own
few lines.)
"""

import logging
import os
import re
import sys
import tempfile

from serving.flags import parse_flags


# TensorFlow's native log lines, its notice before them, cpu_feature_guard's second line.
NATIVE_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\.)$")


def import_tensorflow(verbose):
    """Imports TensorFlow with stderr held back; shows all of it but the native log lines."""
    if verbose or os.environ.get("ZOO_VERBOSE", "") not in ("", "0"):
        import tensorflow  # noqa: F401
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # later INFO/WARNING lines too
    sys.stderr.flush()
    saved = os.dup(2)  # native code writes to descriptor 2, past sys.stderr
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        failed = False
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()  # the CUDA probe logs here
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if failed or not NATIVE_LOG_LINE.match(
                line.rstrip("\r\n"))))


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    args = parse_flags(argv)
    import_tensorflow(args.verbose)
    from serving.server import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
