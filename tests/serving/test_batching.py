"""Tests for serving/batching.py: TF Serving's request batching.

Concurrency is made deterministic rather than timed: a fake model blocks the
only worker thread inside its first batch until the test releases it, the
test waits (boundedly) until the next requests sit in the queue, and then
releases the model, so those requests must form one batch. Every wait has a
timeout, and the fixture releases models and closes schedulers even when a
test fails.
"""

import concurrent.futures
import os
import threading
import time

import grpc
import numpy as np
import pytest

from serving.batching import BatchingParameters
from serving.batching import BatchScheduler
from serving.batching import load_batching_parameters
from serving.batching import parse_batching_parameters
from serving.config import ConfigError
from serving.errors import ServingError

# Upper bound for any single wait; only reached when something is broken.
WAIT = 10.0
KEY = ("half_plus_two", 1, "serving_default")
OTHER_KEY = ("half_plus_two", 2, "serving_default")


def parameters(**fields):
    """A `BatchingParameters` text proto from keyword arguments."""
    lines = []
    for name, value in fields.items():
        if name == "allowed_batch_sizes":
            lines += [f"allowed_batch_sizes: {size}" for size in value]
        elif name == "pad_variable_length_inputs":
            lines.append(f"pad_variable_length_inputs: {str(value).lower()}")
        elif isinstance(value, bool):
            lines.append(f"{name} {{ value: {str(value).lower()} }}")
        elif isinstance(value, str):
            lines.append(f'{name} {{ value: "{value}" }}')
        else:
            lines.append(f"{name} {{ value: {value} }}")
    return parse_batching_parameters("\n".join(lines))


class FakeModel:
    """A `run_batch` that records its batches and can hold the worker.

    It returns `y = 2 * x` (summed over non-0 dimensions for rank > 1), so a
    caller's rows show whose input they came from.

    Args:
        hold_first: If true, the first call blocks until `release()`.
        fail_when: Optional predicate on the batched inputs; when it holds,
            the call raises `error` instead of returning.
        error: The exception to raise.
    """

    def __init__(self, hold_first=False, fail_when=None, error=None):
        self.batches = []
        self.entered = threading.Semaphore(0)
        self._released = threading.Event()
        self._hold_first = hold_first
        self._fail_when = fail_when
        self._error = error

    def __call__(self, inputs):
        self.batches.append({name: value.copy() for name, value in inputs.items()})
        first = len(self.batches) == 1
        self.entered.release()
        if first and self._hold_first:
            assert self._released.wait(WAIT), "the test never released the model"
        if self._fail_when is not None and self._fail_when(inputs):
            raise self._error
        x = inputs["x"]
        y = 2 * x if x.ndim == 1 else 2 * x.reshape(len(x), -1).sum(axis=1)
        return {"y": y}

    def release(self):
        self._released.set()

    def wait_until_running(self):
        assert self.entered.acquire(timeout=WAIT), "the model was never called"

    def batch_sizes(self):
        return [len(batch["x"]) for batch in self.batches]


