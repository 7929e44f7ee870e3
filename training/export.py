"""Export a training run as a TensorFlow Serving SavedModel.

    python -m training.export runs/sarcasm_lstm-20261122-101500 --name my_sarcasm
    python -m serving --model_config_file exports/models.config

    python -m training.export runs/translate_spa_eng_gru-... --name translate_spa_eng --version 3
    python -m training.export my_run --name reviews --base /srv/models

RUN_DIR is a directory written by `python -m training.train` (its
`config.json` and end-to-end `model.keras` are read). The export goes to
`BASE/NAME/VERSION/` (BASE is `exports/` unless `--base` names another;
git ignores `exports/`, and the tracked zoo `savedmodels/` is written only
when asked for), the layout TF Serving polls:

    BASE/NAME/VERSION/
        saved_model.pb, fingerprint.pb
        variables/                          the weights
        assets.extra/tf_serving_warmup_requests
                                            PredictionLog records TF Serving
                                            replays before it serves

Beside the versions it writes `BASE/NAME/NAME.keras` (the run's Keras
model) and `BASE/NAME/README.md` (the model card, `training/model_card.py`),
both for the version just written, and it adds NAME to `BASE/models.config`
(a TF Serving `ModelServerConfig`, created if missing), so
`python -m serving --model_config_file BASE/models.config` (or the stock
TF Serving binary) serves it at once. Base paths there are absolute, as TF
Serving requires; a config whose models all sit at `/models/NAME` (the
stock image's mount point, as in `savedmodels/models.config`) keeps that
form for the new entry.

The warmup requests and the card's example predictions are texts from the
validation split of the run's own data file; if that file cannot be read
any more, built-in texts stand in and the card says so.

VERSION is the next free integer (1 for a new NAME) unless `--version` is
given; an existing version is never overwritten. The version is written to
a hidden temporary directory inside BASE/NAME (TF Serving ignores
non-numeric names) and renamed into place only after it passed the check
below, so a polling server never loads half a model.

Errors exit with status 2 and name what was wrong.
"""

import argparse
import pathlib
import re
import sys

from training.cli import add_verbose_flag, import_tensorflow

DEFAULT_BASE = "exports"
MODELS_CONFIG = "models.config"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class ExportError(RuntimeError):
    """The export cannot go on or did not pass its check; says why."""


def check_run_dir(run_dir):
    """`(config.json, model.keras)` paths of a run directory, both present."""
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise ExportError(f"{run_dir}: no such run directory")
    config_path, model_path = run_dir / "config.json", run_dir / "model.keras"
    for path in (config_path, model_path):
        if not path.is_file():
            raise ExportError(
                f"{path} is missing; is {run_dir} a finished training run?"
            )
    return config_path, model_path


# --- Versions ----------------------------------------------------------------


def versions(model_dir):
    """The published version numbers under `model_dir`, ascending.

    (`zoo.pretrained.version_numbers` does the same, but importing zoo
    imports TensorFlow, which this command does only once its arguments
    are checked.)"""
    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.name.isdigit())


def version_path(base, name, version=None):
    """`BASE/NAME/VERSION`: the next free version, or `version` if free."""
    if not _NAME.fullmatch(name):
        raise ExportError(
            f"bad model name {name!r}: use letters, digits, '_', '.' and '-', "
            "starting with a letter or digit"
        )
    model_dir = pathlib.Path(base) / name
    if version is None:
        version = (versions(model_dir) or [0])[-1] + 1
    elif isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ExportError(f"bad version {version!r}: must be a positive integer")
    path = model_dir / str(version)
    # TF Serving reads "007" as version 7 too, so any spelling counts.
    if path.exists() or version in versions(model_dir):
        raise ExportError(
            f"{path} already exists; refusing to overwrite a published version "
            "(pass another --version or leave it out for the next free one)"
        )
    return path


def main(argv=None):
    """`python -m training.export`: checks the arguments before TensorFlow,
    exports the run (`training.savedmodel.export`) and says how to serve it;
    0 on success, 2 with the error on standard error."""
    parser = argparse.ArgumentParser(prog="python -m training.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="a training run directory (config.json, model.keras)")
    parser.add_argument("--name", required=True, help="model name: BASE/NAME/VERSION")
    parser.add_argument("--base", default=DEFAULT_BASE,
                        help=f"directory of served models, with their models.config "
                             f"(default: {DEFAULT_BASE}/, which git ignores)")
    parser.add_argument("--version", type=int,
                        help="version number (default: the next free one)")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    try:
        # What can be checked without TensorFlow is, so a typo costs no start-up.
        check_run_dir(args.run_dir)
        version_path(args.base, args.name, args.version)
        import_tensorflow(args.verbose)
        from training.savedmodel import export

        path = export(args.run_dir, args.name, args.base, args.version)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    config_file = pathlib.Path(args.base) / MODELS_CONFIG
    print(f"Exported {args.run_dir} as {args.name} version {path.name}: {path}\n"
          f"Serve it: python -m serving --model_config_file {config_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
