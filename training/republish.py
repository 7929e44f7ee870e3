"""Publish an exported model again, with this version of the export's signatures.

    python -m training.republish savedmodels/sarcasm_lstm
    python -m training.republish exports/my_sarcasm --replace

A model exported before a signature existed (the `gates` signature, for
one) lacks it, and its training run may be gone. This writes the model's
next version from what its directory still holds: `NAME.keras` (the same
weights), and from the newest version the facts the run would have given
(a classifier's class names, a language model's generation defaults, the
warmup texts). The new version is written and checked exactly as
`python -m training.export` does, and renamed into place only once it
passed; TF Serving then serves it as the newest version. The model card
keeps its contents: only its version, SavedModel size and signatures line
change. With `--replace` the older versions are deleted once the new one
is in place (the zoo's size budget keeps one).

Errors exit with status 2 and name what was wrong.
"""

import argparse
import pathlib
import re
import shutil
import sys

from training.cli import add_verbose_flag, import_tensorflow
from training.export import ExportError, version_path, versions


def published_facts(version_dir):
    """`(task, config, texts)` of a published version: what its signatures
    and warmup requests say about the run that made it."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow_serving.apis import prediction_log_pb2

    from training.savedmodel import WARMUP_FILE

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((version_dir / "saved_model.pb").read_bytes())
    signature = proto.meta_graphs[0].signature_def["serving_default"]
    texts = []
    warmup = version_dir / "assets.extra" / WARMUP_FILE
    if warmup.is_file():
        for record in tf.data.TFRecordDataset(str(warmup)):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            request = log.predict_log.request
            key = "prompts" if "prompts" in request.inputs else "text"
            values = tf.make_ndarray(request.inputs[key]) if key in request.inputs else []
            if request.model_spec.signature_name in ("", "serving_default") and len(values) == 1:
                texts.append(values[0].decode("utf-8"))
    if not texts:
        raise ExportError(f"{warmup}: no warmup texts to check the new version with")
    if "prompts" in signature.inputs:
        defaults = {k: tf.make_ndarray(v).item() for k, v in signature.defaults.items()}
        generation = {"length": defaults["max_length"], "temperature": defaults["temperature"],
                      "top_k": defaults["top_k"], "top_p": defaults["top_p"]}
        return "language_model", {"task": "language_model", "generation": generation}, texts
    if "beam_width" in signature.inputs:
        return "translation", {"task": "translation"}, texts
    loaded = tf.saved_model.load(str(version_dir))
    classes = loaded.signatures["serving_default"](text=tf.constant(texts[:1]))["classes"]
    class_names = [name.decode("utf-8") for name in classes.numpy()[0]]
    return "classification", {"task": "classification",
                              "data": {"class_names": class_names}}, texts


def card_lines(name):
    """Patterns of the card lines a new version changes: its version, its
    SavedModel's size, and the signatures it serves."""
    return (
        r"\| SavedModel version \| \d+ \(`[^`/]+/\d+/`",
        r"\| size on disk \| SavedModel [\d.]+ MB",
        rf"(Served by TensorFlow Serving or `python -m serving` as model `{re.escape(name)}`:\n)"
        r"[^\n]*\n",
    )


def check_card(card, name):
    """Raises ExportError unless `card` holds every line `updated_card`
    rewrites (checked before the export, which takes a while)."""
    if not all(re.search(pattern, card) for pattern in card_lines(name)):
        raise ExportError("the model card's version, size or signatures line was not found; "
                          "export the run again instead")


def updated_card(card, name, version, saved_model_bytes, task):
    """The card with its version, SavedModel size and signatures brought up to date."""
    from training.model_card import served_signatures

    check_card(card, name)
    version_line, size_line, signatures_line = card_lines(name)
    card = re.sub(version_line, f"| SavedModel version | {version} (`{name}/{version}/`", card)
    card = re.sub(size_line, f"| size on disk | SavedModel {saved_model_bytes / 2**20:.1f} MB",
                  card)
    return re.sub(signatures_line,
                  lambda match: f"{match.group(1)}{served_signatures(task)}.\n", card)


def republish(model_dir, replace=False):
    """Writes `model_dir`'s next version from `NAME.keras`; returns its path."""
    import keras

    from training.model_card import directory_size
    from training.savedmodel import drop_optimizers, publish_version

    model_dir = pathlib.Path(model_dir)
    name = model_dir.name
    keras_path, card_path = model_dir / f"{name}.keras", model_dir / "README.md"
    published = versions(model_dir)
    for path in (keras_path, card_path):
        if not path.is_file():
            raise ExportError(f"{path} is missing; is {model_dir} an exported model?")
    if not published:
        raise ExportError(f"{model_dir} holds no numbered version to publish again")
    task, config, texts = published_facts(model_dir / str(published[-1]))
    try:
        model = keras.saving.load_model(keras_path, compile=False)
    except Exception as error:  # corrupt, newer format, unknown class
        raise ExportError(f"{keras_path}: cannot be loaded ({error})") from None
    drop_optimizers(model)
    target = version_path(model_dir.parent, name)
    card = card_path.read_text(encoding="utf-8")
    check_card(card, name)
    publish_version(target, config, model, name, texts)
    card = updated_card(card, name, int(target.name), directory_size(target), task)
    partial = model_dir / ".README.md.tmp"
    partial.write_text(card, encoding="utf-8")
    partial.replace(card_path)
    if replace:
        for version in published:
            shutil.rmtree(model_dir / str(version))
    return target


def main(argv=None):
    """`python -m training.republish`; 0 on success, 2 with the error on
    standard error."""
    parser = argparse.ArgumentParser(prog="python -m training.republish", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="an exported model: BASE/NAME with NAME.keras, "
                                          "README.md and numbered versions")
    parser.add_argument("--replace", action="store_true",
                        help="delete the older versions once the new one is in place")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    try:
        import_tensorflow(args.verbose)
        path = republish(args.model_dir, args.replace)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Published {args.model_dir} again as version {path.name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
