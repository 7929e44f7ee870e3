"""benchmarks.recurrence_floor: what it times and how it sums (never the timings)."""

import numpy as np

from benchmarks import recurrence_floor


def test_a_chain_feeds_each_product_the_previous_result():
    # With b = identity-like blocks the chain is a fixed point only if each
    # product really takes the previous result: a scaled b shrinks it.
    a = np.ones((2, 4), "float32")
    b = np.full((4, 8), 0.5, "float32")  # x @ b = 2 * x[:, :1] per column
    run = recurrence_floor._chain("tf", a, b, count=3)
    np.testing.assert_allclose(run(), np.full((2, 4), 8.0))
    backward_b = np.full((8, 4), 0.25, "float32")  # narrower result: spread back
    run = recurrence_floor._chain("tf", np.ones((2, 8), "float32"), backward_b, 2)
    np.testing.assert_allclose(run(), np.full((2, 8), 4.0))


def test_measure_times_every_product():
    results = recurrence_floor.measure("tf", runs=1, threads=1)
    assert set(results) == set(recurrence_floor.PRODUCTS)
    assert all(ms > 0 for ms in results.values())


def test_table_sums_inference_and_training_parts():
    names = list(recurrence_floor.PRODUCTS)
    results = {"tf": {name: float(i + 1) for i, name in enumerate(names)}}
    text = recurrence_floor.table(results)
    inference = sum(i + 1 for i, n in enumerate(names) if recurrence_floor.PRODUCTS[n][3] == "inference")
    assert f"| **sum: inference** | | **{float(inference)}** |" in text
    assert f"| **sum: training step** | | **{float(sum(range(1, len(names) + 1)))}** |" in text
