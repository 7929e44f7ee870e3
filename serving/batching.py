"""Server-side request batching, as TF Serving's `--enable_batching` does it.

Concurrent requests for one servable (model, version, signature) wait
briefly in a queue and are concatenated along dimension 0 into one model
call; each caller gets its own rows of the outputs back. Fewer, larger
model calls are where a TensorFlow model's throughput under many small
requests comes from.

`load_batching_parameters()` reads the `BatchingParameters` text proto of
`--batching_parameters_file` with TF Serving's defaults and checks;
`BatchScheduler` does what TF Serving's `SharedBatchScheduler` and
`BatchingSession` do: one queue per servable, one shared pool of worker
threads, merging, padding and splitting of batches, and the same errors.

The `tensorflow-serving-api` package does not ship `BatchingParameters`;
`serving/server_config.proto` defines it (`server_config_pb2.py`).
"""

import bisect
import collections
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Mapping

import grpc
import numpy as np
from google.protobuf import text_format

from serving.errors import ServingError
from serving.server_config_pb2 import BatchingParameters

_log = logging.getLogger(__name__)

# TF Serving's defaults for unset fields: `SharedBatchScheduler::Options` and
# `QueueOptions` in TensorFlow's shared_batch_scheduler.h.
DEFAULT_MAX_BATCH_SIZE = 1000
DEFAULT_BATCH_TIMEOUT_MICROS = 0
DEFAULT_MAX_ENQUEUED_BATCHES = 10
DEFAULT_THREAD_POOL_NAME = "batch_threads"
# What tensorflow_model_server names the pool when batching is enabled
# without a parameters file.
SERVER_THREAD_POOL_NAME = "model_server_batch_threads"



def _default_num_batch_threads():
    # TF uses port::MaxParallelism(): the CPUs this process may run on.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def resolve_batching_parameters(parameters):
    """Returns a copy of `parameters` with defaults filled in, once validated.

    Every wrapper field of the copy is set, so a reader can use `.value`
    without `HasField`: unset fields get TF Serving's defaults (see the
    module constants; `num_batch_threads` defaults to the CPUs this process
    may use, `max_execution_batch_size` to `max_batch_size`), and a
    `max_enqueued_batches` of 0 becomes 1 as TF Serving rewrites it.

    Args:
        parameters: A `BatchingParameters` message.

    Returns:
        A new `BatchingParameters` message.

    Raises:
        ValueError: With TF Serving's message, for a value TF Serving refuses.
    """
    resolved = BatchingParameters()
    resolved.CopyFrom(parameters)
    defaults = {
        "max_batch_size": DEFAULT_MAX_BATCH_SIZE,
        "batch_timeout_micros": DEFAULT_BATCH_TIMEOUT_MICROS,
        "max_enqueued_batches": DEFAULT_MAX_ENQUEUED_BATCHES,
        "num_batch_threads": _default_num_batch_threads(),
        "thread_pool_name": DEFAULT_THREAD_POOL_NAME,
        "enable_large_batch_splitting": False,
    }
    for name, value in defaults.items():
        if not resolved.HasField(name):
            getattr(resolved, name).value = value
    if not resolved.HasField("max_execution_batch_size"):
        resolved.max_execution_batch_size.value = resolved.max_batch_size.value

    max_batch_size = resolved.max_batch_size.value
    splitting = resolved.enable_large_batch_splitting.value
    if resolved.num_batch_threads.value < 1:
        raise ValueError(
            f"num_batch_threads must be positive; was {resolved.num_batch_threads.value}"
        )
    if max_batch_size < 1:
        raise ValueError(f"input_batch_size_limit must be positive; was {max_batch_size}")
    if resolved.batch_timeout_micros.value < 0:
        raise ValueError(
            "batch_timeout_micros must be non-negative; was "
            f"{resolved.batch_timeout_micros.value}"
        )
    # TF Serving turns 0 into 1 (older models rely on it) unless splitting
    # is on; a negative value would wrap around in its unsigned field.
    if resolved.max_enqueued_batches.value == 0 and not splitting:
        resolved.max_enqueued_batches.value = 1
    if resolved.max_enqueued_batches.value < 1:
        raise ValueError(
            "max_enqueued_batches must be positive; was "
            f"{resolved.max_enqueued_batches.value}"
        )
    if splitting:
        max_execution_batch_size = resolved.max_execution_batch_size.value
        if max_execution_batch_size < 1 or max_execution_batch_size > max_batch_size:
            raise ValueError(
                "When enable_large_batch_splitting is true, input_batch_size_limit "
                "must be greater than or equal to max_execution_batch_size; "
                f"input_batch_size_limit was {max_batch_size}, "
                f"max_execution_batch_size was {max_execution_batch_size}"
            )

    allowed = list(resolved.allowed_batch_sizes)
    if allowed:
        # TF Serving's server path checks only the last entry; the increasing
        # order is checked as TensorFlow's batch ops do, since padding rounds
        # up to the first entry that is large enough.
        if any(size < 1 for size in allowed) or any(
            later <= earlier for earlier, later in zip(allowed, allowed[1:])
        ):
            raise ValueError("allowed_batch_sizes entries must be monotonically increasing")
        if allowed[-1] != max_batch_size:
            raise ValueError(
                "Last entry in allowed_batch_sizes must match max_batch_size; "
                f"last entry was {allowed[-1]}; expected {max_batch_size}"
            )
    return resolved


