"""Evaluate a trained model on a data file.

    python -m training.evaluate runs/sarcasm_lstm-20261122-101500
    python -m training.evaluate runs/sarcasm_lstm-20261122-101500 --data ../shared/data/sarcasm/Sarcasm_Headlines_Dataset.json
    python -m training.evaluate savedmodels/sarcasm_lstm/1 --data ../shared/data/sarcasm/Sarcasm_Headlines_Dataset.json
    python -m training.evaluate my_run --data reviews.csv --set data.text_column=review
    python -m training.evaluate runs/translate_spa_eng_gru-... --split all

A run directory is evaluated with its end-to-end `model.keras` and the data
format of its `config.json`, on the file it trained on unless `--data` names
another. A SavedModel directory (TF Serving layout) is evaluated through its
`serving_default` signature, which takes raw `text`; a classifier's returns
`scores` and `classes` (the label names).

By default only the validation split is scored: the part a run with the
same config holds out (same `validation_fraction` and `split_seed`; a
SavedModel knows neither, so they are the defaults or `--set`'s). The split
is by a hash of each example's text, so a row on the validation side was
never a training row of the run, whichever file it comes from. `--split
all` scores the whole file, training rows included, which overstates how
the model does on new data. The output (and `--json`) says which split was
scored. Classifiers report accuracy and per-class precision, recall and F1;
translators report BLEU and chrF (sacrebleu, lowercased), greedy and with
the run's beam (`--set evaluation.beam_width=8 --set
evaluation.length_penalty=0.6` try others), each under both protocols: one
reference per held-out pair, and all of a source's targets as its
references (docs/translation.md, "Evaluation protocol"); language models report nats per token over
the text read as one stream, bits per token, perplexity, and the loss over
windows of 64 tokens read from scratch (docs/language_models.md).
"""

import argparse
import json
import pathlib
import sys

from training.cli import add_verbose_flag, import_tensorflow

SPLITS = ("validation", "all")
DEFAULT_SPLIT = "validation"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", help="run directory or SavedModel version directory")
    parser.add_argument("--data", help="data file (default: the run's configured file)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="data options, e.g. --set data.format=table; a translator's "
                             "decoder, e.g. --set evaluation.length_penalty=0.6")
    parser.add_argument("--split", choices=SPLITS, default=DEFAULT_SPLIT,
                        help="the part the run held out for validation (default), or the "
                             "whole file, training rows included")
    parser.add_argument("--json", help="also write the metrics to this file")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    # What can be checked in a moment is, before TensorFlow's start-up.
    problem = None
    if not pathlib.Path(args.target).is_dir():
        problem = f"{args.target}: no such run or SavedModel directory"
    elif args.data and not pathlib.Path(args.data).is_file():
        problem = f"--data: the data file {args.data} does not exist"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    import_tensorflow(args.verbose)
    from training.evaluation import USER_ERRORS, evaluate, report

    try:
        metrics = evaluate(args.target, args.data, args.set, args.split)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report(metrics))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
