"""`python -m training.train`: outputs, config handling, failures, resume."""

import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from training import train, trainer
from training.config import CONFIG_DIR, read_config_file, resolve
from training.tasks import TASKS

pytestmark = pytest.mark.tensorflow_only
ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_a_run_writes_every_output_and_learns(tmp_path, tiny_config, table_data):
    out = tmp_path / "run"
    code = train.main([str(tiny_config), "--data", str(table_data), "--out", str(out),
                       "--set", "model.units=12", "--epochs", "4"])
    assert code == 0
    for name in ("config.json", "run.json", "vocabulary.txt", "run_state.json",
                 "metrics.json", "model.keras", "learning_curves.png",
                 "checkpoints/best.keras"):
        assert (out / name).exists(), name
    assert any((out / "tensorboard").rglob("events.out.tfevents*"))
    assert not (out / "backup").exists()  # removed once the run finished
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["units"] == 12 and config["training"]["epochs"] == 4
    # The data file, absolute, and its fingerprint: retraining reads the same.
    assert config["data"]["path"] == os.path.abspath(table_data)
    assert config["data_fingerprint"] == {
        "path": os.path.abspath(table_data), "size": table_data.stat().st_size,
        "sha256": hashlib.sha256(table_data.read_bytes()).hexdigest()}
    assert json.loads((out / "run_state.json").read_text())["finished"] is True
    run = json.loads((out / "run.json").read_text())
    assert run["versions"]["tensorflow"] and run["seed"] == 1337
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.8  # chance is about 1/3
    assert set(metrics["per_class"]) == {"bad", "good", "neutral"}
    assert len(json.loads((out / "run_state.json").read_text())["history"]) == 4
    # The saved model takes raw strings.
    model = keras.saving.load_model(out / "model.keras")
    scores = np.asarray(model(np.array(["alpha sunny bravo", "stormy golf hotel"])))
    assert scores.shape == (2, 3)
    assert list(scores.argmax(-1)) == [1, 0]  # good, bad


def _best_core(run_dir):
    return keras.saving.load_model(run_dir / "checkpoints" / "best.keras", compile=False)


