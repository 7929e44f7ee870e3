"""Model management, as TF Serving's AspiredVersionsManager and file-system source do it.

Versions are the numeric directories under a model's base path, loaded (START -> LOADING ->
AVAILABLE) while its version policy aspires them, then unloaded (UNLOADING -> END). Unloaded
and failed versions stay in the status with END, as TF Serving never forgets them.
"""

import contextlib
import dataclasses
import logging
import pathlib
import threading

from tensorflow_serving.apis import get_model_status_pb2

from serving.config import PLATFORM, ConfigError, check_config
from serving.errors import ServingError, invalid_argument, not_found
from serving.servable import Servable, status_of

State = get_model_status_pb2.ModelVersionStatus.State
AVAILABLE = State.AVAILABLE  # read on every request: the enum wrapper's lookup is slow
log = logging.getLogger("serving")


@dataclasses.dataclass
class LoadOptions:
    """How versions are loaded (the server's flags); `max_load_retries=0`: one attempt only."""

    tags: tuple = ("serve",)
    enable_warmup: bool = True
    warmup_iterations: int = 1
    check_method_names: bool = False
    max_load_retries: int = 5
    load_retry_interval_seconds: float = 60.0
    allow_labels_for_unavailable: bool = False
    session_config: object = None

    def __post_init__(self):
        self.tags = tuple(self.tags)


class Version:
    """A model's version: `error` is what its status reports, `load_error` the last attempt's."""

    def __init__(self, number, path):
        self.number = number
        self.path = path
        self.state = State.START
        self.error = None
        self.load_error = None
        self.failed_attempts = 0
        self.retry = None  # the pending retry's Timer
        self.servable = None
        self.in_flight = 0
        self.idle = threading.Condition()

    def report_load_error(self, prefix):
        """Reports the last failed attempt's error, its message behind `prefix`."""
        self.error = ServingError(self.load_error.code, prefix + self.load_error.message)

    def status_proto(self):
        status = get_model_status_pb2.ModelVersionStatus(version=self.number, state=self.state)
        status.status.SetInParent()  # TF Serving always reports it, OK included
        if self.error is not None:
            status.status.error_code = self.error.code.value[0]
            status.status.error_message = self.error.message
        return status


class Model:
    """A configured model, the versions seen for it and its labels."""

    def __init__(self, name):
        self.name = name
        self.config = None  # its ModelConfig, set by set_config
        self.versions = {}  # number -> Version
        self.labels = {}  # label -> version number


def versions_on_disk(base_path):
    """Version number -> directory under `base_path`; raises OSError if unreadable."""
    # A duplicate spelling (7 and 007): the later one wins, as in TF Serving.
    return {int(child.name): child for child in pathlib.Path(base_path).iterdir()
            if child.is_dir() and child.name.isdigit()}


def aspired(policy, numbers):
    """The version numbers the policy wants, from those on disk (default: the latest)."""
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return set(numbers)
    if choice == "specific":
        return set(numbers) & set(policy.specific.versions)
    count = policy.latest.num_versions if choice == "latest" else 1
    return set(sorted(numbers)[-max(count, 1):])


def labelled(model, label, version):
    """The version number `label` names, or `version` when there is no label."""
    if not label:
        return version
    if model is None or label not in model.labels:
        raise invalid_argument(f"Unrecognized servable version label: {label}")
    return model.labels[label]


