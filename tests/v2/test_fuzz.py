"""Fuzzed V2 requests: whatever a client sends, the server answers within 2 s, never with
INTERNAL or a 5xx for the client's own mistake, and stays up.

Hypothesis draws ModelInferRequests (any datatype, shape, typed or raw contents, consistent or
not) and REST infer bodies (JSON tensors of any shape, binary headers and sizes that may lie).
The runs are derandomised, so CI draws the same examples each time.
"""

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.service.conftest import HOST, ServerProcess

pytestmark = pytest.mark.slow

EXAMPLES = 200
ANSWER_SECONDS = 2.0
SERVER_FAULTS = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MODELS = ("mlp", "typed", "half_plus_two_tf1")
DATATYPES = (
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES", "BF16", "", "fp32",
)  # fmt: skip
names = st.one_of(st.sampled_from(("x", "text", "count", "flag")), st.text(max_size=6))
dims = st.one_of(
    st.integers(0, 8),
    st.sampled_from((-1, 20, 1000, 10**9, 2**40, 2**62, 2**63 - 1)),
    st.integers(-(2**63), 2**63 - 1),
)
shapes = st.lists(dims, max_size=5)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False),
        st.text(max_size=5),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=30,
)


@st.composite
def infer_requests(draw: st.DrawFn) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(
        model_name=draw(st.sampled_from(MODELS)),
        model_version=draw(st.sampled_from(("", "", "1", "123", "x", "0"))),
    )
    raw = draw(st.booleans())
    for _ in range(draw(st.integers(0, 4))):
        tensor = request.inputs.add(
            name=draw(names), datatype=draw(st.sampled_from(DATATYPES)), shape=draw(shapes)
        )
        if raw:
            request.raw_input_contents.append(draw(st.binary(max_size=96)))
        else:
            field = draw(
                st.sampled_from(
                    ("fp32_contents", "int64_contents", "bytes_contents", "bool_contents",
                     "int_contents", "uint_contents", "fp64_contents")
                )
            )  # fmt: skip
            values = {
                "fp32_contents": st.floats(width=32),
                "fp64_contents": st.floats(),
                "int64_contents": st.integers(-(2**63), 2**63 - 1),
                "int_contents": st.integers(-(2**31), 2**31 - 1),
                "uint_contents": st.integers(0, 2**32 - 1),
                "bytes_contents": st.binary(max_size=8),
                "bool_contents": st.booleans(),
            }[field]
            getattr(tensor.contents, field).extend(draw(st.lists(values, max_size=48)))
    if draw(st.booleans()):
        request.raw_input_contents.append(draw(st.binary(max_size=8)))
    return request


@pytest.fixture(scope="module")
def stub(v2_server: ServerProcess) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(f"{HOST}:{v2_server.grpc_port}") as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


@FUZZ
@given(request=infer_requests())
def test_fuzzed_model_infer_gets_a_clients_code(
    stub: service_pb2_grpc.GRPCInferenceServiceStub, request: service_pb2.ModelInferRequest
) -> None:
    started = time.monotonic()
    try:
        stub.ModelInfer(request, timeout=30)
    except grpc.RpcError as e:
        assert e.code() not in SERVER_FAULTS, e.details()
    assert time.monotonic() - started < ANSWER_SECONDS


@st.composite
def rest_bodies(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    tensors = []
    binary = b""
    for _ in range(draw(st.integers(0, 3))):
        tensor: dict[str, Any] = {
            "name": draw(names),
            "datatype": draw(st.one_of(st.sampled_from(DATATYPES), json_values)),
            "shape": draw(st.one_of(shapes, json_values)),
        }
        if draw(st.booleans()):
            data = draw(st.binary(max_size=64))
            binary += data
            size = draw(st.one_of(st.just(len(data)), st.integers(-5, 200), json_values))
            tensor["parameters"] = {"binary_data_size": size}
        if draw(st.booleans()):
            tensor["data"] = draw(json_values)
        tensors.append(tensor)
    payload: dict[str, Any] = {"inputs": tensors}
    if draw(st.booleans()):
        payload["outputs"] = draw(st.lists(st.fixed_dictionaries({"name": names}), max_size=2))
    if draw(st.booleans()):
        payload["parameters"] = draw(st.dictionaries(st.text(max_size=20), json_values))
    header = json.dumps(payload).encode()
    headers = {}
    if binary or draw(st.booleans()):
        length = draw(st.one_of(st.just(len(header)), st.integers(-3, len(header) + 300)))
        headers["Inference-Header-Content-Length"] = str(length)
    path = f"/v2/models/{draw(st.sampled_from(MODELS))}/infer"
    return path, header + binary, headers


@FUZZ
@given(case=rest_bodies())
def test_fuzzed_rest_infer_gets_a_clients_status(
    v2_server: ServerProcess, case: tuple[str, bytes, dict[str, str]]
) -> None:
    path, body, headers = case
    started = time.monotonic()
    connection = http.client.HTTPConnection(HOST, v2_server.rest_port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    assert response.status < 500, answer
    assert time.monotonic() - started < ANSWER_SECONDS