def test_resuming_a_finished_run_rewrites_its_outputs_without_training(
        tmp_path, tiny_config, table_data, capsys):
    out = tmp_path / "run"
    assert train.main([str(tiny_config), "--data", str(table_data), "--out", str(out),
                       "--epochs", "2"]) == 0
    state = (out / "run_state.json").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    # As if killed after training ended (backup deleted) but before the outputs.
    (out / "model.keras").unlink()
    (out / "metrics.json").unlink()
    capsys.readouterr()
    # No --data: the run's config.json names its file.
    assert train.main([str(tiny_config), "--out", str(out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "had already finished training" in printed and "Epoch 1/" not in printed
    assert (out / "run_state.json").read_text() == state
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == metrics["accuracy"]
    assert (out / "model.keras").exists()


def test_an_ensemble_run_trains_each_member_alone_and_averages_them(tmp_path, tiny_config, table_data):
    out = tmp_path / "run"
    assert train.main([str(tiny_config), "--data", str(table_data), "--out", str(out),
                       "--set", "model.ensemble_size=2", "--epochs", "2"]) == 0
    members = [out / "members" / str(k) for k in range(2)]
    for member in members:
        for name in ("config.json", "run_state.json", "metrics.json", "learning_curves.png",
                     "checkpoints/best.keras"):
            assert (member / name).exists(), (member, name)
        assert not (member / "model.keras").exists()  # only the ensemble is end to end
    # Each member is an ordinary classifier with its own seed.
    seeds = [json.loads((m / "config.json").read_text())["training"]["seed"] for m in members]
    assert seeds == [1337, 1338]
    assert all(json.loads((m / "config.json").read_text())["model"]["ensemble_size"] == 1
               for m in members)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["accuracy"] for m in metrics["members"]] == [
        json.loads((m / "metrics.json").read_text())["accuracy"] for m in members]
    assert metrics["epochs_run"] == [2, 2] and metrics["accuracy"] > 0.8
    # The ensemble's end-to-end model outputs the mean of the members'.
    model = keras.saving.load_model(out / "model.keras")
    texts = np.array(["alpha sunny bravo", "stormy golf hotel", "cloudy echo"])
    ids = model.get_layer("vectorizer")(texts)
    expected = np.mean([np.asarray(_best_core(m)(ids)) for m in members], 0)
    assert not np.allclose(np.asarray(_best_core(members[0])(ids)), expected, atol=1e-4)
    np.testing.assert_allclose(np.asarray(model(texts)), expected, atol=1e-6)
    assert _best_core(out).get_config()["ensemble_size"] == 2


# A minute of training on two cores; test_a_killed_run_resumes_to_the_same_result
# covers resuming in the default run.
@pytest.mark.slow
def test_an_ensemble_resumes_at_its_unfinished_member(tmp_path, tiny_config, table_data):
    out = tmp_path / "run"
    args = [str(tiny_config), "--data", str(table_data), "--out", str(out),
            "--set", "model.ensemble_size=2", "--epochs", "2"]
    assert train.main(args) == 0
    member_0 = (out / "members" / "0" / "run_state.json").read_text()
    member_1 = _history(out / "members" / "1")
    ensemble = json.loads((out / "metrics.json").read_text())
    # As if killed after member 0 finished and before member 1 started.
    import shutil
    shutil.rmtree(out / "members" / "1")
    (out / "metrics.json").unlink()
    (out / "model.keras").unlink()
    assert train.main([str(tiny_config), "--out", str(out), "--data", str(table_data),
                       "--resume"]) == 0
    assert (out / "members" / "0" / "run_state.json").read_text() == member_0  # not retrained
    for a, b in zip(_history(out / "members" / "1"), member_1):
        for key in ("loss", "val_loss", "val_accuracy"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == pytest.approx(
        ensemble["accuracy"])


def test_saved_model_file_loads_in_a_fresh_process_after_import_zoo(tmp_path, tiny_config, table_data):
    out = tmp_path / "run"
    assert train.main([str(tiny_config), "--data", str(table_data), "--out", str(out),
                       "--set", "preprocessing.standardize=lower_and_split_punctuation"]) == 0
    script = (
        "import sys, keras, numpy as np, zoo\n"
        "model = keras.saving.load_model(sys.argv[1], safe_mode=True)\n"
        "print(model(np.array(['stormy: golf?'])).shape)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(out / "model.keras")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(1, 3)" in result.stdout


def test_a_translation_run_trains_and_reports_bleu(tmp_path, translation_config, translation_data):
    out = tmp_path / "translation"
    assert train.main([str(translation_config), "--data", str(translation_data),
                       "--out", str(out), "--epochs", "6"]) == 0
    for name in ("source_vocabulary.txt", "target_vocabulary.txt", "model.keras",
                 "metrics.json", "checkpoints/best.keras", "learning_curves.png"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    # Both decoders under both protocols, the protocol in every name.
    assert {f"{metric}_{decoder}_{protocol}" for metric in ("bleu", "chrf")
            for decoder in ("greedy", "beam") for protocol in ("one_ref", "all_refs")
            } <= set(metrics)
    # Untrained output scores about 0 (BLEU) and 10 (chrF).
    assert metrics["bleu_greedy_all_refs"] > 20 and metrics["chrf_greedy_one_ref"] > 30
    assert metrics["pairs"] >= metrics["sentences"]
    model = keras.saving.load_model(out / "model.keras")
    translation = model(np.array(["dos y tres."])).numpy()[0].decode()
    assert "two" in translation or "three" in translation


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--set", "model.colour=red"], "unknown key 'model.colour'"),
        (["--set", "model.units"], "expected KEY=VALUE"),
        (["--set", "optimiser.lr=1"], "unknown section 'optimiser'"),
        (["--set", "model.pooling=max"], "Argument `pooling` must be one of"),
        (["--set", "training.lr_schedule=linear"], "training.lr_schedule must be one of"),
        (["--set", "data.validation_fraction=0"],
         "data.validation_fraction must be a number between 0 and 1, both excluded "
         "(the share of the data held out for validation). Received: 0.0"),
        (["--set", "data.validation_fraction=-0.1"],
         "data.validation_fraction must be a number between 0 and 1, both excluded "
         "(the share of the data held out for validation). Received: -0.1"),
        (["--set", "data.validation_fraction=1"],
         "data.validation_fraction must be a number between 0 and 1, both excluded "
         "(the share of the data held out for validation). Received: 1.0"),
    ],
)
def test_bad_overrides_are_named(tmp_path, tiny_config, table_data, capsys, extra, message):
    code = train.main([str(tiny_config), "--data", str(table_data),
                       "--out", str(tmp_path / "r"), *extra])
    assert code == 2
    error = capsys.readouterr().err
    assert message in error, error
    assert error.count("\n") == 1 and "Traceback" not in error  # one line
    assert not (tmp_path / "r").exists()  # stopped before writing anything


@pytest.mark.parametrize(
    "width, message",
    [
        (100, "evaluation.beam_width must be at most \\d+ \\(the target vocabulary's \\d+ "
              "tokens less padding and \\[start\\]\\). Received: 100"),
        (0, "evaluation.beam_width must be a positive integer. Received: 0"),
    ],
)
def test_a_translator_beam_width_out_of_range_stops_before_training(
        tmp_path, translation_config, translation_data, capsys, width, message):
    code = train.main([str(translation_config), "--data", str(translation_data),
                       "--out", str(tmp_path / "t"), "--set", f"evaluation.beam_width={width}"])
    assert code == 2
    error = capsys.readouterr().err
    assert re.search(message, error), error
    assert not (tmp_path / "t").exists()


def test_unknown_entry_bad_data_and_existing_run(tmp_path, tiny_config, table_data, capsys):
    assert train.main(["no_such_entry"]) == 2
    assert "Unknown zoo entry 'no_such_entry'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,a\nonly one field\n")
    assert train.main([str(tiny_config), "--data", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert f"{bad}, line 3: expected" in capsys.readouterr().err  # the loader's own words
    assert train.main([str(tiny_config), "--out", str(tmp_path / "x")]) == 2
    assert "data.format 'table' has no default one: pass --data PATH" in capsys.readouterr().err
    assert train.main([str(tiny_config), "--data", str(tmp_path / "none.csv"),
                       "--out", str(tmp_path / "x")]) == 2
    assert f"--data: the data file {tmp_path / 'none.csv'} does not exist" in capsys.readouterr().err
    out = tmp_path / "done"
    out.mkdir()
    (out / "config.json").write_text("{}")
    assert train.main([str(tiny_config), "--data", str(table_data), "--out", str(out)]) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err


def test_a_nan_loss_stops_with_a_clear_message(tmp_path, tiny_config, table_data, capsys):
    code = train.main([str(tiny_config), "--data", str(table_data), "--out", str(tmp_path / "n"),
                       "--set", "training.learning_rate=1e30"])
    assert code == 2
    error = capsys.readouterr().err
    assert "the loss became NaN or infinite at epoch 1" in error
    assert "training.clipnorm" in error


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_resolve(path):
    config = read_config_file(path)
    resolved = resolve(TASKS[config["task"]].DEFAULTS, config, str(path))
    assert resolved["task"] == config["task"]


def _train_command(config, data, out, *extra):
    return [sys.executable, "-m", "training.train", str(config), "--data", str(data),
            "--out", str(out), *extra]


def _history(out):
    return [h["logs"] for h in json.loads((out / "run_state.json").read_text())["history"]]


@pytest.mark.slow  # a run killed with SIGKILL and resumed: about a minute; resuming from backups is tested in process by default
def test_a_killed_run_resumes_to_the_same_result(tmp_path, tiny_config, table_data):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    epochs = ["--epochs", "5", "--set", "model.dropout=0.2"]
    unbroken = tmp_path / "unbroken"
    subprocess.run(_train_command(tiny_config, table_data, unbroken, *epochs),
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)

    killed = tmp_path / "killed"
    process = subprocess.Popen(_train_command(tiny_config, table_data, killed, *epochs),
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    state = killed / "run_state.json"
    deadline = time.time() + 240
    while time.time() < deadline:  # kill -9 once two epochs are recorded
        if state.exists() and len(json.loads(state.read_text())["history"]) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not (killed / "metrics.json").exists()

    resumed = subprocess.run(_train_command(tiny_config, table_data, killed, "--resume"),
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert len(_history(killed)) == 5
    for a, b in zip(_history(killed), _history(unbroken)):
        for key in ("loss", "val_loss", "val_accuracy"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    assert json.loads((killed / "metrics.json").read_text())["accuracy"] == pytest.approx(
        json.loads((unbroken / "metrics.json").read_text())["accuracy"])


class _Killed(BaseException):
    """Stands in for kill -9: nothing of the run catches it."""


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """`(run dir, data, logs)`: a 2-epoch run stopped right after its last
    backup, before its outputs, and its per-epoch logs. Tests resume copies."""
    from tests.training.conftest import TINY_MODEL, write_table
    from training import callbacks

    root = tmp_path_factory.mktemp("killed")
    (root / "tiny.yaml").write_text(TINY_MODEL)
    data = write_table(root / "texts.csv")
    out = root / "run"
    save = callbacks.Backup.on_epoch_end

    def save_then_die(self, epoch, logs=None):
        save(self, epoch, logs)
        if epoch == 1:
            raise _Killed()

    callbacks.Backup.on_epoch_end = save_then_die
    try:
        with pytest.raises(_Killed):
            train.main([str(root / "tiny.yaml"), "--data", str(data), "--out", str(out),
                        "--epochs", "2"])
    finally:
        callbacks.Backup.on_epoch_end = save
    backup = sorted(p.name for p in (out / "backup").iterdir())
    assert backup == ["epoch-1.weights.h5", "epoch-2.weights.h5", "training_metadata.json",
                      "training_metadata.json.bkp"]
    assert not (out / "metrics.json").exists()
    return out, data, _history(out)


def _copy_run(killed_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(killed_run[0], out)
    return out


def _truncate(path, size=20):
    path.write_bytes(path.read_bytes()[:size])


def test_a_run_killed_after_its_last_epoch_only_writes_its_outputs(tmp_path, killed_run, capsys):
    out = _copy_run(killed_run, tmp_path)
    capsys.readouterr()
    assert train.main([str(out / "config.json"), "--out", str(out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "had already finished training" in printed and "Epoch " not in printed
    assert _history(out) == killed_run[2]
    assert (out / "metrics.json").exists() and (out / "model.keras").exists()
    assert not (out / "backup").exists()


def test_a_damaged_newest_backup_resumes_consistently_from_the_earlier_one(
        tmp_path, killed_run, capsys, monkeypatch):
    out = _copy_run(killed_run, tmp_path)
    _truncate(out / "backup" / "training_metadata.json")
    monkeypatch.setattr(trainer, "finish", lambda *args: None)  # outputs: tested elsewhere
    capsys.readouterr()
    assert train.main([str(out / "config.json"), "--out", str(out), "--resume"]) == 0
    printed = capsys.readouterr()
    assert (f"warning: {out / 'backup' / 'training_metadata.json'} is truncated or corrupt: "
            f"not valid JSON") in printed.err
    assert "after epoch 1: epoch 2 is trained again" in printed.err
    # Weights, data order and run state all went back to epoch 1: epoch 2
    # came out as it had, not as an epoch without data (loss 0.0).
    assert "Epoch 2/2" in printed.out and "Epoch 1/2" not in printed.out
    history = _history(out)
    assert len(history) == 2 and history[1]["loss"] > 0.01
    for key in ("loss", "val_loss", "val_accuracy"):
        assert history[1][key] == pytest.approx(killed_run[2][1][key], rel=1e-5, abs=1e-6)
    state = json.loads((out / "run_state.json").read_text())
    assert state["finished"] and not (out / "backup").exists()


def test_a_damaged_newest_weights_file_falls_back_to_the_earlier_backup(
        tmp_path, killed_run, capsys):
    from training.callbacks import resume_point

    out = _copy_run(killed_run, tmp_path)
    assert resume_point(out / "backup") == (2, out / "backup" / "epoch-2.weights.h5")
    _truncate(out / "backup" / "epoch-2.weights.h5", 500)
    assert trainer.start_epoch_of(out) == (1, out / "backup" / "epoch-1.weights.h5")
    assert (f"warning: {out / 'backup' / 'epoch-2.weights.h5'} is truncated or corrupt: its "
            f"SHA-256 differs") in capsys.readouterr().err


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda out: [_truncate(out / "backup" / name) for name in
                      ("training_metadata.json", "training_metadata.json.bkp")],
         "backup/training_metadata.json is truncated or corrupt: not valid JSON"),
        (lambda out: [_truncate(out / "backup" / name, 500) for name in
                      ("epoch-1.weights.h5", "epoch-2.weights.h5")],
         "backup/epoch-2.weights.h5 is truncated or corrupt: its SHA-256 differs"),
        (lambda out: _truncate(out / "run_state.json"),
         "run_state.json is truncated or corrupt: not valid JSON"),
        (lambda out: _truncate(out / "checkpoints" / "best.keras", 300),
         "checkpoints/best.keras is truncated or corrupt"),
    ],
    ids=["both-metadata", "both-weights", "run-state", "best-model"],
)
def test_an_unusable_run_state_is_named_and_nothing_trains(
        tmp_path, killed_run, capsys, damage, message):
    out = _copy_run(killed_run, tmp_path)
    damage(out)
    state = (out / "run_state.json").read_bytes()
    best = (out / "checkpoints" / "best.keras").read_bytes()
    capsys.readouterr()
    assert train.main([str(out / "config.json"), "--out", str(out), "--resume"]) == 2
    printed = capsys.readouterr()
    assert message in printed.err and str(out) in printed.err
    assert printed.err.startswith("error: ") and printed.err.count("\n") == 1
    assert "Epoch" not in printed.out
    assert (out / "run_state.json").read_bytes() == state
    assert (out / "checkpoints" / "best.keras").read_bytes() == best


def test_an_epoch_without_training_steps_is_an_error_not_a_record(tmp_path):
    from training.callbacks import RunState, RunStateError

    state = RunState(tmp_path, "val_loss", "min", None)
    state.on_epoch_begin(0)
    with pytest.raises(RunStateError, match="epoch 1 ran no training steps"):
        state.on_epoch_end(0, {"loss": 0.0, "val_loss": 0.5})
    assert state.history == [] and not (tmp_path / "run_state.json").exists()


def test_resume_refuses_another_data_file_or_a_changed_one(tmp_path, killed_run, capsys):
    out = _copy_run(killed_run, tmp_path)
    recorded = json.loads((out / "config.json").read_text())["data"]["path"]
    other = tmp_path / "other.csv"
    other.write_text(killed_run[1].read_text() + "one more sunny row,good\n")
    capsys.readouterr()
    assert train.main([str(out / "config.json"), "--out", str(out), "--resume",
                       "--data", str(other)]) == 2
    error = capsys.readouterr().err
    assert f"--resume: {out} trained on {recorded} (" in error
    assert f"--data names another file, {other} (" in error
    # The same path with other content: the fingerprint no longer matches.
    config = json.loads((out / "config.json").read_text())
    config["data_fingerprint"]["sha256"] = "0" * 64
    (out / "config.json").write_text(json.dumps(config))
    assert train.main([str(out / "config.json"), "--out", str(out), "--resume"]) == 2
    error = capsys.readouterr().err
    assert f"data fingerprint mismatch: {recorded} has changed since the run trained on it" in error
    assert "SHA-256 0000000000000000..." in error
    assert len(_history(out)) == 2  # nothing trained


def test_retraining_from_a_run_config_uses_its_file_and_checks_it(
        tmp_path, killed_run, capsys, monkeypatch):
    out, data, _ = killed_run
    data_copy = tmp_path / "texts.csv"
    shutil.copy(data, data_copy)
    config = json.loads((out / "config.json").read_text())
    config["data"]["path"] = str(data_copy)
    config["data_fingerprint"]["path"] = str(data_copy)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with data_copy.open("a") as f:
        f.write("one more sunny row,good\n")
    capsys.readouterr()
    assert train.main([str(tmp_path / "config.json"), "--out", str(tmp_path / "again")]) == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / 'config.json'}: data fingerprint mismatch: {data_copy} has changed" in error
    assert "delete data_fingerprint from" in error
    assert not (tmp_path / "again").exists()
    # Unchanged, the recorded file is what the retraining reads, no --data
    # needed. (Stopped once the run is set up: the training itself is the
    # other tests' business.)
    shutil.copy(data, data_copy)

    def stop(*args):
        raise _Killed()

    monkeypatch.setattr(trainer, "fit_run", stop)
    with pytest.raises(_Killed):
        train.main([str(tmp_path / "config.json"), "--out", str(tmp_path / "again")])
    assert "on 228 examples, validating on 72" in capsys.readouterr().out
    retrained = json.loads((tmp_path / "again" / "config.json").read_text())
    assert retrained["data"]["path"] == str(data_copy)
    assert retrained["data_fingerprint"]["sha256"] == config["data_fingerprint"]["sha256"]


# A process whose CPU is split in two logical devices, running `training.train`.
MIRRORED = ["-m", "tests.on_two_logical_cpus", "training.train"]


def test_mirrored_strategy_on_two_logical_cpus(tmp_path, tiny_config, table_data):
    out = tmp_path / "mirrored"
    result = subprocess.run(
        [sys.executable, *MIRRORED, str(tiny_config), "--data", str(table_data),
         "--out", str(out), "--strategy", "mirrored"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MirroredStrategy with 2 replica(s)" in result.stdout
    run = json.loads((out / "run.json").read_text())
    assert run["replicas"] == 2
    assert json.loads((out / "metrics.json").read_text())["accuracy"] > 0.6


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _train_two_workers(config, data, out):
    """Starts the same run on two workers over loopback; their stdouts."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index in range(2):
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(
            _train_command(config, data, out, "--strategy", "multi_worker"),
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    outputs = []
    try:
        for worker in workers:
            stdout, stderr = worker.communicate(timeout=300)
            assert worker.returncode == 0, stderr[-2000:]
            outputs.append(stdout)
    finally:
        for worker in workers:
            worker.kill()
    assert all("with 2 replica(s)" in o for o in outputs)
    epochs = [[line for line in o.splitlines() if line.startswith("Epoch ")] for o in outputs]
    assert epochs[0] and epochs[0] == epochs[1]  # one synchronised model
    assert "Outputs in" in outputs[0] and "Outputs in" not in outputs[1]
    assert json.loads((out / "run.json").read_text())["replicas"] == 2
    assert not (out / "backup").exists()
    return epochs[0]


@pytest.mark.slow  # two worker processes: 30-40 s on two cores; the mirrored test runs by default
def test_two_worker_multi_worker_mirrored_training_on_localhost(tmp_path, tiny_config, table_data):
    """Two processes train one classifier with MultiWorkerMirroredStrategy
    over loopback, through the custom loop; the chief writes the run."""
    out = tmp_path / "multi"
    epochs = _train_two_workers(tiny_config, table_data, out)
    assert len(epochs) == 3
    assert json.loads((out / "metrics.json").read_text())["accuracy"] > 0.6


# Slow (about 30 s): the two-worker machinery is covered by the test above,
# and the per-token loss across replicas by tests/training/test_custom_loop.py.
@pytest.mark.slow
def test_two_worker_translation_training_on_localhost(tmp_path, translation_config, translation_data):
    """Translation batches carry per-token weights (padding masked); the
    custom loop trains them across workers too."""
    out = tmp_path / "multi_translation"
    epochs = _train_two_workers(translation_config, translation_data, out)
    assert len(epochs) == 3
    losses = [float(line.split("- loss: ")[1].split()[0]) for line in epochs]
    assert losses[2] < losses[0]
    state = json.loads((out / "run_state.json").read_text())
    assert len(state["history"]) == 3
    assert {"bleu_greedy_one_ref", "bleu_beam_all_refs"} <= set(
        json.loads((out / "metrics.json").read_text()))
    assert (out / "model.keras").exists()


def test_multi_worker_needs_tf_config(tmp_path, tiny_config, table_data, monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    code = train.main([str(tiny_config), "--data", str(table_data), "--out", str(tmp_path / "m"),
                       "--strategy", "multi_worker"])
    assert code == 2
    assert "error: --strategy multi_worker needs the cluster in TF_CONFIG" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


MIXED = """
import sys
import keras
from training import train
code = train.main(sys.argv[1:])
print("policy", keras.mixed_precision.global_policy().name)
sys.exit(code)
"""


@pytest.mark.slow  # a training subprocess: 20-25 s on two cores
def test_mixed_precision_flag_trains_in_bfloat16_on_cpu(tmp_path, tiny_config, table_data):
    out = tmp_path / "mixed"
    result = subprocess.run(
        [sys.executable, "-c", MIXED, str(tiny_config), "--data", str(table_data),
         "--out", str(out), "--mixed-precision"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "policy mixed_bfloat16" in result.stdout
    assert json.loads((out / "metrics.json").read_text())["accuracy"] > 0.6


def test_the_commands_strategy_names_are_the_strategies():
    """training/train.py names them to check the command line before TensorFlow."""
    from training.distribute import STRATEGIES

    assert train.STRATEGY_NAMES == STRATEGIES


def test_a_translation_run_trains_with_label_smoothing(tmp_path, translation_config,
                                                       translation_data, capsys):
    out = tmp_path / "smoothed"
    assert train.main([str(translation_config), "--data", str(translation_data), "--out",
                       str(out), "--epochs", "3", "--set", "training.label_smoothing=0.1"]) == 0
    history = json.loads((out / "run_state.json").read_text())["history"]
    assert history[-1]["logs"]["loss"] < history[0]["logs"]["loss"]
    best = keras.saving.load_model(out / "checkpoints" / "best.keras")
    assert best.loss.label_smoothing == pytest.approx(0.1)
    code = train.main([str(translation_config), "--data", str(translation_data), "--out",
                       str(tmp_path / "bad"), "--set", "training.label_smoothing=1.5"])
    assert code == 2
    assert "label_smoothing=1.5" in capsys.readouterr().err


def test_checkpoint_averaging_keeps_the_last_epochs_and_serves_their_mean(
        tmp_path, translation_config, translation_data, capsys):
    from training import callbacks as run_callbacks

    out = tmp_path / "averaged"
    assert train.main([str(translation_config), "--data", str(translation_data), "--out",
                       str(out), "--epochs", "3", "--set", "training.average_checkpoints=2"]) == 0
    kept = sorted(p.name for p in (out / "checkpoints").glob("epoch-*"))
    assert kept == ["epoch-002.weights.h5", "epoch-003.weights.h5"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["averaged_epochs"] == [2, 3]
    # model.keras holds the mean of the two epochs' weights.
    best = keras.saving.load_model(out / "checkpoints" / "best.keras", compile=False)
    epochs = []
    for name in kept:
        best.load_weights(out / "checkpoints" / name)
        epochs.append([np.asarray(w) for w in best.weights])
    served = keras.saving.load_model(out / "model.keras").translator
    for index, weight in enumerate(served.weights):
        np.testing.assert_allclose(np.asarray(weight), (epochs[0][index] + epochs[1][index]) / 2,
                                   atol=1e-6)
    # Resuming at epoch 2 drops the weights a killed run left for epoch 3.
    state = run_callbacks.RunState(out, "val_loss", "min", None, start_epoch=2)
    assert [(p.name, e) for p, e in state.kept_epochs()] == [("epoch-002.weights.h5", 2)]
    code = train.main([str(translation_config), "--data", str(translation_data), "--out",
                       str(tmp_path / "bad"), "--set", "training.average_checkpoints=0"])
    assert code == 2
    assert "training.average_checkpoints must be a positive integer" in capsys.readouterr().err


def test_a_run_saved_before_a_setting_existed_resumes_with_its_default(
        tmp_path, translation_config, translation_data):
    out = tmp_path / "older"
    assert train.main([str(translation_config), "--data", str(translation_data), "--out",
                       str(out), "--epochs", "1"]) == 0
    config = json.loads((out / "config.json").read_text())
    for key in ("label_smoothing", "average_checkpoints"):
        del config["training"][key]  # as a run written before they existed
    (out / "config.json").write_text(json.dumps(config))
    (out / "metrics.json").unlink()
    assert train.main([str(translation_config), "--data", str(translation_data), "--out",
                       str(out), "--resume"]) == 0
    assert "bleu_beam_one_ref" in json.loads((out / "metrics.json").read_text())
