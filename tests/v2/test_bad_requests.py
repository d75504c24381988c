"""Malformed V2 requests over REST and gRPC: each gets its exact code within 2 s, and the server
answers normally afterwards. None gets a 5xx or INTERNAL."""

import http.client
import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.service.conftest import HOST, ServerProcess
from tests.v2.conftest import MAX_REQUEST_BYTES, MAX_ROWS

QUICK = 2.0
X = np.linspace(-1, 1, 40, dtype=np.float32).reshape(2, 20)


def x_input(**changes: Any) -> dict[str, Any]:
    tensor = {"name": "x", "datatype": "FP32", "shape": [2, 20], "data": X.ravel().tolist()}
    return tensor | changes


def body(*inputs: dict[str, Any], **fields: Any) -> bytes:
    return json.dumps({"inputs": list(inputs or [x_input()]), **fields}).encode()


def binary_body(raw: bytes, size: int | None = None, header_length: int | None = None):
    """A binary-extension body whose header and sizes may lie."""
    tensor = x_input(parameters={"binary_data_size": len(raw) if size is None else size})
    del tensor["data"]
    header = json.dumps({"inputs": [tensor]}).encode()
    length = len(header) if header_length is None else header_length
    return header + raw, {"Inference-Header-Content-Length": str(length)}


TYPED_MISSING_FLAG = [
    {"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]},
    {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]},
    {"name": "count", "datatype": "INT64", "shape": [1], "data": [1]},
]

MLP = "/v2/models/mlp/infer"
TOO_MANY_ROWS = {
    "name": "x",
    "datatype": "FP32",
    "shape": [MAX_ROWS + 1, 4],
    "data": [0.0] * (4 * MAX_ROWS + 4),
}
RAW = X.tobytes()


def case(
    name: str,
    status: int,
    named: str,
    payload: bytes | None = None,
    headers: dict[str, str] | None = None,
    path: str = MLP,
    method: str = "POST",
) -> Any:
    """One malformed REST request: the status it gets and a word its error must contain."""
    return pytest.param(method, path, payload, headers or {}, status, named, id=name)


REST_CASES = [
    case("wrong datatype", 400, "'x'", body(x_input(datatype="FP64"))),
    case("unknown datatype", 400, "'x'", body(x_input(datatype="FLOAT"))),
    case("shape against data", 400, "'x'", body(x_input(shape=[2, 21]))),
    case("huge shape", 400, "'x'", body(x_input(shape=[1 << 40, 1 << 40]))),
    case("negative shape", 400, "'x'", body(x_input(shape=[-1, 20]))),
    case("shape not a list", 400, "'x'", body(x_input(shape="2,20"))),
    case("strings for floats", 400, "'x'", body(x_input(data=["a"] * 40))),
    case("ragged data", 400, "'x'", body(x_input(data=[[1.0], [1.0, 2.0]]))),
    case("no data", 400, "'x'", body({"name": "x", "datatype": "FP32", "shape": [2, 20]})),
    case("unknown input", 400, "'z'", body(x_input(), x_input(name="z"))),
    case("missing input", 400, "'flag'", body(*TYPED_MISSING_FLAG), path="/v2/models/typed/infer"),
    case("input twice", 400, "'x'", body(x_input(), x_input())),
    case("unknown output", 400, "nope", body(outputs=[{"name": "nope"}])),
    case("too many rows", 400, "rows", body(TOO_MANY_ROWS), path="/v2/models/param_net/infer"),
    case("unknown signature", 400, "nope", body(parameters={"signature_name": "nope"})),
    case("signature not a string", 400, "signature_name", body(parameters={"signature_name": 3})),
    case("timeout not a number", 400, "timeout", body(parameters={"timeout": "soon"})),
    case("unknown model", 404, "nope", body(), path="/v2/models/nope/infer"),
    case("unknown version", 404, "7", body(), path="/v2/models/mlp/versions/7/infer"),
    case("unknown label", 400, "beta", body(), path="/v2/models/mlp/versions/beta/infer"),
    case("unknown model metadata", 404, "nope", path="/v2/models/nope", method="GET"),
    case("unknown version metadata", 404, "9", path="/v2/models/mlp/versions/9", method="GET"),
    case("unknown model ready", 404, "nope", path="/v2/models/nope/ready", method="GET"),
    case("not JSON", 400, "JSON", b"{inputs: ["),
    case("JSON not an object", 400, "object", b"[1, 2]"),
    case("empty body", 400, "empty", b""),
    case("inputs not a list", 400, "inputs", b'{"inputs": {"x": 1}}'),
    case("infer with GET", 405, "POST", method="GET"),
    case("header longer than body", 400, "Length", *binary_body(RAW, header_length=1 << 20)),
    case(
        "header not a number",
        400,
        "Length",
        binary_body(RAW)[0],
        {"Inference-Header-Content-Length": "ten"},
    ),
    case("binary size beyond the body", 400, "'x'", *binary_body(RAW, size=1000)),
    case("binary bytes left over", 400, "binary", *binary_body(RAW + b"\0" * 8, size=len(RAW))),
    case("raw size against shape", 400, "'x'", *binary_body(RAW[:-4])),
    case("data and binary both", 400, "'x'", body(x_input(parameters={"binary_data_size": 0}))),
    case("body over the limit", 413, "limit", b" " * (MAX_REQUEST_BYTES + 1)),
    case("load unknown model", 404, "nope", b"", path="/v2/repository/models/nope/load"),
    case("unload unknown model", 404, "nope", b"", path="/v2/repository/models/nope/unload"),
    case("index with GET", 405, "POST", path="/v2/repository/index", method="GET"),
]


