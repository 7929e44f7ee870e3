"""Server-side request batching, as TF Serving's `--enable_batching` does it.

`load_batching_parameters()` reads `--batching_parameters_file`, a `BatchingParameters`
text proto (`server_config.proto`), with TF Serving's defaults and checks;
`BatchScheduler` merges concurrent requests for one servable into one model call, as
TF Serving's `SharedBatchScheduler` and `BatchingSession` do.
"""

import bisect
import collections
import concurrent.futures
import dataclasses
import functools
import logging
import os
import threading
import time
from collections.abc import Mapping

import grpc
import numpy as np
from google.protobuf import text_format

from serving.config import ConfigError, read_text_proto
from serving.errors import ServingError
from serving.server_config_pb2 import BatchingParameters

_log = logging.getLogger(__name__)

# TF Serving's defaults for unset fields (TensorFlow's shared_batch_scheduler.h).
DEFAULTS = {"max_batch_size": 1000, "batch_timeout_micros": 0, "max_enqueued_batches": 10,
            "thread_pool_name": "batch_threads", "enable_large_batch_splitting": False}
SERVER_THREAD_POOL_NAME = "model_server_batch_threads"

_QUEUE_FULL = "The batch scheduling queue to which this task was submitted is full"
_invalid_argument = functools.partial(ServingError, grpc.StatusCode.INVALID_ARGUMENT)
_failed_precondition = functools.partial(ServingError, grpc.StatusCode.FAILED_PRECONDITION)
_unavailable = functools.partial(ServingError, grpc.StatusCode.UNAVAILABLE)
_internal = functools.partial(ServingError, grpc.StatusCode.INTERNAL)


def resolve_batching_parameters(parameters):
    """Returns a validated copy of `parameters` with every wrapper field set.

    Unset fields get `DEFAULTS` (`num_batch_threads`: the CPUs this process may
    use, as TF Serving's `port::MaxParallelism()`; `max_execution_batch_size`:
    `max_batch_size`), and without splitting a `max_enqueued_batches` of 0
    becomes 1, as in TF Serving (older models rely on it).

    Args:
        parameters: A `BatchingParameters` message.

    Returns:
        A new `BatchingParameters` message.

    Raises:
        ValueError: With TF Serving's message, for a value TF Serving refuses.
    """
    resolved = BatchingParameters()
    resolved.CopyFrom(parameters)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for name, value in {**DEFAULTS, "num_batch_threads": cpus or 1}.items():
        if not resolved.HasField(name):
            getattr(resolved, name).value = value
    if not resolved.HasField("max_execution_batch_size"):
        resolved.max_execution_batch_size.value = resolved.max_batch_size.value
    max_batch_size = resolved.max_batch_size.value
    splitting = resolved.enable_large_batch_splitting.value
    # A negative value is refused: it would wrap around in TF Serving's unsigned field.
    if resolved.max_enqueued_batches.value == 0 and not splitting:
        resolved.max_enqueued_batches.value = 1
    for name, value, minimum, rule in (
        ("num_batch_threads", resolved.num_batch_threads.value, 1, "positive"),
        ("input_batch_size_limit", max_batch_size, 1, "positive"),
        ("batch_timeout_micros", resolved.batch_timeout_micros.value, 0, "non-negative"),
        ("max_enqueued_batches", resolved.max_enqueued_batches.value, 1, "positive"),
    ):
        if value < minimum:
            raise ValueError(f"{name} must be {rule}; was {value}")
    max_execution_batch_size = resolved.max_execution_batch_size.value
    if splitting and not 1 <= max_execution_batch_size <= max_batch_size:
        raise ValueError(
            "When enable_large_batch_splitting is true, input_batch_size_limit must be greater "
            "than or equal to max_execution_batch_size; input_batch_size_limit was "
            f"{max_batch_size}, max_execution_batch_size was {max_execution_batch_size}")
    allowed = list(resolved.allowed_batch_sizes)
    # TF Serving's server checks only the last entry; TensorFlow's batch ops
    # also check the order, which padding up to the first large enough needs.
    if allowed and (allowed[0] < 1 or allowed != sorted(set(allowed))):
        raise ValueError("allowed_batch_sizes entries must be monotonically increasing")
    if allowed and allowed[-1] != max_batch_size:
        raise ValueError("Last entry in allowed_batch_sizes must match max_batch_size; "
                         f"last entry was {allowed[-1]}; expected {max_batch_size}")
    return resolved