class Harness:
    """Creates schedulers, models and client threads; cleans them all up.

    Client calls run in daemon threads, so a request stuck by a regression
    fails the test at teardown instead of hanging the test run.
    """

    def __init__(self):
        self.schedulers = []
        self.models = []
        self.clients = []

    def scheduler(self, batching_parameters, on_batch=None, run_idle_queues=False):
        # TF Serving's rule (wait for the timeout or a full batch) unless a
        # test asks for the server's.
        scheduler = BatchScheduler(batching_parameters, on_batch=on_batch,
                                   run_idle_queues=run_idle_queues)
        self.schedulers.append(scheduler)
        return scheduler

    def model(self, **kwargs):
        model = FakeModel(**kwargs)
        self.models.append(model)
        return model

    def submit(self, scheduler, key, inputs, model):
        """Waits for `scheduler.submit`'s result in a new client thread; returns a Future."""
        future = concurrent.futures.Future()

        def call():
            try:
                future.set_result(scheduler.submit(key, inputs, model).result())
            except BaseException as error:
                future.set_exception(error)

        client = threading.Thread(target=call, daemon=True)
        client.start()
        self.clients.append(client)
        return future

    def run(self, scheduler, key, inputs, model):
        """`scheduler.submit(...).result()`, bounded: its result or its error, within WAIT."""
        return self.submit(scheduler, key, inputs, model).result(timeout=WAIT)

    def close(self):
        for model in self.models:
            model.release()
        for scheduler in self.schedulers:
            scheduler.close(timeout=WAIT)
        deadline = time.monotonic() + WAIT
        for client in self.clients:
            client.join(max(0.0, deadline - time.monotonic()))
        stuck = [client for client in self.clients if client.is_alive()]
        assert not stuck, f"{len(stuck)} requests never returned"


@pytest.fixture
def harness():
    harness = Harness()
    yield harness
    harness.close()


def wait_for_enqueued(scheduler, key, count):
    """Waits until `count` tasks of `key` sit in the queue."""
    deadline = time.monotonic() + WAIT
    while scheduler.num_enqueued_tasks(key) != count:
        assert time.monotonic() < deadline, (
            f"expected {count} queued tasks, have {scheduler.num_enqueued_tasks(key)}"
        )
        time.sleep(0.001)


def rows(*values):
    return {"x": np.array(values, dtype=np.float32)}


def hold_worker(harness, scheduler, model, key=KEY):
    """Starts a 1-row request that occupies the single worker thread."""
    future = harness.submit(scheduler, key, rows(100.0), model)
    model.wait_until_running()
    return future


# ---------------------------------------------------------------- merging


