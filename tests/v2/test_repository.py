"""The model repository extension over both protocols: index, unload and load round trips
through the availability-preserving manager, an unload that waits for the requests in flight,
and loads refused without the admin token."""

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from tests.service.conftest import HOST, ServerProcess, copy_version, write_model_config
from tests.v2.conftest import wait_for_inflight

TOKEN = "v2-admin-token"
X = np.linspace(-1, 1, 40, dtype=np.float32).reshape(2, 20)
SLEEP_SECONDS = 1.5
IN_FLIGHT = 3


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory, exported: Path, tiny_models: dict):
    root = tmp_path_factory.mktemp("repository")
    copy_version(exported / "mlp" / "1", root / "mlp", 1)
    copy_version(exported / "param_net" / "1", root / "spare" / "param_net", 1)
    copy_version(tiny_models["sleepy"] / "1", root / "sleepy", 1)
    return root


@pytest.fixture(scope="module")
def control_server(model_root: Path) -> Iterator[ServerProcess]:
    """Serves mlp and sleepy; param_net lies under `spare/`, known to no config."""
    config = write_model_config(
        model_root / "models.config", {"mlp": model_root / "mlp", "sleepy": model_root / "sleepy"}
    )
    token = model_root / "admin.token"
    token.write_text(TOKEN + "\n")
    flags = [f"--model_config_file={config}", f"--admin_token_file={token}"]
    with ServerProcess(flags, model_root / "server.log") as server:
        yield server


AUTH = {"Authorization": f"Bearer {TOKEN}"}
GRPC_AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(params=["http", "grpc"])
def client(request: pytest.FixtureRequest, control_server: ServerProcess) -> Iterator[Any]:
    if request.param == "http":
        c: Any = httpclient.InferenceServerClient(f"{HOST}:{control_server.rest_port}")
    else:
        c = grpcclient.InferenceServerClient(f"{HOST}:{control_server.grpc_port}")
    yield c
    c.close()


def is_http(client: Any) -> bool:
    return isinstance(client, httpclient.InferenceServerClient)


def auth(client: Any) -> dict[str, str]:
    return AUTH if is_http(client) else GRPC_AUTH


def index(client: Any) -> dict[tuple[str, str], str]:
    """(name, version) -> state."""
    if is_http(client):
        entries = client.get_model_repository_index()
    else:
        entries = client.get_model_repository_index(as_json=True).get("models", [])
    return {(e["name"], e.get("version", "")): e.get("state", "") for e in entries}


def mlp_answer(client: Any) -> np.ndarray:
    module = httpclient if is_http(client) else grpcclient
    tensor = module.InferInput("x", [2, 20], "FP32")
    tensor.set_data_from_numpy(X)
    return client.infer("mlp", [tensor]).as_numpy("y")


def test_index_lists_every_served_version_ready(client: Any) -> None:
    assert index(client) == {("mlp", "1"): "READY", ("sleepy", "1"): "READY"}


def test_unload_then_load_round_trip(client: Any, control_server: ServerProcess) -> None:
    before = mlp_answer(client)
    client.unload_model("mlp", headers=auth(client))
    assert not client.is_model_ready("mlp")
    assert index(client)[("mlp", "")] == "UNAVAILABLE"
    with pytest.raises(InferenceServerException) as gone:
        mlp_answer(client)
    assert gone.value.status() in ("404", "StatusCode.NOT_FOUND")
    # The unloaded model is no longer configured: the server is still ready.
    assert client.is_server_ready()
    assert control_server.rest("GET", "/v2/health/ready").status == 200

    client.load_model("mlp", headers=auth(client))
    assert client.is_model_ready("mlp")
    assert index(client)[("mlp", "1")] == "READY"
    assert np.array_equal(mlp_answer(client), before)


def test_load_a_model_from_a_base_path_named_in_the_request(client: Any, model_root: Path) -> None:
    base_path = str(model_root / "spare" / "param_net")
    client.load_model("extra", headers=auth(client), config=json.dumps({"base_path": base_path}))
    assert client.is_model_ready("extra")
    module = httpclient if is_http(client) else grpcclient
    tensor = module.InferInput("x", [1, 4], "FP32")
    tensor.set_data_from_numpy(np.ones((1, 4), np.float32))
    assert client.infer("extra", [tensor]).as_numpy("y").shape == (1, 1)
    assert ("extra", "1") in index(client)
    client.unload_model("extra", headers=auth(client))
    assert not client.is_model_ready("extra")
    assert client.is_model_ready("mlp") and client.is_model_ready("sleepy")


def test_base_path_parameter_over_raw_rest_and_grpc(
    control_server: ServerProcess, model_root: Path
) -> None:
    base_path = str(model_root / "spare" / "param_net")
    body = json.dumps({"parameters": {"base_path": base_path}})
    status, answer = post(control_server, "/v2/repository/models/rest_extra/load", body, AUTH)
    assert status == 200, answer
    with grpc.insecure_channel(f"{HOST}:{control_server.grpc_port}") as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        request = service_pb2.RepositoryModelLoadRequest(model_name="grpc_extra")
        request.parameters["base_path"].string_param = base_path
        stub.RepositoryModelLoad(request, metadata=tuple(GRPC_AUTH.items()), timeout=60)
        for name in ("rest_extra", "grpc_extra"):
            ready = stub.ModelReady(service_pb2.ModelReadyRequest(name=name), timeout=30)
            assert ready.ready, name
            unload = service_pb2.RepositoryModelUnloadRequest(model_name=name)
            stub.RepositoryModelUnload(unload, metadata=tuple(GRPC_AUTH.items()), timeout=60)


def test_a_load_that_fails_leaves_the_served_models_as_they_were(
    client: Any, model_root: Path
) -> None:
    missing = json.dumps({"base_path": str(model_root / "nowhere")})
    with pytest.raises(InferenceServerException) as failed:
        client.load_model("ghost", headers=auth(client), config=missing)
    assert failed.value.status() in ("400", "StatusCode.FAILED_PRECONDITION")
    assert "ghost" in failed.value.message()
    assert client.is_server_ready()
    assert not any(name == "ghost" for name, _ in index(client))
    assert client.is_model_ready("mlp")


def test_unload_waits_for_the_requests_in_flight_and_none_fails(
    client: Any, control_server: ServerProcess
) -> None:
    module = httpclient if is_http(client) else grpcclient
    grpc_client = grpcclient.InferenceServerClient(f"{HOST}:{control_server.grpc_port}")
    results: list[Any] = []
    errors: list[BaseException] = []

    def sleep_once() -> None:
        tensor = grpcclient.InferInput("x", [1, 1], "FP32")
        tensor.set_data_from_numpy(np.full((1, 1), SLEEP_SECONDS, np.float32))
        try:
            results.append(grpc_client.infer("sleepy", [tensor]).as_numpy("y"))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=sleep_once) for _ in range(IN_FLIGHT)]
    sent = time.monotonic()
    for thread in threads:
        thread.start()
    wait_for_inflight(control_server, IN_FLIGHT)
    client.unload_model("sleepy", headers=auth(client))
    unloaded = time.monotonic()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert [r.tolist() for r in results] == [[[2 * SLEEP_SECONDS]]] * IN_FLIGHT
    # The unload returned only once the requests using the version had let go of it.
    assert unloaded - sent >= SLEEP_SECONDS - 0.1
    assert not client.is_model_ready("sleepy")
    tensor = module.InferInput("x", [1, 1], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 1), np.float32))
    with pytest.raises(InferenceServerException):
        client.infer("sleepy", [tensor])
    client.load_model("sleepy", headers=auth(client))
    assert client.infer("sleepy", [tensor]).as_numpy("y").tolist() == [[0.0]]
    grpc_client.close()


@pytest.mark.parametrize("token", [None, "wrong"], ids=["no token", "wrong token"])
def test_load_and_unload_without_the_admin_token_are_refused(
    client: Any, token: str | None
) -> None:
    headers = (
        {}
        if token is None
        else {("Authorization" if is_http(client) else "authorization"): f"Bearer {token}"}
    )
    for call in (client.load_model, client.unload_model):
        with pytest.raises(InferenceServerException) as refused:
            call("mlp", headers=headers)
        assert refused.value.status() in ("401", "StatusCode.UNAUTHENTICATED")
    assert client.is_model_ready("mlp")


def post(server: ServerProcess, path: str, body: str, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, server.rest_port, timeout=60)
    try:
        connection.request("POST", path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_index_accepts_an_empty_body_and_a_ready_filter(control_server: ServerProcess) -> None:
    status, answer = post(control_server, "/v2/repository/index", "", {})
    assert status == 200
    assert {e["name"] for e in json.loads(answer)} >= {"mlp", "sleepy"}
    status, answer = post(control_server, "/v2/repository/index", '{"ready": true}', {})
    assert status == 200
    assert all(e["state"] == "READY" for e in json.loads(answer))
