"""TensorFlow Serving's own half_plus_two models answer here what they answer in TF Serving.

Known answers (TensorFlow Serving's tests): y = 0.5 x + 2, so x=[1, 2, 5] gives [2.5, 3.0, 4.5];
Classify and Regress on a tf.Example with x=2.0 give 3.0; the version is 123.
"""

import numpy as np
import pytest
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_pb2,
)

from tests.service.conftest import CALL_TIMEOUT, VERSION_LABEL, ServerProcess
from tests.service.wire import (
    classify_request,
    example,
    examples_input,
    float_output,
    metadata_request,
    predict_request,
    regress_request,
    status_request,
)

TF1, TF2 = "half_plus_two_tf1", "half_plus_two_tf2"
MODELS = (TF1, TF2)
VERSION = 123
X = [1.0, 2.0, 5.0]
Y = [2.5, 3.0, 4.5]
TF1_SIGNATURES = {
    "serving_default",
    "classify_x_to_y",
    "regress_x_to_y",
    "regress_x_to_y2",
    "regress_x2_to_y3",
}
SIGNATURES = {TF1: TF1_SIGNATURES, TF2: TF1_SIGNATURES | {"classify_x2_to_y3"}}
AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE


def predict_x(server: ServerProcess, model: str, **spec: object) -> list[tuple[float, object]]:
    """y for each of X, with the response's model_spec, in as few calls as the signature allows.

    TF1's serving_default takes x of shape [-1, 1]; TF2's takes exactly one value, shape [1].
    """
    if model == TF1:
        batches = [np.array(X, np.float32).reshape(3, 1)]
    else:
        batches = [np.array([x], np.float32) for x in X]
    answers = []
    for batch in batches:
        request = predict_request(model, {"x": batch}, encoding="float_val", **spec)
        response = server.prediction.Predict(request, timeout=CALL_TIMEOUT)
        y = float_output(response.outputs["y"]).ravel()
        answers += [(float(v), response.model_spec) for v in y]
    return answers


@pytest.mark.parametrize("model", MODELS)
def test_grpc_predict_gives_half_plus_two_at_version_123(server: ServerProcess, model: str) -> None:
    answers = predict_x(server, model)
    assert [y for y, _ in answers] == Y
    for _, spec in answers:
        assert (spec.name, spec.version.value, spec.signature_name) == (
            model,
            VERSION,
            "serving_default",
        )


@pytest.mark.parametrize("model", MODELS)
def test_grpc_predict_resolves_version_and_label(server: ServerProcess, model: str) -> None:
    assert [y for y, _ in predict_x(server, model, version=VERSION)] == Y
    by_label = predict_x(server, model, label=VERSION_LABEL)
    assert [y for y, _ in by_label] == Y
    assert {spec.version.value for _, spec in by_label} == {VERSION}


@pytest.mark.parametrize("model", MODELS)
def test_grpc_classify_scores_three(server: ServerProcess, model: str) -> None:
    request = classify_request(model, "classify_x_to_y", example(x=2.0))
    response = server.prediction.Classify(request, timeout=CALL_TIMEOUT)
    (classification,) = response.result.classifications
    assert [c.score for c in classification.classes] == [3.0]
    assert (response.model_spec.version.value, response.model_spec.signature_name) == (
        VERSION,
        "classify_x_to_y",
    )


@pytest.mark.parametrize("model", MODELS)
def test_grpc_regress_gives_three(server: ServerProcess, model: str) -> None:
    request = regress_request(model, "regress_x_to_y", example(x=2.0))
    response = server.prediction.Regress(request, timeout=CALL_TIMEOUT)
    assert [r.value for r in response.result.regressions] == [3.0]
    assert (response.model_spec.version.value, response.model_spec.signature_name) == (
        VERSION,
        "regress_x_to_y",
    )