def test_concurrent_requests_merge_into_one_run(harness):
    scheduler = harness.scheduler(parameters(max_batch_size=8, num_batch_threads=1))
    model = harness.model(hold_first=True)
    holder = hold_worker(harness, scheduler, model)

    futures = [
        harness.submit(scheduler, KEY, rows(1.0, 2.0), model),
        harness.submit(scheduler, KEY, rows(3.0), model),
        harness.submit(scheduler, KEY, rows(4.0, 5.0, 6.0), model),
    ]
    wait_for_enqueued(scheduler, KEY, 3)
    model.release()

    results = [future.result(timeout=WAIT) for future in futures]
    assert holder.result(timeout=WAIT)["y"].tolist() == [200.0]
    assert model.batch_sizes() == [1, 6]
    assert sorted(model.batches[1]["x"].tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # Each caller gets exactly its own rows, in its own order.
    assert [result["y"].tolist() for result in results] == [
        [2.0, 4.0],
        [6.0],
        [8.0, 10.0, 12.0],
    ]


def test_submit_queues_without_blocking_and_its_future_gives_the_rows(harness):
    scheduler = harness.scheduler(parameters(max_batch_size=8, num_batch_threads=1))
    model = harness.model(hold_first=True)
    holder = hold_worker(harness, scheduler, model)
    # From the calling thread itself: submit returns at once.
    futures = [scheduler.submit(KEY, rows(1.0), model), scheduler.submit(KEY, rows(2.0), model)]
    assert not any(future.done() for future in futures)
    wait_for_enqueued(scheduler, KEY, 2)
    model.release()
    assert [f.result(timeout=WAIT)["y"].tolist() for f in futures] == [[2.0], [4.0]]
    assert holder.result(timeout=WAIT)["y"].tolist() == [200.0]
    assert model.batch_sizes() == [1, 2]


def test_a_caller_giving_up_does_not_cost_the_rest_of_its_batch(harness):
    # An event loop cancels its wrapper of the Future when a client goes
    # away; the request stays in its batch, and the others get their rows.
    scheduler = harness.scheduler(parameters(max_batch_size=8, num_batch_threads=1))
    model = harness.model(hold_first=True)
    holder = hold_worker(harness, scheduler, model)
    futures = [scheduler.submit(KEY, rows(float(i)), model) for i in range(3)]
    assert futures[0].cancel() is False
    wait_for_enqueued(scheduler, KEY, 3)
    model.release()
    holder.result(timeout=WAIT)
    assert [f.result(timeout=WAIT)["y"].tolist() for f in futures] == [[0.0], [2.0], [4.0]]


def test_full_batch_runs_without_waiting_for_the_timeout(harness):
    # The timeout is an hour: only reaching max_batch_size can start the batch.
    scheduler = harness.scheduler(
        parameters(max_batch_size=4, batch_timeout_micros=3_600_000_000, num_batch_threads=1)
    )
    model = harness.model()
    futures = [harness.submit(scheduler, KEY, rows(float(i)), model) for i in range(4)]

    assert [future.result(timeout=WAIT)["y"].tolist() for future in futures] == [
        [0.0],
        [2.0],
        [4.0],
        [6.0],
    ]
    assert model.batch_sizes() == [4]


def test_an_idle_queue_runs_at_once_and_batches_what_arrives_meanwhile(harness):
    # The server's rule: the timeout is an hour, yet a lone request runs at
    # once; requests arriving while it runs wait for it, then run together.
    scheduler = harness.scheduler(
        parameters(max_batch_size=8, batch_timeout_micros=3_600_000_000, num_batch_threads=1),
        run_idle_queues=True)
    model = harness.model(hold_first=True)
    first = harness.submit(scheduler, KEY, rows(0.0), model)
    model.wait_until_running()
    later = [harness.submit(scheduler, KEY, rows(float(i)), model) for i in (1, 2, 3)]
    wait_for_enqueued(scheduler, KEY, 3)
    model.release()
    assert first.result(timeout=WAIT)["y"].tolist() == [0.0]
    assert [f.result(timeout=WAIT)["y"].tolist() for f in later] == [[2.0], [4.0], [6.0]]
    assert model.batch_sizes() == [1, 3]


def test_a_request_that_does_not_fit_starts_the_next_batch(harness):
    scheduler = harness.scheduler(parameters(max_batch_size=4, num_batch_threads=1))
    model = harness.model(hold_first=True)
    hold_worker(harness, scheduler, model)

    first = harness.submit(scheduler, KEY, rows(1.0, 2.0, 3.0), model)
    wait_for_enqueued(scheduler, KEY, 1)
    second = harness.submit(scheduler, KEY, rows(4.0, 5.0), model)  # 3 + 2 > 4
    wait_for_enqueued(scheduler, KEY, 2)
    model.release()

    assert first.result(timeout=WAIT)["y"].tolist() == [2.0, 4.0, 6.0]
    assert second.result(timeout=WAIT)["y"].tolist() == [8.0, 10.0]
    assert model.batch_sizes() == [1, 3, 2]


def test_timeout_flushes_a_partial_batch(harness):
    scheduler = harness.scheduler(
        parameters(max_batch_size=100, batch_timeout_micros=20_000, num_batch_threads=2)
    )
    model = harness.model()

    result = harness.run(scheduler, KEY, rows(1.0, 2.0, 3.0), model)

    assert result["y"].tolist() == [2.0, 4.0, 6.0]
    assert model.batch_sizes() == [3]


def test_separate_keys_are_never_merged(harness):
    batches = []
    scheduler = harness.scheduler(
        parameters(max_batch_size=8, num_batch_threads=1),
        on_batch=lambda key, size, processed, latencies: batches.append((key, size)),
    )
    model = harness.model(hold_first=True)
    hold_worker(harness, scheduler, model)

    first = harness.submit(scheduler, KEY, rows(1.0), model)
    second = harness.submit(scheduler, OTHER_KEY, rows(2.0), model)
    wait_for_enqueued(scheduler, KEY, 1)
    wait_for_enqueued(scheduler, OTHER_KEY, 1)
    model.release()

    assert first.result(timeout=WAIT)["y"].tolist() == [2.0]
    assert second.result(timeout=WAIT)["y"].tolist() == [4.0]
    assert model.batch_sizes() == [1, 1, 1]
    assert sorted(batches[1:]) == sorted([(KEY, 1), (OTHER_KEY, 1)])


def test_requests_with_different_input_names_are_not_merged(harness):
    scheduler = harness.scheduler(parameters(max_batch_size=8, num_batch_threads=1))
    seen = []

    def run_batch(inputs):
        seen.append(sorted(inputs))
        return {"y": next(iter(inputs.values()))}

    held = harness.model(hold_first=True)
    hold_worker(harness, scheduler, held)
    with_x = harness.submit(scheduler, KEY, {"x": np.ones(1)}, run_batch)
    with_z = harness.submit(scheduler, KEY, {"z": np.zeros(1)}, run_batch)
    wait_for_enqueued(scheduler, KEY, 2)
    held.release()

    assert with_x.result(timeout=WAIT)["y"].tolist() == [1.0]
    assert with_z.result(timeout=WAIT)["y"].tolist() == [0.0]
    assert sorted(seen) == [["x"], ["z"]]


# ---------------------------------------------------------- request errors


def test_oversize_request_is_refused(harness):
    scheduler = harness.scheduler(parameters(max_batch_size=4, num_batch_threads=1))
    model = harness.model()

    with pytest.raises(ServingError) as raised:
        harness.run(scheduler, KEY, rows(1.0, 2.0, 3.0, 4.0, 5.0), model)

    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.message == "Task size 5 is larger than maximum input batch size 4"
    assert raised.value.http_status == 400
    assert model.batches == []


def test_full_queue_is_refused_and_queued_requests_still_run(harness):
    scheduler = harness.scheduler(
        parameters(max_batch_size=1, max_enqueued_batches=1, num_batch_threads=1)
    )
    model = harness.model(hold_first=True)
    holder = hold_worker(harness, scheduler, model)
    queued = harness.submit(scheduler, KEY, rows(1.0), model)
    wait_for_enqueued(scheduler, KEY, 1)

    with pytest.raises(ServingError) as raised:
        harness.run(scheduler, KEY, rows(2.0), model)

    assert raised.value.code == grpc.StatusCode.UNAVAILABLE
    assert raised.value.http_status == 503
    assert raised.value.message == (
        "The batch scheduling queue to which this task was submitted is full; "
        "currently 1 batches enqueued and max_enqueued_batches is 1"
    )
    model.release()
    assert holder.result(timeout=WAIT)["y"].tolist() == [200.0]
    assert queued.result(timeout=WAIT)["y"].tolist() == [2.0]
    assert model.batch_sizes() == [1, 1]


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({}, "Batching Run() must have at least one input tensor"),
        (
            {"x": np.float32(1.0)},
            "Batching Run() input tensors must have at least one dimension",
        ),
        (
            {"x": np.ones((2, 3)), "z": np.ones(3)},
            "Batching Run() input tensors must have equal 0th-dimension size",
        ),
    ],
    ids=["no_inputs", "rank_0", "unequal_dim_0"],
)
def test_malformed_request_is_refused(harness, inputs, message):
    scheduler = harness.scheduler(parameters(num_batch_threads=1))
    model = harness.model()

    with pytest.raises(ServingError) as raised:
        harness.run(scheduler, KEY, inputs, model)

    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.message == message
    assert model.batches == []


