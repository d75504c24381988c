"""Overload: bounded queues refuse at once with RESOURCE_EXHAUSTED (HTTP 429) and count it,
requests whose deadline passed while they waited never reach TensorFlow, the REST timeout
answers 504, and a flood of 500 concurrent streams leaves memory bounded.

One server for the module, serving the `sleepy` model (it sleeps max(x) seconds) twice: one
call per request (`sleepy`) and with rows merged (`sleepy_batched`, 2 rows a batch), on two
workers. At most 4 requests wait for or run in TensorFlow (--max_queued_requests: the front's
bound, whatever the model), and at most 16 are in flight at once (--max_concurrent_requests).
"""

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2

from tests.reliability.conftest import metric, mib, rss_bytes, status_line
from tests.service.conftest import CALL_TIMEOUT, HOST, ServerProcess, write_model_config
from tests.service.wire import predict_request

pytestmark = pytest.mark.slow

MAX_QUEUED = 4
MAX_CONCURRENT = 16
WORKERS = 2
REST_TIMEOUT_MS = 2000
BUSY_SECONDS = 1.5
FLOOD_STREAMS = 500
FLOODS = 3
FLOOD_ROWS = 1 << 16  # 256 KiB of float32 per request: 125 MiB if all 500 were held at once


@pytest.fixture(scope="module")
def overload_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_models: dict[str, Path]
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("overload")
    config = write_model_config(
        root / "models.config",
        {name: tiny_models[name] for name in ("sleepy", "sleepy_batched")},
    )
    batching = root / "batching.config"
    batching.write_text(
        "max_batch_size { value: 2 }\n"
        "max_enqueued_batches { value: 2 }\n"
        "num_batch_threads { value: 1 }\n"
        "batch_timeout_micros { value: 0 }\n"
    )
    flags = [
        f"--model_config_file={config}",
        f"--batching_parameters_file={batching}",
        f"--max_queued_requests={MAX_QUEUED}",
        f"--max_concurrent_requests={MAX_CONCURRENT}",
        f"--num_workers={WORKERS}",
        "--enable_batching=true",
        f"--rest_api_timeout_in_ms={REST_TIMEOUT_MS}",
    ]
    with ServerProcess(flags, root / "server.log") as server:
        yield server


def sleeping(model: str, seconds: float, rows: int = 1):
    return predict_request(model, {"x": np.full((rows, 1), seconds, np.float32)})


def code_of(future: grpc.Future) -> grpc.StatusCode:
    try:
        future.result()
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def queued(server: ServerProcess) -> float:
    """Requests the server holds now (in flight), by its own gauge."""
    return metric(server, "blockserve_inflight_requests")


@pytest.mark.parametrize("model", ["sleepy", "sleepy_batched"])
def test_past_capacity_a_request_is_refused_at_once_and_counted(
    overload_server: ServerProcess, model: str
) -> None:
    """4 waiting or running, batched or not; the fifth is refused, counted under its model."""
    server = overload_server
    capacity = MAX_QUEUED
    labels = {"model": model, "code": "RESOURCE_EXHAUSTED"}
    refused_before = metric(server, "blockserve_requests_total", **labels)
    rejected_before = metric(server, "blockserve_rejected_requests_total", reason="overloaded")
    busy = [server.prediction.Predict.future(sleeping(model, BUSY_SECONDS), timeout=CALL_TIMEOUT)]
    wait_until(lambda: queued(server) >= 1)
    busy += [
        server.prediction.Predict.future(sleeping(model, 0.1), timeout=CALL_TIMEOUT)
        for _ in range(capacity - 1)
    ]
    wait_until(lambda: queued(server) >= capacity)

    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        server.prediction.Predict(sleeping(model, 0.1), timeout=CALL_TIMEOUT)
    grpc_answer = time.monotonic() - started
    rest = server.rest("POST", f"/v1/models/{model}:predict", {"instances": [[0.1]]})
    rest_answer = time.monotonic() - started - grpc_answer

    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, refused.value.details()
    assert rest.status == 429, rest.body
    assert grpc_answer < 0.5 and rest_answer < 0.5, (grpc_answer, rest_answer)
    assert [code_of(f) for f in busy] == [grpc.StatusCode.OK] * capacity
    assert metric(server, "blockserve_requests_total", **labels) - refused_before == 2
    rejected = metric(server, "blockserve_rejected_requests_total", reason="overloaded")
    assert rejected - rejected_before == 2
    print(
        f"{model}: refused past capacity in {grpc_answer * 1000:.0f} ms (gRPC), "
        f"{rest_answer * 1000:.0f} ms (REST)"
    )


