"""Model management: versions on disk, policies, loading, labels, status.

What TF Serving's AspiredVersionsManager and file-system source do, in
one class:

* Each configured model's base path is scanned for numeric version
  directories (`00042` is version 42; other names are ignored). The
  version policy picks the aspired ones: `latest { num_versions: N }`
  (default 1), `all {}`, or `specific { versions: ... }`.
* An aspired version is loaded (states START -> LOADING -> AVAILABLE),
  its warmup requests replayed before it becomes AVAILABLE. A failed
  attempt is retried `--max_num_load_retries` times, each after
  `--load_retry_interval_micros`; meanwhile the version stays LOADING
  and its status says which attempt failed and when the next one runs.
  The retries are timers, not sleeps: the other models and versions load
  in the meantime. A load whose last attempt fails ends in state END with
  the error, and the versions already serving keep serving.
* A version that is no longer aspired is unloaded only once an aspired
  version is AVAILABLE (availability first), and only after the requests
  it is running finish (UNLOADING -> END).
* Unloaded and failed versions stay listed in the status with END, as
  TF Serving never forgets them.
* `set_config` replaces the model set: new models are loaded, removed
  models unloaded. Polling rescans the base paths every
  `--file_system_poll_wait_seconds`.
"""

import contextlib
import logging
import pathlib
import threading

from tensorflow_serving.apis import get_model_status_pb2

from serving.config import ConfigError, check_config
from serving.errors import ServingError, invalid_argument, not_found
from serving.servable import Servable, status_of

State = get_model_status_pb2.ModelVersionStatus.State
AVAILABLE = State.AVAILABLE  # read on every request: the enum wrapper's lookup is slow
log = logging.getLogger("serving")


class LoadOptions:
    """How versions are loaded (the server's flags).

    `max_load_retries` failed attempts are retried (0: one attempt only),
    each `load_retry_interval_seconds` after the failure.
    """

    def __init__(
        self,
        tags=("serve",),
        enable_warmup=True,
        warmup_iterations=1,
        check_method_names=False,
        max_load_retries=5,
        load_retry_interval_seconds=60.0,
        allow_labels_for_unavailable=False,
        session_config=None,
    ):
        self.tags = tuple(tags)
        self.enable_warmup = enable_warmup
        self.warmup_iterations = warmup_iterations
        self.check_method_names = check_method_names
        self.max_load_retries = max_load_retries
        self.load_retry_interval_seconds = load_retry_interval_seconds
        self.allow_labels_for_unavailable = allow_labels_for_unavailable
        self.session_config = session_config


class Version:
    """One version of a model: its state, error, servable and requests in flight.

    `error` is what the status reports; `load_error` is the last attempt's
    own error, `failed_attempts` how many attempts failed, and `retry` the
    timer of the pending retry (None when none is pending).
    """

    def __init__(self, number, path):
        self.number = number
        self.path = path
        self.state = State.START
        self.error = None
        self.load_error = None
        self.failed_attempts = 0
        self.retry = None
        self.servable = None
        self.in_flight = 0
        self.idle = threading.Condition()

    def status_proto(self):
        status = get_model_status_pb2.ModelVersionStatus(version=self.number, state=self.state)
        status.status.SetInParent()  # TF Serving always reports it, OK included
        if self.error is not None:
            status.status.error_code = self.error.code.value[0]
            status.status.error_message = self.error.message
        return status


class Model:
    """A configured model and the versions seen for it."""

    def __init__(self, config):
        self.config = config
        self.versions = {}  # number -> Version
        self.labels = {}  # label -> version number

    @property
    def name(self):
        return self.config.name

    def available(self):
        return sorted(n for n, v in self.versions.items() if v.state == AVAILABLE)


def versions_on_disk(base_path):
    """Version number -> directory under `base_path`; raises OSError if unreadable."""
    found = {}
    for child in pathlib.Path(base_path).iterdir():
        if child.is_dir() and child.name.isdigit():
            # A duplicate spelling (7 and 007): the later one wins, as in TF Serving.
            found[int(child.name)] = child
    return found


def aspired(policy, numbers):
    """The version numbers the policy wants, from those on disk."""
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return set(numbers)
    if choice == "specific":
        return set(numbers) & set(policy.specific.versions)
    count = policy.latest.num_versions if choice == "latest" else 1
    return set(sorted(numbers)[-max(count, 1):])


