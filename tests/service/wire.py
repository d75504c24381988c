"""TensorFlow Serving request messages built, and response tensors read, the way a client does."""

import numpy as np
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

FLOAT32 = np.dtype(np.float32)


def model_spec(
    name: str, version: int | None = None, label: str | None = None, signature: str = ""
) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=name, signature_name=signature)
    if version is not None:
        spec.version.value = version
    if label is not None:
        spec.version_label = label
    return spec


def float_tensor(array: np.ndarray, encoding: str = "tensor_content") -> tensor_pb2.TensorProto:
    """A DT_FLOAT TensorProto carrying `array` in `tensor_content` or in `float_val`."""
    array = np.asarray(array, dtype=np.float32)
    proto = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape]
        ),
    )
    if encoding == "tensor_content":
        proto.tensor_content = array.tobytes()
    elif encoding == "float_val":
        proto.float_val.extend(array.ravel().tolist())
    else:
        raise ValueError(f"unknown encoding {encoding!r}")
    return proto


def predict_request(
    name: str,
    inputs: dict[str, np.ndarray | tensor_pb2.TensorProto],
    encoding: str = "tensor_content",
    **spec: object,
) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest(model_spec=model_spec(name, **spec))  # type: ignore[arg-type]
    for key, value in inputs.items():
        tensor = (
            value if isinstance(value, tensor_pb2.TensorProto) else float_tensor(value, encoding)
        )
        request.inputs[key].CopyFrom(tensor)
    return request


def float_output(tensor: tensor_pb2.TensorProto) -> np.ndarray:
    """A DT_FLOAT response tensor as an array, read from `float_val` as the server sends it."""
    assert tensor.dtype == types_pb2.DT_FLOAT, types_pb2.DataType.Name(tensor.dtype)
    assert not tensor.tensor_content, "the server answers in float_val, as TF Serving does"
    shape = [d.size for d in tensor.tensor_shape.dim]
    return np.array(tensor.float_val, dtype=np.float32).reshape(shape)


def example(**features: float) -> example_pb2.Example:
    """A tf.Example of float features."""
    return example_pb2.Example(
        features=feature_pb2.Features(
            feature={
                k: feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[v]))
                for k, v in features.items()
            }
        )
    )


def examples_input(*examples: example_pb2.Example) -> input_pb2.Input:
    return input_pb2.Input(example_list=input_pb2.ExampleList(examples=list(examples)))


def classify_request(
    name: str, signature: str, *examples: example_pb2.Example, **spec: object
) -> classification_pb2.ClassificationRequest:
    return classification_pb2.ClassificationRequest(
        model_spec=model_spec(name, signature=signature, **spec),  # type: ignore[arg-type]
        input=examples_input(*examples),
    )


def regress_request(
    name: str, signature: str, *examples: example_pb2.Example, **spec: object
) -> regression_pb2.RegressionRequest:
    return regression_pb2.RegressionRequest(
        model_spec=model_spec(name, signature=signature, **spec),  # type: ignore[arg-type]
        input=examples_input(*examples),
    )


def metadata_request(name: str, **spec: object) -> get_model_metadata_pb2.GetModelMetadataRequest:
    return get_model_metadata_pb2.GetModelMetadataRequest(
        model_spec=model_spec(name, **spec),  # type: ignore[arg-type]
        metadata_field=["signature_def"],
    )


def status_request(
    name: str, version: int | None = None
) -> get_model_status_pb2.GetModelStatusRequest:
    return get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec(name, version))
