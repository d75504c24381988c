"""The repository follows the file system and the model config while serving without a gap.

One server for the module, polling its model folders every 0.2 s and its config file every 1 s.
Each test works on a model of its own, so their order does not matter.
"""

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import get_model_status_pb2, model_management_pb2
from tensorflow_serving.config import model_server_config_pb2

from tests.service.conftest import (
    CALL_TIMEOUT,
    ROOT,
    ServerProcess,
    copy_version,
    write_model_config,
)
from tests.service.wire import predict_request, status_request

pytestmark = pytest.mark.slow

State = get_model_status_pb2.ModelVersionStatus.State
WAIT = 60.0
# "rolling" gets new versions under load; "steady" gets a broken one. Both are always configured.
BASE_MODELS = {"rolling": "mlp", "steady": "param_net"}


def add_model(root: Path, name: str, seed: Path) -> Path:
    """Give model `name` a base path under `root` holding version 1 of the SavedModel `seed`."""
    base_path = root / name
    if not base_path.exists():
        copy_version(seed / "1", base_path, 1)
    return base_path


@dataclass
class Repository:
    """The module's server, its model folders and its model config file."""

    server: ServerProcess
    root: Path
    config: Path
    exported: Path

    def add_model(self, name: str, seed: str) -> None:
        add_model(self.root, name, self.exported / seed)

    def base_path(self, name: str) -> Path:
        return self.root / name

    def models(self, *extra: str) -> dict[str, Path]:
        return {name: self.base_path(name) for name in (*BASE_MODELS, *extra)}


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory, exported: Path) -> Iterator[Repository]:
    root = tmp_path_factory.mktemp("repository")
    models = {
        name: add_model(root / "models", name, exported / seed)
        for name, seed in BASE_MODELS.items()
    }
    config = write_model_config(root / "models.config", models)
    flags = [
        f"--model_config_file={config}",
        "--model_config_file_poll_wait_seconds=1",
        "--file_system_poll_wait_seconds=0.2",
    ]
    with ServerProcess(flags, root / "server.log") as server:
        yield Repository(server, root / "models", config, exported)


def statuses(
    server: ServerProcess, name: str
) -> dict[int, get_model_status_pb2.ModelVersionStatus]:
    """The model's versions by number; empty when the server does not know the model."""
    try:
        response = server.models.GetModelStatus(status_request(name), timeout=CALL_TIMEOUT)
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.NOT_FOUND:
            return {}
        raise
    return {s.version: s for s in response.model_version_status}


def wait_until(what: str, condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        time.sleep(0.1)


def available(server: ServerProcess, name: str, version: int) -> bool:
    status = statuses(server, name).get(version)
    return status is not None and status.state == State.AVAILABLE


def predict(server: ServerProcess, name: str, features: int) -> int:
    """One Predict on `name`; the version that answered."""
    request = predict_request(name, {"x": np.ones((2, features), np.float32)})
    return server.prediction.Predict(request, timeout=CALL_TIMEOUT).model_spec.version.value


@dataclass
class Load:
    """A client thread calling Predict in a loop: which version answered each call, what failed."""

    server: ServerProcess
    model: str
    features: int
    versions: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> "Load":
        self.thread = threading.Thread(target=self._run, name=f"load-{self.model}")
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.versions.append(predict(self.server, self.model, self.features))
            except grpc.RpcError as e:
                self.failures.append(f"{e.code().name}: {e.details()}")

    def served_count(self, version: int) -> int:
        return self.versions.count(version)


def test_new_version_is_served_without_failing_a_request(repository: Repository) -> None:
    server = repository.server
    assert predict(server, "rolling", 20) == 1
    with Load(server, "rolling", 20) as load, Load(server, "rolling", 20) as other:
        wait_until("requests succeed on version 1", lambda: other.served_count(1) >= 20)
        copy_version(repository.exported / "mlp" / "1", repository.base_path("rolling"), 2)
        wait_until("a response comes from version 2", lambda: load.served_count(2) >= 1)
        wait_until("more responses from version 2", lambda: other.served_count(2) >= 20)
    for client in (load, other):
        assert client.failures == []
        # Each client sees version 1, then only version 2: no flapping back.
        switch = client.versions.index(2)
        assert set(client.versions[:switch]) == {1}
        assert set(client.versions[switch:]) == {2}
    wait_until(
        "version 1 is unloaded",
        lambda: statuses(server, "rolling")[1].state == State.END,
    )
    assert statuses(server, "rolling")[2].state == State.AVAILABLE
    assert statuses(server, "rolling")[1].status.error_code == 0


def test_broken_version_is_reported_and_previous_keeps_serving(repository: Repository) -> None:
    server = repository.server
    base = repository.base_path("steady")
    staging = base / ".incoming-3"
    staging.mkdir()
    (staging / "saved_model.pb").write_bytes(b"this is not a SavedModel")
    with Load(server, "steady", 4) as load:
        wait_until("requests succeed", lambda: load.served_count(1) >= 10)
        (staging).rename(base / "3")

        def reported() -> bool:
            status = statuses(server, "steady").get(3)
            return status is not None and status.state == State.END

        wait_until("version 3 is reported", reported)
        done = len(load.versions)
        wait_until("requests go on", lambda: len(load.versions) >= done + 20)
    assert load.failures == []
    assert set(load.versions) == {1}
    status = statuses(server, "steady")
    assert status[3].status.error_code != 0
    assert "3" in status[3].status.error_message
    assert status[1].state == State.AVAILABLE


def test_model_config_file_change_adds_then_removes_a_model(repository: Repository) -> None:
    server = repository.server
    repository.add_model("added_by_file", "nest_mlp")
    write_model_config(repository.config, repository.models("added_by_file"))
    wait_until("the new model is available", lambda: available(server, "added_by_file", 1))
    assert predict(server, "added_by_file", 20) == 1
    write_model_config(repository.config, repository.models())
    wait_until("the model is gone", lambda: statuses(server, "added_by_file") == {})
    with pytest.raises(grpc.RpcError) as raised:
        predict(server, "added_by_file", 20)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert available(server, "steady", 1)


def reload_request(repository: Repository, *extra: str) -> model_management_pb2.ReloadConfigRequest:
    config = model_server_config_pb2.ModelServerConfig()
    for name, base_path in repository.models(*extra).items():
        entry = config.model_config_list.config.add()
        entry.name, entry.base_path, entry.model_platform = name, str(base_path), "tensorflow"
    return model_management_pb2.ReloadConfigRequest(config=config)


def test_reload_config_request_adds_then_removes_a_model(repository: Repository) -> None:
    server = repository.server
    repository.add_model("added_by_rpc", "param_net")
    request = reload_request(repository, "added_by_rpc")
    response = server.models.HandleReloadConfigRequest(request, timeout=CALL_TIMEOUT)
    assert response.status.error_code == 0, response.status.error_message
    # The reload answers once the new model is loaded.
    assert available(server, "added_by_rpc", 1)
    assert predict(server, "added_by_rpc", 4) == 1
    response = server.models.HandleReloadConfigRequest(
        reload_request(repository), timeout=CALL_TIMEOUT
    )
    assert response.status.error_code == 0, response.status.error_message
    wait_until("the model is gone", lambda: statuses(server, "added_by_rpc") == {})
    assert available(server, "rolling", max(statuses(server, "rolling")))


def test_a_base_path_one_level_too_high_is_named_once_in_the_log(tmp_path: Path) -> None:
    # Issue 19: --model_base_path=exported (the parent of the model's folder) used to log only
    # "serving..." and "worker started". The server never gets ready, so not ServerProcess.start.
    exported = tmp_path / "exported"
    for name in ("mlp", "chimera"):
        (exported / name / "1").mkdir(parents=True)
        (exported / name / "1" / "saved_model.pb").write_bytes(b"")  # never loaded
    flags = ["--model_name=mlp", f"--model_base_path={exported}"]
    server = ServerProcess([*flags, "--file_system_poll_wait_seconds=0.1"], tmp_path / "log")
    expected = (
        f"WARNING service.front.repository.manager: model mlp has no version to serve: no version "
        f"folders under {exported}: expected {exported}/<numeric version>/saved_model.pb; it "
        f"holds models' folders: did you mean {exported / 'mlp'}?"
    )
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(
            server.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until("the warning is logged", lambda: expected in server.log_path.read_text())
        time.sleep(1)  # ten more polls
        assert server.log_path.read_text().count(expected) == 1, server.log_tail()
        assert server.rest("GET", "/readyz").status == 503
    finally:
        server.stop()
