"""What the training commands share: `--verbose`, and TensorFlow imported late.

Each command (`python -m training.train`, `.evaluate`, `.export`, `.tune`,
`.reproduce`) parses and checks its arguments with the standard library
first, so a typo is reported at once instead of after several seconds of
TensorFlow's start-up; then it calls `import_tensorflow`.
"""

import os

# Read by zoo/startup.py; named here because importing anything of `zoo`
# imports Keras and TensorFlow, which must wait for the arguments' check.
VERBOSE_VARIABLE = "ZOO_VERBOSE"


def add_verbose_flag(parser):
    """Adds `--verbose` to an argparse parser."""
    parser.add_argument(
        "--verbose", action="store_true",
        help=f"show TensorFlow's native start-up log (or set {VERBOSE_VARIABLE}=1)")


def import_tensorflow(verbose=False):
    """Imports the zoo, Keras and TensorFlow, TensorFlow's native start-up log
    held back (zoo/startup.py) and its later INFO and WARNING lines off, unless
    `verbose` or ZOO_VERBOSE=1."""
    if verbose:
        os.environ[VERBOSE_VARIABLE] = "1"
    elif os.environ.get(VERBOSE_VARIABLE, "") in ("", "0"):
        # A command's screen is its own: TensorFlow's later INFO and WARNING
        # lines (XLA's "Compiled cluster", ...) go too; a level the user set stays.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo.startup import native_start_up_held_back  # runs `import zoo`, held back too

    with native_start_up_held_back():
        import tensorflow  # noqa: F401  (under the JAX backend Keras may not have)