def rest(
    server: ServerProcess, method: str, path: str, payload: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, server.rest_port, timeout=30)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def answers_normally_over_rest(server: ServerProcess) -> None:
    status, answer = rest(server, "POST", "/v2/models/mlp/infer", body(), {})
    assert status == 200, answer
    assert json.loads(answer)["outputs"][0]["shape"] == [2, 10]


@pytest.mark.parametrize(("method", "path", "payload", "headers", "status", "named"), REST_CASES)
def test_malformed_rest_request_gets_its_status(
    v2_server: ServerProcess,
    method: str,
    path: str,
    payload: bytes | None,
    headers: dict[str, str],
    status: int,
    named: str,
) -> None:
    started = time.monotonic()
    got, answer = rest(v2_server, method, path, payload, headers)
    elapsed = time.monotonic() - started
    assert got == status, answer
    error = json.loads(answer)["error"]
    assert named in error
    assert elapsed < QUICK
    answers_normally_over_rest(v2_server)


# -- gRPC -------------------------------------------------------------------------------------


def raw_request(model: str = "mlp", **fields: Any) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name=model, **fields)
    if "inputs" not in fields:
        request.inputs.add(name="x", datatype="FP32", shape=[2, 20])
    if "raw_input_contents" not in fields and "inputs" not in fields:
        request.raw_input_contents.append(X.tobytes())
    return request


def tensor(**fields: Any) -> service_pb2.ModelInferRequest.InferInputTensor:
    return service_pb2.ModelInferRequest.InferInputTensor(**({"name": "x"} | fields))


def contents(**fields: Any) -> service_pb2.InferTensorContents:
    return service_pb2.InferTensorContents(**fields)


