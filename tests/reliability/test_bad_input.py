"""Malformed requests get the exact status a client can act on, over gRPC and REST, and cost
the server nothing: two tables, each row one mistake and the answer it must get.

The statuses follow TensorFlow Serving's: a client's mistake is INVALID_ARGUMENT (HTTP 400) or,
for things that do not exist, NOT_FOUND (404); never INTERNAL or a 5xx.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import grpc
import numpy as np
import pytest
from google.protobuf.message import Message
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    inference_pb2,
    input_pb2,
    predict_pb2,
)

from tests.reliability.conftest import MAX_REQUEST_BYTES, MAX_ROWS, mib, rss_bytes
from tests.service.conftest import ServerProcess
from tests.service.wire import (
    classify_request,
    example,
    float_tensor,
    metadata_request,
    model_spec,
    predict_request,
    regress_request,
    status_request,
)

pytestmark = pytest.mark.usefixtures("corpus_baseline")

Code = grpc.StatusCode
X = np.full((2, 20), 0.5, np.float32)
ROW = [0.5] * 20
# How long the server may take to refuse a request; a refusal should be cheap.
ANSWER_SECONDS = 2.0


def tensor(dtype: int, dims: list[int], **fields: object) -> tensor_pb2.TensorProto:
    """A TensorProto declaring `dims`, carrying whatever `fields` say, consistent or not."""
    return tensor_pb2.TensorProto(
        dtype=dtype,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims]
        ),
        **fields,
    )


def predict(inputs: dict[str, tensor_pb2.TensorProto], name: str = "mlp", **spec: object):
    return lambda: predict_request(name, inputs, **spec)


def predict_x(x: tensor_pb2.TensorProto, **spec: object):
    return predict({"x": x}, **spec)


def with_filter(*names: str):
    def build() -> predict_pb2.PredictRequest:
        request = predict_request("mlp", {"x": X})
        request.output_filter.extend(names)
        return request

    return build


def metadata(*fields: str, name: str = "mlp"):
    def build() -> get_model_metadata_pb2.GetModelMetadataRequest:
        request = metadata_request(name)
        del request.metadata_field[:]
        request.metadata_field.extend(fields)
        return request

    return build


def multi_inference(*tasks: tuple[str, str, str]):
    """MultiInference tasks of (model, signature, method), over one example."""

    def build() -> inference_pb2.MultiInferenceRequest:
        request = inference_pb2.MultiInferenceRequest(
            input=input_pb2.Input(example_list=input_pb2.ExampleList(examples=[example(x=1.0)]))
        )
        for name, signature, method in tasks:
            request.tasks.add(model_spec=model_spec(name, signature=signature), method_name=method)
        return request

    return build


def float_content(dims: list[int], values: int) -> tensor_pb2.TensorProto:
    return tensor(types_pb2.DT_FLOAT, dims, tensor_content=np.zeros(values, np.float32).tobytes())


def float_values(dims: list[int], values: int) -> tensor_pb2.TensorProto:
    return tensor(types_pb2.DT_FLOAT, dims, float_val=[0.5] * values)


@dataclass(frozen=True)
class GrpcCase:
    """One bad call: which RPC, its request, and the code it must get."""

    rpc: str
    request: Callable[[], Message]
    code: Code


CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"

GRPC_CASES: dict[str, GrpcCase] = {
    # dtype
    "double_for_float": GrpcCase(
        "Predict",
        predict_x(tensor(types_pb2.DT_DOUBLE, [2, 20], tensor_content=X.astype("f8").tobytes())),
        Code.INVALID_ARGUMENT,
    ),
    "int32_for_float": GrpcCase(
        "Predict",
        predict_x(tensor(types_pb2.DT_INT32, [1, 20], int_val=[1] * 20)),
        Code.INVALID_ARGUMENT,
    ),
    "string_for_float": GrpcCase(
        "Predict",
        predict_x(tensor(types_pb2.DT_STRING, [1, 20], string_val=[b"0.5"] * 20)),
        Code.INVALID_ARGUMENT,
    ),
    "unsupported_dtype_complex64": GrpcCase(
        "Predict",
        predict_x(tensor(types_pb2.DT_COMPLEX64, [1, 20], scomplex_val=[0.0] * 40)),
        Code.INVALID_ARGUMENT,
    ),
    "dtype_invalid": GrpcCase(
        "Predict", predict_x(tensor(types_pb2.DT_INVALID, [1, 20])), Code.INVALID_ARGUMENT
    ),
    "float_for_int32_index": GrpcCase(
        "Predict", predict({"index": float_values([2], 2)}, "lookup"), Code.INVALID_ARGUMENT
    ),
    "int64_for_int32_index": GrpcCase(
        "Predict",
        predict({"index": tensor(types_pb2.DT_INT64, [2], int64_val=[0, 1])}, "lookup"),
        Code.INVALID_ARGUMENT,
    ),
    # rank and dimensions
    "rank_1": GrpcCase("Predict", predict_x(float_values([20], 20)), Code.INVALID_ARGUMENT),
    "rank_3": GrpcCase("Predict", predict_x(float_values([1, 1, 20], 20)), Code.INVALID_ARGUMENT),
    "scalar": GrpcCase("Predict", predict_x(float_values([], 1)), Code.INVALID_ARGUMENT),
    "inner_dimension_19": GrpcCase(
        "Predict", predict_x(float_values([2, 19], 38)), Code.INVALID_ARGUMENT
    ),
    "unknown_rank": GrpcCase(
        "Predict",
        predict_x(
            tensor_pb2.TensorProto(
                dtype=types_pb2.DT_FLOAT,
                tensor_shape=tensor_shape_pb2.TensorShapeProto(unknown_rank=True),
                float_val=[0.5] * 20,
            )
        ),
        Code.INVALID_ARGUMENT,
    ),
    "rank_70": GrpcCase("Predict", predict_x(float_values([1] * 70, 1)), Code.INVALID_ARGUMENT),
    # tensor_content against the declared shape
    "tensor_content_one_value_short": GrpcCase(
        "Predict", predict_x(float_content([2, 20], 39)), Code.INVALID_ARGUMENT
    ),
    "tensor_content_one_value_long": GrpcCase(
        "Predict", predict_x(float_content([2, 20], 41)), Code.INVALID_ARGUMENT
    ),
    "tensor_content_not_a_multiple_of_4": GrpcCase(
        "Predict",
        predict_x(tensor(types_pb2.DT_FLOAT, [2, 20], tensor_content=b"\0" * 159)),
        Code.INVALID_ARGUMENT,
    ),
    "tensor_content_for_empty_shape": GrpcCase(
        "Predict", predict_x(float_content([0, 20], 1)), Code.INVALID_ARGUMENT
    ),
    # typed-field counts against the declared shape
    "float_val_one_short": GrpcCase(
        "Predict", predict_x(float_values([2, 20], 39)), Code.INVALID_ARGUMENT
    ),
    "float_val_one_long": GrpcCase(
        "Predict", predict_x(float_values([2, 20], 41)), Code.INVALID_ARGUMENT
    ),
    "float_val_in_the_wrong_field": GrpcCase(
        "Predict",
        predict_x(tensor(types_pb2.DT_FLOAT, [1, 20], double_val=[0.5] * 20)),
        Code.INVALID_ARGUMENT,
    ),
    "string_val_count_unlike_shape": GrpcCase(
        "Predict",
        predict_x(tensor(types_pb2.DT_STRING, [2, 20], string_val=[b"a"] * 3)),
        Code.INVALID_ARGUMENT,
    ),
    # negative and absurd dimensions
    "negative_dimension": GrpcCase(
        "Predict", predict_x(float_values([-1, 20], 20)), Code.INVALID_ARGUMENT
    ),
    "billion_rows_with_40_values": GrpcCase(
        "Predict", predict_x(float_values([10**9, 20], 40)), Code.INVALID_ARGUMENT
    ),
    "billion_rows_with_40_values_of_content": GrpcCase(
        "Predict", predict_x(float_content([10**9, 20], 40)), Code.INVALID_ARGUMENT
    ),
    "billion_rows_with_one_value": GrpcCase(
        "Predict", predict_x(float_values([10**9, 20], 1)), Code.INVALID_ARGUMENT
    ),
    "dimensions_overflowing_int64": GrpcCase(
        "Predict", predict_x(float_values([2**62, 2**62, 20], 40)), Code.INVALID_ARGUMENT
    ),
    "zero_rows_of_absurd_width": GrpcCase(
        "Predict", predict_x(float_values([0, 2**63 - 1], 0)), Code.INVALID_ARGUMENT
    ),
    "rows_over_max_rows_per_request": GrpcCase(
        "Predict",
        predict_x(float_values([MAX_ROWS + 1, 20], 1)),
        Code.INVALID_ARGUMENT,
    ),
    "message_over_max_request_bytes": GrpcCase(
        "Predict",
        lambda: predict_request("mlp", {"x": np.zeros((MAX_REQUEST_BYTES // 80 + 64, 20))}),
        Code.RESOURCE_EXHAUSTED,
    ),
    # inputs
    "no_inputs": GrpcCase("Predict", predict({}), Code.INVALID_ARGUMENT),
    "extra_input": GrpcCase(
        "Predict", predict({"x": float_tensor(X), "z": float_tensor(X)}), Code.INVALID_ARGUMENT
    ),
    "misnamed_input": GrpcCase("Predict", predict({"X": float_tensor(X)}), Code.INVALID_ARGUMENT),
    "input_named_empty": GrpcCase("Predict", predict({"": float_tensor(X)}), Code.INVALID_ARGUMENT),
    # model spec
    "unknown_model": GrpcCase(
        "Predict", predict({"x": float_tensor(X)}, "no_such_model"), Code.NOT_FOUND
    ),
    "unknown_version": GrpcCase(
        "Predict", predict({"x": float_tensor(X)}, version=99), Code.NOT_FOUND
    ),
    "negative_version": GrpcCase(
        "Predict", predict({"x": float_tensor(X)}, version=-1), Code.NOT_FOUND
    ),
    "unknown_label": GrpcCase(
        "Predict", predict({"x": float_tensor(X)}, label="no_such_label"), Code.INVALID_ARGUMENT
    ),
    "unknown_signature": GrpcCase(
        "Predict",
        predict({"x": float_tensor(X)}, signature="no_such_signature"),
        Code.FAILED_PRECONDITION,
    ),
    "empty_model_name": GrpcCase(
        "Predict", predict({"x": float_tensor(X)}, ""), Code.INVALID_ARGUMENT
    ),
    "path_traversal_model_name": GrpcCase(
        "Predict", predict({"x": float_tensor(X)}, "../../etc/passwd"), Code.INVALID_ARGUMENT
    ),
    "model_name_of_300_characters": GrpcCase(
        "Predict", predict({"x": float_tensor(X)}, "m" * 300), Code.INVALID_ARGUMENT
    ),
    # output filters
    "unknown_output_filter": GrpcCase("Predict", with_filter("z"), Code.INVALID_ARGUMENT),
    "duplicate_output_filter": GrpcCase("Predict", with_filter("y", "y"), Code.INVALID_ARGUMENT),
    # non-finite input where the model's loop would never end
    "nan_into_fixed_hidden_mlp": GrpcCase(
        "Predict",
        lambda: predict_request("fixed_hidden_mlp", {"x": np.full((1, 20), np.nan)}),
        Code.INVALID_ARGUMENT,
    ),
    "infinity_into_chimera": GrpcCase(
        "Predict",
        lambda: predict_request("chimera", {"x": np.full((1, 20), np.inf)}),
        Code.INVALID_ARGUMENT,
    ),
    # metadata
    "unknown_metadata_field": GrpcCase(
        "GetModelMetadata", metadata("signature_def", "no_such_field"), Code.INVALID_ARGUMENT
    ),
    "no_metadata_field": GrpcCase("GetModelMetadata", metadata(), Code.INVALID_ARGUMENT),
    "metadata_of_unknown_model": GrpcCase(
        "GetModelMetadata", metadata("signature_def", name="no_such_model"), Code.NOT_FOUND
    ),
    # classify, regress, multi-inference
    "classify_on_predict_signature": GrpcCase(
        "Classify",
        lambda: classify_request("mlp", "serving_default", example(x=1.0)),
        Code.INVALID_ARGUMENT,
    ),
    "regress_on_predict_signature": GrpcCase(
        "Regress",
        lambda: regress_request("mlp", "serving_default", example(x=1.0)),
        Code.INVALID_ARGUMENT,
    ),
    "classify_without_examples": GrpcCase(
        "Classify", lambda: classify_request("mlp", "serving_default"), Code.INVALID_ARGUMENT
    ),
    "multi_inference_without_tasks": GrpcCase(
        "MultiInference", multi_inference(), Code.INVALID_ARGUMENT
    ),
    "multi_inference_over_two_models": GrpcCase(
        "MultiInference",
        multi_inference(("mlp", "a", CLASSIFY), ("chimera", "b", REGRESS)),
        Code.INVALID_ARGUMENT,
    ),
    "multi_inference_of_unknown_method": GrpcCase(
        "MultiInference",
        multi_inference(("mlp", "serving_default", "tensorflow/serving/predict")),
        Code.INVALID_ARGUMENT,
    ),
    # model status
    "status_of_unknown_model": GrpcCase(
        "GetModelStatus", lambda: status_request("no_such_model"), Code.NOT_FOUND
    ),
    "status_of_unknown_version": GrpcCase(
        "GetModelStatus", lambda: status_request("mlp", 99), Code.NOT_FOUND
    ),
    "status_without_model_name": GrpcCase(
        "GetModelStatus", lambda: status_request(""), Code.INVALID_ARGUMENT
    ),
}


def call_grpc(server: ServerProcess, case: GrpcCase) -> grpc.RpcError:
    stub = server.models if case.rpc == "GetModelStatus" else server.prediction
    with pytest.raises(grpc.RpcError) as raised:
        getattr(stub, case.rpc)(case.request(), timeout=ANSWER_SECONDS)
    return raised.value


@pytest.mark.parametrize("case", GRPC_CASES)
def test_bad_grpc_call_gets_its_exact_code(corpus_server: ServerProcess, case: str) -> None:
    error = call_grpc(corpus_server, GRPC_CASES[case])
    assert error.code() == GRPC_CASES[case].code, error.details()
    assert error.details(), "the message must say what was wrong"


@dataclass(frozen=True)
class RestCase:
    """One bad HTTP request and the status it must get."""

    path: str
    body: bytes | str | dict | None
    status: int
    method: str = "POST"


PREDICT = "/v1/models/mlp:predict"


def nested(levels: int) -> str:
    return '{"instances": ' + "[" * levels + "0.5" + "]" * levels + "}"


REST_CASES: dict[str, RestCase] = {
    # bodies that are no request at all
    "empty_body": RestCase(PREDICT, b"", 400),
    "whitespace_body": RestCase(PREDICT, b" \n\t ", 400),
    "not_json": RestCase(PREDICT, b"x=1&y=2", 400),
    "truncated_json": RestCase(PREDICT, b'{"instances": [[0.5, 0.5', 400),
    "json_list_not_object": RestCase(PREDICT, b"[[0.5]]", 400),
    "json_string_not_object": RestCase(PREDICT, b'"instances"', 400),
    "json_null": RestCase(PREDICT, b"null", 400),
    "invalid_utf8": RestCase(PREDICT, b'{"instances": "\xff\xfe"}', 400),
    "nested_10000_levels": RestCase(PREDICT, nested(10_000), 400),
    "nested_100_levels": RestCase(PREDICT, nested(100), 400),
    # the request object
    "neither_instances_nor_inputs": RestCase(PREDICT, {"rows": [ROW]}, 400),
    "both_instances_and_inputs": RestCase(PREDICT, {"instances": [ROW], "inputs": [ROW]}, 400),
    "instances_empty": RestCase(PREDICT, {"instances": []}, 400),
    "instances_not_a_list": RestCase(PREDICT, {"instances": 0.5}, 400),
    "instances_naming_different_inputs": RestCase(
        PREDICT, {"instances": [{"x": ROW}, {"y": ROW}]}, 400
    ),
    "signature_name_not_a_string": RestCase(
        PREDICT, {"signature_name": 100, "instances": [ROW]}, 400
    ),
    # values
    "ragged_rows": RestCase(PREDICT, {"instances": [ROW, ROW[:19]]}, 400),
    "strings_for_floats": RestCase(PREDICT, {"instances": [["0.5"] * 20]}, 400),
    "null_for_a_float": RestCase(PREDICT, {"instances": [[None] * 20]}, 400),
    "objects_for_floats": RestCase(PREDICT, {"instances": [[{"v": 1}] * 20]}, 400),
    "bad_base64_for_floats": RestCase(PREDICT, {"instances": [[{"b64": "!!"}] * 20]}, 400),
    "number_beyond_float64": RestCase(PREDICT, '{"instances": [[' + "1e400," * 19 + "1]]}", 400),
    "number_beyond_float32": RestCase(PREDICT, {"instances": [[1e39] * 20]}, 400),
    "integer_of_5000_digits": RestCase(PREDICT, '{"instances": [[' + "9" * 5000 + "]]}", 400),
    "fraction_for_int32": RestCase("/v1/models/lookup:predict", {"instances": [0.5]}, 400),
    "integer_beyond_int32": RestCase("/v1/models/lookup:predict", {"instances": [2**40]}, 400),
    "integer_beyond_int64": RestCase("/v1/models/lookup:predict", {"instances": [2**70]}, 400),
    # shapes and inputs
    "inner_dimension_19": RestCase(PREDICT, {"instances": [ROW[:19]]}, 400),
    "rank_1_row": RestCase(PREDICT, {"instances": ROW}, 400),
    "rank_3_rows": RestCase(PREDICT, {"instances": [[ROW]]}, 400),
    "rows_over_max_rows_per_request": RestCase(PREDICT, {"instances": [ROW] * (MAX_ROWS + 1)}, 400),
    "no_inputs": RestCase(PREDICT, {"inputs": {}}, 400),
    "extra_input": RestCase(PREDICT, {"inputs": {"x": [ROW], "z": [ROW]}}, 400),
    "misnamed_input": RestCase(PREDICT, {"inputs": {"X": [ROW]}}, 400),
    "nan_into_fixed_hidden_mlp": RestCase(
        "/v1/models/fixed_hidden_mlp:predict",
        '{"instances": [[' + ",".join(["NaN"] * 20) + "]]}",
        400,
    ),
    "infinity_into_chimera": RestCase(
        "/v1/models/chimera:predict",
        '{"instances": [[' + ",".join(["Infinity"] * 20) + "]]}",
        400,
    ),
    "body_over_max_request_bytes": RestCase(
        PREDICT, {"instances": [ROW] * (MAX_REQUEST_BYTES // 60)}, 413
    ),
    # model, version, label, signature
    "unknown_model": RestCase("/v1/models/no_such_model:predict", {"instances": [ROW]}, 404),
    "unknown_version": RestCase("/v1/models/mlp/versions/99:predict", {"instances": [ROW]}, 404),
    "version_not_a_number": RestCase(
        "/v1/models/mlp/versions/one:predict", {"instances": [ROW]}, 400
    ),
    "unknown_label": RestCase("/v1/models/mlp/labels/nope:predict", {"instances": [ROW]}, 400),
    "unknown_signature": RestCase(
        PREDICT, {"signature_name": "no_such_signature", "instances": [ROW]}, 400
    ),
    "empty_model_name": RestCase("/v1/models/:predict", {"instances": [ROW]}, 400),
    "model_name_of_300_characters": RestCase(
        f"/v1/models/{'m' * 300}:predict", {"instances": [ROW]}, 400
    ),
    "model_name_with_a_space": RestCase("/v1/models/m%20lp:predict", {"instances": [ROW]}, 400),
    # path traversal: the name never reaches the file system, the route refuses it
    "dot_dot_model_name": RestCase("/v1/models/..:predict", {"instances": [ROW]}, 400),
    "encoded_dot_dot_model_name": RestCase("/v1/models/%2E%2E:predict", {"instances": [ROW]}, 400),
    "encoded_slashes_in_model_name": RestCase(
        f"/v1/models/{quote('../../etc/passwd', safe='')}:predict", {"instances": [ROW]}, 404
    ),
    "traversal_into_the_metadata_path": RestCase(
        "/v1/models/mlp/../../../etc/passwd/metadata", None, 404, "GET"
    ),
    # verbs, resources and methods
    "unknown_verb": RestCase("/v1/models/mlp:explain", {"instances": [ROW]}, 400),
    "empty_verb": RestCase("/v1/models/mlp:", {"instances": [ROW]}, 400),
    "unknown_resource": RestCase("/v1/models/mlp/weights", None, 404, "GET"),
    "get_on_predict": RestCase(PREDICT, None, 405, "GET"),
    "post_on_metadata": RestCase("/v1/models/mlp/metadata", {}, 405),
    "delete_a_model": RestCase("/v1/models/mlp", None, 405, "DELETE"),
    "classify_on_predict_signature": RestCase(
        "/v1/models/mlp:classify", {"examples": [{"x": 1.0}]}, 400
    ),
    "regress_on_predict_signature": RestCase(
        "/v1/models/mlp:regress", {"examples": [{"x": 1.0}]}, 400
    ),
    "classify_without_examples": RestCase("/v1/models/mlp:classify", {"examples": []}, 400),
    "examples_not_objects": RestCase("/v1/models/mlp:classify", {"examples": [1, 2]}, 400),
    "compare_without_base": RestCase("/v1/models/mlp/parameters/compare", None, 400, "GET"),
    "booleans_for_floats": RestCase(PREDICT, {"instances": [[True] * 20]}, 400),
    "path_outside_the_api": RestCase("/v3/models/mlp", None, 404, "GET"),
}


@pytest.mark.parametrize("case", REST_CASES)
def test_bad_rest_request_gets_its_exact_status(corpus_server: ServerProcess, case: str) -> None:
    bad = REST_CASES[case]
    response = corpus_server.rest(bad.method, bad.path, bad.body, timeout=ANSWER_SECONDS)
    assert response.status == bad.status, response.body[:500]
    assert json.loads(response.body)["error"], "the body must say what was wrong"


def test_tables_hold_at_least_forty_mistakes_each() -> None:
    assert len(GRPC_CASES) >= 40
    assert len(REST_CASES) >= 40


def test_declared_billion_rows_are_refused_without_allocating(
    corpus_server: ServerProcess,
) -> None:
    """4 * 20 * 10^9 bytes declared, 160 sent: refused at once, and memory does not move."""
    before = rss_bytes(corpus_server)
    started = time.monotonic()
    for case in ("billion_rows_with_40_values", "billion_rows_with_one_value"):
        for _ in range(20):
            error = call_grpc(corpus_server, GRPC_CASES[case])
            assert error.code() == Code.INVALID_ARGUMENT, error.details()
    assert time.monotonic() - started < 40 * 0.1 + 2
    grown = rss_bytes(corpus_server) - before
    assert grown < 32 << 20, f"memory grew by {mib(grown)}"