def parse_batching_parameters(text, source="<string>"):
    """Parses a `BatchingParameters` text proto and applies TF Serving's rules.

    Args:
        text: The ASCII text proto, e.g. `"max_batch_size { value: 32 }"`.
        source: Where the text came from, for error messages.

    Returns:
        A `BatchingParameters` message with every default filled in (see
        `resolve_batching_parameters`).

    Raises:
        ServingError: INVALID_ARGUMENT naming `source`, with text_format's
            `line:column` message for a syntax error or TF Serving's message
            for a refused value.
    """
    parameters = BatchingParameters()
    try:
        text_format.Parse(text, parameters)
    except text_format.ParseError as error:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT, f"Invalid protobuf file: '{source}': {error}"
        ) from error
    try:
        return resolve_batching_parameters(parameters)
    except ValueError as error:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Invalid batching parameters in '{source}': {error}",
        ) from error


def load_batching_parameters(path=None):
    """Reads the file `--batching_parameters_file` names.

    Args:
        path: Path of an ASCII `BatchingParameters` file. Empty or `None`
            gives what `tensorflow_model_server --enable_batching` uses
            without a file: every default, with the thread pool named
            `model_server_batch_threads`.

    Returns:
        A `BatchingParameters` message with every default filled in.

    Raises:
        ServingError: NOT_FOUND for a missing file; INVALID_ARGUMENT for one
            that cannot be read or parsed or holds refused values. The
            message names the file.
    """
    if not path:
        parameters = BatchingParameters()
        parameters.thread_pool_name.value = SERVER_THREAD_POOL_NAME
        return resolve_batching_parameters(parameters)
    try:
        with open(path, "rb") as file:
            text = file.read().decode("utf-8")
    except FileNotFoundError as error:
        raise ServingError(
            grpc.StatusCode.NOT_FOUND,
            f"Batching parameters file '{path}' not found: {error.strerror}",
        ) from error
    except OSError as error:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Cannot read batching parameters file '{path}': {error.strerror}",
        ) from error
    except UnicodeDecodeError as error:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Invalid protobuf file: '{path}': not UTF-8 text ({error.reason} at byte "
            f"{error.start})",
        ) from error
    return parse_batching_parameters(text, source=path)


def _invalid_argument(message):
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _failed_precondition(message):
    return ServingError(grpc.StatusCode.FAILED_PRECONDITION, message)


