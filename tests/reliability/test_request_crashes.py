"""A request that kills its TensorFlow worker: it alone gets INTERNAL, the other requests are
served (those the dead worker held but had not started, by another worker), the worker comes
back, and a version whose requests keep killing workers is counted and named in its status
while it goes on serving."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from tests.reliability.conftest import metric
from tests.reliability.savedmodels import ABORT_ABOVE, Aborting, save
from tests.service.conftest import CALL_TIMEOUT, ServerProcess, write_model_config
from tests.service.wire import predict_request, status_request

pytestmark = pytest.mark.slow

REPEATED = 3
"""service.front.workers.crashes.REPEATED: deaths in its window that name the version."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("crashes")
    save(Aborting(), root / "aborting" / "1")
    config = write_model_config(root / "models.config", {"aborting": root / "aborting"})
    flags = [f"--model_config_file={config}", "--num_workers=2"]
    with ServerProcess(flags, root / "server.log") as process:
        yield process


def predict(server: ServerProcess, x: float) -> float:
    request = predict_request("aborting", {"x": np.array([[x]], np.float32)})
    response = server.prediction.Predict(request, timeout=CALL_TIMEOUT)
    return response.outputs["y"].float_val[0]


def back_after_a_death(server: ServerProcess, restarts: float, timeout: float = 60.0) -> None:
    """Until the worker that died is back (a restart counted past `restarts`) and answers."""
    deadline = time.monotonic() + timeout
    while metric(server, "blockserve_worker_restarts_total") <= restarts:
        assert time.monotonic() < deadline, "the worker did not come back"
        time.sleep(0.1)
    assert predict(server, 1.0) == 2.0


def good_answers(server: ServerProcess, seconds: float) -> list[str]:
    """Send good requests from 4 threads for `seconds`; the failures' codes."""
    failures: list[str] = []
    deadline = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < deadline:
            try:
                assert predict(server, 1.0) == 2.0
            except grpc.RpcError as e:
                failures.append(e.code().name)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: loop(), range(4)))
    return failures


def test_a_request_that_kills_its_worker_gets_internal_and_the_rest_is_served(
    server: ServerProcess,
) -> None:
    restarts = metric(server, "blockserve_worker_restarts_total")
    with ThreadPoolExecutor(1) as pool:
        traffic = pool.submit(good_answers, server, 4.0)
        time.sleep(0.5)
        with pytest.raises(grpc.RpcError) as raised:
            predict(server, ABORT_ABOVE * 2)
        failures = traffic.result()
    assert raised.value.code() == grpc.StatusCode.INTERNAL, raised.value.details()
    assert "while running this request" in raised.value.details()
    assert "SIGABRT" in raised.value.details()
    # The requests the dead worker held but had not started went to another worker.
    assert failures == []
    deadline = time.monotonic() + 60
    while metric(server, "blockserve_worker_restarts_total") < restarts + 1:
        assert time.monotonic() < deadline, "the worker did not come back"
        time.sleep(0.1)
    assert predict(server, 1.0) == 2.0


def test_a_version_whose_requests_keep_killing_workers_is_named_and_keeps_serving(
    server: ServerProcess,
) -> None:
    before = metric(server, "blockserve_request_crashes_total", model="aborting", version="1")
    for _ in range(REPEATED):
        restarts = metric(server, "blockserve_worker_restarts_total")
        with pytest.raises(grpc.RpcError):
            predict(server, ABORT_ABOVE * 2)
        # Else the next one kills the other worker while this one restarts, then the lane.
        back_after_a_death(server, restarts)
    crashes = metric(server, "blockserve_request_crashes_total", model="aborting", version="1")
    assert crashes - before == REPEATED
    (status,) = server.models.GetModelStatus(
        status_request("aborting", 1), timeout=CALL_TIMEOUT
    ).model_version_status
    assert status.state == status.AVAILABLE
    assert "killed a TensorFlow worker" in status.status.error_message
    assert predict(server, 1.0) == 2.0
