"""TensorFlow Serving's messages without TensorFlow's runtime, and gRPC's framing for h2load.

The messages are blockserve's generated copies (`service.protos`), which load without importing
TensorFlow: a bare gRPC server, a load client or the benchmark runner has no use for its seconds
of start-up and hundreds of MiB. They are the same classes as `tensorflow_serving.apis`' in a
process that imports both.
"""

import struct

import numpy as np

from service.protos.tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from service.protos.tensorflow_serving.apis import predict_pb2 as predict_pb2
from service.protos.tensorflow_serving.apis import (
    prediction_service_pb2_grpc as prediction_service_pb2_grpc,
)

SERVICE = "tensorflow.serving.PredictionService"
PREDICT = f"/{SERVICE}/Predict"
SIGNATURE = "serving_default"


def float_tensor(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A DT_FLOAT TensorProto in `tensor_content`, as `tf.make_tensor_proto` writes it."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape]
        ),
        tensor_content=array.tobytes(),
    )


def reference_rows(rows: int, features: int = 20) -> np.ndarray:
    """The benchmark's `rows` fixed pseudo-random float32 rows of input `x`, the seed models'
    input: every request of every protocol, and the in-process reference call, use these."""
    return np.random.default_rng(0).uniform(size=(rows, features)).astype(np.float32)


def predict_request(model: str, rows: int, features: int = 20) -> predict_pb2.PredictRequest:
    """A Predict of the `rows` reference rows as input `x`."""
    return predict_request_for(model, reference_rows(rows, features))


def predict_request_for(model: str, x: np.ndarray) -> predict_pb2.PredictRequest:
    """A Predict of `x` as input `x`."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = SIGNATURE
    request.inputs["x"].CopyFrom(float_tensor(x))
    return request


def grpc_frame(message: bytes) -> bytes:
    """One gRPC length-prefixed message: flag 0 (not compressed), 4-byte big-endian length."""
    return struct.pack(">BI", 0, len(message)) + message


def output_array(response: predict_pb2.PredictResponse, name: str = "y") -> np.ndarray:
    """A float output of a PredictResponse, from `tensor_content` or `float_val`."""
    tensor = response.outputs[name]
    shape = tuple(d.size for d in tensor.tensor_shape.dim)
    if tensor.tensor_content:
        return np.frombuffer(tensor.tensor_content, dtype=np.float32).reshape(shape)
    return np.array(tensor.float_val, dtype=np.float32).reshape(shape)