class ModelManager:
    """Loads, serves and unloads the models' versions; `load(path) -> Servable`: a test seam."""

    def __init__(self, options=None, load=None):
        self.options = options or LoadOptions()
        self._load = load or (lambda path: Servable(path, self.options.tags,
                                                    self.options.session_config))
        self._models = {}  # name -> Model
        self._retired = {}  # name -> Model removed from the config (status only)
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()  # one scan or load at a time
        self._stopping = threading.Event()
        self._poller = None

    def set_config(self, config):
        """Serves exactly the models of `config`; returns once they are scanned.

        Raises:
            ConfigError: The config is invalid (TF Serving's message; the model set is left as
                it was), or a label names a version not available once scanned.
        """
        check_config(config)
        wanted = {m.name: m for m in config.model_config_list.config}
        with self._lock:
            for name, model in self._models.items():
                if name in wanted and (wanted[name].model_platform or PLATFORM) != (
                        model.config.model_platform or PLATFORM):
                    raise ConfigError(f"Illegal to change a model's platform. For model {name}")
            removed = [self._models.pop(n) for n in list(self._models) if n not in wanted]
            self._retired.update((model.name, model) for model in removed)
            for name, model_config in wanted.items():
                model = self._models.get(name) or self._retired.pop(name, None) or Model(name)
                model.config = model_config
                self._models[name] = model
        self._unload_all(removed)
        self.poll()
        with self._lock:
            for name, model_config in wanted.items():
                model = self._models[name]
                for number in model_config.version_labels.values():
                    version = model.versions.get(number)
                    if not self.options.allow_labels_for_unavailable and (
                            version is None or version.state != AVAILABLE):
                        raise ConfigError(
                            f"Request to assign label to version {number} of model {name}, "
                            "which is not currently available for inference")
                model.labels = dict(model_config.version_labels)

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
            return  # keep what is serving, try again next poll
        if not on_disk:
            log.warning(
                "No versions of servable %s found under base path %s. Did you forget to "
                "name your leaf directory as a number (eg. '/1/')?", model.name, base)
        wanted = aspired(model.config.model_version_policy, on_disk)
        for number in sorted(wanted, reverse=True):
            version = model.versions.get(number)
            if version is None or (version.state == State.END and version.error is None):
                version = Version(number, on_disk[number])
                with self._lock:
                    model.versions[number] = version
                self._load_version(model, version)
        # A version gone from disk or from the policy is not worth retrying. Availability
        # first: drop the others only once an aspired one serves, or none is aspired.
        replaceable = not wanted or any(
            model.versions[n].state == AVAILABLE for n in wanted if n in model.versions)
        for state in (State.LOADING, AVAILABLE) if replaceable else (State.LOADING,):
            for number, version in list(model.versions.items()):
                if number not in wanted and version.state == state:
                    self._unload(model, version)

    def _load_version(self, model, version):
        """One attempt at loading `version`, warmup included (under the poll lock)."""
        with self._lock:
            if version.state not in (State.START, State.LOADING):
                return  # cancelled before this attempt began
            version.state = State.LOADING
        try:
            servable = self._load(version.path)
            if self.options.enable_warmup:
                try:
                    servable.warmup(self.options.warmup_iterations, self.options.check_method_names)
                except Exception:
                    servable.close()
                    raise
        except Exception as error:
            self._load_failed(model, version, status_of(error))
            return
        with self._lock:
            # Removing the model unloads it without the poll lock, maybe during this load.
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
        attempts, wait = self._attempts(), self.options.load_retry_interval_seconds
        with self._lock:
            version.load_error = error
            version.failed_attempts += 1
            if version.state != State.LOADING:
                return  # cancelled while it loaded: END already
            if version.failed_attempts < attempts:
                version.report_load_error(f"Loading failed (attempt {version.failed_attempts} "
                                          f"of {attempts}); retrying in {wait:g} s: ")
                version.retry = threading.Timer(wait, self._retry, (model, version))
                version.retry.name = f"load-retry-{model.name}-{version.number}"
                version.retry.daemon = True
                version.retry.start()
            else:
                # With no retries the error is the load's own, as in TF Serving.
                version.report_load_error(
                    "" if attempts == 1 else f"Loading failed after {attempts} attempts: ")
                version.state = State.END
        log.error("Loading servable: {name: %s version: %d} failed: %s",
                  model.name, version.number, version.error.message)

    def _retry(self, model, version):
        """A retry is due (on its timer's thread): the next attempt, then a rescan."""
        with self._poll_lock:
            with self._lock:
                if self._stopping.is_set() or version.retry is None:
                    return  # cancelled while this timer waited for the lock
                version.retry = None
            self._load_version(model, version)
            if version.state == AVAILABLE:
                # What this version replaces can go now, not at the next poll (if any).
                self._poll_model(model)

    def _unload(self, model, version):
        """Cancels a load under way or pending, or unloads once requests in flight finish."""
        with self._lock:
            if version.state in (State.START, State.LOADING):
                if version.retry is not None:
                    version.retry.cancel()
                    version.retry = None
                    version.report_load_error(
                        f"Loading cancelled after attempt {version.failed_attempts} of "
                        f"{self._attempts()} failed: ")
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

    def _unload_all(self, models):
        for model in models:
            for version in list(model.versions.values()):
                self._unload(model, version)

    def close(self):
        """Stops polling and retries; unloads every version once its requests and load finish."""
        self._stopping.set()
        if self._poller is not None:
            self._poller.join(timeout=60)
        with self._poll_lock:  # a load under way finishes; no new one starts
            with self._lock:
                models = list(self._models.values())
            self._unload_all(models)

    def model_names(self):
        with self._lock:
            return sorted(self._models)

    def acquire(self, name, version=None, label=None):
        """`(Version, Servable)` for a request, not unloaded until `release(version)`.

        Raises:
            ServingError: NOT_FOUND (unknown model, unavailable version), INVALID_ARGUMENT (label).
        """
        with self._lock:
            model = self._models.get(name)
            version = labelled(model, label, version)
            versions = model.versions if model else {}
            if version is None:
                available = [n for n, v in versions.items() if v.state == AVAILABLE]
                if not available:
                    raise not_found(f"Servable not found for request: Latest({name})")
                version = max(available)
            chosen = versions.get(version)
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
        """A `GetModelStatusResponse`, newest version first; TF Serving's errors."""
        with self._lock:
            model = self._models.get(name) or self._retired.get(name)
            version = labelled(model, label, version)
            versions = dict(model.versions) if model else {}
        if not versions:
            raise not_found(f"Could not find any versions of model {name}")
        if version is not None and version not in versions:
            raise not_found(f"Could not find version {version} of model {name}")
        numbers = sorted(versions, reverse=True) if version is None else [version]
        return get_model_status_pb2.GetModelStatusResponse(
            model_version_status=[versions[number].status_proto() for number in numbers])
