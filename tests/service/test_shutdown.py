"""SIGTERM drains: requests in flight finish, new ones are refused, the process exits 0 in time."""

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.service.conftest import CALL_TIMEOUT, ServerProcess
from tests.service.wire import predict_request

pytestmark = pytest.mark.slow

GRACE_SECONDS = 20.0
# fixed_hidden_mlp couples its rows, so each request is its own TensorFlow call (never merged into
# a batch); on huge activations its halving loop runs ~130 times over every row: slow enough.
MODEL = "fixed_hidden_mlp"
GRPC_ROWS = 100_000
REST_ROWS = 20_000
GRPC_CALLS = 4
INFLIGHT = re.compile(r'^blockserve_inflight_requests\{protocol="(grpc|rest)"\} (\S+)$', re.M)


@pytest.fixture
def lone_server(tmp_path: Path, exported: Path) -> Iterator[ServerProcess]:
    """A server of its own: this test ends it."""
    flags = [f"--model_name={MODEL}", f"--model_base_path={exported / MODEL}"]
    server = ServerProcess(flags, tmp_path / "server.log", GRACE_SECONDS).start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.process.kill()
        server.process.wait()
    if server.channel is not None:
        server.channel.close()


@dataclass
class Outcome:
    code: str
    detail: str
    finished: float


def inflight(server: ServerProcess) -> int:
    """Requests the server is serving now, by its own gauge."""
    metrics = server.rest("GET", "/metrics").body.decode()
    return int(sum(float(value) for _, value in INFLIGHT.findall(metrics)))


def test_sigterm_finishes_requests_in_flight_and_refuses_new_ones(
    lone_server: ServerProcess,
) -> None:
    server = lone_server
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def record(code: str, detail: str) -> None:
        with lock:
            outcomes.append(Outcome(code, detail, time.monotonic()))

    def call_grpc() -> None:
        x = np.full((GRPC_ROWS, 20), 1e30, np.float32)
        try:
            response = server.prediction.Predict(
                predict_request(MODEL, {"x": x}), timeout=GRACE_SECONDS + CALL_TIMEOUT
            )
            record("OK", str(response.outputs["y"].float_val))
        except grpc.RpcError as e:
            record(e.code().name, e.details())

    def call_rest() -> None:
        body = '{"instances": [' + ",".join(["[" + ",".join(["1e30"] * 20) + "]"] * REST_ROWS)
        response = server.rest("POST", f"/v1/models/{MODEL}:predict", body + "]}")
        record("OK" if response.status == 200 else str(response.status), response.body.decode())

    clients = [threading.Thread(target=call_grpc) for _ in range(GRPC_CALLS)]
    clients.append(threading.Thread(target=call_rest))
    for client in clients:
        client.start()
    deadline = time.monotonic() + 60
    while True:
        # Finished first, then in flight: a request finishing in between is missed, never counted
        # twice, so every request has surely been accepted once the sum reaches the total.
        with lock:
            finished = len(outcomes)
        if finished + inflight(server) >= len(clients):
            break
        assert time.monotonic() < deadline, "the requests never all reached the server"
        time.sleep(0.01)

    signalled = time.monotonic()
    server.terminate()
    while True:
        try:
            if server.rest("GET", "/readyz", timeout=5).status == 503:
                break
        except OSError:
            break  # the REST port is closed already
        assert time.monotonic() < signalled + 10, "readiness never dropped after SIGTERM"
        time.sleep(0.01)
    with pytest.raises(grpc.RpcError) as refused:
        server.prediction.Predict(
            predict_request(MODEL, {"x": np.ones((1, 20), np.float32)}), timeout=CALL_TIMEOUT
        )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value.details()

    for client in clients:
        client.join(GRACE_SECONDS + CALL_TIMEOUT)
    code = server.wait(GRACE_SECONDS + 30)
    exited = time.monotonic()

    assert [o.code for o in outcomes] == ["OK"] * len(clients), outcomes
    assert any(o.finished > signalled for o in outcomes), (
        "every request finished before SIGTERM, so none was in flight: make them slower"
    )
    assert code == 0, server.log_tail()
    assert exited - signalled < GRACE_SECONDS, f"exit took {exited - signalled:.1f}s"
    with pytest.raises(grpc.RpcError) as closed:
        server.prediction.Predict(
            predict_request(MODEL, {"x": np.ones((1, 20), np.float32)}), timeout=CALL_TIMEOUT
        )
    assert closed.value.code() == grpc.StatusCode.UNAVAILABLE
