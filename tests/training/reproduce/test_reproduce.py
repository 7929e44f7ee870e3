"""training.reproduce: online_sgd, experiments, the command line (__main__) and reproduction."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.reproduce import __main__ as reproduce
from training.reproduce import reproduction
from training.reproduce.experiments import EXPERIMENTS, RECENT, experiment
from training.reproduce.networks import NETWORKS
from training.reproduce.online_sgd import OnlineSGD


def tiny_model(per_step=False):
    keras.utils.set_random_seed(3)
    x = keras.Input((None, 2))
    h = keras.layers.SimpleRNN(3, return_sequences=per_step)(keras.layers.Masking(0.0)(x))
    return keras.Model(x, keras.layers.Dense(2, activation="sigmoid")(h))


def manual_step(model, inputs, targets, alpha):
    """w - α ∂E/∂w with E = ½ Σ (t - y)², mean over the batch, by Keras."""
    with tf.GradientTape() as tape:
        outputs = model(inputs)
        loss = tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(targets - outputs), -1))
    grads = tape.gradient(loss, model.trainable_variables)
    return [v.numpy() - alpha * g.numpy() for v, g in zip(model.trainable_variables, grads)]


def sequences(rng, lengths):
    return [rng.uniform(0.1, 1.0, (n, 2)).astype("float32") for n in lengths]


@pytest.mark.parametrize("jit_compile", [True, False])
def test_one_update_per_sequence_is_plain_gradient_descent(jit_compile):
    rng = np.random.default_rng(0)
    first, second = sequences(rng, [5, 3])
    targets = np.array([[0.2, 0.9], [0.7, 0.1]], "float32")
    model = tiny_model()
    # The expected weights: two plain steps, each on its own unpadded sequence.
    reference = tiny_model()
    reference.set_weights(manual_step(reference, first[None], targets[:1], 0.5))
    expected_loss_2 = 0.5 * np.sum(np.square(targets[1] - reference(second[None]).numpy()))
    reference.set_weights(manual_step(reference, second[None], targets[1:], 0.5))

    inputs, _, mask = reproduction.padded([(first, targets[0]), (second, targets[1])])
    result = OnlineSGD(model, 0.5, jit_compile=jit_compile).run(inputs, targets, mask)
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-6)
    # Errors are measured before the update each sequence causes.
    np.testing.assert_allclose(result["loss"][1], expected_loss_2, rtol=1e-5)
    assert result["outputs"].shape == (2, 2)


def test_batch_size_averages_the_sequences_of_an_update():
    rng = np.random.default_rng(1)
    data = sequences(rng, [4, 4])
    targets = np.array([[0.1, 0.5], [0.9, 0.3]], "float32")
    model, reference = tiny_model(), tiny_model()
    reference.set_weights(manual_step(reference, np.stack(data), targets, 0.3))
    inputs, _, mask = reproduction.padded(list(zip(data, targets)))
    OnlineSGD(model, 0.3, batch_size=2).run(inputs, targets, mask)
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_per_step_errors_ignore_padding():
    rng = np.random.default_rng(2)
    short, long = sequences(rng, [2, 6])
    model = tiny_model(per_step=True)
    step_targets = [np.full((2, 2), 0.5, "float32"), np.full((6, 2), 0.5, "float32")]
    inputs, targets, mask = reproduction.padded(list(zip([short, long], step_targets)))
    assert inputs.shape[1] == reproduction.BUCKET  # padded to the bucket
    # Padding targets of 100 would dominate E if they counted.
    targets[~mask] = 100.0
    before = model(short[None]).numpy()[0]
    result = OnlineSGD(model, 0.1, per_step=True).run(inputs, targets, mask)
    np.testing.assert_allclose(result["loss"][0], 0.5 * np.sum(np.square(0.5 - before)), rtol=1e-5)
    assert result["max_error"].max() < 1.0


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"learning_rate": 0.0}, "learning_rate=0.0"),
        ({"learning_rate": 0.1, "batch_size": 0}, "batch_size=0"),
        ({"learning_rate": 0.1, "batch_size": 1.5}, "batch_size=1.5"),
    ],
)
def test_online_sgd_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        OnlineSGD(tiny_model(), **arguments)


def test_a_chunk_must_divide_into_batches():
    inputs, targets, mask = reproduction.padded(
        [(s, np.zeros(2, "float32")) for s in sequences(np.random.default_rng(0), [3, 3, 3])]
    )
    with pytest.raises(ValueError, match="3 sequences .* batch_size=2"):
        OnlineSGD(tiny_model(), 0.1, batch_size=2).run(inputs, targets, mask)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_samples_what_its_paper_network_takes(name):
    exp = experiment(name, p=10 if name == "2c" else None, q=5 if name == "2c" else None)
    model = exp.build()
    expected_weights = NETWORKS[exp.network].get("weights")
    if name == "2c":
        expected_weights = 6 * 10 + 64  # Table 3: 6p + 64
    assert model.count_params() == expected_weights
    inputs, target = exp.sample(np.random.default_rng(0))
    assert inputs.shape[-1] == model.input_shape[-1]
    assert target.shape[-1] == model.output_shape[-1]
    assert (target.ndim == 2) == exp.per_step
    assert exp.paper["table"].startswith(("Table", "Section"))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"name": "7"}, "Unknown experiment '7'"),
        ({"name": "1", "network": "adding"}, "network='adding'"),
        ({"name": "2a", "p": 50}, "p=50"),
        ({"name": "4", "learning_rate": -1.0}, "learning_rate=-1.0"),
    ],
)
def test_experiment_rejects_bad_options(arguments, message):
    with pytest.raises(ValueError, match=message):
        experiment(**arguments)


def make_trial(name, **options):
    return reproduction.Trial(experiment(name, **options), seed=0, cell="original_lstm",
                           batch_size=1, chunk=100)


def test_st3_stops_at_the_first_sequence_after_which_it_holds():
    trial = make_trial("4")
    targets = np.full((1500, 1), 0.5)
    good = targets + 0.01  # correct (|error| < 0.04), squared error 1e-4 < 0.01
    wrong = targets + 0.1
    # 300 wrong, then correct ones: the window of 2000 holds first at 2300.
    assert trial._stop_in_chunk(np.concatenate([wrong[:300], good[:1200]]), targets) is None
    stop = trial._stop_in_chunk(good, targets)
    assert 1500 + stop + 1 == 300 + RECENT


def test_exp5_stops_when_fewer_than_n_seq_of_the_recent_are_wrong():
    trial = make_trial("5", n_seq=13)
    targets = np.full((RECENT, 1), 0.5)
    outputs = targets.copy()
    outputs[:13] += 0.05  # 13 wrong among the first 2000: not fewer than 13
    assert trial._stop_in_chunk(outputs, targets) is None
    # One more correct sequence pushes the first wrong one out of the window.
    assert trial._stop_in_chunk(targets[:5], targets[:5]) == 0


def test_reproduce_two_sequence_problem_end_to_end(tmp_path):
    # 3a with short sequences (T = 10) is learned in a few thousand
    # sequences: a real success, tested as the paper tests it.
    path = tmp_path / "3a.json"
    status = reproduce.main(["3a", "--T", "10", "--N", "3", "--max-sequences", "20000",
                             "--seed", "1", "--json", str(path)])
    record = json.loads(path.read_text())
    trial = record["trials"][0]
    assert status == 0 and trial["success"]
    assert trial["st1"] <= trial["sequences"] <= 20000
    assert trial["test"]["of"] == reproduction.TEST_SIZE
    assert trial["test"]["mean_abs_error"] < 0.01
    assert record["paper"]["table"] == "Table 4"
    assert record["options"] == {"T": 10, "N": 3, "variant": "a"}


@pytest.mark.parametrize(
    "arguments",
    [["4"], ["6a", "--cell", "gru"], ["1", "--batch-size", "4", "--chunk", "8"], ["5", "--cell", "lstm"],
     ["2a", "--full-gradient"], ["4", "--output-activation", "linear"], ["1", "--step-updates"],
     ["1", "--rtrl", "--chunk", "50"]],
)
def test_smoke_runs_write_their_results(tmp_path, arguments, capsys):
    path = tmp_path / "out.json"
    status = reproduce.main([*arguments, "--max-sequences", "200", "--json", str(path)])
    record = json.loads(path.read_text())
    trial = record["trials"][0]
    assert status in (0, 1)
    assert trial["sequences_trained"] >= 200 and trial["sequences_per_second"] > 0
    assert record["summary"]["trials"] == 1
    assert "test" in trial
    assert "summary:" in capsys.readouterr().out
    # Only the 1997 cell reports its states, and only with the paper's h
    # (2a's h is the identity: no saturation to count).
    states = trial.get("cell_states")
    assert (states is None) == ("--cell" in arguments)
    if states is not None:
        assert ("fraction_saturated" in states) == (arguments[0] != "2a")
        network = NETWORKS[experiment(arguments[0]).network]
        assert len(states["mean_abs"]) == network["blocks"] * network["block_size"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["4", "--trials", "0"], "--trials must be at least 1"),
        (["4", "--snapshot-every", "0"], "--snapshot-every must be at least 1, got 0"),
        (["2a", "--p", "7"], "p=7"),
        ([], "EXPERIMENT is required"),
        (["9"], "invalid choice"),
        (["1", "--cell", "gru", "--full-gradient"], "--full-gradient applies to --cell original_lstm only"),
        (["4", "--step-updates"], "--step-updates applies to Exp. 1, 2a and 2b"),
        (["4", "--rtrl"], "--rtrl applies to Exp. 1"),
        (["1", "--rtrl", "--batch-size", "2", "--cell", "gru"], "drop --cell gru, --batch-size 2"),
    ],
)
def test_bad_command_lines_exit_2_with_a_message(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main(arguments)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_list_names_every_experiment(capsys):
    assert reproduce.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{name} " in "\n" + out for name in EXPERIMENTS)


def test_reber_test_wants_every_possible_next_symbol_above_the_others():
    trial = make_trial("1", rng=np.random.default_rng(0))
    strings = trial.exp.options["train_strings"][:5]
    perfect = reproduction.padded(
        [(np.zeros((len(s) - 1, 7), "float32"), reproduction.synthetic.reber_possible_targets(s))
         for s in strings]
    )[1]
    trial.trainer.predict = lambda inputs, batch_size=512: perfect.copy()
    assert trial._reber_correct(strings).all()

    def one_step_wrong(inputs, batch_size=512):
        outputs = perfect.copy()
        outputs[2, 0] = 1.0 - outputs[2, 0]  # string 2, first step: B flipped
        return outputs

    trial.trainer.predict = one_step_wrong
    assert trial._reber_correct(strings).tolist() == [True, True, False, True, True]


@pytest.mark.parametrize("full_gradient", [False, True])
def test_full_gradient_switches_off_the_papers_truncation(full_gradient):
    trial = reproduction.Trial(experiment("6a"), seed=0, cell="original_lstm", batch_size=1,
                            chunk=100, full_gradient=full_gradient)
    layer = trial.model.get_layer("original_lstm")
    assert layer.cell.truncated_gradient is (not full_gradient)


def test_output_activation_sets_the_output_units():
    trial = reproduction.Trial(experiment("4"), seed=0, cell="original_lstm", batch_size=1,
                            chunk=100, output_activation="linear")
    output = trial.model.get_layer("output")
    assert output.activation is keras.activations.linear
    assert make_trial("4").model.get_layer("output").activation is keras.activations.sigmoid


def test_step_updates_take_one_gradient_step_per_time_step():
    rng = np.random.default_rng(4)
    (x,) = sequences(rng, [3])
    y = np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]], "float32")
    model, reference = tiny_model(per_step=True), tiny_model(per_step=True)
    for t in range(3):  # E(t) alone, then update, step by step
        with tf.GradientTape() as tape:
            outputs = reference(x[None])
            loss = 0.5 * tf.reduce_sum(tf.square(y[t] - outputs[0, t]))
        grads = tape.gradient(loss, reference.trainable_variables)
        reference.set_weights([v.numpy() - 0.2 * g.numpy()
                               for v, g in zip(reference.trainable_variables, grads)])
    inputs, targets, mask = reproduction.padded([(x, y)])
    OnlineSGD(model, 0.2, per_step=True, step_updates=True).run(inputs, targets, mask)
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_step_updates_need_per_step_targets():
    with pytest.raises(ValueError, match="step_updates=True"):
        OnlineSGD(tiny_model(), 0.1, step_updates=True)


def test_3c_is_judged_against_the_noise_free_target():
    trial = make_trial("3c", T=10, N=3)
    clean_rng = np.random.default_rng([0, 1])  # the trial's test stream
    rows = [reproduction.synthetic.two_sequence_with_clean_target(clean_rng, 10, 3, "c")
            for _ in range(256)]
    clean = np.array([c for _, _, c in rows])  # (256, 1)

    def answer(offset):
        def predict(inputs, batch_size=512):
            return np.repeat(clean[:, None, :] + offset, inputs.shape[1], axis=1)
        return predict

    trial.trainer.predict = answer(0.0)
    passed, figures = trial._test_two_sequence(256)
    assert passed and figures["wrong"] == 0 and "st1" not in figures
    trial.test_rng = np.random.default_rng([0, 1])
    trial.trainer.predict = answer(0.11)
    passed, figures = trial._test_two_sequence(256)
    assert not passed and figures["wrong"] == 256


@pytest.mark.parametrize(
    "network, learning_rate, expected",
    [("reber_3x2", None, (100, 8_440)), ("reber_4x1", 0.1, (100, 39_740)),
     ("reber_3x2", 0.2, (97, 14_060)), ("reber_4x1", 0.3, (None, None))],
)
def test_exp1_compares_with_the_table_1_row_of_its_network_and_rate(network, learning_rate, expected):
    exp = experiment("1", network=network, learning_rate=learning_rate)
    assert (exp.paper["success_percent"], exp.paper["sequences"]) == expected


def test_snapshots_keep_the_weights_every_n_sequences(tmp_path):
    path = tmp_path / "adding.json"
    reproduce.main(["4", "--max-sequences", "300", "--snapshot-every", "200", "--chunk", "50",
                    "--json", str(path)])
    trial = json.loads(path.read_text())["trials"][0]
    assert trial["snapshots"] == "adding.seed0.weights.npz"
    snapshots = np.load(tmp_path / trial["snapshots"])
    seen = sorted({int(key.split("/")[0]) for key in snapshots.files})
    assert seen == [200]  # the one multiple of 200 within 300 sequences
    initial = {w.path: keras.ops.convert_to_numpy(w) for w in make_trial("4").model.weights}
    assert sorted(snapshots.files) == sorted(f"200/{path}" for path in initial)
    # the snapshot is the trained net, not the initial one
    kernel = next(path for path in initial if path.endswith("output/kernel"))
    assert not np.allclose(snapshots[f"200/{kernel}"], initial[kernel])


def test_cell_states_measure_how_far_the_states_end_from_zero():
    trial = reproduction.Trial(experiment("3a", T=10, N=3), seed=0, cell="original_lstm",
                            batch_size=1, chunk=100)
    layer = trial.model.get_layer("original_lstm")
    for weight in layer.weights:
        weight.assign(np.zeros(weight.shape))
    quiet = trial.cell_states(layer, count=32)
    assert quiet == {"mean_abs": [0.0, 0.0, 0.0], "fraction_saturated": [0.0, 0.0, 0.0]}
    # Input gates open (σ(10) ≈ 1) and g(net_c) = g(10) ≈ 2: s_c grows by ≈ 2
    # at each of at least 10 steps.
    layer.cell.b_in.assign(np.full(layer.cell.b_in.shape, 10.0))
    layer.cell.b_c.assign(np.full(layer.cell.b_c.shape, 10.0))
    drifting = trial.cell_states(layer, count=32)
    assert drifting["fraction_saturated"] == [1.0, 1.0, 1.0]
    assert all(size > 19.0 for size in drifting["mean_abs"])


def test_the_commands_names_are_the_experiments_and_cells():
    """training/reproduce/__main__.py names them to check the command line before TensorFlow."""
    from training.reproduce.experiments import EXPERIMENTS
    from training.reproduce.networks import CELLS

    assert reproduce.EXPERIMENT_NAMES == EXPERIMENTS
    assert reproduce.CELL_NAMES == CELLS
