"""What the training commands share: `--verbose`, and TensorFlow imported late.

Each command (`python -m training.train`, `.evaluate`, `.export`, `.tune`,
`.reproduce`) parses and checks its arguments with the standard library
first, so a typo is reported at once instead of after several seconds of
TensorFlow's start-up; then it calls `import_tensorflow`.
"""

import importlib
import os
import sys

from training.config import ConfigError

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


def run_command(args, check, module, function):
    """A command's run: `check(args)` first, then TensorFlow, then the work.

    `check` raises `ConfigError` for what it finds; `module.function(args)`
    does the work and returns an exit status (an int; anything else, such as
    the run directory `train` returns, means 0), and the errors in
    `module.USER_ERRORS` are the user's. Either kind is one line on stderr
    and exit status 2, never a traceback.
    """
    try:
        check(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    import_tensorflow(args.verbose)
    work = importlib.import_module(module)
    try:
        status = getattr(work, function)(args)
    except work.USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return status if isinstance(status, int) and not isinstance(status, bool) else 0