# ------------------------------------------------------------------ padding


def test_batches_are_padded_to_allowed_sizes_with_the_last_tasks_first_row(harness):
    reports = []
    scheduler = harness.scheduler(
        parameters(max_batch_size=8, allowed_batch_sizes=[2, 4, 8], num_batch_threads=1),
        on_batch=lambda *report: reports.append(report),
    )
    model = harness.model(hold_first=True)
    holder = hold_worker(harness, scheduler, model)
    first = harness.submit(scheduler, KEY, rows(1.0, 2.0), model)
    wait_for_enqueued(scheduler, KEY, 1)
    second = harness.submit(scheduler, KEY, rows(7.0), model)
    wait_for_enqueued(scheduler, KEY, 2)
    model.release()

    assert holder.result(timeout=WAIT)["y"].tolist() == [200.0]
    assert first.result(timeout=WAIT)["y"].tolist() == [2.0, 4.0]
    assert second.result(timeout=WAIT)["y"].tolist() == [14.0]
    # 1 row -> 2, padded with that row; 3 rows -> 4, padded with the first
    # row of the last task.
    assert model.batches[0]["x"].tolist() == [100.0, 100.0]
    assert model.batches[1]["x"].tolist() == [1.0, 2.0, 7.0, 7.0]
    assert [report[:3] for report in reports] == [(KEY, 1, 2), (KEY, 3, 4)]
    assert [len(report[3]) for report in reports] == [1, 2]
    assert all(0.0 <= latency < WAIT for report in reports for latency in report[3])