def parse_batching_parameters(text, source="<string>"):
    """Parses a `BatchingParameters` text proto and resolves it.

    Args:
        text: The text proto, e.g. `"max_batch_size { value: 32 }"`.
        source: Where the text came from, for error messages.

    Returns:
        The message, resolved by `resolve_batching_parameters`.

    Raises:
        ServingError: INVALID_ARGUMENT naming `source`, with text_format's
            `line:column` message or TF Serving's message for a refused value.
    """
    parameters = BatchingParameters()
    try:
        text_format.Parse(text, parameters)
    except text_format.ParseError as error:
        raise _invalid_argument(f"Invalid protobuf file: '{source}': {error}") from error
    try:
        return resolve_batching_parameters(parameters)
    except ValueError as error:
        raise _invalid_argument(f"Invalid batching parameters in '{source}': {error}") from error


def load_batching_parameters(path=None):
    """Reads the file `--batching_parameters_file` names, and resolves it.

    Args:
        path: Path of a `BatchingParameters` text proto. Empty or `None` gives
            what `tensorflow_model_server --enable_batching` uses without a
            file: every default, with the pool named `SERVER_THREAD_POOL_NAME`.

    Returns:
        The message, resolved by `resolve_batching_parameters`.

    Raises:
        ConfigError: Naming the file: it is missing, unreadable or malformed
            (with the line), or holds a value TF Serving refuses (its message).
    """
    parameters = BatchingParameters()
    if path:
        read_text_proto(path, parameters, "batching parameters file")
    else:
        parameters.thread_pool_name.value = SERVER_THREAD_POOL_NAME
    try:
        return resolve_batching_parameters(parameters)
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from None


class _Request:
    """One `submit()` call, in `pieces` tasks (several with large batch splitting)."""

    def __init__(self, inputs, run_batch, pieces):
        self.inputs = inputs
        self.run_batch = run_batch
        self.future = concurrent.futures.Future()
        # Running, so not cancellable: a caller giving up (an event loop cancelling its
        # wrapper when a client leaves) must not make the batch's others fail.
        self.future.set_running_or_notify_cancel()
        self.piece_outputs = [None] * pieces
        self.error = None
        self._pending = pieces
        self._lock = threading.Lock()

    def finish_piece(self, index, outputs=None, error=None):
        with self._lock:
            if error is None:
                self.piece_outputs[index] = outputs
            elif self.error is None:  # A request fails once, with its first failure.
                self.error = error
            self._pending -= 1
            if self._pending:
                return
        pieces = self.piece_outputs
        if isinstance(self.error, ServingError):
            # A fresh error per request: the callers of a batch must not share one traceback.
            error = ServingError(self.error.code, self.error.message)
            error.__cause__ = self.error
            self.future.set_exception(error)
        elif self.error is not None:
            self.future.set_exception(self.error)
        elif len(pieces) == 1:
            self.future.set_result(pieces[0])
        else:
            self.future.set_result(
                {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]})


# Rows `[start, start + size)` of a request, placed in one batch.
_Task = collections.namedtuple("_Task", "request piece start size enqueue_time")


@dataclasses.dataclass(slots=True, eq=False)
class _Batch:
    tasks: list = dataclasses.field(default_factory=list)
    size: int = 0  # Rows: the sum of the tasks' sizes.


class _Queue:
    """The batches waiting for one servable; the last one is still open."""

    def __init__(self, key):
        self.key = key
        self.batches = collections.deque([_Batch()])
        self.in_flight = 0  # Batches taken by a worker and not finished yet.


