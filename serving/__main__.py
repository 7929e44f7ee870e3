"""`python -m serving`: the flags (`serving/flags.py`), then TensorFlow, then the server.

The flags are checked before the slow TensorFlow import, so a typo costs no
start-up. TensorFlow's native start-up lines (absl's pre-init notice, the
CUDA probe on a CPU host, CPU-feature notices) are held back unless
`--verbose` or ZOO_VERBOSE=1 asks for them, and printed if the import
fails. (`zoo/cli.py` does the same for the training commands; `serving/`
does not import `zoo`, so it has its own few lines.)
"""

import logging
import os
import sys
import tempfile

from serving.flags import parse_flags


def import_tensorflow(verbose):
    if verbose or os.environ.get("ZOO_VERBOSE", "") not in ("", "0"):
        import tensorflow  # noqa: F401
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # errors still show
    sys.stderr.flush()
    saved = os.dup(2)  # native code writes to descriptor 2, past sys.stderr
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()  # the CUDA probe logs here
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode("utf-8", errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    args = parse_flags(argv)
    import_tensorflow(args.verbose)
    from serving.server import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
