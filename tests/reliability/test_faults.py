"""Faults: versions swapped under load lose no request, a version that cannot load changes
nothing, a version folder deleted while it serves lets its requests finish, and a model whose
op fails at run time gives a clear error while the server stays up.

One server for the module, polling its model folders every 0.2 s. Each test has models of its
own, so their order does not matter.
"""

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import get_model_status_pb2

from tests.reliability.conftest import metric, seed_copy
from tests.reliability.savedmodels import OVERFLOW_INPUT, TABLE, write_overflowing
from tests.service.conftest import (
    CALL_TIMEOUT,
    ServerProcess,
    copy_version,
    write_model_config,
)
from tests.service.wire import float_output, predict_request, status_request

pytestmark = pytest.mark.slow

State = get_model_status_pb2.ModelVersionStatus.State
WAIT = 60.0
X = np.linspace(-1, 1, 3 * 20, dtype=np.float32).reshape(3, 20)


@dataclass
class Repository:
    server: ServerProcess
    models: dict[str, Path]
    exported: Path


@pytest.fixture(scope="module")
def repository(
    tmp_path_factory: pytest.TempPathFactory, exported: Path, tiny_models: dict[str, Path]
) -> Iterator[Repository]:
    root = tmp_path_factory.mktemp("faults")
    models = {
        "swapped": seed_copy(exported, "mlp", root / "swapped"),
        "steady": seed_copy(exported, "mlp", root / "steady"),
        "vanishing": root / "vanishing",
        "lookup": tiny_models["lookup"],
        "fixed_hidden_mlp": exported / "fixed_hidden_mlp",
        "overflowing": root / "overflowing",
    }
    write_overflowing(models["overflowing"] / "1")
    copy_version(tiny_models["sleepy"] / "1", models["vanishing"], 1)
    config = write_model_config(root / "models.config", models)
    flags = [f"--model_config_file={config}", "--file_system_poll_wait_seconds=0.2"]
    with ServerProcess(flags, root / "server.log") as server:
        yield Repository(server, models, exported)


def statuses(
    server: ServerProcess, name: str
) -> dict[int, get_model_status_pb2.ModelVersionStatus]:
    response = server.models.GetModelStatus(status_request(name), timeout=CALL_TIMEOUT)
    return {s.version: s for s in response.model_version_status}