def bytes_raw(*elements: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


FP32 = X.ravel().tolist()
NO_RAW: list[bytes] = []
Output = service_pb2.ModelInferRequest.InferRequestedOutputTensor
Parameter = service_pb2.InferParameter


def raw_x(shape: list[int], raw: bytes = RAW, datatype: str = "FP32") -> Any:
    return raw_request(inputs=[tensor(datatype=datatype, shape=shape)], raw_input_contents=[raw])


def typed_x(datatype: str, shape: list[int], model: str = "mlp", **values: Any) -> Any:
    x = tensor(datatype=datatype, shape=shape, contents=contents(**values))
    return raw_request(model, inputs=[x], raw_input_contents=NO_RAW)


def grpc_case(name: str, request: Any, code: str, named: str) -> Any:
    """One malformed ModelInfer: its status code and a word its details must contain."""
    return pytest.param(request, code, named, id=name)


TWO_X = [tensor(datatype="FP32", shape=[2, 20]), tensor(datatype="FP32", shape=[2, 20])]
X_AND_Z = [tensor(datatype="FP32", shape=[2, 20]), tensor(name="z", datatype="FP32", shape=[1])]
TEXT_ONE = [tensor(name="text", datatype="BYTES", shape=[1])]
TEXT_MANY = [tensor(name="text", datatype="BYTES", shape=[1 << 30])]
BOTH = tensor(datatype="FP32", shape=[2, 20], contents=contents(fp32_contents=FP32))

GRPC_CASES = [
    grpc_case("wrong datatype", raw_x([2, 10], datatype="FP64"), "INVALID_ARGUMENT", "'x'"),
    grpc_case("unknown datatype", raw_x([2, 20], datatype="FLOAT"), "INVALID_ARGUMENT", "'x'"),
    grpc_case(
        "raw contents of the wrong size", raw_x([2, 20], RAW[:-1]), "INVALID_ARGUMENT", "'x'"
    ),
    grpc_case("huge shape", raw_x([1 << 40, 1 << 40]), "INVALID_ARGUMENT", "'x'"),
    grpc_case("negative shape", raw_x([-1, 20]), "INVALID_ARGUMENT", "'x'"),
    grpc_case(
        "contents and raw together",
        raw_request(inputs=[BOTH], raw_input_contents=[RAW]),
        "INVALID_ARGUMENT",
        "'x'",
    ),
    grpc_case(
        "contents against shape",
        typed_x("FP32", [2, 20], fp32_contents=FP32[:-1]),
        "INVALID_ARGUMENT",
        "'x'",
    ),
    grpc_case(
        "contents in the wrong field",
        typed_x("FP32", [2, 20], fp64_contents=FP32),
        "INVALID_ARGUMENT",
        "'x'",
    ),
    grpc_case(
        "FP16 as typed contents",
        typed_x("FP16", [1], fp32_contents=[1.0]),
        "INVALID_ARGUMENT",
        "'x'",
    ),
    grpc_case(
        "int out of range", typed_x("INT8", [1], int_contents=[300]), "INVALID_ARGUMENT", "'x'"
    ),
    grpc_case(
        "raw entries against inputs",
        raw_request(inputs=TWO_X[:1], raw_input_contents=[RAW, RAW]),
        "INVALID_ARGUMENT",
        "raw_input_contents",
    ),
    grpc_case(
        "BYTES lengths that lie",
        raw_request("typed", inputs=TEXT_ONE, raw_input_contents=[bytes_raw(b"abc")[:-1]]),
        "INVALID_ARGUMENT",
        "'text'",
    ),
    grpc_case(
        "BYTES shape beyond the lengths",
        raw_request("typed", inputs=TEXT_MANY, raw_input_contents=[bytes_raw(b"a")]),
        "INVALID_ARGUMENT",
        "'text'",
    ),
    grpc_case(
        "unknown input",
        raw_request(inputs=X_AND_Z, raw_input_contents=[RAW, b"\0" * 4]),
        "INVALID_ARGUMENT",
        "'z'",
    ),
    grpc_case(
        "missing input",
        raw_request(
            "typed",
            inputs=[tensor(datatype="FP32", shape=[1, 2])],
            raw_input_contents=[b"\0" * 8],
        ),
        "INVALID_ARGUMENT",
        "'flag'",
    ),
    grpc_case(
        "input twice",
        raw_request(inputs=TWO_X, raw_input_contents=[RAW, RAW]),
        "INVALID_ARGUMENT",
        "'x'",
    ),
    grpc_case(
        "no inputs", raw_request(inputs=[], raw_input_contents=NO_RAW), "INVALID_ARGUMENT", "inputs"
    ),
    grpc_case(
        "unknown output",
        raw_request(outputs=[Output(name="nope")]),
        "INVALID_ARGUMENT",
        "nope",
    ),
    grpc_case(
        "signature not a string",
        raw_request(parameters={"signature_name": Parameter(int64_param=3)}),
        "INVALID_ARGUMENT",
        "signature_name",
    ),
    grpc_case(
        "unknown signature",
        raw_request(parameters={"signature_name": Parameter(string_param="nope")}),
        "FAILED_PRECONDITION",
        "nope",
    ),
    grpc_case("unknown model", raw_request("nope"), "NOT_FOUND", "nope"),
    grpc_case("unknown version", raw_request(model_version="7"), "NOT_FOUND", "7"),
    grpc_case("no model name", raw_request(""), "INVALID_ARGUMENT", "name"),
]


@pytest.fixture(scope="module")
def stub(v2_server: ServerProcess) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(f"{HOST}:{v2_server.grpc_port}") as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def answers_normally_over_grpc(stub: service_pb2_grpc.GRPCInferenceServiceStub) -> None:
    response = stub.ModelInfer(raw_request(), timeout=30)
    y = np.frombuffer(response.raw_output_contents[0], dtype="<f4").reshape(
        response.outputs[0].shape
    )
    assert y.shape == (2, 10)


@pytest.mark.parametrize(("request_", "code", "named"), GRPC_CASES)
def test_malformed_grpc_request_gets_its_code(
    stub: service_pb2_grpc.GRPCInferenceServiceStub,
    request_: service_pb2.ModelInferRequest,
    code: str,
    named: str,
) -> None:
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(request_, timeout=30)
    elapsed = time.monotonic() - started
    assert caught.value.code() == getattr(grpc.StatusCode, code), caught.value.details()
    assert named in caught.value.details()
    assert elapsed < QUICK
    answers_normally_over_grpc(stub)


def test_request_over_the_grpc_limit_is_resource_exhausted(
    stub: service_pb2_grpc.GRPCInferenceServiceStub,
) -> None:
    big = np.zeros(MAX_REQUEST_BYTES // 4 + 16, np.float32)
    request = raw_request(
        inputs=[tensor(datatype="FP32", shape=[big.size])], raw_input_contents=[big.tobytes()]
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    answers_normally_over_grpc(stub)


@pytest.mark.parametrize(
    ("call", "request_", "code"),
    [
        ("ModelMetadata", service_pb2.ModelMetadataRequest(name="nope"), "NOT_FOUND"),
        ("ModelMetadata", service_pb2.ModelMetadataRequest(name="mlp", version="9"), "NOT_FOUND"),
        ("ModelMetadata", service_pb2.ModelMetadataRequest(name="bad name!"), "INVALID_ARGUMENT"),
        (
            "RepositoryModelUnload",
            service_pb2.RepositoryModelUnloadRequest(model_name="nope"),
            "NOT_FOUND",
        ),
        (
            "RepositoryIndex",
            service_pb2.RepositoryIndexRequest(repository_name="other"),
            "INVALID_ARGUMENT",
        ),
        ("ModelStreamInfer", None, "UNIMPLEMENTED"),
    ],
    ids=[
        "metadata unknown model",
        "metadata unknown version",
        "metadata bad name",
        "unload unknown model",
        "index of another repository",
        "streaming",
    ],
)
def test_other_calls_refuse_with_their_codes(
    stub: service_pb2_grpc.GRPCInferenceServiceStub, call: str, request_: Any, code: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        if request_ is None:
            list(getattr(stub, call)(iter([raw_request()]), timeout=30))
        else:
            getattr(stub, call)(request_, timeout=30)
    assert caught.value.code() == getattr(grpc.StatusCode, code), caught.value.details()
    answers_normally_over_grpc(stub)
