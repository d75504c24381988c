"""Bad requests get TensorFlow Serving's status codes over gRPC and HTTP, and leave no harm behind.

One table, each row a mistake a client makes, with the gRPC code and HTTP status it must get.
"""

from collections.abc import Callable
from dataclasses import dataclass

import grpc
import numpy as np
import pytest
from google.protobuf.message import Message
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from tests.service.conftest import CALL_TIMEOUT, MAX_REQUEST_BYTES, ServerProcess
from tests.service.wire import classify_request, example, float_tensor, predict_request

Code = grpc.StatusCode
ROW = [0.5] * 20
X = np.full((2, 20), 0.5, np.float32)


@dataclass(frozen=True)
class BadRequest:
    """One mistake: the gRPC Predict request and the REST call that make it, and their answers."""

    grpc_request: Callable[[], Message] | None
    grpc_code: Code | None
    rest_path: str = "/v1/models/mlp:predict"
    rest_body: Callable[[], bytes | str | dict] | None = None
    http_status: int | None = None


def double_tensor() -> tensor_pb2.TensorProto:
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_DOUBLE,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in X.shape]
        ),
        tensor_content=X.astype(np.float64).tobytes(),
    )


def short_tensor_content() -> tensor_pb2.TensorProto:
    tensor = float_tensor(X)
    tensor.tensor_content = tensor.tensor_content[:-4]
    return tensor


def oversized_rows() -> int:
    return MAX_REQUEST_BYTES // (20 * 4) + 64


CASES = {
    "unknown_model": BadRequest(
        lambda: predict_request("no_such_model", {"x": X}),
        Code.NOT_FOUND,
        "/v1/models/no_such_model:predict",
        lambda: {"instances": [ROW]},
        404,
    ),
    "unknown_version": BadRequest(
        lambda: predict_request("mlp", {"x": X}, version=99),
        Code.NOT_FOUND,
        "/v1/models/mlp/versions/99:predict",
        lambda: {"instances": [ROW]},
        404,
    ),
    # TensorFlow Serving's code for Predict; Classify and Regress get INVALID_ARGUMENT (below).
    "unknown_signature": BadRequest(
        lambda: predict_request("mlp", {"x": X}, signature="no_such_signature"),
        Code.FAILED_PRECONDITION,
        rest_body=lambda: {"signature_name": "no_such_signature", "instances": [ROW]},
        http_status=400,
    ),
    "wrong_dtype": BadRequest(
        lambda: predict_request("mlp", {"x": double_tensor()}),
        Code.INVALID_ARGUMENT,
        rest_body=lambda: {"instances": [["a"] * 20]},
        http_status=400,
    ),
    "wrong_inner_dimension": BadRequest(
        lambda: predict_request("mlp", {"x": X[:, :19]}),
        Code.INVALID_ARGUMENT,
        rest_body=lambda: {"instances": [ROW[:19]]},
        http_status=400,
    ),
    "missing_input": BadRequest(
        lambda: predict_request("mlp", {}),
        Code.INVALID_ARGUMENT,
        rest_body=lambda: {"inputs": {}},
        http_status=400,
    ),
    "extra_input": BadRequest(
        lambda: predict_request("mlp", {"x": X, "z": X}),
        Code.INVALID_ARGUMENT,
        rest_body=lambda: {"inputs": {"x": [ROW], "z": [ROW]}},
        http_status=400,
    ),
    "tensor_content_of_wrong_length": BadRequest(
        lambda: predict_request("mlp", {"x": short_tensor_content()}), Code.INVALID_ARGUMENT
    ),
    "nan_into_fixed_hidden_mlp_loop": BadRequest(
        lambda: predict_request("fixed_hidden_mlp", {"x": np.full((1, 20), np.nan)}),
        Code.INVALID_ARGUMENT,
        "/v1/models/fixed_hidden_mlp:predict",
        lambda: '{"instances": [[' + ",".join(["NaN"] * 20) + "]]}",
        400,
    ),
    "over_max_request_bytes": BadRequest(
        lambda: predict_request("mlp", {"x": np.zeros((oversized_rows(), 20))}),
        Code.RESOURCE_EXHAUSTED,
        rest_body=lambda: {"instances": [ROW] * (MAX_REQUEST_BYTES // 60)},
        http_status=413,
    ),
    "empty_body": BadRequest(None, None, rest_body=lambda: b"", http_status=400),
    "body_not_json": BadRequest(None, None, rest_body=lambda: b"x=1&y=2", http_status=400),
    "body_json_but_not_an_object": BadRequest(
        None, None, rest_body=lambda: b"[[0.5]]", http_status=400
    ),
}
GRPC_CASES = [name for name, case in CASES.items() if case.grpc_request is not None]
REST_CASES = [name for name, case in CASES.items() if case.rest_body is not None]


@pytest.mark.parametrize("case", GRPC_CASES)
def test_bad_grpc_predict_gets_tfserving_code(server: ServerProcess, case: str) -> None:
    bad = CASES[case]
    assert bad.grpc_request is not None
    with pytest.raises(grpc.RpcError) as raised:
        server.prediction.Predict(bad.grpc_request(), timeout=CALL_TIMEOUT)
    assert raised.value.code() == bad.grpc_code, raised.value.details()
    assert raised.value.details(), "the message must say what was wrong"


@pytest.mark.parametrize("case", REST_CASES)
def test_bad_rest_predict_gets_tfserving_status(server: ServerProcess, case: str) -> None:
    bad = CASES[case]
    assert bad.rest_body is not None
    response = server.rest("POST", bad.rest_path, bad.rest_body())
    assert response.status == bad.http_status, response.body
    assert response.json()["error"], "the body must say what was wrong"


def test_expired_client_deadline_gets_deadline_exceeded(server: ServerProcess) -> None:
    request = predict_request("mlp", {"x": np.zeros((4096, 20), np.float32)})
    with pytest.raises(grpc.RpcError) as raised:
        server.prediction.Predict(request, timeout=0.001)
    assert raised.value.code() == Code.DEADLINE_EXCEEDED
    # The abandoned call leaves the server serving.
    response = server.prediction.Predict(predict_request("mlp", {"x": X}), timeout=CALL_TIMEOUT)
    assert response.model_spec.version.value == 1


@pytest.mark.parametrize(
    ("model", "signature"),
    [
        ("half_plus_two_tf1", "no_such_signature"),
        # A predict signature whose outputs are no classification (y, not scores or classes).
        ("half_plus_two_tf2", "serving_default"),
    ],
)
def test_classify_on_unfit_signature_is_invalid_argument(
    server: ServerProcess, model: str, signature: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        server.prediction.Classify(
            classify_request(model, signature, example(x=2.0)), timeout=CALL_TIMEOUT
        )
    assert raised.value.code() == Code.INVALID_ARGUMENT, raised.value.details()
    assert signature in raised.value.details()