@pytest.mark.parametrize("model", MODELS)
def test_grpc_multi_inference_classifies_and_regresses(server: ServerProcess, model: str) -> None:
    request = inference_pb2.MultiInferenceRequest(
        tasks=[
            inference_pb2.InferenceTask(
                model_spec=model_pb2.ModelSpec(name=model, signature_name="classify_x_to_y"),
                method_name="tensorflow/serving/classify",
            ),
            inference_pb2.InferenceTask(
                model_spec=model_pb2.ModelSpec(name=model, signature_name="regress_x_to_y"),
                method_name="tensorflow/serving/regress",
            ),
        ],
        input=examples_input(example(x=2.0)),
    )
    response = server.prediction.MultiInference(request, timeout=CALL_TIMEOUT)
    classify, regress = response.results
    assert [c.score for c in classify.classification_result.classifications[0].classes] == [3.0]
    assert [r.value for r in regress.regression_result.regressions] == [3.0]
    assert classify.model_spec.signature_name == "classify_x_to_y"
    assert regress.model_spec.version.value == VERSION


@pytest.mark.parametrize("model", MODELS)
def test_grpc_metadata_lists_signatures(server: ServerProcess, model: str) -> None:
    response = server.prediction.GetModelMetadata(metadata_request(model), timeout=CALL_TIMEOUT)
    assert (response.model_spec.name, response.model_spec.version.value) == (model, VERSION)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    assert set(signatures.signature_def) == SIGNATURES[model]
    default = signatures.signature_def["serving_default"]
    assert set(default.inputs) == {"x"} and set(default.outputs) == {"y"}


@pytest.mark.parametrize("model", MODELS)
def test_grpc_status_shows_version_123_available(server: ServerProcess, model: str) -> None:
    for version in (None, VERSION):
        response = server.models.GetModelStatus(
            status_request(model, version), timeout=CALL_TIMEOUT
        )
        (status,) = response.model_version_status
        assert (status.version, status.state, status.status.error_code) == (VERSION, AVAILABLE, 0)


@pytest.mark.parametrize(
    "path",
    ["/v1/models/{m}", "/v1/models/{m}/versions/123", f"/v1/models/{{m}}/labels/{VERSION_LABEL}"],
)
@pytest.mark.parametrize("model", MODELS)
def test_rest_status_shows_version_123_available(
    server: ServerProcess, model: str, path: str
) -> None:
    response = server.rest("GET", path.format(m=model))
    assert response.status == 200, response.body
    assert response.json() == {
        "model_version_status": [
            {
                "version": "123",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


@pytest.mark.parametrize("model", MODELS)
def test_rest_metadata_lists_signatures(server: ServerProcess, model: str) -> None:
    response = server.rest("GET", f"/v1/models/{model}/metadata")
    assert response.status == 200, response.body
    body = response.json()
    assert body["model_spec"]["name"] == model
    assert body["model_spec"]["version"] == "123"
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert set(signatures) == SIGNATURES[model]
    assert signatures["serving_default"]["inputs"]["x"]["dtype"] == "DT_FLOAT"


def rest_rows(model: str) -> list[list[object]]:
    """X as the signature's rows: [[1], [2], [5]] for TF1; one call per value for TF2."""
    return [[[x] for x in X]] if model == TF1 else [[x] for x in X]


@pytest.mark.parametrize(
    "prefix",
    ["/v1/models/{m}", "/v1/models/{m}/versions/123", f"/v1/models/{{m}}/labels/{VERSION_LABEL}"],
)
@pytest.mark.parametrize("model", MODELS)
def test_rest_predict_rows_and_columns_give_half_plus_two(
    server: ServerProcess, model: str, prefix: str
) -> None:
    path = prefix.format(m=model) + ":predict"
    rows, columns = [], []
    for batch in rest_rows(model):
        by_rows = server.rest("POST", path, {"instances": batch})
        assert by_rows.status == 200, by_rows.body
        rows += np.ravel(by_rows.json()["predictions"]).tolist()
        by_columns = server.rest("POST", path, {"inputs": {"x": batch}})
        assert by_columns.status == 200, by_columns.body
        columns += np.ravel(by_columns.json()["outputs"]).tolist()
    assert rows == Y
    assert columns == Y


@pytest.mark.parametrize("model", MODELS)
def test_rest_classify_and_regress_give_three(server: ServerProcess, model: str) -> None:
    classify = server.rest(
        "POST",
        f"/v1/models/{model}:classify",
        {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]},
    )
    assert classify.status == 200, classify.body
    assert classify.json() == {"results": [[["", 3.0]]]}
    regress = server.rest(
        "POST",
        f"/v1/models/{model}/versions/123:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]},
    )
    assert regress.status == 200, regress.body
    assert regress.json() == {"results": [3.0]}
