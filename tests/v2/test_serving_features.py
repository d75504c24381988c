"""What works for TensorFlow Serving's API works for V2: deadlines, metrics under the same
names (method model_infer, model_metadata, model_ready; protocol grpc and rest), and drain."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.reliability.conftest import metric
from tests.service.conftest import HOST, ServerProcess, copy_version, write_model_config
from tests.v2.conftest import wait_for_inflight

QUICK = 2.0
X = np.linspace(-1, 1, 20, dtype=np.float32).reshape(1, 20)


def sleepy_input(module: Any, seconds: float) -> list[Any]:
    tensor = module.InferInput("x", [1, 1], "FP32")
    tensor.set_data_from_numpy(np.full((1, 1), seconds, np.float32))
    return [tensor]


def mlp_input(module: Any) -> list[Any]:
    tensor = module.InferInput("x", [1, 20], "FP32")
    tensor.set_data_from_numpy(X)
    return [tensor]


def test_grpc_deadline_ends_a_slow_request_and_the_server_goes_on(grpc_client: Any) -> None:
    started = time.monotonic()
    with pytest.raises(InferenceServerException) as caught:
        grpc_client.infer("sleepy", sleepy_input(grpcclient, 5.0), client_timeout=0.5)
    assert "DEADLINE_EXCEEDED" in caught.value.status()
    assert time.monotonic() - started < QUICK
    assert grpc_client.infer("mlp", mlp_input(grpcclient)).as_numpy("y").shape == (1, 10)


def test_rest_timeout_parameter_is_the_requests_deadline(http_client: Any) -> None:
    started = time.monotonic()
    with pytest.raises(InferenceServerException) as caught:
        http_client.infer("sleepy", sleepy_input(httpclient, 5.0), timeout=300_000)
    assert caught.value.status() == "504"
    assert time.monotonic() - started < QUICK
    assert http_client.infer("mlp", mlp_input(httpclient)).as_numpy("y").shape == (1, 10)


@pytest.mark.parametrize("protocol", ["grpc", "rest"])
def test_v2_calls_count_under_the_same_metrics_with_their_own_methods(
    v2_server: ServerProcess, http_client: Any, grpc_client: Any, protocol: str
) -> None:
    client, module = (grpc_client, grpcclient) if protocol == "grpc" else (http_client, httpclient)
    labels = {"model": "mlp", "version": "1", "protocol": protocol}

    def count(method: str, code: str = "OK") -> float:
        return metric(v2_server, "blockserve_requests_total", method=method, code=code, **labels)

    before = {m: count(m) for m in ("model_infer", "model_metadata", "model_ready")}
    failed_before = count("model_infer", "INVALID_ARGUMENT")
    durations_before = metric(
        v2_server, "blockserve_request_duration_seconds_count", method="model_infer", **labels
    )
    client.infer("mlp", mlp_input(module))
    client.get_model_metadata("mlp")
    client.is_model_ready("mlp")
    bad = module.InferInput("x", [1, 20], "FP64")
    bad.set_data_from_numpy(X.astype(np.float64))
    with pytest.raises(InferenceServerException):
        client.infer("mlp", [bad])
    assert {m: count(m) - before[m] for m in before} == {
        "model_infer": 1,
        "model_metadata": 1,
        "model_ready": 1,
    }
    assert count("model_infer", "INVALID_ARGUMENT") - failed_before == 1
    durations = metric(
        v2_server, "blockserve_request_duration_seconds_count", method="model_infer", **labels
    )
    assert durations - durations_before == 2
    signature = metric(
        v2_server,
        "blockserve_requests_total",
        method="model_infer",
        signature="serving_default",
        **labels,
    )
    assert signature >= 1


# -- drain ------------------------------------------------------------------------------------

GRACE_SECONDS = 10.0
FINISHING_SECONDS = 2.0


@pytest.fixture
def draining_server(tmp_path: Path, tiny_models: dict[str, Path]) -> Iterator[ServerProcess]:
    """A server of its own, serving `sleepy`: the test ends it."""
    copy_version(tiny_models["sleepy"] / "1", tmp_path / "sleepy", 1)
    config = write_model_config(tmp_path / "models.config", {"sleepy": tmp_path / "sleepy"})
    server = ServerProcess(
        [f"--model_config_file={config}"], tmp_path / "server.log", GRACE_SECONDS
    ).start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.process.kill()
        server.process.wait()
    if server.channel is not None:
        server.channel.close()


@pytest.mark.slow
def test_sigterm_drains_v2_requests_then_exits_0(draining_server: ServerProcess) -> None:
    server = draining_server
    http = httpclient.InferenceServerClient(f"{HOST}:{server.rest_port}")
    grpc_client = grpcclient.InferenceServerClient(f"{HOST}:{server.grpc_port}")
    finished: list[Any] = []
    finishing = threading.Thread(
        target=lambda: finished.append(
            grpc_client.infer("sleepy", sleepy_input(grpcclient, FINISHING_SECONDS))
        )
    )
    finishing.start()
    wait_for_inflight(server, 1)
    server.terminate()
    deadline = time.monotonic() + QUICK
    while server.rest("GET", "/v2/health/ready").status != 503:
        assert time.monotonic() < deadline, "readiness stayed true after SIGTERM"
        time.sleep(0.02)
    assert not grpc_client.is_server_ready()
    with pytest.raises(InferenceServerException) as refused:
        http.infer("sleepy", sleepy_input(httpclient, 0.0))
    assert refused.value.status() == "503"
    with pytest.raises(InferenceServerException) as refused_grpc:
        grpc_client.infer("sleepy", sleepy_input(grpcclient, 0.0))
    assert "UNAVAILABLE" in refused_grpc.value.status()
    finishing.join(GRACE_SECONDS)
    (result,) = finished
    assert result.as_numpy("y").tolist() == [[2 * FINISHING_SECONDS]]
    assert server.wait() == 0
    http.close()
    grpc_client.close()
