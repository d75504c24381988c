"""REST calls as the TensorFlow Serving messages a gRPC client would have sent and received,
so that the request log holds one kind of record whichever protocol carried the call."""

import numpy as np
from google.protobuf.message import Message

from service.protos.tensorflow.core.example import example_pb2
from service.protos.tensorflow_serving.apis import (
    classification_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)
from service.shared.codecs import tfserving as convert
from service.shared.codecs.tensors import from_numpy
from service.shared.types import Classification, Prediction, Regression, Served

Messages = tuple[Message, Message, model_pb2.ModelSpec]
"""A call's request, response and the model spec that answered it."""


def _spec(served: Served) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec()
    convert.fill_spec(spec, served)
    return spec


def _input(examples: list[bytes]) -> input_pb2.Input:
    return input_pb2.Input(
        example_list=input_pb2.ExampleList(
            examples=[example_pb2.Example.FromString(e) for e in examples]
        )
    )


def predict(inputs: dict[str, np.ndarray], prediction: Prediction) -> Messages:
    spec = _spec(prediction.served)
    request = predict_pb2.PredictRequest(model_spec=spec)
    for name, array in inputs.items():
        from_numpy(array, request.inputs[name])
    return request, convert.predict_response(prediction), spec


def classify(examples: list[bytes], result: Classification) -> Messages:
    spec = _spec(result.served)
    request = classification_pb2.ClassificationRequest(model_spec=spec, input=_input(examples))
    response = classification_pb2.ClassificationResponse(
        model_spec=spec, result=convert.classification_result(result)
    )
    return request, response, spec


def regress(examples: list[bytes], result: Regression) -> Messages:
    spec = _spec(result.served)
    request = regression_pb2.RegressionRequest(model_spec=spec, input=_input(examples))
    response = regression_pb2.RegressionResponse(
        model_spec=spec, result=convert.regression_result(result)
    )
    return request, response, spec
