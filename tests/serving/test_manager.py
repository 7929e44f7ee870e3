"""Model management: versions on disk, policies, availability-first
reloads, failed loads and their retries, labels, status and unloading with
requests in flight."""

import pathlib
import shutil
import threading
import time

import grpc
import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.config import ConfigError
from serving.errors import ServingError
from serving.manager import LoadOptions, ModelManager, State, aspired
from tests.serving.saved_models import write_half_plus_three

pytestmark = pytest.mark.tensorflow_only


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One written version to copy (saving is slow, copying is not)."""
    return write_half_plus_three(tmp_path_factory.mktemp("template") / "1", warmup=2)


def config(text):
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


def one_model(base, policy=""):
    return config(f'model_config_list {{ config {{ name: "m" base_path: "{base}" '
                  f'model_platform: "tensorflow" {policy} }} }}')


def add_version(base, number, template, name=None):
    shutil.copytree(template, base / (name or str(number)))


def predict(manager, version=None, label=None):
    with manager.servable("m", version, label) as (number, servable):
        outputs = servable.run(servable.predict_signature(""), {"x": np.array([2.0], np.float32)})
    return number, float(outputs["y"][0])


def states(manager):
    return {s.version: State.Name(s.state) for s in manager.status("m").model_version_status}


@pytest.fixture
def manager():
    manager = ModelManager(LoadOptions(max_load_retries=0))
    yield manager
    manager.close()


def test_numeric_directories_are_versions_and_latest_serves(manager, tmp_path, template):
    for name in ("1", "00042", "7"):
        add_version(tmp_path, None, template, name)
    (tmp_path / "notes").mkdir()
    manager.set_config(one_model(tmp_path))
    assert predict(manager) == (42, 4.0)
    assert states(manager) == {42: "AVAILABLE"}
    # The status lists versions newest first; an OK status prints no error.
    response = manager.status("m")
    assert [s.version for s in response.model_version_status] == [42]


@pytest.mark.parametrize("policy, expected", [
    ("", {3}),
    ("model_version_policy { latest { num_versions: 2 } }", {2, 3}),
    ("model_version_policy { all {} }", {1, 2, 3}),
    ("model_version_policy { specific { versions: 1 versions: 9 } }", {1}),
])
def test_version_policies(policy, expected):
    model = one_model("/x", policy).model_config_list.config[0]
    assert aspired(model.model_version_policy, [1, 2, 3]) == expected


def test_new_version_replaces_old_only_once_available(manager, tmp_path, template):
    add_version(tmp_path, 1, template)
    manager.set_config(one_model(tmp_path))
    assert predict(manager) == (1, 4.0)
    add_version(tmp_path, 2, template)
    manager.poll()
    assert predict(manager) == (2, 4.0)
    assert states(manager) == {2: "AVAILABLE", 1: "END"}
    with pytest.raises(ServingError, match=r"Specific\(m, 1\)") as error:
        predict(manager, version=1)
    assert error.value.code == grpc.StatusCode.NOT_FOUND


def test_a_failed_load_ends_with_its_error_and_the_old_version_keeps_serving(
        manager, tmp_path, template):
    add_version(tmp_path, 1, template)
    manager.set_config(one_model(tmp_path))
    broken = tmp_path / "2"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a proto")
    manager.poll()
    status = {s.version: s for s in manager.status("m").model_version_status}
    assert State.Name(status[2].state) == "END"
    assert status[2].status.error_code != 0 and status[2].status.error_message
    assert predict(manager) == (1, 4.0)
    manager.poll()  # a failed version is not retried on every scan
    assert State.Name(manager.status("m").model_version_status[0].state) == "END"


def test_removing_the_only_version_unloads_it(manager, tmp_path, template):
    add_version(tmp_path, 1, template)
    manager.set_config(one_model(tmp_path))
    shutil.rmtree(tmp_path / "1")
    manager.poll()
    assert states(manager) == {1: "END"}
    with pytest.raises(ServingError, match=r"Latest\(m\)"):
        predict(manager)


def test_labels_and_their_errors(manager, tmp_path, template):
    add_version(tmp_path, 1, template)
    add_version(tmp_path, 2, template)
    policy = ('model_version_policy { all {} } version_labels { key: "stable" value: 1 } '
              'version_labels { key: "canary" value: 2 }')
    manager.set_config(one_model(tmp_path, policy))
    assert predict(manager, label="stable")[0] == 1
    assert predict(manager, label="canary")[0] == 2
    assert [s.version for s in manager.status("m", label="stable").model_version_status] == [1]
    with pytest.raises(ServingError, match="Unrecognized servable version label: beta") as error:
        predict(manager, label="beta")
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(ConfigError, match="label to version 5 of model m, which is not"):
        manager.set_config(one_model(tmp_path, 'version_labels { key: "x" value: 5 }'))


def test_status_errors(manager, tmp_path, template):
    add_version(tmp_path, 1, template)
    manager.set_config(one_model(tmp_path))
    with pytest.raises(ServingError, match="Could not find any versions of model other"):
        manager.status("other")
    with pytest.raises(ServingError, match="Could not find version 9 of model m"):
        manager.status("m", version=9)


@pytest.mark.parametrize("text, message", [
    ('config { name: "m" base_path: "relative/m" }',
     "Expected model m to have an absolute path or URI; got base_path()=relative/m"),
    ('config { name: "m" base_path: "/a" } config { name: "m" base_path: "/b" }',
     "Illegal to list model m multiple times in config list"),
    ('config { name: "m" base_path: "/a" model_platform: "pytorch" }',
     "Model m requests unsupported platform pytorch"),
])
def test_bad_configs_are_refused_with_tf_servings_messages(manager, text, message):
    with pytest.raises(ConfigError) as error:
        manager.set_config(config(f"model_config_list {{ {text} }}"))
    assert str(error.value) == message
    assert manager.model_names() == []


def test_reconfiguring_adds_and_removes_models(manager, tmp_path, template):
    add_version(tmp_path / "a", 1, template)
    add_version(tmp_path / "b", 1, template)
    manager.set_config(one_model(tmp_path / "a"))
    both = config(f'model_config_list {{ config {{ name: "m" base_path: "{tmp_path / "a"}" }} '
                  f'config {{ name: "n" base_path: "{tmp_path / "b"}" }} }}')
    manager.set_config(both)
    assert manager.model_names() == ["m", "n"]
    manager.set_config(config(
        f'model_config_list {{ config {{ name: "n" base_path: "{tmp_path / "b"}" }} }}'))
    assert manager.model_names() == ["n"]
    assert states(manager) == {1: "END"}  # the removed model stays listed, unloaded


def test_unloading_waits_for_requests_in_flight(manager, tmp_path, template):
    add_version(tmp_path, 1, template)
    manager.set_config(one_model(tmp_path))
    entered, release = threading.Event(), threading.Event()
    results = []

    def slow_request():
        with manager.servable("m") as (number, servable):
            entered.set()
            release.wait(10)
            outputs = servable.run(servable.predict_signature(""),
                                   {"x": np.array([2.0], np.float32)})
            results.append(float(outputs["y"][0]))

    worker = threading.Thread(target=slow_request)
    worker.start()
    assert entered.wait(10)
    shutil.rmtree(tmp_path / "1")
    poller = threading.Thread(target=manager.poll)
    poller.start()
    poller.join(0.3)
    assert poller.is_alive() and states(manager) == {1: "UNLOADING"}
    release.set()
    worker.join(10)
    poller.join(10)
    assert results == [4.0] and states(manager) == {1: "END"}


# --- Load retries, with the `load=` seam (no SavedModel needed) --------------


class FakeServable:
    def __init__(self, path):
        self.path = path
        self.warmups = 0
        self.closed = False

    def warmup(self, iterations, check_method_names):
        self.warmups += 1

    def close(self):
        self.closed = True


class FakeLoader:
    """Loads any directory; the first `failures[name]` loads of `name` fail.

    `name` is the version directory's name, or its model's (`a/1` -> `a`,
    then `1`): whichever `failures` names. None fails every time.
    """

    def __init__(self, failures):
        self.failures = failures
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, path):
        path = pathlib.Path(path)
        key = path.name if path.name in self.failures else path.parent.name
        with self.lock:
            self.calls.append(key)
            count = self.calls.count(key)
        limit = self.failures.get(key, 0)
        if limit is None or count <= limit:
            raise ServingError(grpc.StatusCode.DATA_LOSS, f"corrupt {key}")
        return FakeServable(path)


def wait_for(condition, timeout=10.0):
    """Polls `condition` until it holds; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def fake_manager(loader, retries, interval):
    return ModelManager(LoadOptions(max_load_retries=retries,
                                    load_retry_interval_seconds=interval), load=loader)


def models_config(tmp_path, names, policy=""):
    entries = "".join(f'config {{ name: "{name}" base_path: "{tmp_path / name}" {policy} }} '
                      for name in names)
    return config(f"model_config_list {{ {entries}}}")


def make_versions(tmp_path, name, *numbers):
    for number in numbers:
        (tmp_path / name / str(number)).mkdir(parents=True)


def version_status(manager, name, number):
    return {s.version: s for s in manager.status(name).model_version_status}[number]


def test_a_failed_attempt_stays_loading_and_says_which_attempt_and_when(tmp_path):
    make_versions(tmp_path, "m", 1)
    manager = fake_manager(FakeLoader({"m": None}), retries=5, interval=30)
    try:
        manager.set_config(models_config(tmp_path, ["m"]))
        status = version_status(manager, "m", 1)
        assert State.Name(status.state) == "LOADING"
        assert status.status.error_message == (
            "Loading failed (attempt 1 of 6); retrying in 30 s: corrupt m")
        assert status.status.error_code == grpc.StatusCode.DATA_LOSS.value[0]
    finally:
        started = time.monotonic()
        manager.close()
    # close() cancels the pending retry at once instead of waiting 30 s.
    assert time.monotonic() - started < 1.0
    status = version_status(manager, "m", 1)
    assert State.Name(status.state) == "END"
    assert status.status.error_message == "Loading cancelled after attempt 1 of 6 failed: corrupt m"
    wait_for(lambda: not any(t.name.startswith("load-retry-") for t in threading.enumerate()),
             timeout=1.0)


def test_the_last_failed_attempt_ends_the_version_and_the_old_one_keeps_serving(tmp_path):
    make_versions(tmp_path, "m", 1, 2)
    loader = FakeLoader({"2": None})
    manager = fake_manager(loader, retries=2, interval=0.01)
    try:
        manager.set_config(models_config(tmp_path, ["m"], "model_version_policy { all {} }"))
        wait_for(lambda: version_status(manager, "m", 2).state == State.END)
        status = version_status(manager, "m", 2)
        assert status.status.error_message == "Loading failed after 3 attempts: corrupt 2"
        assert status.status.error_code == grpc.StatusCode.DATA_LOSS.value[0]
        assert loader.calls.count("2") == 3
        assert states(manager) == {2: "END", 1: "AVAILABLE"}
        with manager.servable("m") as (number, _):
            assert number == 1
    finally:
        manager.close()


def test_no_retries_means_one_attempt_with_the_loads_own_error(tmp_path):
    make_versions(tmp_path, "m", 1)
    loader = FakeLoader({"m": None})
    manager = fake_manager(loader, retries=0, interval=0.01)
    try:
        manager.set_config(models_config(tmp_path, ["m"]))
        status = version_status(manager, "m", 1)
        assert State.Name(status.state) == "END"
        assert status.status.error_message == "corrupt m"
        time.sleep(0.05)
        assert loader.calls == ["m"]
    finally:
        manager.close()


def test_other_models_and_versions_load_while_one_waits_for_its_retry(tmp_path):
    make_versions(tmp_path, "a", 1)
    make_versions(tmp_path, "b", 1, 2)
    # a's only version and b's newest fail; their retries are 30 s away.
    manager = fake_manager(FakeLoader({"a": None, "2": None}), retries=5, interval=30)
    all_versions = "model_version_policy { all {} }"
    try:
        started = time.monotonic()
        manager.set_config(models_config(tmp_path, ["a", "b"], all_versions))
        assert State.Name(version_status(manager, "a", 1).state) == "LOADING"
        assert {s.version: State.Name(s.state) for s in manager.status("b").model_version_status} \
            == {2: "LOADING", 1: "AVAILABLE"}
        make_versions(tmp_path, "c", 1)
        manager.set_config(models_config(tmp_path, ["a", "b", "c"], all_versions))
        assert State.Name(version_status(manager, "c", 1).state) == "AVAILABLE"
        manager.poll()  # a scan does not wait for the pending retries either
        assert time.monotonic() - started < 5.0
    finally:
        manager.close()


def test_a_flaky_load_that_succeeds_on_attempt_3_is_available_with_no_error(tmp_path):
    make_versions(tmp_path, "m", 1)
    loader = FakeLoader({"2": 2})
    manager = fake_manager(loader, retries=5, interval=0.2)
    try:
        manager.set_config(models_config(tmp_path, ["m"]))
        make_versions(tmp_path, "m", 2)
        manager.poll()
        assert states(manager) == {2: "LOADING", 1: "AVAILABLE"}
        # Availability first: version 1 goes once the retry makes 2 available,
        # with no further poll.
        wait_for(lambda: states(manager) == {2: "AVAILABLE", 1: "END"})
        status = version_status(manager, "m", 2)
        assert status.status.error_code == 0 and status.status.error_message == ""
        assert loader.calls.count("2") == 3
        with manager.servable("m") as (number, servable):
            assert number == 2 and servable.warmups == 1
    finally:
        manager.close()
    assert servable.closed


def test_a_version_no_longer_on_disk_is_not_retried(tmp_path):
    make_versions(tmp_path, "m", 1)
    loader = FakeLoader({"m": None})
    manager = fake_manager(loader, retries=5, interval=30)
    try:
        manager.set_config(models_config(tmp_path, ["m"]))
        (tmp_path / "m" / "1").rmdir()
        manager.poll()
        status = version_status(manager, "m", 1)
        assert State.Name(status.state) == "END"
        assert status.status.error_message == (
            "Loading cancelled after attempt 1 of 6 failed: corrupt m")
        time.sleep(0.05)
        assert loader.calls == ["m"]
    finally:
        manager.close()