class BatchScheduler:
    """Merges concurrent requests per servable into batched model calls.

    Each servable key has its own queue of batches, served in turn by one pool of
    `num_batch_threads` worker threads. A request joins its queue's open batch if
    it fits within `max_batch_size` rows, else opens a new one (refused when the
    queue holds `max_enqueued_batches`). A free worker runs a batch once it is
    full, or closed, or its first task has waited `batch_timeout_micros`: it
    concatenates the tasks' inputs (padded as `pad_variable_length_inputs` and
    `allowed_batch_sizes` ask), calls the model once and hands each task its rows
    of the outputs. As in TF Serving, a batch's failure fails all its requests.

    Args:
        parameters: A `BatchingParameters` message; unset fields get TF
            Serving's defaults. The resolved message is `self.parameters`.
        on_batch: Optional metrics callable, called (maybe concurrently) by a
            worker for each batch it takes, as `on_batch(key, input_batch_size,
            processed_batch_size, queuing_latencies)`: the rows before and after
            padding, and per task (a piece of a request, with splitting) the
            seconds it waited for a worker. Its exceptions are logged only.
        run_idle_queues: Whether a batch whose queue has none running runs at
            once, unlike TF Serving, which always waits out the timeout: a
            request that finds its queue idle runs at once, and batches form
            from the requests that arrive while one runs.

    Raises:
        ServingError: INVALID_ARGUMENT for a value TF Serving refuses.
    """

    def __init__(self, parameters, on_batch=None, run_idle_queues=True):
        try:
            parameters = resolve_batching_parameters(parameters)
        except ValueError as error:
            raise _invalid_argument(str(error)) from error
        self.parameters = parameters
        self._max_batch_size = parameters.max_batch_size.value
        self._split_large_batches = parameters.enable_large_batch_splitting.value
        # Without splitting, TF Serving bounds batches by the input limit.
        self._max_execution_batch_size = (parameters.max_execution_batch_size.value
                                          if self._split_large_batches else self._max_batch_size)
        self._batch_timeout = parameters.batch_timeout_micros.value / 1e6
        self._max_enqueued_batches = parameters.max_enqueued_batches.value
        self._on_batch = on_batch
        self._run_idle_queues = run_idle_queues
        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)
        self._queues = {}  # By (key, input names), as TF Serving keys them by tensor signature.
        self._next_queue = 0
        self._closed = False
        name = parameters.thread_pool_name.value
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{index}", daemon=True)
                         for index in range(parameters.num_batch_threads.value)]
        for thread in self._threads:
            thread.start()

    def submit(self, key, inputs, run_batch):
        """Queues one request for a batch; returns a Future of its outputs.

        Args:
            key: The servable, e.g. `(model_name, version, signature_name)`;
                only requests with equal keys and input names share batches.
            inputs: Dict of input name to array, all of rank >= 1 with one
                dimension 0 (the request's rows).
            run_batch: Runs the model once on a dict of batched inputs and
                returns a dict of output name to array-like, one row per input
                row. A batch runs with its first request's `run_batch`.

        Returns:
            A `concurrent.futures.Future` of this request's rows of each output
            (a dict of numpy arrays), or of its batch's failure.

        Raises:
            ServingError: INVALID_ARGUMENT for a malformed request or one over
                `max_batch_size`; UNAVAILABLE for a full queue or a closed scheduler.
        """
        inputs = {name: np.asarray(value) for name, value in inputs.items()}
        if not inputs:
            raise _invalid_argument("Batching Run() must have at least one input tensor")
        size = None  # The request's rows: its inputs' common dimension 0.
        for array in inputs.values():
            if array.ndim == 0:
                raise _invalid_argument(
                    "Batching Run() input tensors must have at least one dimension")
            if size is not None and array.shape[0] != size:
                raise _invalid_argument(
                    "Batching Run() input tensors must have equal 0th-dimension size")
            size = array.shape[0]
        if size > self._max_batch_size:
            raise _invalid_argument(
                f"Task size {size} is larger than maximum input batch size {self._max_batch_size}")
        with self._lock:
            if self._closed:
                raise _unavailable("The batch scheduler has been closed")
            queue_key = (key, tuple(sorted(inputs)))
            queue = self._queues.get(queue_key)
            if queue is None:
                queue = self._queues[queue_key] = _Queue(key)
            request = self._enqueue_locked(queue, inputs, run_batch, size)
            self._work_ready.notify()
        return request.future

    def num_enqueued_tasks(self, key):
        """Returns how many tasks of `key` wait in a queue, not yet running."""
        with self._lock:
            return sum(len(batch.tasks) for (queue_key, _), queue in self._queues.items()
                       if queue_key == key for batch in queue.batches)

    def close(self, timeout=None):
        """Runs every queued task at once, then stops the worker threads; closing again is harmless.

        Args:
            timeout: Seconds to wait for each worker thread; `None` waits for all.
        """
        with self._lock:
            self._closed = True
            self._work_ready.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _enqueue_locked(self, queue, inputs, run_batch, size):
        """Adds a `_Request` to `queue`, in pieces if it splits, and returns it."""
        limit = self._max_execution_batch_size
        open_batch = queue.batches[-1]
        piece_sizes = [size]
        if self._split_large_batches:
            room = limit - open_batch.size
            capacity = (self._max_enqueued_batches - len(queue.batches)) * limit + room
            if size > capacity:
                raise _unavailable(
                    f"{_QUEUE_FULL}; task size is {size} but scheduling capacity is only "
                    f"{capacity} (num_enqueued_batches={len(queue.batches)}, "
                    f"max_enqueued_batches={self._max_enqueued_batches}, "
                    f"open_batch_size={open_batch.size}, max_execution_batch_size={limit})")
            if size > room:  # Fill the open batch, then whole batches, then the rest.
                whole, rest = divmod(size - room, limit)
                piece_sizes = [room] * (room > 0) + [limit] * whole + [rest] * (rest > 0)
        elif open_batch.size + size > limit and len(queue.batches) >= self._max_enqueued_batches:
            raise _unavailable(f"{_QUEUE_FULL}; currently {len(queue.batches)} batches enqueued "
                               f"and max_enqueued_batches is {self._max_enqueued_batches}")
        request = _Request(inputs, run_batch, len(piece_sizes))
        now = time.monotonic()
        start = 0
        for piece, piece_size in enumerate(piece_sizes):
            if queue.batches[-1].size + piece_size > limit:
                queue.batches.append(_Batch())
            batch = queue.batches[-1]
            batch.tasks.append(_Task(request, piece, start, piece_size, now))
            batch.size += piece_size
            start += piece_size
        return request

    def _take_batch_locked(self):
        """Returns `(queue, batch)` to run next, or `None`, serving the queues in turn."""
        now = time.monotonic()
        queues = list(self._queues.values())
        for offset in range(len(queues)):
            index = (self._next_queue + offset) % len(queues)
            queue = queues[index]
            batches = queue.batches
            if len(batches) == 1:
                open_batch = batches[0]
                # Zero-row tasks count too (TF would leave them waiting for another request).
                ready = open_batch.tasks and (
                    self._closed or (self._run_idle_queues and queue.in_flight == 0)
                    or open_batch.size >= self._max_execution_batch_size
                    or now >= open_batch.tasks[0].enqueue_time + self._batch_timeout)
                if not ready:
                    continue
                batches.append(_Batch())
            self._next_queue = index + 1
            queue.in_flight += 1
            return queue, batches.popleft()
        return None

    def _sleep_seconds_locked(self):
        """Forgets idle queues (e.g. of unloaded versions) and returns how long an idle
        worker may sleep: until a batch times out, or (`None`) a request or `close()`."""
        deadlines = []
        for queue_key, queue in list(self._queues.items()):
            if len(queue.batches) == 1 and queue.batches[0].tasks:
                deadlines.append(queue.batches[0].tasks[0].enqueue_time + self._batch_timeout)
            elif queue.in_flight == 0 and len(queue.batches) == 1:
                del self._queues[queue_key]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _work(self):
        """A worker thread: runs batches until the scheduler is closed and idle."""
        while True:
            with self._lock:
                while (taken := self._take_batch_locked()) is None:
                    sleep_seconds = self._sleep_seconds_locked()
                    if self._closed and not self._queues:
                        return
                    self._work_ready.wait(sleep_seconds)
            queue, batch = taken
            try:
                self._run_batch(queue.key, batch)
            finally:
                with self._lock:
                    queue.in_flight -= 1
                    if self._closed:  # Idle workers may be waiting for this last batch.
                        self._work_ready.notify_all()

    def _run_batch(self, key, batch):
        """Merges, runs and splits one batch; never raises."""
        dequeue_time = time.monotonic()
        processed_batch_size = batch.size
        allowed = self.parameters.allowed_batch_sizes
        if batch.size and allowed:  # Rounded up; the last, max_batch_size, is never exceeded.
            processed_batch_size = allowed[bisect.bisect_left(allowed, batch.size)]
        if self._on_batch is not None:
            try:
                latencies = [dequeue_time - task.enqueue_time for task in batch.tasks]
                self._on_batch(key, batch.size, processed_batch_size, latencies)
            except Exception:
                _log.exception("The on_batch callback failed; serving goes on.")
        try:
            merged = self._merge_inputs(batch.tasks, processed_batch_size - batch.size)
            outputs = _check_outputs(batch.tasks[0].request.run_batch(merged), processed_batch_size)
        except BaseException as error:  # Callers must never wait forever.
            for task in batch.tasks:
                task.request.finish_piece(task.piece, error=error)
            return
        row = 0
        for task in batch.tasks:
            rows = {name: output[row : row + task.size] for name, output in outputs.items()}
            task.request.finish_piece(task.piece, outputs=rows)
            row += task.size

    def _merge_inputs(self, tasks, padding_rows):
        """Concatenates the tasks' inputs, adding `padding_rows` at the end."""
        merged = {}
        for name in tasks[0].request.inputs:
            parts = [task.request.inputs[name][task.start : task.start + task.size]
                     for task in tasks]
            if self.parameters.pad_variable_length_inputs:
                _pad_to_common_shape(parts)
            elif any(part.shape[1:] != parts[0].shape[1:] for part in parts[1:]):
                raise _failed_precondition(
                    f"Tensors with name '{name}' from different tasks have different shapes and "
                    "padding is turned off. Set pad_variable_length_inputs to true, or ensure "
                    "that all tensors with the same name have equal dimensions starting with "
                    "the first dim.")
            dtype = parts[0].dtype
            for part in parts[1:]:
                # Strings of any width concatenate; other dtype changes would cast silently.
                strings = part.dtype.kind == dtype.kind and dtype.kind in "SU"
                if part.dtype != dtype and not strings:
                    raise _internal(f"Tensor concat operation failed: input '{name}' has dtype "
                                    f"{part.dtype} in one task and {dtype} in another")
            if padding_rows:
                # TF Serving repeats the first row of the last task, a known valid input.
                source = next(part for part in reversed(parts) if part.shape[0])
                parts.append(np.repeat(source[:1], padding_rows, axis=0))
            merged[name] = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return merged


