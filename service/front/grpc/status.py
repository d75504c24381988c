"""The core's error codes as gRPC status codes: one table, used by every servicer."""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from service.front.dataplane import DataPlane, Tally
from service.shared.errors import ServingError

log = logging.getLogger(__name__)
T = TypeVar("T")


def status_code(code: str) -> grpc.StatusCode:
    """`INVALID_ARGUMENT` -> grpc.StatusCode.INVALID_ARGUMENT; anything unknown is UNKNOWN."""
    return getattr(grpc.StatusCode, code, grpc.StatusCode.UNKNOWN)


async def answer(
    context: grpc.aio.ServicerContext,
    core: DataPlane,
    method: str,
    work: Callable[[Tally], Awaitable[T]],
) -> T:
    """Run a handler as one accounted request, turning the core's errors into gRPC statuses."""
    try:
        with core.call(method, "grpc") as tally:
            return await work(tally)
    except ServingError as e:
        await context.abort(status_code(e.code), str(e))
    except Exception:
        log.exception("unexpected error")
        await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the server log")
    raise AssertionError("abort returns only by raising")


def deadline(context: grpc.aio.ServicerContext) -> float | None:
    """The client's deadline on the monotonic clock, if it set one."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining
