"""The naive server: what a user writes in an afternoon to serve one SavedModel over gRPC.

    python -m benchmarks.naive_server --port 8500 --model_dir exported/mlp/1

`tf.saved_model.load`, one signature call per request, `tf.make_ndarray` and
`tf.make_tensor_proto` for conversion, a thread pool. It answers whatever model the request names
with the one it loaded. Kept naive on purpose: it is the baseline the issue measures against.
"""

import argparse
import os
import signal
import sys
from concurrent import futures

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

# gRPC shares a port with another process by default (SO_REUSEPORT); a benchmark that picked a
# free port must fail rather than split its load with whoever else took the port.
EXCLUSIVE_PORT = [("grpc.so_reuseport", 0)]


class NaivePredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, model_dir: str) -> None:
        self.loaded = tf.saved_model.load(model_dir)

    def Predict(self, request, context):
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        outputs = self.loaded.signatures["serving_default"](**inputs)
        response = predict_pb2.PredictResponse()
        for name, tensor in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(tensor))
        return response


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.naive_server", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--model_dir", required=True, help="one SavedModel version folder")
    p.add_argument("--workers", type=int, default=10, help="thread pool size (default 10)")
    args = p.parse_args(argv)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.workers), options=EXCLUSIVE_PORT
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        NaivePredictionService(args.model_dir), server
    )
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(1))
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main())
