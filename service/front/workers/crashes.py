"""Requests that kill their worker: which model version each named, and which do it again.

A worker that dies in the middle of a call (TensorFlow aborting, a segfault in a custom op, the
OOM killer) is started again and the version keeps serving: one bad input must not take a model
down. A version whose requests keep killing workers is worth an operator's look: it is counted
per version (`blockserve_request_crashes_total`) and named in the log, and past REPEATED in
WINDOW_SECONDS it is reported in the version's status.
"""

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from service.protos.tensorflow_serving.apis import model_pb2, predict_pb2
from service.shared import channel

log = logging.getLogger(__name__)

WINDOW_SECONDS = 600.0
REPEATED = 3
"""Deaths in the window that make a version's requests a repeated killer."""

Named = tuple[str, int | None, str | None]
"""A request's model, version and label, as it named them."""


def named_by(op: str, args: tuple[Any, ...]) -> Named | None:
    """The model a call named, read off the message that was sent (only after a death: the
    front never parses a request's bytes otherwise)."""
    try:
        if op == channel.RUN:
            name, version = args[0]
            return name, version, None
        if op == channel.REST_PREDICT:
            return tuple(args[0])  # type: ignore[return-value]
        if op == channel.REST_INFER:
            name, version, _ = args[0]
            return name, int(version) if version.isdigit() else None, None
        if op == channel.PREDICT:
            spec = predict_pb2.PredictRequest.FromString(args[1]).model_spec
            which = spec.WhichOneof("version_choice")
            return (
                spec.name,
                spec.version.value if which == "version" else None,
                spec.version_label if which == "version_label" else None,
            )
        if op == channel.MODEL_INFER:
            # Imported here: the V2 protos claim protobuf's `inference` package, which a process
            # using tritonclient's own copy (the V2 tests) must not see loaded twice.
            from service.protos.inference import grpc_service_pb2

            request = grpc_service_pb2.ModelInferRequest.FromString(args[1])
            version = request.model_version
            return request.model_name, int(version) if version.isdigit() else None, None
    except Exception:  # a message that does not parse named nothing we can count
        return None
    return None


def named_model(op: str, route: Any, body: bytes | None) -> str:
    """The model a forwarded request names, for the labels of one the front refused: the REST
    route's, or the leading field of a gRPC message (both protocols put the model first: a
    PredictRequest's model_spec, a ModelInferRequest's model_name), read without parsing the
    rest; '' where it cannot tell."""
    if op in (channel.REST_PREDICT, channel.REST_INFER):
        return str(route[0]) if route else ""
    if not body or body[0] != 0x0A:  # field 1, length-delimited
        return ""
    size, shift, at = 0, 0, 1
    while at < len(body) and at < 6:
        byte = body[at]
        size |= (byte & 0x7F) << shift
        at += 1
        shift += 7
        if not byte & 0x80:
            break
    field = body[at : at + size]
    try:
        if op == channel.PREDICT:
            return model_pb2.ModelSpec.FromString(field).name
        return field.decode() if op == channel.MODEL_INFER else ""
    except Exception:  # not the message it claims to be: unknown
        return ""


class RequestCrashes:
    """Counts worker deaths per version whose request was running."""

    def __init__(
        self,
        count: Callable[[str, str], None],
        resolve: Callable[[Named], int | None],
        report: Callable[[str, int, str], None],
    ) -> None:
        """`count(model, version)` increments the metric; `resolve` gives the version a request
        named (latest, label) or None; `report(model, version, message)` puts a repeated
        killer in the version's status."""
        self._count = count
        self._resolve = resolve
        self._report = report
        self._deaths: dict[tuple[str, int], deque[float]] = {}

    def died(self, op: str, args: tuple[Any, ...], how: str, worker: int) -> None:
        named = named_by(op, args)
        if named is None:
            return
        version = self._resolve(named)
        if version is None:
            return
        name = named[0]
        now = time.monotonic()
        deaths = self._deaths.setdefault((name, version), deque())
        deaths.append(now)
        while deaths and deaths[0] < now - WINDOW_SECONDS:
            deaths.popleft()
        self._count(name, str(version))
        log.error(
            "TensorFlow worker %d %s while running a request for model %s version %d "
            "(%d such deaths in the last %d minutes)",
            *(worker, how, name, version, len(deaths), WINDOW_SECONDS // 60),
        )
        if len(deaths) >= REPEATED:
            self._report(
                name,
                version,
                f"its requests killed a TensorFlow worker {len(deaths)} times in the last "
                f"{WINDOW_SECONDS // 60:.0f} minutes (last: {how}); it keeps serving",
            )