def _request_batch_size(inputs):
    """Checks one request's inputs and returns their common dimension 0."""
    if not inputs:
        raise _invalid_argument("Batching Run() must have at least one input tensor")
    size = None
    for array in inputs.values():
        if array.ndim == 0:
            raise _invalid_argument(
                "Batching Run() input tensors must have at least one dimension"
            )
        if size is None:
            size = array.shape[0]
        elif array.shape[0] != size:
            raise _invalid_argument(
                "Batching Run() input tensors must have equal 0th-dimension size"
            )
    return size


class _Request:
    """One `run()` call: its inputs, and the results of its pieces.

    A request is one piece, or several when large batch splitting cuts it
    across batches; the caller wakes once every piece is done.
    """

    def __init__(self, inputs, run_batch):
        self.inputs = inputs
        self.run_batch = run_batch
        self.future = concurrent.futures.Future()
        # Running from the start, so that it cannot be cancelled: a caller
        # that gives up (an event loop cancelling its wrapper when a client
        # leaves) must not make setting its result fail the batch's others.
        self.future.set_running_or_notify_cancel()
        self.piece_outputs = []
        self.error = None
        self._pending = 0
        self._lock = threading.Lock()

    def expect_pieces(self, count):
        self.piece_outputs = [None] * count
        self._pending = count

    def finish_piece(self, index, outputs=None, error=None):
        with self._lock:
            if error is not None:
                # Keep the first failure: a request fails once.
                if self.error is None:
                    self.error = error
            else:
                self.piece_outputs[index] = outputs
            self._pending -= 1
            if self._pending:
                return
        if self.error is not None:
            error = self.error
            if isinstance(error, ServingError):
                # A fresh error per request, so that the callers of one
                # failed batch do not share (and extend) one traceback.
                error = ServingError(error.code, error.message)
                error.__cause__ = self.error
            self.future.set_exception(error)
            return
        pieces = self.piece_outputs
        if len(pieces) == 1:
            self.future.set_result(pieces[0])
        else:
            self.future.set_result(
                {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]})


class _Task:
    """Rows `[start, start + size)` of a request, placed in one batch."""

    __slots__ = ("request", "piece", "start", "size", "enqueue_time")

    def __init__(self, request, piece, start, size, enqueue_time):
        self.request = request
        self.piece = piece
        self.start = start
        self.size = size
        self.enqueue_time = enqueue_time

    def input(self, name):
        array = self.request.inputs[name]
        if self.start == 0 and self.size == array.shape[0]:
            return array
        return array[self.start : self.start + self.size]


class _Batch:
    __slots__ = ("tasks", "size")

    def __init__(self):
        self.tasks = []
        self.size = 0

    def add(self, task):
        self.tasks.append(task)
        self.size += task.size


class _Queue:
    """The batches waiting for one servable; the last one is still open."""

    def __init__(self, key):
        self.key = key
        self.batches = collections.deque([_Batch()])
        # When the open batch got its first task; valid while it has one.
        self.open_batch_start = 0.0
        # Batches taken by a worker and not finished yet.
        self.in_flight = 0

    def is_empty(self):
        return self.in_flight == 0 and len(self.batches) == 1 and not self.batches[0].tasks

    def num_enqueued_tasks(self):
        return sum(len(batch.tasks) for batch in self.batches)