class ModelManager:
    """Loads, serves and unloads the configured models' versions.

    Args:
        options: A `LoadOptions`.
        load: Builds a servable from a version directory (a test seam;
            default `Servable`).
    """

    def __init__(self, options=None, load=None):
        self.options = options or LoadOptions()
        self._load = load or (
            lambda path: Servable(path, self.options.tags, self.options.session_config)
        )
        self._models = {}  # name -> Model
        self._retired = {}  # name -> Model removed from the config (status only)
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()  # one scan at a time
        self._stopping = threading.Event()
        self._poller = None

    # --- Configuration -----------------------------------------------------

    def set_config(self, config):
        """Serves exactly the models of `config`; returns once they are scanned.

        New models are loaded, removed ones unloaded, changed version
        policies applied. Version labels are checked after loading. A
        version whose first attempt failed is LOADING on return, its
        retries pending on a timer.

        Raises:
            ConfigError: The config is invalid (TF Serving's message); the
                current model set is left as it was.
        """
        check_config(config)
        wanted = {m.name: m for m in config.model_config_list.config}
        with self._lock:
            for name, model in self._models.items():
                if name in wanted and (model.config.model_platform or "tensorflow") != (
                    wanted[name].model_platform or "tensorflow"
                ):
                    raise ConfigError(f"Illegal to change a model's platform. For model {name}")
            removed = [m for n, m in self._models.items() if n not in wanted]
            for name, model_config in wanted.items():
                model = self._models.get(name) or self._retired.pop(name, None)
                if model is None:
                    model = Model(model_config)
                model.config = model_config
                self._models[name] = model
            for model in removed:
                del self._models[model.name]
                self._retired[model.name] = model
        for model in removed:
            for version in list(model.versions.values()):
                self._unload(model, version)
        self.poll()
        self._apply_labels(wanted)

    def _apply_labels(self, wanted):
        with self._lock:
            for name, model_config in wanted.items():
                model = self._models[name]
                labels = dict(model_config.version_labels)
                for label, number in labels.items():
                    version = model.versions.get(number)
                    if not self.options.allow_labels_for_unavailable and (
                        version is None or version.state != AVAILABLE
                    ):
                        raise ConfigError(
                            f"Request to assign label to version {number} of model {name}, "
                            "which is not currently available for inference"
                        )
                model.labels = labels

    # --- Polling and loading ----------------------------------------------

    def start_polling(self, seconds):
        """Rescans the base paths every `seconds` (> 0) in a daemon thread."""
        if seconds <= 0:
            return

        def loop():
            while not self._stopping.wait(seconds):
                try:
                    self.poll()
                except Exception:  # never let a bad scan stop polling
                    log.exception("version polling failed")

        self._poller = threading.Thread(target=loop, name="version-poller", daemon=True)
        self._poller.start()

    def poll(self):
        """One scan of every model: load what is aspired, then unload the rest."""
        with self._poll_lock:
            with self._lock:
                models = list(self._models.values())
            for model in models:
                if self._stopping.is_set():
                    break  # closing: do not start loads that close() would undo
                self._poll_model(model)

    def _poll_model(self, model):
        base = model.config.base_path
        try:
            on_disk = versions_on_disk(base)
        except OSError as error:
            log.error("Could not find base path %s for servable %s with error %s",
                      base, model.name, error)
            on_disk = None
        if on_disk is not None and not on_disk:
            log.warning(
                "No versions of servable %s found under base path %s. Did you forget to "
                "name your leaf directory as a number (eg. '/1/')?", model.name, base)
        if on_disk is None:
            return  # unreadable: keep what is serving, try again next poll
        wanted = aspired(model.config.model_version_policy, on_disk)
        for number in sorted(wanted, reverse=True):
            version = model.versions.get(number)
            if version is None or (version.state == State.END and version.error is None):
                version = Version(number, on_disk[number])
                with self._lock:
                    model.versions[number] = version
                self._load_version(model, version)
        # A version gone from disk or from the policy is not worth retrying.
        for number, version in list(model.versions.items()):
            if number not in wanted and version.state == State.LOADING:
                self._unload(model, version)
        # Availability first: drop the others only once an aspired one serves,
        # or when nothing is aspired any more.
        serving_aspired = any(
            model.versions[n].state == AVAILABLE for n in wanted if n in model.versions
        )
        if serving_aspired or not wanted:
            for number, version in list(model.versions.items()):
                if number not in wanted and version.state == AVAILABLE:
                    self._unload(model, version)

    def _load_version(self, model, version):
        """One attempt at loading `version`, warmup included (under the poll lock).

        A failure schedules the next attempt (`_load_failed`); a success
        makes the version AVAILABLE unless it was cancelled meanwhile.
        """
        with self._lock:
            if version.state not in (State.START, State.LOADING):
                return  # cancelled before this attempt began
            version.state = State.LOADING
        try:
            servable = self._load(version.path)
            if self.options.enable_warmup:
                try:
                    servable.warmup(self.options.warmup_iterations,
                                    self.options.check_method_names)
                except Exception:
                    servable.close()
                    raise
        except Exception as error:
            self._load_failed(model, version, status_of(error))
            return
        with self._lock:
            # Removing the model unloads it without the poll lock: it may have
            # cancelled this version while it loaded.
            cancelled = version.state != State.LOADING
            if not cancelled:
                version.servable, version.error, version.state = servable, None, AVAILABLE
        if cancelled:
            servable.close()
            return
        log.info("Successfully loaded servable version {name: %s version: %d}",
                 model.name, version.number)

    def _attempts(self):
        """How many attempts a version gets: the first and its retries."""
        return 1 + max(0, self.options.max_load_retries)

    def _load_failed(self, model, version, error):
        """Records a failed attempt: LOADING with a retry timer, or END after the last one."""
        attempts = self._attempts()
        wait = self.options.load_retry_interval_seconds
        with self._lock:
            version.load_error = error
            version.failed_attempts += 1
            if version.state != State.LOADING:
                return  # cancelled while it loaded: END already
            if version.failed_attempts < attempts:
                message = (f"Loading failed (attempt {version.failed_attempts} of {attempts}); "
                           f"retrying in {wait:g} s: {error.message}")
                version.retry = threading.Timer(wait, self._retry, (model, version))
                version.retry.name = f"load-retry-{model.name}-{version.number}"
                version.retry.daemon = True
                version.retry.start()
            else:
                # With no retries the error is the load's own, as in TF Serving.
                message = error.message if attempts == 1 else (
                    f"Loading failed after {attempts} attempts: {error.message}")
                version.state = State.END
            version.error = ServingError(error.code, message)
        log.error("Loading servable: {name: %s version: %d} failed: %s",
                  model.name, version.number, message)

    def _retry(self, model, version):
        """A retry is due (on its timer's thread): the next attempt, then a rescan."""
        with self._poll_lock:  # loads never overlap
            with self._lock:
                if self._stopping.is_set() or version.retry is None:
                    return  # cancelled while this timer waited for the lock
                version.retry = None
            self._load_version(model, version)
            if version.state == AVAILABLE:
                # Availability first: what this version replaces can go now,
                # without waiting for the next poll (there may be none).
                self._poll_model(model)

    def _unload(self, model, version):
        with self._lock:
            if version.state in (State.START, State.LOADING):
                if version.retry is not None:
                    version.retry.cancel()
                    version.retry = None
                    version.error = ServingError(
                        version.load_error.code,
                        f"Loading cancelled after attempt {version.failed_attempts} of "
                        f"{self._attempts()} failed: {version.load_error.message}")
                version.state = State.END
            if version.state != AVAILABLE:
                return
            version.state = State.UNLOADING
        with version.idle:
            version.idle.wait_for(lambda: version.in_flight == 0)
        servable, version.servable = version.servable, None
        if servable is not None:
            servable.close()
        version.state = State.END
        log.info("Unloaded servable version {name: %s version: %d}", model.name, version.number)

    def close(self):
        """Stops polling, cancels pending retries, unloads every version.

        Requests in flight finish first; a load under way completes and
        is then unloaded.
        """
        self._stopping.set()
        if self._poller is not None:
            self._poller.join(timeout=60)
        with self._poll_lock:  # a load under way finishes; no new one starts
            with self._lock:
                models = list(self._models.values())
            for model in models:
                for version in list(model.versions.values()):
                    self._unload(model, version)

    # --- Requests ------------------------------------------------------------

    def model_names(self):
        with self._lock:
            return sorted(self._models)

    def acquire(self, name, version=None, label=None):
        """`(Version, Servable)` for a request; call `release(version)` when done.

        While held, the version is not unloaded: its unloading waits.

        Raises:
            ServingError: NOT_FOUND for an unknown model or a version that is
                not available; INVALID_ARGUMENT for an unknown label.
        """
        with self._lock:
            model = self._models.get(name)
            if label:
                if model is None or label not in model.labels:
                    raise invalid_argument(f"Unrecognized servable version label: {label}")
                version = model.labels[label]
            if version is None:
                available = model.available() if model else []
                if not available:
                    raise not_found(f"Servable not found for request: Latest({name})")
                chosen = model.versions[available[-1]]
            else:
                chosen = model.versions.get(version) if model else None
                if chosen is None or chosen.state != AVAILABLE:
                    raise not_found(f"Servable not found for request: Specific({name}, {version})")
            with chosen.idle:
                chosen.in_flight += 1
            return chosen, chosen.servable

    @staticmethod
    def release(version):
        with version.idle:
            version.in_flight -= 1
            version.idle.notify_all()

    @contextlib.contextmanager
    def servable(self, name, version=None, label=None):
        """`(version_number, Servable)` for a request, held while it runs."""
        held, servable = self.acquire(name, version, label)
        try:
            yield held.number, servable
        finally:
            self.release(held)

    def status(self, name, version=None, label=None):
        """A `GetModelStatusResponse`: the versions newest first.

        Raises:
            ServingError: TF Serving's NOT_FOUND / INVALID_ARGUMENT messages.
        """
        with self._lock:
            model = self._models.get(name) or self._retired.get(name)
            if label:
                if model is None or label not in model.labels:
                    raise invalid_argument(f"Unrecognized servable version label: {label}")
                version = model.labels[label]
            versions = dict(model.versions) if model else {}
        if not versions:
            raise not_found(f"Could not find any versions of model {name}")
        if version is not None:
            if version not in versions:
                raise not_found(f"Could not find version {version} of model {name}")
            versions = {version: versions[version]}
        response = get_model_status_pb2.GetModelStatusResponse()
        for number in sorted(versions, reverse=True):
            response.model_version_status.append(versions[number].status_proto())
        return response
