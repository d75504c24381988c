"""How many requests each protocol works on at once, as tensorflow_model_server's thread pools
bound it (--grpc_max_threads, --rest_api_num_threads): past the bound a request waits its turn
rather than being refused (refusing is --max_concurrent_requests' job).

Health checks, reflection and the REST health and metrics paths never wait: a probe must get
an answer from a busy server.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable

import grpc
from aiohttp import web

UNBOUNDED_GRPC_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
UNBOUNDED_REST_PATHS = frozenset({"/healthz", "/readyz"})


class GrpcTurns(grpc.aio.ServerInterceptor):
    """At most `limit` unary gRPC calls of the serving APIs run their handler at once."""

    def __init__(self, limit: int) -> None:
        self._turns = asyncio.Semaphore(limit)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if (
            handler is None
            or details.method.startswith(UNBOUNDED_GRPC_PREFIXES)
            or handler.unary_unary is None
            or not inspect.iscoroutinefunction(handler.unary_unary)
        ):
            return handler
        inner = handler.unary_unary
        turns = self._turns

        async def in_turn(request: object, context: grpc.aio.ServicerContext) -> object:
            async with turns:
                return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            in_turn,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def rest_turns(limit: int, unbounded: frozenset[str] = UNBOUNDED_REST_PATHS):
    """An aiohttp middleware: at most `limit` REST requests are handled at once."""
    turns = asyncio.Semaphore(limit)

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in unbounded:
            return await handler(request)
        async with turns:
            return await handler(request)

    return middleware
