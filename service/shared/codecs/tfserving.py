"""TensorFlow Serving's messages to the core's types and back; REST's JSON is their JSON form."""

import numpy as np
from google.protobuf import any_pb2

from service.protos.tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)
from service.shared.codecs.tensors import from_numpy, to_numpy
from service.shared.errors import CANONICAL_CODES
from service.shared.types import (
    Classification,
    Metadata,
    ModelQuery,
    Prediction,
    Regression,
    Served,
    VersionStatus,
)

SIGNATURE_DEF = "signature_def"


def query(spec: model_pb2.ModelSpec) -> ModelQuery:
    """What a ModelSpec asks for."""
    choice = spec.WhichOneof("version_choice")
    return ModelQuery(
        name=spec.name,
        version=spec.version.value if choice == "version" else None,
        label=spec.version_label if choice == "version_label" and spec.version_label else None,
        signature=spec.signature_name,
    )


def fill_spec(spec: model_pb2.ModelSpec, served: Served) -> None:
    """Echo what answered: name, the version actually used and the signature name."""
    spec.name = served.model
    spec.version.value = served.version
    spec.signature_name = served.signature


def predict_inputs(request: predict_pb2.PredictRequest, max_bytes: int) -> dict[str, np.ndarray]:
    return {k: to_numpy(v, f"input {k!r}", max_bytes) for k, v in request.inputs.items()}


def predict_response(
    prediction: Prediction, tensor_content: bool = False
) -> predict_pb2.PredictResponse:
    """The response; numeric outputs in `tensor_content` bytes rather than typed values when
    asked (--enable_serialization_as_tensor_content)."""
    response = predict_pb2.PredictResponse()
    fill_spec(response.model_spec, prediction.served)
    for name, array in prediction.outputs.items():
        from_numpy(array, response.outputs[name], tensor_content)
    return response


def classification_result(result: Classification) -> classification_pb2.ClassificationResult:
    out = classification_pb2.ClassificationResult()
    for pairs in result.classes:
        row = out.classifications.add()
        for label, score in pairs:
            row.classes.add(label=label, score=score)
    return out


def regression_result(result: Regression) -> regression_pb2.RegressionResult:
    out = regression_pb2.RegressionResult()
    for value in result.values:
        out.regressions.add(value=value)
    return out


def status_response(statuses: list[VersionStatus]) -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    for status in statuses:
        entry = response.model_version_status.add()
        entry.version = status.version
        entry.state = status.state
        entry.status.error_code = CANONICAL_CODES.index(status.error_code)
        entry.status.error_message = status.error_message
    return response


def signature_map(metadata: Metadata) -> get_model_metadata_pb2.SignatureDefMap:
    signatures = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in metadata.signatures.items():
        signatures.signature_def[name].CopyFrom(signature.definition)
    return signatures


def metadata_response(metadata: Metadata) -> get_model_metadata_pb2.GetModelMetadataResponse:
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    fill_spec(response.model_spec, metadata.served)
    packed = any_pb2.Any()
    packed.Pack(signature_map(metadata))
    response.metadata[SIGNATURE_DEF].CopyFrom(packed)
    return response