class BatchScheduler:
    """Merges concurrent requests per servable into batched model calls.

    Each servable key gets its own queue of batches; all queues share one
    pool of `num_batch_threads` worker threads, which take batches from the
    queues in turn. A request joins the open batch of its queue if it fits
    within `max_batch_size` rows, else it closes that batch and opens a new
    one (refused when the queue already holds `max_enqueued_batches`
    batches). A batch is run when a worker is free and the batch is full,
    or closed, or its first task has waited `batch_timeout_micros`, or no
    other batch of its queue is running (unlike TF Serving, which always
    waits out the timeout: a request that finds its queue idle runs at once,
    and batches form from the requests that arrive while one runs).

    Running a batch concatenates the tasks' inputs along dimension 0
    (padding them first as `pad_variable_length_inputs` and
    `allowed_batch_sizes` ask), calls the model once, checks that every
    output has one row per input row, and hands each task its rows.

    Failures that concern one request (no inputs, a rank-0 input, unequal
    dimension 0, more rows than `max_batch_size`, a full queue) are raised
    by `run()` at once. Failures that concern a batch (inputs that cannot be
    merged, an exception from the model, outputs of the wrong size) fail
    every request in that batch with the same error, as TF Serving does;
    other batches are unaffected.

    The resolved parameters (every default filled in) are available as
    `scheduler.parameters`.

    Example:

    ```python
    scheduler = BatchScheduler(load_batching_parameters("batching.config"))
    outputs = scheduler.run(
        ("sarcasm_lstm", 1, "serving_default"),
        {"text": np.array([b"a headline"], dtype=object)},
        lambda batch: {"score": model(**batch).numpy()},
    )
    scheduler.close()
    ```

    Args:
        parameters: A `BatchingParameters` message, e.g. from
            `load_batching_parameters()`. Unset fields get TF Serving's
            defaults.
        on_batch: Optional callable for metrics, called once for every batch
            a worker takes off a queue, before its inputs are merged and the
            model runs, as `on_batch(key, input_batch_size,
            processed_batch_size, queuing_latencies)`: the batch's servable
            key as given to `run()`; the sum of its tasks' rows; the rows
            the model is given, after padding up to an allowed batch size
            (so padding is `processed_batch_size - input_batch_size`); and
            a list with one float per task, the seconds from the task
            entering the queue to a worker taking its batch. With large
            batch splitting a task is one piece of a request. It is called
            from the worker threads, possibly concurrently; exceptions from
            it are logged and otherwise ignored.
        run_idle_queues: Whether a batch whose queue has no batch running
            starts at once (the server's choice; see above) rather than
            waiting for its timeout or to fill, as TF Serving's does.

    Raises:
        ServingError: INVALID_ARGUMENT if `parameters` holds a value TF
            Serving refuses.
    """

    def __init__(self, parameters, on_batch=None, run_idle_queues=True):
        try:
            parameters = resolve_batching_parameters(parameters)
        except ValueError as error:
            raise _invalid_argument(str(error)) from error
        self.parameters = parameters
        self._max_batch_size = parameters.max_batch_size.value
        self._split_large_batches = parameters.enable_large_batch_splitting.value
        # Without splitting, TF Serving's batches are bounded by the input
        # limit itself.
        self._max_execution_batch_size = (
            parameters.max_execution_batch_size.value
            if self._split_large_batches
            else self._max_batch_size
        )
        self._batch_timeout = parameters.batch_timeout_micros.value / 1e6
        self._max_enqueued_batches = parameters.max_enqueued_batches.value
        self._allowed_batch_sizes = list(parameters.allowed_batch_sizes)
        self._pad_variable_length_inputs = parameters.pad_variable_length_inputs
        self._on_batch = on_batch
        self._run_idle_queues = run_idle_queues

        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)
        # Queues by (key, input names): requests with different input names
        # cannot be concatenated, so like TF Serving (which keys its queues
        # on the tensor signature) they are never put in one batch.
        self._queues = {}
        self._next_queue = 0
        self._closed = False
        self._threads = [
            threading.Thread(
                target=self._work,
                name=f"{parameters.thread_pool_name.value}_{index}",
                daemon=True,
            )
            for index in range(parameters.num_batch_threads.value)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, key, inputs, run_batch):
        """Runs one request as part of a batch and returns its outputs.

        Blocks the calling thread until the batch holding this request has
        run: `submit(key, inputs, run_batch).result()`.
        """
        return self.submit(key, inputs, run_batch).result()

    def submit(self, key, inputs, run_batch):
        """Queues one request for a batch; returns a Future of its outputs.

        Callers that must not block a thread per request (an event loop)
        wait on the Future instead; `run()` is the blocking form.

        Args:
            key: The servable the request is for, e.g. `(model_name,
                version, signature_name)`. Only requests with equal keys
                (and the same input names) are batched together.
            inputs: Dict of input name to array. Every array has rank >= 1
                and the same dimension 0, the request's number of rows.
            run_batch: Callable that runs the model once on a dict of
                batched inputs (the same names, rows concatenated) and
                returns a dict of output name to array-like, each with one
                row per input row. A batch runs with the `run_batch` of its
                first request; requests with one key should pass the same
                model.

        Returns:
            A `concurrent.futures.Future` of the dict of output name to
            numpy array: this request's rows of each output, padding rows
            removed. Its exception is the batch's failure (see the class
            docstring), or whatever `run_batch` raised.

        Raises:
            ServingError: INVALID_ARGUMENT for a malformed request or one
                larger than `max_batch_size`; UNAVAILABLE when the queue is
                full or the scheduler is closed.
        """
        inputs = {name: np.asarray(value) for name, value in inputs.items()}
        size = _request_batch_size(inputs)
        if size > self._max_batch_size:
            raise _invalid_argument(
                f"Task size {size} is larger than maximum input batch size "
                f"{self._max_batch_size}"
            )
        request = _Request(inputs, run_batch)
        with self._lock:
            if self._closed:
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE, "The batch scheduler has been closed"
                )
            queue_key = (key, tuple(sorted(inputs)))
            queue = self._queues.get(queue_key)
            if queue is None:
                queue = self._queues[queue_key] = _Queue(key)
            self._enqueue_locked(queue, request, size)
            self._work_ready.notify()
        return request.future

    def num_enqueued_tasks(self, key):
        """Returns how many tasks of `key` wait in a queue, not yet running."""
        with self._lock:
            return sum(
                queue.num_enqueued_tasks()
                for (queue_key, _), queue in self._queues.items()
                if queue_key == key
            )

    def close(self, timeout=None):
        """Runs every queued task, then stops the worker threads.

        Batches still open run at once, without waiting for their timeout.
        Callers blocked in `run()` get their results; later `run()` calls
        fail with UNAVAILABLE. Calling `close()` again is harmless.

        Args:
            timeout: Seconds to wait for each worker thread, or `None` to
                wait until all have finished.
        """
        with self._lock:
            self._closed = True
            self._work_ready.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _enqueue_locked(self, queue, request, size):
        """Adds `request` to `queue` in one or more pieces, or refuses it."""
        limit = self._max_execution_batch_size
        open_batch = queue.batches[-1]
        if self._split_large_batches:
            capacity = (self._max_enqueued_batches - len(queue.batches)) * limit + (
                limit - open_batch.size
            )
            if size > capacity:
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE,
                    "The batch scheduling queue to which this task was submitted is "
                    f"full; task size is {size} but scheduling capacity is only "
                    f"{capacity} (num_enqueued_batches={len(queue.batches)}, "
                    f"max_enqueued_batches={self._max_enqueued_batches}, "
                    f"open_batch_size={open_batch.size}, "
                    f"max_execution_batch_size={limit})",
                )
            room = limit - open_batch.size
            if size <= room:
                piece_sizes = [size]
            else:
                # Fill the open batch, then whole batches, then the rest.
                piece_sizes = [room] if room > 0 else []
                remaining = size - room
                piece_sizes += [limit] * (remaining // limit)
                if remaining % limit:
                    piece_sizes.append(remaining % limit)
        else:
            if (
                open_batch.size + size > limit
                and len(queue.batches) >= self._max_enqueued_batches
            ):
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE,
                    "The batch scheduling queue to which this task was submitted is "
                    f"full; currently {len(queue.batches)} batches enqueued and "
                    f"max_enqueued_batches is {self._max_enqueued_batches}",
                )
            piece_sizes = [size]

        request.expect_pieces(len(piece_sizes))
        now = time.monotonic()
        start = 0
        for piece, piece_size in enumerate(piece_sizes):
            if queue.batches[-1].size + piece_size > limit:
                queue.batches.append(_Batch())
            if not queue.batches[-1].tasks:
                queue.open_batch_start = now
            queue.batches[-1].add(_Task(request, piece, start, piece_size, now))
            start += piece_size

    def _take_batch_locked(self):
        """Returns `(queue, batch)` for the next batch to run, or `None`.

        Looks at the queues in turn, starting after the queue served last,
        so that a busy servable cannot starve the others.
        """
        now = time.monotonic()
        queues = list(self._queues.values())
        for offset in range(len(queues)):
            index = (self._next_queue + offset) % len(queues)
            queue = queues[index]
            batches = queue.batches
            if len(batches) == 1:
                open_batch = batches[0]
                # A batch of zero-row tasks counts as ready too (TF would
                # leave it waiting for another request). So does one whose
                # queue is idle (no batch of it running): waiting out the
                # timeout there only delays it, since nothing else is
                # running that requests could pile up behind.
                if not open_batch.tasks or not (
                    self._closed
                    or (self._run_idle_queues and queue.in_flight == 0)
                    or open_batch.size >= self._max_execution_batch_size
                    or now >= queue.open_batch_start + self._batch_timeout
                ):
                    continue
                batches.append(_Batch())
            self._next_queue = index + 1
            queue.in_flight += 1
            return queue, batches.popleft()
        # Nothing to run: forget queues with nothing left, e.g. of versions
        # that were unloaded.
        for queue_key, queue in list(self._queues.items()):
            if queue.is_empty():
                del self._queues[queue_key]
        return None

    def _seconds_to_next_timeout_locked(self):
        """How long an idle worker may sleep before a batch times out."""
        deadlines = [
            queue.open_batch_start + self._batch_timeout
            for queue in self._queues.values()
            if len(queue.batches) == 1 and queue.batches[0].tasks
        ]
        if not deadlines:
            return None  # Only a new request or close() can create work.
        return max(0.0, min(deadlines) - time.monotonic())

    def _work(self):
        """A worker thread: runs batches until the scheduler is closed and idle."""
        while True:
            with self._lock:
                while True:
                    taken = self._take_batch_locked()
                    if taken is not None:
                        break
                    if self._closed and not self._queues:
                        return
                    self._work_ready.wait(self._seconds_to_next_timeout_locked())
            queue, batch = taken
            try:
                self._run_batch(queue.key, batch)
            finally:
                with self._lock:
                    queue.in_flight -= 1
                    if self._closed:
                        # Idle workers may be waiting for this last batch.
                        self._work_ready.notify_all()

    def _processed_batch_size(self, input_batch_size):
        if input_batch_size == 0 or not self._allowed_batch_sizes:
            return input_batch_size
        index = bisect.bisect_left(self._allowed_batch_sizes, input_batch_size)
        if index == len(self._allowed_batch_sizes):
            # Not reachable once validated (no batch exceeds max_batch_size,
            # the last allowed size); TF would ignore the allowed sizes.
            return input_batch_size
        return self._allowed_batch_sizes[index]

    def _run_batch(self, key, batch):
        """Merges, runs and splits one batch; never raises."""
        dequeue_time = time.monotonic()
        tasks = batch.tasks
        processed_batch_size = self._processed_batch_size(batch.size)
        if self._on_batch is not None:
            try:
                self._on_batch(
                    key,
                    batch.size,
                    processed_batch_size,
                    [dequeue_time - task.enqueue_time for task in tasks],
                )
            except Exception:
                _log.exception("The on_batch callback failed; serving goes on.")
        try:
            merged = self._merge_inputs(tasks, processed_batch_size - batch.size)
            outputs = tasks[0].request.run_batch(merged)
            outputs = _check_outputs(outputs, processed_batch_size)
        except BaseException as error:  # Callers must never wait forever.
            for task in tasks:
                task.request.finish_piece(task.piece, error=error)
            return
        row = 0
        for task in tasks:
            task.request.finish_piece(
                task.piece,
                outputs={
                    name: output[row : row + task.size] for name, output in outputs.items()
                },
            )
            row += task.size

    def _merge_inputs(self, tasks, padding_rows):
        """Concatenates the tasks' inputs, adding `padding_rows` at the end."""
        merged = {}
        for name in tasks[0].request.inputs:
            parts = [task.input(name) for task in tasks]
            if self._pad_variable_length_inputs:
                parts = _pad_to_common_shape(parts)
            else:
                inner_shape = parts[0].shape[1:]
                if any(part.shape[1:] != inner_shape for part in parts[1:]):
                    raise _failed_precondition(
                        f"Tensors with name '{name}' from different tasks have different "
                        "shapes and padding is turned off. Set pad_variable_length_inputs "
                        "to true, or ensure that all tensors with the same name have "
                        "equal dimensions starting with the first dim."
                    )
            dtype = parts[0].dtype
            for part in parts[1:]:
                # Strings of different widths concatenate fine; any other
                # dtype change would be a silent cast.
                if part.dtype != dtype and not (
                    part.dtype.kind == dtype.kind and dtype.kind in "SU"
                ):
                    raise ServingError(
                        grpc.StatusCode.INTERNAL,
                        f"Tensor concat operation failed: input '{name}' has dtype "
                        f"{part.dtype} in one task and {dtype} in another",
                    )
            if padding_rows:
                # TF Serving repeats the first row of the last task, a row
                # known to be a valid input.
                source = next(part for part in reversed(parts) if part.shape[0])
                parts.append(np.repeat(source[:1], padding_rows, axis=0))
            merged[name] = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return merged