def test_variable_length_inputs_are_padded_with_each_tensors_first_element(harness):
    scheduler = harness.scheduler(
        parameters(max_batch_size=8, pad_variable_length_inputs=True, num_batch_threads=1)
    )
    model = harness.model(hold_first=True)
    hold_worker(harness, scheduler, model)
    short = harness.submit(scheduler, KEY, {"x": np.array([[5, 6], [7, 8]])}, model)
    wait_for_enqueued(scheduler, KEY, 1)
    long = harness.submit(scheduler, KEY, {"x": np.array([[1, 2, 3]])}, model)
    wait_for_enqueued(scheduler, KEY, 2)
    model.release()

    # Each row's output is 2 * its (padded) sum.
    assert short.result(timeout=WAIT)["y"].tolist() == [2 * (5 + 6 + 5), 2 * (7 + 8 + 5)]
    assert long.result(timeout=WAIT)["y"].tolist() == [2 * 6]
    assert model.batches[1]["x"].tolist() == [[5, 6, 5], [7, 8, 5], [1, 2, 3]]


def test_variable_length_padding_covers_every_inner_dimension(harness):
    scheduler = harness.scheduler(
        parameters(max_batch_size=8, pad_variable_length_inputs=True, num_batch_threads=1)
    )
    model = harness.model(hold_first=True)
    hold_worker(harness, scheduler, model)
    small = harness.submit(scheduler, KEY, {"x": np.full((1, 1, 2), 9.0)}, model)
    wait_for_enqueued(scheduler, KEY, 1)
    large = harness.submit(scheduler, KEY, {"x": np.zeros((1, 3, 1))}, model)
    wait_for_enqueued(scheduler, KEY, 2)
    model.release()

    small.result(timeout=WAIT)
    large.result(timeout=WAIT)
    merged = model.batches[1]["x"]
    assert merged.shape == (2, 3, 2)
    assert np.all(merged[0] == 9.0)
    assert np.all(merged[1] == 0.0)


def test_unequal_inner_dimensions_without_padding_fail_the_whole_batch(harness):
    scheduler = harness.scheduler(parameters(max_batch_size=8, num_batch_threads=1))
    model = harness.model(hold_first=True)
    hold_worker(harness, scheduler, model)
    futures = [harness.submit(scheduler, KEY, {"x": np.ones((1, 2))}, model)]
    wait_for_enqueued(scheduler, KEY, 1)
    futures.append(harness.submit(scheduler, KEY, {"x": np.ones((1, 3))}, model))
    wait_for_enqueued(scheduler, KEY, 2)
    model.release()

    for future in futures:
        error = future.exception(timeout=WAIT)
        assert isinstance(error, ServingError)
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION
        assert error.message == (
            "Tensors with name 'x' from different tasks have different shapes and "
            "padding is turned off. Set pad_variable_length_inputs to true, or ensure "
            "that all tensors with the same name have equal dimensions starting with "
            "the first dim."
        )
    assert model.batch_sizes() == [1]  # The failing batch never reached the model.


def test_variable_length_padding_refuses_rank_above_6(harness):
    scheduler = harness.scheduler(
        parameters(pad_variable_length_inputs=True, num_batch_threads=1)
    )

    with pytest.raises(ServingError) as raised:
        harness.run(scheduler, KEY, {"x": np.ones((1,) * 7)}, harness.model())

    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.message == "Only tensors with rank from 1 to 6 can be padded."


# ----------------------------------------------------------- batch failures


def test_output_with_wrong_dim_0_fails_every_task_of_the_batch(harness):
    scheduler = harness.scheduler(parameters(max_batch_size=8, num_batch_threads=1))
    held = harness.model(hold_first=True)
    hold_worker(harness, scheduler, held)

    def one_row_too_many(inputs):
        return {"y": np.zeros(len(inputs["x"]) + 1)}

    futures = [harness.submit(scheduler, KEY, rows(1.0), one_row_too_many) for _ in range(2)]
    wait_for_enqueued(scheduler, KEY, 2)
    held.release()

    for future in futures:
        error = future.exception(timeout=WAIT)
        assert isinstance(error, ServingError)
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION
        assert error.message == (
            "Batched output tensor's 0th dimension does not equal the sum of the 0th "
            "dimension sizes of the input tensors"
        )


def test_scalar_output_fails_the_batch(harness):
    scheduler = harness.scheduler(parameters(num_batch_threads=1))

    with pytest.raises(ServingError) as raised:
        harness.run(scheduler, KEY, rows(1.0), lambda inputs: {"y": np.float32(0.0)})

    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.message == "Batched output tensor has 0 dimensions"


@pytest.mark.parametrize(
    "error",
    [
        ServingError(grpc.StatusCode.INVALID_ARGUMENT, "x must be positive"),
        ValueError("the model broke"),
    ],
    ids=["serving_error", "other_exception"],
)
def test_failing_run_fails_only_its_batch(harness, error):
    scheduler = harness.scheduler(parameters(max_batch_size=8, num_batch_threads=1))
    model = harness.model(
        hold_first=True, fail_when=lambda inputs: bool(np.any(inputs["x"] < 0)), error=error
    )
    holder = hold_worker(harness, scheduler, model)
    bad = harness.submit(scheduler, KEY, rows(-1.0), model)
    wait_for_enqueued(scheduler, KEY, 1)
    innocent = harness.submit(scheduler, KEY, rows(3.0), model)
    wait_for_enqueued(scheduler, KEY, 2)
    model.release()

    assert holder.result(timeout=WAIT)["y"].tolist() == [200.0]
    for future in (bad, innocent):
        raised = future.exception(timeout=WAIT)
        assert type(raised) is type(error)
        assert str(raised) == str(error)
        if isinstance(error, ServingError):
            assert raised.code == error.code
    # The scheduler keeps serving after the failed batch.
    assert harness.run(scheduler, KEY, rows(4.0), model)["y"].tolist() == [8.0]
    assert model.batch_sizes() == [1, 2, 1]


def test_failing_on_batch_callback_does_not_fail_requests(harness):
    def broken_metrics(*report):
        raise RuntimeError("metrics are down")

    scheduler = harness.scheduler(parameters(num_batch_threads=1), on_batch=broken_metrics)

    assert harness.run(scheduler, KEY, rows(2.0), harness.model())["y"].tolist() == [4.0]


# ------------------------------------------------------ large batch splitting


