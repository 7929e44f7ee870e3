"""Generate text with a trained language model.

    python -m training.generate runs/shakespeare_char_lstm-20261204-170000 --prompt "ROMEO:" --length 500
    python -m training.generate RUN_DIR --prompt "ROMEO:" --temperature 0.8 --top-k 20 --seed 7
    python -m training.generate RUN_DIR/model.keras --samples 3 --top-p 0.9

TARGET is a language-model run directory (its `model.keras`) or a
`model.keras` file itself. Generation reads the prompt once and then steps
the recurrent cells one token at a time, carrying their states, so each new
token costs the same however long the text grows. An empty prompt starts
after a line end. `--seed` makes a sample repeatable (the same seed, prompt
and options give the same text); without it every call differs.
`--temperature 0` takes the most probable token at every step.
"""

import argparse
import pathlib
import sys

from training.cli import add_verbose_flag, run_command
from training.config import ConfigError


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m training.generate", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", help="language-model run directory or model.keras file")
    parser.add_argument("--prompt", default="", help='text to continue (default: "", a new line)')
    parser.add_argument("--length", type=int, default=500, help="tokens to generate (default 500)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="softmax temperature; 0 is greedy (default 1.0)")
    parser.add_argument("--top-k", type=int, default=0,
                        help="sample among the k most probable tokens; 0: all (default)")
    parser.add_argument("--top-p", type=float, default=1.0,
                        help="sample within the smallest set of tokens of probability p "
                             "(nucleus sampling; default 1.0: all)")
    parser.add_argument("--seed", type=int, help="seed of the draws (default: a new one)")
    parser.add_argument("--samples", type=int, default=1, help="continuations (default 1)")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    checks = [
        ("--length", args.length, args.length >= 1, "at least 1"),
        ("--temperature", args.temperature, args.temperature >= 0, "at least 0"),
        ("--top-k", args.top_k, args.top_k >= 0, "at least 0"),
        ("--top-p", args.top_p, 0 < args.top_p <= 1, "in (0, 1]"),
        ("--samples", args.samples, args.samples >= 1, "at least 1"),
    ]
    for flag, value, ok, expected in checks:
        if not ok:
            parser.error(f"{flag} must be {expected}. Received: {value}")
    return args


def model_file(target):
    """The `model.keras` of a run directory, or the file itself."""
    path = pathlib.Path(target)
    if path.is_dir():
        path = path / "model.keras"
        if not path.is_file():
            raise ConfigError(
                f"{target} holds no model.keras: is it a finished language-model run "
                f"directory? (An unfinished run writes it when training ends.)")
        return path
    if not path.is_file():
        raise ConfigError(f"{target}: no such run directory or model file")
    return path


def check(args):
    model_file(args.target)


def generate(args):
    """Prints `args.samples` continuations of the prompt; 0."""
    from zoo.models.language_model_preprocessor import TextLanguageModel
    from zoo.pretrained import PretrainedModelError, load_keras_file

    path = model_file(args.target)
    try:
        model = load_keras_file(path)
    except PretrainedModelError as error:  # damaged, foreign or unsafe; names the file
        raise ConfigError(str(error)) from None
    if not isinstance(model, TextLanguageModel):
        raise ConfigError(
            f"{path} holds a {type(model).__name__}, not a language model "
            f"(TextLanguageModel); generate from a language_model run")
    texts = model.generate_text(
        [args.prompt] * args.samples, args.length, args.temperature, args.top_k,
        args.top_p, seed=args.seed)
    for index, text in enumerate(texts):
        if args.samples > 1:
            print(f"--- sample {index + 1} ---")
        print(args.prompt + text)
    return 0


# The user's mistakes, reported in one line: a target that is not a
# language model, or a file that is not a .keras archive this Keras reads.
# Anything else is a bug, and keeps its traceback.
USER_ERRORS = (ConfigError, FileNotFoundError)


def main(argv=None):
    return run_command(parse_args(argv), check, "training.generate", "generate")


if __name__ == "__main__":
    sys.exit(main())
