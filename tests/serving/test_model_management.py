"""gRPC model management with `--enable_model_management`, through the official
`tensorflow-serving-api` stubs: a reload may only name directories under the
operator's roots; anything else is refused and changes nothing."""

import shutil

import grpc
import pytest
import requests
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
)

from tests.serving.conftest import Server

pytestmark = pytest.mark.tensorflow_only


@pytest.fixture(scope="module")
def managed(models, tmp_path_factory):
    """A server of `half_plus_three` whose roots default to the directory holding it."""
    running = Server([f"--model_base_path={models / 'half_plus_three'}",
                      "--model_name=half_plus_three", "--enable_model_management",
                      "--file_system_poll_wait_seconds=0"])
    yield running
    running.stop()


def reload_request(**base_paths):
    request = model_management_pb2.ReloadConfigRequest()
    for name, base_path in base_paths.items():
        request.config.model_config_list.config.add(
            name=name, base_path=str(base_path), model_platform="tensorflow")
    return request


def status(server, name):
    return requests.get(f"{server.url}/v1/models/{name}", timeout=30)


def test_reload_outside_the_roots_is_refused_and_changes_nothing(managed, models, tmp_path_factory):
    foreign = tmp_path_factory.mktemp("foreign")
    shutil.copytree(models / "half_plus_three", foreign / "half_plus_three")
    with grpc.insecure_channel(managed.target) as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        for path in (foreign / "half_plus_three", f"{models}/../{foreign.name}/half_plus_three"):
            request = reload_request(half_plus_three=models / "half_plus_three", stolen=path)
            with pytest.raises(grpc.RpcError) as caught:
                stub.HandleReloadConfigRequest(request, timeout=60)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "stolen" in caught.value.details() and str(models) in caught.value.details()
        custom = model_management_pb2.ReloadConfigRequest()
        custom.config.custom_model_config.type_url = "x"
        with pytest.raises(grpc.RpcError) as caught:
            stub.HandleReloadConfigRequest(custom, timeout=60)
        assert "Only ModelConfigList" in caught.value.details()
    assert status(managed, "stolen").status_code == 404
    assert status(managed, "half_plus_three").json()["model_version_status"][0]["state"] == (
        "AVAILABLE")


def test_reload_under_the_roots_serves_the_new_model(managed, models):
    sibling = models / "half_plus_three_copy"
    if not sibling.exists():
        shutil.copytree(models / "half_plus_three", sibling)
    with grpc.insecure_channel(managed.target) as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        response = stub.HandleReloadConfigRequest(
            reload_request(half_plus_three=models / "half_plus_three", copy=sibling), timeout=120)
        assert isinstance(response, model_management_pb2.ReloadConfigResponse)
        assert response.status.error_code == 0
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = "copy"
        versions = stub.GetModelStatus(request, timeout=30).model_version_status
    assert [v.state for v in versions] == [get_model_status_pb2.ModelVersionStatus.AVAILABLE]
    answer = requests.post(f"{managed.url}/v1/models/copy:predict",
                           json={"instances": [1.0]}, timeout=30)
    assert answer.json() == {"predictions": [4.5]}
