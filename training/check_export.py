"""Runs an exported SavedModel as TF Serving does, in a process without `zoo`.

    python -m training.check_export EXPORT_DIR < request.json

`training.savedmodel` runs this module in a fresh process after each export
and compares what it prints with the Keras model's own outputs. It loads
EXPORT_DIR as TF Serving does (a TF1 session over the SignatureDefs, so an
omitted optional input such as `beam_width` takes its default), runs a batch
of texts through every signature, and prints one JSON line:
`{"methods": {signature: method name}, "results": {call: {output: value}}}`.

It imports TensorFlow and the standard library only, never `zoo` (nor the
rest of `training`, which imports `zoo`): a served model must be a
self-contained SavedModel. If `zoo` was imported anyway (the SavedModel's
loader pulled it in), it exits with an error instead of printing results.

The request, a JSON object on standard input, says what to run; every key is
optional:

    texts         the batch for `serving_default` (prompts for a language
                  model), `classify` and a language model's `log_prob`
    gates_texts   the batch for the `gates` signature (default: `texts`)
    beam_widths   a translator's widths to run besides its default
    generations   a language model's calls, by name: {name: {input: value}}
                  beside `prompts` (default: one call with the signature's
                  defaults, "defaults")

With standard input a terminal, a built-in request of two short texts is used.
"""

import argparse
import json
import sys

# A request for a run by hand (standard input a terminal).
DEFAULT_TEXTS = ("the cat sat on the mat", "hello world")


def serialized_example(text):
    """A serialized `tf.train.Example` with bytes feature `text`, as the
    Classify API's `inputs` carry it."""
    import tensorflow as tf

    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))
    return tf.train.Example(
        features=tf.train.Features(feature={"text": feature})).SerializeToString()


def plain(value):
    """A fetched value (`tolist()` of an array) as JSON: bytes decoded."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return [plain(v) for v in value] if isinstance(value, list) else value


def run_signatures(export_dir, request):
    """Every signature of the SavedModel in `export_dir` on the request's
    batches: `{"methods": ..., "results": ...}` (see the module docstring)."""
    import tensorflow as tf

    texts = list(request.get("texts", DEFAULT_TEXTS))
    results, methods = {}, {}
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.load(session, ["serve"], str(export_dir))
        signatures = meta_graph.signature_def

        def run(key, **feeds):
            """Signature `key`'s outputs for the inputs `feeds`, as JSON."""
            signature = signatures[key]
            fetches = {k: v.name for k, v in signature.outputs.items()}
            feed = {signature.inputs[k].name: v for k, v in feeds.items()}
            return {k: plain(v.tolist()) for k, v in session.run(fetches, feed).items()}

        for key, signature in signatures.items():
            methods[key] = signature.method_name
        serving_inputs = signatures["serving_default"].inputs
        if "prompts" in serving_inputs:  # a language model
            generations = request.get("generations") or {"defaults": {}}
            for name, options in generations.items():
                results[name] = run("serving_default", prompts=texts, **options)
            results["log_prob"] = run("log_prob", texts=texts)
        else:
            results["serving_default"] = run("serving_default", text=texts)
        if "classify" in signatures:
            results["classify"] = run("classify",
                                      inputs=[serialized_example(t) for t in texts])
        if "gates" in signatures:
            results["gates"] = run("gates", text=list(request.get("gates_texts", texts)))
        if "beam_width" in serving_inputs:
            for width in request.get("beam_widths", ()):
                results[f"beam_width={width}"] = run(
                    "serving_default", text=texts, beam_width=width)
    return {"methods": methods, "results": results}


def read_request(stream):
    """The JSON request on `stream`; `{}` (the defaults) from a terminal."""
    if stream.isatty():
        return {}
    text = stream.read()
    return json.loads(text) if text.strip() else {}


def main(argv=None):
    """Checks EXPORT_DIR and prints the report's JSON line; 0 on success,
    1 if the SavedModel's loading imported `zoo`."""
    parser = argparse.ArgumentParser(prog="python -m training.check_export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export_dir", help="a SavedModel version directory (BASE/NAME/VERSION)")
    args = parser.parse_args(argv)
    report = run_signatures(args.export_dir, read_request(sys.stdin))
    if "zoo" in sys.modules:
        print("error: the SavedModel's loader imported zoo; a served model must be "
              "self-contained", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