def wait_until(what: str, condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        time.sleep(0.05)


@dataclass
class Load:
    """Two client threads, gRPC and REST, calling Predict in a loop until stopped."""

    server: ServerProcess
    model: str
    versions: list[int] = field(default_factory=list)
    rest_answers: int = 0
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> "Load":
        self.threads = [
            threading.Thread(target=self._grpc, name="load-grpc"),
            threading.Thread(target=self._rest, name="load-rest"),
        ]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def _grpc(self) -> None:
        request = predict_request(self.model, {"x": X})
        while not self.stop.is_set():
            try:
                response = self.server.prediction.Predict(request, timeout=CALL_TIMEOUT)
                self.versions.append(response.model_spec.version.value)
            except grpc.RpcError as e:
                self.failures.append(f"gRPC {e.code().name}: {e.details()}")

    def _rest(self) -> None:
        body = {"instances": X.tolist()}
        while not self.stop.is_set():
            response = self.server.rest("POST", f"/v1/models/{self.model}:predict", body)
            if response.status == 200:
                self.rest_answers += 1
            else:
                self.failures.append(f"REST {response.status}: {response.body[:200]!r}")


def test_versions_swapped_under_load_lose_no_request(repository: Repository) -> None:
    server, base = repository.server, repository.models["swapped"]
    with Load(server, "swapped") as load:
        wait_until("version 1 answers", lambda: load.versions.count(1) >= 10)
        for version in (2, 3, 4):
            copy_version(repository.exported / "mlp" / "1", base, version)
            wait_until(f"version {version} answers", lambda v=version: load.versions.count(v) >= 10)
        rest_before = load.rest_answers
        wait_until("REST goes on", lambda: load.rest_answers >= rest_before + 10)
    assert load.failures == []
    # Each version takes over once and for good: no answer from an older one afterwards.
    firsts = [load.versions.index(v) for v in (1, 2, 3, 4)]
    assert firsts == sorted(firsts)
    assert load.versions == sorted(load.versions)
    wait_until("old versions unload", lambda: statuses(server, "swapped")[3].state == State.END)
    final = statuses(server, "swapped")
    assert [final[v].state for v in (1, 2, 3)] == [State.END] * 3
    assert final[4].state == State.AVAILABLE
    print(
        f"swaps 1->2->3->4 under load: {len(load.versions)} gRPC and {load.rest_answers} REST "
        "answers, none failed"
    )


def broken_copy(source: Path, base_path: Path, version: int) -> None:
    """A version whose saved_model.pb is sound but whose variables are garbage."""
    staging = base_path / f".incoming-{version}"
    shutil.copytree(source, staging)
    for data in (staging / "variables").glob("variables.data-*"):
        data.write_bytes(b"\0garbage" * (data.stat().st_size // 8 + 1))
    staging.rename(base_path / str(version))


def test_version_that_fails_to_load_is_reported_and_changes_nothing(
    repository: Repository,
) -> None:
    server, base = repository.server, repository.models["steady"]
    request = predict_request("steady", {"x": X})
    before = float_output(server.prediction.Predict(request, timeout=CALL_TIMEOUT).outputs["y"])
    with Load(server, "steady") as load:
        wait_until("version 1 answers", lambda: len(load.versions) >= 10)
        broken_copy(repository.exported / "mlp" / "1", base, 2)

        def reported() -> bool:
            status = statuses(server, "steady").get(2)
            return status is not None and status.state == State.END

        wait_until("version 2 is reported", reported)
        done = len(load.versions)
        wait_until("requests go on", lambda: len(load.versions) >= done + 10)
    assert load.failures == []
    assert set(load.versions) == {1}
    broken = statuses(server, "steady")[2]
    assert broken.status.error_code != 0
    assert "failed to load" in broken.status.error_message, broken.status.error_message
    assert statuses(server, "steady")[1].state == State.AVAILABLE
    after = server.prediction.Predict(request, timeout=CALL_TIMEOUT)
    assert after.model_spec.version.value == 1
    np.testing.assert_array_equal(float_output(after.outputs["y"]), before)
    assert server.rest("GET", "/readyz").status == 200
    assert metric(server, "blockserve_model_version_available", model="steady", version="2") == 0


def test_version_folder_deleted_while_serving_lets_requests_in_flight_finish(
    repository: Repository,
) -> None:
    server = repository.server
    seconds = 1.5
    slow = predict_request("vanishing", {"x": np.full((1, 1), seconds, np.float32)})
    calls = [server.prediction.Predict.future(slow, timeout=CALL_TIMEOUT) for _ in range(2)]
    rest: list[int] = []
    rest_call = threading.Thread(
        target=lambda: rest.append(
            server.rest("POST", "/v1/models/vanishing:predict", {"instances": [[seconds]]}).status
        )
    )
    rest_call.start()
    wait_until(
        "three calls are in flight", lambda: metric(server, "blockserve_inflight_requests") >= 3
    )
    shutil.rmtree(repository.models["vanishing"] / "1")
    for call in calls:
        assert float_output(call.result().outputs["y"]).tolist() == [[2 * seconds]]
    rest_call.join()
    assert rest == [200]
    wait_until("the version unloads", lambda: statuses(server, "vanishing")[1].state == State.END)
    with pytest.raises(grpc.RpcError) as gone:
        server.prediction.Predict(slow, timeout=CALL_TIMEOUT)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


def index_request(*indices: int):
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_INT32,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=len(indices))]
        ),
        int_val=list(indices),
    )
    return predict_request("lookup", {"index": tensor})


def test_op_error_at_run_time_is_reported_clearly_and_the_server_stays_up(
    repository: Repository,
) -> None:
    server = repository.server
    for _ in range(3):
        with pytest.raises(grpc.RpcError) as failed:
            server.prediction.Predict(index_request(0, 7), timeout=CALL_TIMEOUT)
        assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "indices[1] = 7 is not in [0, 3)" in failed.value.details()
        response = server.rest("POST", "/v1/models/lookup:predict", {"instances": [0, 7]})
        assert response.status == 400
        assert "indices[1] = 7 is not in [0, 3)" in response.json()["error"]
    good = server.prediction.Predict(index_request(2, 0), timeout=CALL_TIMEOUT)
    assert list(good.outputs["y"].float_val) == [TABLE[2], TABLE[0]]
    assert server.rest("GET", "/healthz").status == 200


def test_assertion_in_the_exported_graph_is_reported_and_the_server_stays_up(
    repository: Repository,
) -> None:
    """fixed_hidden_mlp asserts that no activation is infinite before its halving loop (which
    would never end). The `overflowing` variant reaches +inf on OVERFLOW_INPUT on any CPU."""
    server = repository.server
    with pytest.raises(grpc.RpcError) as raised:
        server.prediction.Predict(
            predict_request("overflowing", {"x": OVERFLOW_INPUT}), timeout=CALL_TIMEOUT
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    assert raised.value.details().startswith("assertion failed: [fixed_hidden_mlp: an activation")
    good = predict_request("overflowing", {"x": X})
    assert server.prediction.Predict(good, timeout=CALL_TIMEOUT).model_spec.version.value == 1