def _pad_to_common_shape(parts):
    """Pads the list `parts` (ranks 1 to 6) in place to one shape as TF Serving's `AddPadding`
    does: each at the end of each non-0 dimension, with its own first element."""
    rank = parts[0].ndim
    if any(part.ndim != rank for part in parts):
        raise _failed_precondition("Tensors with the same name have different ranks in "
                                   "different tasks and cannot be padded to one shape")
    if not 1 <= rank <= 6:
        raise _invalid_argument("Only tensors with rank from 1 to 6 can be padded.")
    inner_shape = tuple(max(sizes) for sizes in zip(*(part.shape[1:] for part in parts)))
    for index, part in enumerate(parts):
        if part.shape[1:] == inner_shape:
            continue
        if part.shape[0] == 0:
            parts[index] = part.reshape((0,) + inner_shape)
        elif part.size == 0:
            raise _invalid_argument("Got empty tensor in batch of non-empty tensors.")
        else:
            parts[index] = np.full((part.shape[0],) + inner_shape, part.flat[0], dtype=part.dtype)
            parts[index][tuple(slice(0, size) for size in part.shape)] = part


def _check_outputs(outputs, processed_batch_size):
    """Converts a batch's outputs to arrays with one row per batched row."""
    if not isinstance(outputs, Mapping):
        raise _internal("The batched model call must return a dict of output tensors; it "
                        f"returned {type(outputs).__name__}")
    checked = {}
    for name, value in outputs.items():
        array = np.asarray(value)
        if array.ndim == 0:
            raise _failed_precondition("Batched output tensor has 0 dimensions")
        if array.shape[0] != processed_batch_size:
            raise _failed_precondition("Batched output tensor's 0th dimension does not equal the "
                                       "sum of the 0th dimension sizes of the input tensors")
        checked[name] = array
    return checked
