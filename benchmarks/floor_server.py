"""The floor: bare Python gRPC servers answering every Predict with one precomputed response.

    python -m benchmarks.floor_server --port 8500 --mode threaded|asyncio

No model and no TensorFlow runtime: the request is parsed and a fixed PredictResponse (ten floats,
shaped as mlp's answer to one row) is serialized back, which is all any Python server must do.
`threaded` is grpc.server with a thread pool, `asyncio` is grpc.aio; the benchmark takes the
faster of the two as the floor.
"""

import argparse
import asyncio
import signal
import sys
from concurrent import futures

import grpc
import numpy as np

from benchmarks import wire
from benchmarks.wire import predict_pb2, prediction_service_pb2_grpc


def fixed_response() -> predict_pb2.PredictResponse:
    """What blockserve answers for one row of mlp: its model spec and a [1, 10] float output."""
    response = predict_pb2.PredictResponse()
    response.model_spec.name = "mlp"
    response.model_spec.version.value = 1
    response.model_spec.signature_name = wire.SIGNATURE
    y = response.outputs["y"]
    y.CopyFrom(wire.float_tensor(np.zeros((1, 10))))
    y.ClearField("tensor_content")
    y.float_val.extend(np.linspace(-1, 1, 10, dtype=np.float32).tolist())
    return response


# gRPC shares a port with another process by default (SO_REUSEPORT); a benchmark that picked a
# free port must fail rather than split its load with whoever else took the port.
EXCLUSIVE_PORT = [("grpc.so_reuseport", 0)]


class ThreadedFloor(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self) -> None:
        self._response = fixed_response()

    def Predict(self, request, context):
        return self._response


class AsyncFloor(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self) -> None:
        self._response = fixed_response()

    async def Predict(self, request, context):
        return self._response


def serve_threaded(port: int, workers: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=EXCLUSIVE_PORT)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(ThreadedFloor(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(1))
    server.wait_for_termination()


async def serve_asyncio(port: int) -> None:
    server = grpc.aio.server(options=EXCLUSIVE_PORT)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(AsyncFloor(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.floor_server", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=("threaded", "asyncio"), required=True)
    p.add_argument("--workers", type=int, default=10, help="threaded: pool size (default 10)")
    args = p.parse_args(argv)
    if args.mode == "threaded":
        serve_threaded(args.port, args.workers)
    else:
        asyncio.run(serve_asyncio(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