def test_large_batch_splitting_spreads_a_request_over_batches(harness):
    scheduler = harness.scheduler(
        parameters(
            max_batch_size=8,
            enable_large_batch_splitting=True,
            max_execution_batch_size=3,
            num_batch_threads=1,
        )
    )
    model = harness.model()

    result = harness.run(scheduler, KEY, rows(*range(7)), model)

    assert result["y"].tolist() == [2.0 * i for i in range(7)]
    assert model.batch_sizes() == [3, 3, 1]
    with pytest.raises(ServingError, match="Task size 9 is larger than maximum input"):
        harness.run(scheduler, KEY, rows(*range(9)), model)


# ----------------------------------------------------------------- shutdown


def test_close_runs_queued_tasks_and_stops_the_threads(harness):
    scheduler = harness.scheduler(
        parameters(
            max_batch_size=8,
            batch_timeout_micros=3_600_000_000,
            num_batch_threads=2,
            thread_pool_name="close_test_pool",
        )
    )
    model = harness.model()
    future = harness.submit(scheduler, KEY, rows(1.0, 2.0), model)
    wait_for_enqueued(scheduler, KEY, 1)
    # Neither full nor timed out: only close() can start this batch.
    assert model.batches == []

    scheduler.close(timeout=WAIT)

    assert future.result(timeout=WAIT)["y"].tolist() == [2.0, 4.0]
    assert model.batch_sizes() == [2]
    assert not [
        thread for thread in threading.enumerate() if thread.name.startswith("close_test_pool")
    ]
    with pytest.raises(ServingError) as raised:
        harness.run(scheduler, KEY, rows(1.0), model)
    assert raised.value.code == grpc.StatusCode.UNAVAILABLE


def test_close_waits_for_a_batch_in_flight(harness):
    scheduler = harness.scheduler(parameters(num_batch_threads=1))
    model = harness.model(hold_first=True)
    holder = hold_worker(harness, scheduler, model)
    closer = threading.Thread(target=scheduler.close, kwargs={"timeout": WAIT})
    closer.start()
    model.release()
    closer.join(WAIT)

    assert not closer.is_alive()
    assert holder.result(timeout=WAIT)["y"].tolist() == [200.0]


# ------------------------------------------------------------------ parsing


def test_parsing_a_file_fills_in_tf_servings_defaults(tmp_path):
    path = tmp_path / "batching.config"
    path.write_text(
        "max_batch_size { value: 128 }\n"
        "allowed_batch_sizes: 32\n"
        "allowed_batch_sizes: 64\n"
        "allowed_batch_sizes: 128\n"
        "pad_variable_length_inputs: true\n"
    )

    loaded = load_batching_parameters(str(path))

    assert loaded.DESCRIPTOR.full_name == "tensorflow.serving.BatchingParameters"
    assert isinstance(loaded, BatchingParameters)
    assert loaded.max_batch_size.value == 128
    assert list(loaded.allowed_batch_sizes) == [32, 64, 128]
    assert loaded.pad_variable_length_inputs
    assert loaded.batch_timeout_micros.value == 0
    assert loaded.max_enqueued_batches.value == 10
    assert loaded.num_batch_threads.value == len(os.sched_getaffinity(0))
    assert loaded.thread_pool_name.value == "batch_threads"
    assert not loaded.enable_large_batch_splitting.value
    assert loaded.max_execution_batch_size.value == 128


def test_the_message_has_tf_servings_field_numbers():
    fields = {field.name: field.number for field in BatchingParameters.DESCRIPTOR.fields}
    assert fields == {
        "max_batch_size": 1,
        "batch_timeout_micros": 2,
        "max_enqueued_batches": 3,
        "num_batch_threads": 4,
        "thread_pool_name": 5,
        "allowed_batch_sizes": 6,
        "pad_variable_length_inputs": 7,
        "enable_large_batch_splitting": 8,
        "max_execution_batch_size": 9,
    }


