"""SIGTERM: readiness turns false first, requests in flight finish, new ones are refused with
UNAVAILABLE (HTTP 503), and the process exits 0 within the grace period, even when a request
would outlast it.
"""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2

from tests.reliability.conftest import metric
from tests.service.conftest import CALL_TIMEOUT, ServerProcess, copy_version, write_model_config
from tests.service.wire import float_output, predict_request

pytestmark = pytest.mark.slow

GRACE_SECONDS = 5.0
FINISHING_SECONDS = 2.0
OUTLASTING_SECONDS = 20.0
# Past the grace period the server abandons what is left; exiting takes a moment more.
EXIT_MARGIN_SECONDS = 2.0


@pytest.fixture
def draining_server(tmp_path: Path, tiny_models: dict[str, Path]) -> Iterator[ServerProcess]:
    """A server of its own, serving `sleepy`: this test ends it."""
    copy_version(tiny_models["sleepy"] / "1", tmp_path / "sleepy", 1)
    config = write_model_config(tmp_path / "models.config", {"sleepy": tmp_path / "sleepy"})
    # Two workers: the two finishing requests sleep at once, as the outlasting one waits.
    flags = [f"--model_config_file={config}", "--num_workers=2"]
    server = ServerProcess(flags, tmp_path / "server.log", GRACE_SECONDS).start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.process.kill()
        server.process.wait()
    if server.channel is not None:
        server.channel.close()


def sleeping(seconds: float):
    return predict_request("sleepy", {"x": np.full((1, 1), seconds, np.float32)})


def wait_for_inflight(server: ServerProcess, count: int) -> None:
    deadline = time.monotonic() + 30
    while metric(server, "blockserve_inflight_requests") < count:
        assert time.monotonic() < deadline, "the requests never all reached the server"
        time.sleep(0.02)


def test_sigterm_drains_then_exits_0_within_the_grace_period(
    draining_server: ServerProcess,
) -> None:
    server = draining_server
    finishing = server.prediction.Predict.future(sleeping(FINISHING_SECONDS), timeout=CALL_TIMEOUT)
    rest: list[tuple[int, bytes]] = []

    def call_rest() -> None:
        body = {"instances": [[FINISHING_SECONDS]]}
        response = server.rest("POST", "/v1/models/sleepy:predict", body)
        rest.append((response.status, response.body))

    rest_call = threading.Thread(target=call_rest)
    rest_call.start()
    # The two workers run two sleeps at once: the outlasting request
    # comes last, so that it waits for the others rather than they for it.
    wait_for_inflight(server, 2)
    outlasting = server.prediction.Predict.future(
        sleeping(OUTLASTING_SECONDS), timeout=OUTLASTING_SECONDS + CALL_TIMEOUT
    )
    wait_for_inflight(server, 3)

    signalled = time.monotonic()
    server.terminate()
    readiness = server.rest("GET", "/readyz", timeout=5)
    health = server.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    with pytest.raises(grpc.RpcError) as refused:
        server.prediction.Predict(sleeping(0.0), timeout=CALL_TIMEOUT)
    rest_refused = server.rest("POST", "/v1/models/sleepy:predict", {"instances": [[0.0]]})
    refusing = time.monotonic() - signalled

    assert readiness.status == 503 and readiness.json()["draining"] is True
    assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value.details()
    assert rest_refused.status == 503, rest_refused.body
    assert float_output(finishing.result().outputs["y"]).tolist() == [[2 * FINISHING_SECONDS]]
    rest_call.join()
    assert [status for status, _ in rest] == [200], rest

    code = server.wait(GRACE_SECONDS + 30)
    exited = time.monotonic() - signalled
    assert code == 0, server.log_tail()
    with pytest.raises(grpc.RpcError) as abandoned:
        outlasting.result()
    print(
        f"SIGTERM: refusing within {refusing * 1000:.0f} ms, exit 0 after {exited:.1f}s "
        f"(grace {GRACE_SECONDS:.0f}s); the outlasting request got "
        f"{abandoned.value.code().name}: {abandoned.value.details()}"
    )
    assert exited < GRACE_SECONDS + EXIT_MARGIN_SECONDS, f"exit took {exited:.1f}s"
