"""The switchboard's gRPC routes: inference calls cross the front as bytes.

Predict and ModelInfer are registered with no (de)serializer: the front hands the request's
bytes to a worker, which decodes, runs and encodes, and returns the response's bytes here. The
other methods of both services keep their servicers (metadata, status, Classify, Regress).
"""

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from service.front.dataplane import DataPlane
from service.front.grpc.status import deadline, status_code
from service.requestlog.logger import RequestLogger

Handler = Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]


def forwarding(core: DataPlane, kind: str, method: str, log: RequestLogger | None) -> Handler:
    """A bytes-in, bytes-out handler for one inference method."""

    async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        reply = await core.forward(kind, method, "grpc", request, None, deadline(context))
        if reply.code != "OK":
            await context.abort(status_code(reply.code), str(reply.body))
        # A large answer came out of band, as a buffer; gRPC sends bytes.
        body = reply.body if isinstance(reply.body, bytes) else bytes(reply.body)
        if log is not None and log.enabled:
            log.predict_bytes(reply.model, request, body)
        return body

    return handle


class _Captured:
    """Stands in for a server to catch the method handlers a generated add_*_to_server makes."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.service = service
        self.handlers = dict(handlers)


def add_service(
    server: grpc.aio.Server,
    add_to_server: Callable[[Any, Any], None],
    servicer: Any,
    forwarded: dict[str, Handler],
) -> None:
    """Register a generated service's servicer, with `forwarded` methods taking bytes."""
    captured = _Captured()
    add_to_server(servicer, captured)
    handlers = captured.handlers
    for name, handler in forwarded.items():
        handlers[name] = grpc.unary_unary_rpc_method_handler(handler)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(captured.service, handlers),)
    )
    server.add_registered_method_handlers(captured.service, handlers)
