"""The server's error hierarchy: what went wrong, in the words of the canonical status codes.

The core raises these; each adapter maps `code` to its own protocol in one table.
"""


class ServingError(Exception):
    """A request that cannot be served, with a message the caller can act on."""

    code = "INTERNAL"


class InvalidArgument(ServingError):
    code = "INVALID_ARGUMENT"


class NotFound(ServingError):
    code = "NOT_FOUND"


class FailedPrecondition(ServingError):
    code = "FAILED_PRECONDITION"


class ResourceExhausted(ServingError):
    code = "RESOURCE_EXHAUSTED"


class Unavailable(ServingError):
    code = "UNAVAILABLE"


class DeadlineExceeded(ServingError):
    code = "DEADLINE_EXCEEDED"


class Unauthenticated(ServingError):
    code = "UNAUTHENTICATED"


class PermissionDenied(ServingError):
    code = "PERMISSION_DENIED"


class Unimplemented(ServingError):
    code = "UNIMPLEMENTED"


class Internal(ServingError):
    code = "INTERNAL"


# TensorFlow's OpError codes are the canonical codes: the integer values index this table.
CANONICAL_CODES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)


class ModelError(ServingError):
    """An error raised by TensorFlow while running a model, keeping TensorFlow's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RequestTooLarge(ResourceExhausted):
    """A request body or message over the size limit."""


class WorkerDied(Unavailable):
    """A TensorFlow worker process ended while it held this call (a crash, a signal, the OOM
    killer): the evidence that the call's model version may be what killed it."""

    def __init__(self, message: str, how: str, during_request: bool = False) -> None:
        super().__init__(message)
        self.how = how
        """How the worker ended: 'was killed by SIGABRT', 'exited with status 1', ..."""
        self.during_request = during_request
        """A request was running too, so the death may be its doing rather than this call's."""


class NotStarted(Unavailable):
    """A TensorFlow worker ended before it started this request: safe to send to another."""