def _pad_to_common_shape(parts):
    """Pads every non-0 dimension of `parts` up to the largest among them.

    Each array is padded at the end of each dimension with its own first
    element, as TF Serving's `AddPadding` does; it supports ranks 1 to 6.
    """
    rank = parts[0].ndim
    if any(part.ndim != rank for part in parts):
        raise _failed_precondition(
            "Tensors with the same name have different ranks in different tasks and "
            "cannot be padded to one shape"
        )
    if not 1 <= rank <= 6:
        raise _invalid_argument("Only tensors with rank from 1 to 6 can be padded.")
    inner_shape = tuple(max(sizes) for sizes in zip(*(part.shape[1:] for part in parts)))
    padded = []
    for part in parts:
        if part.shape[1:] == inner_shape:
            padded.append(part)
        elif part.shape[0] == 0:
            padded.append(part.reshape((0,) + inner_shape))
        elif part.size == 0:
            raise _invalid_argument("Got empty tensor in batch of non-empty tensors.")
        else:
            grown = np.full((part.shape[0],) + inner_shape, part.flat[0], dtype=part.dtype)
            grown[tuple(slice(0, size) for size in part.shape)] = part
            padded.append(grown)
    return padded


def _check_outputs(outputs, processed_batch_size):
    """Converts a batch's outputs to arrays with one row per batched row."""
    if not isinstance(outputs, Mapping):
        raise ServingError(
            grpc.StatusCode.INTERNAL,
            "The batched model call must return a dict of output tensors; "
            f"it returned {type(outputs).__name__}",
        )
    checked = {}
    for name, value in outputs.items():
        array = np.asarray(value)
        if array.ndim == 0:
            raise _failed_precondition("Batched output tensor has 0 dimensions")
        if array.shape[0] != processed_batch_size:
            raise _failed_precondition(
                "Batched output tensor's 0th dimension does not equal the sum of the "
                "0th dimension sizes of the input tensors"
            )
        checked[name] = array
    return checked
