"""Generation benchmark: characters per second from a served language model.

    python -m benchmarks.generation [--model NAME] [--quick] [--json PATH]

For a shipped character-level language model (default
`shakespeare_char_gru`), continuing the prompt "ROMEO:":

* the SavedModel's `serving_default` called in this process (what TF
  Serving runs), at batch 1, 8 and 32, for 250 and 1,000 characters: the
  two lengths show whether each character costs the same however long the
  text grows (the recurrent state is carried, the prefix never re-read);
* the same request over REST from `python -m serving`, batch 1;
* the Keras model's `generate_text` in this process, batch 1.

Each setting is one warm-up call and then the median of several timed
calls; characters per second = rows x length / seconds. Sampling uses the
model card's settings (temperature 0.8) with a fixed seed, so every call
generates the same text. Results go to `docs/generation_benchmark.md`
(and `--json PATH`).
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import tempfile
import time
import urllib.request

import tensorflow as tf

import zoo.pretrained
from benchmarks.serving import MODELS, ROOT, our_server, stop

DOC = ROOT / "docs" / "generation_benchmark.md"
PROMPT = "ROMEO:"
TEMPERATURE = 0.8
SEED = 7
# (batch, length) settings of the in-process SavedModel.
SETTINGS = ((1, 250), (1, 1000), (8, 1000), (32, 1000))
RUNS = 5
QUICK_SETTINGS = ((1, 100), (8, 100))
QUICK_RUNS = 2


def median_seconds(call, runs):
    """One warm-up call, then the median wall time of `runs` calls."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def inputs(batch, length):
    return {"prompts": [PROMPT] * batch, "max_length": length, "temperature": TEMPERATURE,
            "top_k": 0, "top_p": 1.0, "seed": SEED}


def saved_model_call(serve, batch, length):
    tensors = {
        "prompts": tf.constant([PROMPT] * batch), "max_length": tf.constant(length),
        "temperature": tf.constant(TEMPERATURE), "top_k": tf.constant(0),
        "top_p": tf.constant(1.0), "seed": tf.constant(SEED, tf.int64),
    }

    def call():
        texts = serve(**tensors)["text"].numpy()
        assert [len(t.decode()) for t in texts] == [length] * batch, "short continuation"

    return call


def rest_call(url, batch, length):
    body = json.dumps({"inputs": inputs(batch, length)}).encode()

    def call():
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as answer:
            texts = json.loads(answer.read())["outputs"]
        assert [len(t) for t in texts] == [length] * batch, "short continuation"

    return call


def keras_call(model, batch, length):
    def call():
        texts = model.generate_text([PROMPT] * batch, length, TEMPERATURE, seed=SEED)
        assert [len(t) for t in texts] == [length] * batch, "short continuation"

    return call


def row(path, batch, length, seconds):
    return {"path": path, "batch": batch, "length": length, "seconds": round(seconds, 4),
            "chars_per_second": round(batch * length / seconds),
            "ms_per_step": round(1000 * seconds / length, 3)}


def run(model, quick):
    settings, runs = (QUICK_SETTINGS, QUICK_RUNS) if quick else (SETTINGS, RUNS)
    model_dir = MODELS / model
    version_dir = model_dir / str(zoo.pretrained.version_numbers(model_dir)[-1])
    rows = []
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    for batch, length in settings:
        seconds = median_seconds(saved_model_call(serve, batch, length), runs)
        rows.append(row("SavedModel, in process", batch, length, seconds))
    length = max(n for _, n in settings)
    with tempfile.TemporaryDirectory() as workdir:
        process, url, _ = our_server(model, model_dir, False, pathlib.Path(workdir))
        try:
            seconds = median_seconds(rest_call(url, 1, length), runs)
        finally:
            stop(process)
    rows.append(row("REST, `python -m serving`", 1, length, seconds))
    keras_model = zoo.pretrained.load(model, base=MODELS)
    seconds = median_seconds(keras_call(keras_model, 1, length), runs)
    rows.append(row("Keras `generate_text`, in process", 1, length, seconds))
    return rows


def markdown(rows, model, quick, command):
    lines = [
        "# Generation benchmark",
        "",
        f"`{command}`, on {platform.processor() or platform.machine()} with "
        f"{len(os.sched_getaffinity(0))} CPU cores, TensorFlow {tf.__version__}"
        f"{' (--quick: fewer, shorter calls)' if quick else ''}. Model `{model}`, prompt "
        f"{PROMPT!r}, temperature {TEMPERATURE}, seed {SEED}; the median of the timed calls "
        "after one warm-up.",
        "",
        "| path | batch | characters | seconds | characters per second | ms per step |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['path']} | {r['batch']} | {r['length']:,} | {r['seconds']:.3f} | "
              f"{r['chars_per_second']:,} | {r['ms_per_step']:.2f} |" for r in rows]
    lines += [
        "",
        "A step generates one character for every row of the batch. Equal ms per step at",
        "250 and 1,000 characters means each character costs the same however long the",
        "text grows. Written by `python -m benchmarks.generation`; see",
        "docs/language_models.md.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generation",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="shakespeare_char_gru",
                        help="a shipped character-level language model")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter calls")
    parser.add_argument("--json", type=pathlib.Path, help="also write the rows here")
    args = parser.parse_args(argv)
    if not (MODELS / args.model / f"{args.model}.keras").is_file():
        parser.error(f"--model: no shipped model {args.model!r} in {MODELS}")
    rows = run(args.model, args.quick)
    command = "python -m benchmarks.generation" + (" --quick" if args.quick else "") + (
        f" --model {args.model}" if args.model != "shakespeare_char_gru" else "")
    text = markdown(rows, args.model, args.quick, command)
    if not args.quick:
        DOC.write_text(text, encoding="utf-8")
    print(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
