"""tensorflow.ProfilerService on the gRPC port, forwarded as bytes to the workers' profiler.

TensorFlow Serving registers TensorFlow's profiler service on its own gRPC server; here
TensorFlow runs in the workers, whose profiler server (service/worker/runtime/profiler.py)
listens on a local port of its own. The front passes each call through unparsed, so it needs
none of the profiler's protos.
"""

import socket

import grpc

SERVICE = "tensorflow.ProfilerService"
METHODS = ("Profile", "Terminate", "Monitor")
"""ProfilerService's methods (tsl/profiler/protobuf/profiler_service.proto), all unary."""


def reserve_port() -> socket.socket:
    """A free port held for the workers' profiler server by a bound socket that never listens.

    TensorFlow's server binds `[::]:port` with SO_REUSEPORT, which this socket allows, while no
    other process asking for a free port is given this one in the meantime: otherwise two
    servers started together could share a profiler port, and split each other's traces.
    """
    family, anywhere = (socket.AF_INET6, "::") if socket.has_ipv6 else (socket.AF_INET, "")
    held = socket.socket(family, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    held.bind((anywhere, 0))
    return held


class ProfilerForwarder:
    """A generic handler passing ProfilerService calls to the profiler at `port`."""

    def __init__(self, port: int) -> None:
        self._channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE, {method: self._forward(method) for method in METHODS}
        )

    def _forward(self, method: str) -> grpc.RpcMethodHandler:
        # No serializers on either side: the request and the answer stay bytes.
        call = self._channel.unary_unary(f"/{SERVICE}/{method}")

        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            try:
                return await call(request, timeout=context.time_remaining())
            except grpc.aio.AioRpcError as e:
                await context.abort(e.code(), e.details() or "")
                raise  # abort raises; this keeps the type checker's flow honest

        return grpc.unary_unary_rpc_method_handler(forward)

    async def close(self) -> None:
        await self._channel.close()
