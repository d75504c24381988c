"""The request limits hold at their edges: message size over gRPC, body size over REST (refused
before the body is read), rows per request, and JSON nesting.

The corpus server runs with --max_request_bytes=1 MiB and --max_rows_per_request=1000.
"""

import select
import socket
import time

import grpc
import numpy as np
import pytest

from tests.reliability.conftest import MAX_REQUEST_BYTES, MAX_ROWS, status_line
from tests.service.conftest import CALL_TIMEOUT, HOST, ServerProcess
from tests.service.wire import predict_request

PREDICT = "/v1/models/mlp:predict"
ROW = [0.25] * 20


def grpc_code(server: ServerProcess, x: np.ndarray) -> grpc.StatusCode:
    try:
        server.prediction.Predict(predict_request("mlp", {"x": x}), timeout=CALL_TIMEOUT)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def test_grpc_message_over_max_request_bytes_is_refused(corpus_server: ServerProcess) -> None:
    row_bytes = 20 * 4
    under = np.zeros((MAX_REQUEST_BYTES // row_bytes - 16, 20), np.float32)
    over = np.zeros((MAX_REQUEST_BYTES // row_bytes + 16, 20), np.float32)
    # Under the byte limit, the request reaches the server's own checks (here: too many rows).
    assert grpc_code(corpus_server, under) == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_code(corpus_server, over) == grpc.StatusCode.RESOURCE_EXHAUSTED


def raw_http(server: ServerProcess, head: str) -> socket.socket:
    """A connection to the REST port that has sent `head` (request line and headers)."""
    connection = socket.create_connection((HOST, server.rest_port), timeout=CALL_TIMEOUT)
    connection.sendall(head.encode())
    return connection


def test_rest_body_over_the_limit_is_refused_413_before_it_is_read(
    corpus_server: ServerProcess,
) -> None:
    """The client declares 64 MiB and sends 1 KiB: the answer comes without the rest."""
    with raw_http(
        corpus_server,
        f"POST {PREDICT} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {64 << 20}\r\n\r\n",
    ) as connection:
        connection.sendall(b'{"instances": [' + b"[0.5]," * 170)
        started = time.monotonic()
        assert status_line(connection) == "HTTP/1.1 413 Request Entity Too Large"
        assert time.monotonic() - started < 2


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_rest_chunked_body_over_the_limit_is_refused_413_once_past_it(
    corpus_server: ServerProcess,
) -> None:
    """No Content-Length: the server reads up to the limit, then answers without waiting."""
    chunk = b"[0.5]," * 10_000
    framed = chunked(chunk)
    total = 64 << 20
    sent = 0
    with raw_http(
        corpus_server,
        f"POST {PREDICT} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
    ) as connection:
        connection.sendall(chunked(b'{"instances": ['))
        while sent < total:
            readable, _, _ = select.select([connection], [], [], 0)
            if readable:
                break
            try:
                connection.sendall(framed)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        assert sent < total, "the server waited for all 64 MiB"
        assert status_line(connection) == "HTTP/1.1 413 Request Entity Too Large"
    print(f"chunked body refused after {sent / (1 << 20):.1f} MiB of {total >> 20} MiB")


def test_rows_up_to_max_rows_per_request_are_served_and_one_more_is_refused(
    corpus_server: ServerProcess,
) -> None:
    at_limit = np.full((MAX_ROWS, 20), 0.25, np.float32)
    assert grpc_code(corpus_server, at_limit) == grpc.StatusCode.OK
    with pytest.raises(grpc.RpcError) as refused:
        corpus_server.prediction.Predict(
            predict_request("mlp", {"x": np.vstack([at_limit, at_limit[:1]])}),
            timeout=CALL_TIMEOUT,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"at most {MAX_ROWS}" in refused.value.details()

    assert corpus_server.rest("POST", PREDICT, {"instances": [ROW] * MAX_ROWS}).status == 200
    response = corpus_server.rest("POST", PREDICT, {"instances": [ROW] * (MAX_ROWS + 1)})
    assert response.status == 400
    assert f"at most {MAX_ROWS}" in response.json()["error"]


@pytest.mark.parametrize(
    ("levels", "message"),
    [(65, "nested deeper than 64 levels"), (10_000, "nested too deeply")],
)
def test_json_nested_past_the_limit_is_refused_at_once(
    corpus_server: ServerProcess, levels: int, message: str
) -> None:
    body = '{"instances": ' + "[" * levels + "0.5" + "]" * levels + "}"
    started = time.monotonic()
    response = corpus_server.rest("POST", PREDICT, body)
    assert time.monotonic() - started < 2
    assert response.status == 400
    assert message in response.json()["error"]