def test_no_file_gives_the_servers_defaults():
    loaded = load_batching_parameters(None)

    assert loaded.max_batch_size.value == 1000
    assert loaded.thread_pool_name.value == "model_server_batch_threads"


def test_zero_max_enqueued_batches_becomes_one():
    assert parameters(max_enqueued_batches=0).max_enqueued_batches.value == 1


def test_syntax_error_names_the_file_line_and_column(tmp_path):
    path = tmp_path / "batching.config"
    path.write_text("max_batch_size { value: 128 }\nbatch_timeout_micros { value: 1x }\n")

    with pytest.raises(ConfigError) as raised:
        load_batching_parameters(str(path))

    assert str(raised.value).startswith(f"{path}:2:31 : ")
    assert "Couldn't parse integer: 1x" in str(raised.value)


def test_unknown_field_names_the_file_and_field(tmp_path):
    path = tmp_path / "batching.config"
    path.write_text("max_batch_size { value: 128 }\nmax_batch_sizes { value: 1 }\n")

    with pytest.raises(ConfigError) as raised:
        load_batching_parameters(str(path))

    assert str(raised.value) == (
        f"{path}:2:1 : Message type "
        '"tensorflow.serving.BatchingParameters" has no field named "max_batch_sizes".'
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "max_batch_size { value: 128 }\nallowed_batch_sizes: 32\nallowed_batch_sizes: 64",
            "Last entry in allowed_batch_sizes must match max_batch_size; "
            "last entry was 64; expected 128",
        ),
        (
            "allowed_batch_sizes: 100",
            "Last entry in allowed_batch_sizes must match max_batch_size; "
            "last entry was 100; expected 1000",
        ),
        (
            "max_batch_size { value: 64 }\nallowed_batch_sizes: 32\n"
            "allowed_batch_sizes: 16\nallowed_batch_sizes: 64",
            "allowed_batch_sizes entries must be monotonically increasing",
        ),
        ("num_batch_threads { value: 0 }", "num_batch_threads must be positive; was 0"),
        ("max_batch_size { value: 0 }", "input_batch_size_limit must be positive; was 0"),
        (
            "batch_timeout_micros { value: -1 }",
            "batch_timeout_micros must be non-negative; was -1",
        ),
    ],
    ids=[
        "last_not_max",
        "last_not_default_max",
        "not_increasing",
        "no_threads",
        "zero_batch",
        "negative_timeout",
    ],
)
def test_refused_values_name_the_file_and_the_rule(tmp_path, text, message):
    path = tmp_path / "batching.config"
    path.write_text(text)

    with pytest.raises(ConfigError) as raised:
        load_batching_parameters(str(path))

    assert str(raised.value) == f"{path}: {message}"


def test_missing_file_is_not_found(tmp_path):
    path = tmp_path / "absent.config"

    with pytest.raises(ConfigError) as raised:
        load_batching_parameters(str(path))

    assert str(path) in str(raised.value)
    assert "no such batching parameters file" in str(raised.value)


def test_parsing_text_is_invalid_argument_naming_the_source():
    with pytest.raises(ServingError) as syntax:
        parse_batching_parameters(
            "max_batch_size { value: 128 }\nbatch_timeout_micros { value: 1x }", source="b.config"
        )
    with pytest.raises(ServingError) as refused:
        parse_batching_parameters("num_batch_threads { value: 0 }", source="b.config")

    assert syntax.value.code == refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert syntax.value.message.startswith("Invalid protobuf file: 'b.config': 2:31 : ")
    assert "Couldn't parse integer: 1x" in syntax.value.message
    assert refused.value.message == (
        "Invalid batching parameters in 'b.config': num_batch_threads must be positive; was 0"
    )


def test_scheduler_refuses_invalid_parameters():
    invalid = BatchingParameters()
    invalid.num_batch_threads.value = 0

    with pytest.raises(ServingError) as raised:
        BatchScheduler(invalid)

    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.message == "num_batch_threads must be positive; was 0"
