"""TensorFlow Serving's messages without TensorFlow's runtime, and gRPC's framing for h2load.

`tensorflow_serving.apis` imports its messages from `tensorflow.core.*`, and importing any
submodule of `tensorflow` first runs `tensorflow/__init__.py`: seconds of start-up and hundreds
of MiB that a bare gRPC server, a load client or the benchmark runner have no use for. When
TensorFlow is not imported yet, this module registers an empty `tensorflow` package pointing at
the installed one, so that only the generated `*_pb2` modules load. A process that needs the
real TensorFlow imports it before this module (or never imports this module).
"""

import importlib.util
import struct
import sys
import types

if "tensorflow" not in sys.modules:
    _spec = importlib.util.find_spec("tensorflow")
    if _spec is None or _spec.submodule_search_locations is None:
        raise ImportError("tensorflow is not installed; its generated protobuf modules are needed")
    _package = types.ModuleType("tensorflow")
    _package.__path__ = list(_spec.submodule_search_locations)
    sys.modules["tensorflow"] = _package

import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

# Re-exported (`x as x`): importing them from here guarantees the stub above is in place.
from tensorflow_serving.apis import predict_pb2 as predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc as prediction_service_pb2_grpc

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


def predict_request(model: str, rows: int, features: int = 20) -> predict_pb2.PredictRequest:
    """A Predict of `rows` fixed pseudo-random rows of input `x`, the seed models' input."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = SIGNATURE
    x = np.random.default_rng(0).uniform(size=(rows, features))
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