@pytest.mark.parametrize("model", ["sleepy", "sleepy_batched"])
def test_request_whose_deadline_passed_while_waiting_never_reaches_tensorflow(
    overload_server: ServerProcess, model: str
) -> None:
    server = overload_server
    threads = WORKERS  # one busy call in each worker: the late request waits behind one
    calls_before = metric(server, "blockserve_inference_duration_seconds_count", model=model)
    busy = [
        server.prediction.Predict.future(sleeping(model, BUSY_SECONDS), timeout=CALL_TIMEOUT)
        for _ in range(threads)
    ]
    wait_until(lambda: queued(server) >= threads)
    with pytest.raises(grpc.RpcError) as late:
        server.prediction.Predict(sleeping(model, 0.0), timeout=0.3)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert [code_of(f) for f in busy] == [grpc.StatusCode.OK] * threads
    wait_until(lambda: queued(server) == 0)
    time.sleep(0.2)  # had the late request run, its (instant) call would be counted by now
    calls = metric(server, "blockserve_inference_duration_seconds_count", model=model)
    assert calls - calls_before == threads


def test_rest_timeout_answers_504_on_time(overload_server: ServerProcess) -> None:
    started = time.monotonic()
    response = overload_server.rest("POST", "/v1/models/sleepy:predict", {"instances": [[3.0]]})
    took = time.monotonic() - started
    assert response.status == 504, response.body
    assert str(REST_TIMEOUT_MS) in response.json()["error"]
    assert REST_TIMEOUT_MS / 1000 <= took < REST_TIMEOUT_MS / 1000 + 1, took
    print(f"REST timeout of {REST_TIMEOUT_MS} ms: 504 after {took * 1000:.0f} ms")
    # The TensorFlow call cannot be interrupted: let it end before the next test.
    wait_until(lambda: queued(overload_server) == 0, timeout=10)
    time.sleep(3.0 - took + 0.5)


def stalled_post(server: ServerProcess, declared: int, sent: bytes = b"") -> socket.socket:
    """A REST predict whose headers declare `declared` bytes of body, of which `sent` came."""
    connection = socket.create_connection((HOST, server.rest_port), timeout=CALL_TIMEOUT)
    connection.sendall(
        f"POST /v1/models/sleepy:predict HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n".encode()
        + sent
    )
    return connection


def test_past_max_concurrent_requests_rest_is_refused_before_its_body_is_read(
    overload_server: ServerProcess,
) -> None:
    """Stalled bodies hold every slot; then a REST request gets 429 with its body unread, and
    gRPC gets RESOURCE_EXHAUSTED. The REST timeout frees the stalled slots."""
    server = overload_server
    stalled = [stalled_post(server, 100) for _ in range(MAX_CONCURRENT)]
    try:
        wait_until(lambda: queued(server) >= MAX_CONCURRENT)
        with stalled_post(server, 512 << 10, b'{"instances": [[0.5]') as probe:
            assert status_line(probe).startswith("HTTP/1.1 429 ")
        with pytest.raises(grpc.RpcError) as refused:
            server.prediction.Predict(sleeping("sleepy", 0.0), timeout=CALL_TIMEOUT)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "in flight" in refused.value.details()
        assert [status_line(c).split(" ")[1] for c in stalled] == ["504"] * MAX_CONCURRENT
    finally:
        for connection in stalled:
            connection.close()
    assert server.prediction.Predict(sleeping("sleepy", 0.0), timeout=CALL_TIMEOUT)


def flood(server: ServerProcess, request: predict_pb2.PredictRequest) -> tuple[Counter, int]:
    """FLOOD_STREAMS calls at once: their codes, and the server's peak RSS meanwhile."""
    peak = [rss_bytes(server)]
    flooding = threading.Event()

    def sample() -> None:
        while not flooding.is_set():
            peak[0] = max(peak[0], rss_bytes(server))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        futures = [
            server.prediction.Predict.future(request, timeout=CALL_TIMEOUT)
            for _ in range(FLOOD_STREAMS)
        ]
        return Counter(code_of(f).name for f in futures), peak[0]
    finally:
        flooding.set()
        sampler.join()


def test_floods_of_500_streams_are_refused_past_capacity_with_memory_bounded(
    overload_server: ServerProcess,
) -> None:
    """Three floods of 500 calls, 125 MiB of tensors each. gRPC takes every message in before
    the server can refuse it, so memory rises by about one flood; it must not ratchet up."""
    server = overload_server
    request = sleeping("sleepy", 0.3, FLOOD_ROWS)
    server.prediction.Predict(request, timeout=CALL_TIMEOUT)  # first-use allocations
    before = rss_bytes(server)
    offered = FLOOD_STREAMS * FLOOD_ROWS * 4
    for round in range(FLOODS):
        started = time.monotonic()
        codes, peak = flood(server, request)
        took = time.monotonic() - started
        print(
            f"flood {round + 1}: {dict(codes)} in {took:.1f}s; RSS {mib(before)} + "
            f"{mib(peak - before)} at peak, + {mib(rss_bytes(server) - before)} after"
        )
        assert set(codes) <= {"OK", "RESOURCE_EXHAUSTED"}, codes
        assert codes["RESOURCE_EXHAUSTED"] >= FLOOD_STREAMS - 2 * MAX_CONCURRENT, codes
        assert took < 15, f"the flood took {took:.1f}s to answer"
        assert peak - before < 2 * offered, f"RSS grew by {mib(peak - before)}"
    assert server.prediction.Predict(sleeping("sleepy", 0.0), timeout=CALL_TIMEOUT)
