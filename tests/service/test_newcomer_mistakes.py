"""What a newcomer trips over, pinned: shape mistakes named by input, bad requests counted under
the model they name, a quiet start-up log, and the profiler listed by reflection."""

import grpc
import numpy as np
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.reliability.conftest import metric
from tests.service.conftest import CALL_TIMEOUT, ServerProcess
from tests.service.wire import predict_request

SHAPE_WORDS = "input 'x' has shape [1, 3], the signature declares [-1, 4]"


def test_a_wrong_shape_over_rest_names_the_input_and_the_declared_shape(
    server: ServerProcess,
) -> None:
    response = server.rest("POST", "/v1/models/param_net:predict", {"instances": [[1, 2, 3]]})
    assert response.status == 400
    error = response.json()["error"]
    assert SHAPE_WORDS in error, error
    assert "TensorFlow says: Matrix size-incompatible" in error, error


def test_a_wrong_shape_over_grpc_and_v2_rest_names_the_input_too(server: ServerProcess) -> None:
    x = np.ones((1, 3), np.float32)
    with pytest.raises(grpc.RpcError) as raised:
        server.prediction.Predict(predict_request("param_net", {"x": x}), timeout=CALL_TIMEOUT)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert SHAPE_WORDS in raised.value.details()
    tensor = {"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}
    response = server.rest("POST", "/v2/models/param_net/infer", {"inputs": [tensor]})
    assert response.status == 400
    assert SHAPE_WORDS in response.json()["error"]


def errors_of(server: ServerProcess, model: str, method: str) -> float:
    return metric(
        server, "blockserve_requests_total", model=model, method=method, code="INVALID_ARGUMENT"
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("predict", "/v1/models/param_net:predict", '{"instances": [[1, 2'),
        (
            "model_infer",
            "/v2/models/param_net/infer",
            '{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3]}]}',
        ),
        ("compare_parameters", "/v1/models/param_net/parameters/compare", None),
    ],
)
def test_a_bad_request_to_a_served_model_is_counted_under_its_name(
    server: ServerProcess, method: str, path: str, body: str | None
) -> None:
    before = errors_of(server, "param_net", method)
    response = server.rest("POST" if body is not None else "GET", path, body)
    assert response.status == 400, response.body
    assert errors_of(server, "param_net", method) == before + 1


def test_a_bad_request_to_an_unknown_model_keeps_the_unknown_label(server: ServerProcess) -> None:
    before = metric(server, "blockserve_requests_total", model="__unknown__", method="predict")
    response = server.rest("POST", "/v1/models/nosuch:predict", '{"instances": [[1, 2')
    assert response.status in (400, 404)
    after = metric(server, "blockserve_requests_total", model="__unknown__", method="predict")
    assert after == before + 1
    assert metric(server, "blockserve_requests_total", model="nosuch") == 0


def test_listing_the_models_is_labelled_as_a_request_of_all_models(server: ServerProcess) -> None:
    before = metric(server, "blockserve_requests_total", model="__all__", method="list_models")
    assert server.rest("GET", "/v1/models").status == 200
    after = metric(server, "blockserve_requests_total", model="__all__", method="list_models")
    assert after == before + 1


def test_the_start_up_log_has_no_gpu_or_onednn_noise_but_keeps_the_workers_lines(
    server: ServerProcess,
) -> None:
    log = server.log_path.read_text(errors="replace")
    for noise in ("cuInit", "oneDNN custom operations", "Could not find cuda drivers", "absl::"):
        assert noise not in log, f"{noise!r} in the server log"
    assert "TensorFlow worker 0 started" in log


def test_reflection_lists_the_profiler_service(server: ServerProcess) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(server.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (response,) = stub.ServerReflectionInfo(iter([request]), timeout=CALL_TIMEOUT)
    names = {s.name for s in response.list_services_response.service}
    assert "tensorflow.ProfilerService" in names
    assert "tensorflow.serving.PredictionService" in names
