"""TensorFlow Serving's REST API, health endpoints and /metrics on one aiohttp application."""

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.front.dataplane import DataPlane, Reply, Tally
from service.front.metrics import ALL_MODELS, Metrics
from service.inspection import to_json
from service.requestlog.logger import RequestLogger
from service.shared import channel
from service.shared.codecs import rest_json as codec
from service.shared.codecs import tfserving as messages
from service.shared.errors import (
    DeadlineExceeded,
    InvalidArgument,
    RequestTooLarge,
    ServingError,
)
from service.shared.types import ModelQuery

log = logging.getLogger(__name__)

ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]*)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?::(?P<verb>[^/]*)|/(?P<resource>metadata|parameters|parameters/compare))?$"
)
VERBS = ("predict", "classify", "regress")

# The core's codes as HTTP statuses, after TensorFlow Serving's mapping.
HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def http_status(error: ServingError) -> int:
    if isinstance(error, RequestTooLarge):
        return 413
    return HTTP_STATUS.get(error.code, 500)


def reply_status(reply: Reply) -> int:
    """The HTTP status of a forwarded request's error."""
    if reply.error is not None:
        return http_status(reply.error)
    return HTTP_STATUS.get(reply.code, 500)


async def read_body(request: web.Request, max_bytes: int) -> bytes | bytearray:
    """The whole body, refused before it is read when it declares more than `max_bytes`.

    A large body is read into one buffer of its declared size, piece by piece as it arrives,
    and crosses to the worker out of band: aiohttp's read() would join the pieces in one copy,
    holding up every small request on this event loop for its length."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise RequestTooLarge(f"the body has {length} bytes; the limit is {max_bytes}")
    if length is None or length < channel.LARGE_BYTES:
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise RequestTooLarge(f"the body is over the limit of {max_bytes} bytes") from None
    body = bytearray(length)
    filled = 0
    with memoryview(body) as view:
        async for piece in request.content.iter_any():
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
    if filled != length:
        raise InvalidArgument(f"the body ended after {filled} of its {length} bytes")
    return body


async def body_response(
    request: web.Request, body: Any, headers: dict[str, str]
) -> web.StreamResponse:
    """A worker's answer; a large one (a buffer that came out of band) is written CHUNK_BYTES at
    a time, waiting for the socket to drain, so no turn of the event loop copies it whole."""
    if len(body) < channel.LARGE_BYTES:
        return web.Response(body=body, headers=headers)
    response = web.StreamResponse(headers=headers)
    response.content_length = len(body)
    await response.prepare(request)
    with memoryview(body) as view:
        for start in range(0, len(view), CHUNK_BYTES):
            await response.write(view[start : start + CHUNK_BYTES])
    await response.write_eof()
    return response


CHUNK_BYTES = 1 << 20
"""How much of a large answer one turn of the event loop writes."""
JSON_HEADERS = {"Content-Type": "application/json"}


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=codec.dumps)


def proto_json(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


class RestApi:
    """The HTTP handlers; all model work goes through the data plane."""

    def __init__(
        self,
        core: DataPlane,
        metrics: Metrics,
        max_request_bytes: int,
        timeout_seconds: float,
        metrics_paths: tuple[str, ...],
        extra_routes: Sequence[web.RouteDef] = (),
        model_names: Callable[[], list[str]] | None = None,
        request_log: RequestLogger | None = None,
        model_routes: Sequence[web.RouteDef] = (),
    ) -> None:
        self._core = core
        self._log = request_log
        self._model_names = model_names or list
        self._metrics = metrics
        self._max_bytes = max_request_bytes
        self._timeout = timeout_seconds
        self._metrics_paths = metrics_paths
        self._extra_routes = extra_routes  # other APIs on this port (the V2 protocol's)
        self._model_routes = model_routes  # more resources under /v1/models (live insight)
        self.draining = False

    def application(self) -> web.Application:
        app = web.Application(client_max_size=self._max_bytes)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        for path in self._metrics_paths:
            app.router.add_get(path, self.metrics)
        app.router.add_route("*", "/v1/models", self.list_models)
        app.router.add_routes(self._model_routes)
        app.router.add_route("*", "/v1/models/{tail:.*}", self.models)
        app.router.add_routes(self._extra_routes)
        app.router.add_route("*", "/{tail:.*}", self.unknown_path)
        return app

    async def healthz(self, request: web.Request) -> web.Response:
        return json_response({"status": "alive"})

    async def readyz(self, request: web.Request) -> web.Response:
        unready = self._core.unready_models()
        ready = not unready and not self.draining
        body = {"ready": ready, "unready_models": unready, "draining": self.draining}
        return json_response(body, 200 if ready else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self._metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    async def unknown_path(self, request: web.Request) -> web.Response:
        return json_response({"error": f"no such resource: {request.path}"}, 404)

    async def list_models(self, request: web.Request) -> web.Response:
        """GET /v1/models: the served models (KServe's V1 list), with each one's version states
        as GetModelStatus gives them."""
        if request.method != "GET":
            return json_response({"error": "use GET for this resource"}, 405)
        with self._core.call("list_models", "rest") as tally:
            names = self._model_names()
            states = {}
            for name in names:
                try:
                    statuses = self._core.status(tally, name, None)
                except ServingError:  # gone since, or nothing on disk yet
                    statuses = []
                states[name] = proto_json(messages.status_response(statuses)).get(
                    "model_version_status", []
                )
            tally.model, tally.version = ALL_MODELS, ""  # a request of no one model
            return json_response({"models": names, "model_version_status": states})

    async def models(self, request: web.Request) -> web.Response:
        match = ROUTE.match(request.path)
        if match is None:
            return json_response({"error": f"no such resource: {request.path}"}, 404)
        verb, resource = match["verb"], match["resource"]
        if verb is not None:
            method = verb if verb in VERBS else "unknown"
            allowed = "POST"
        elif resource in ("parameters", "parameters/compare"):
            method = "get_parameter_summary" if resource == "parameters" else "compare_parameters"
            allowed = "GET"
        else:
            method = "get_model_metadata" if resource == "metadata" else "get_model_status"
            allowed = "GET"
        if request.method != allowed:
            return json_response({"error": f"use {allowed} for this resource"}, 405)
        if verb == "predict":
            return await self._forward_predict(request, match)
        started = time.monotonic()
        try:
            with self._core.call(method, "rest") as tally:
                query = _query(match)
                work = self._dispatch(
                    request, tally, query, verb, resource, started + self._timeout
                )
                try:
                    return await asyncio.wait_for(work, self._timeout)
                except TimeoutError:
                    raise DeadlineExceeded(
                        f"the request took longer than {self._timeout * 1000:.0f} ms"
                    ) from None
        except ServingError as e:
            return json_response({"error": str(e)}, http_status(e))
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.path)
            return json_response({"error": "internal error; see the server log"}, 500)

    async def _forward_predict(
        self, request: web.Request, match: re.Match[str]
    ) -> web.StreamResponse:
        """:predict crosses the front as bytes: a worker parses, checks, runs and encodes."""
        started = time.monotonic()
        name = match["name"]
        log = self._log is not None and self._log.sampled(name)

        async def prepare() -> tuple[object, bytes]:
            query = _query(match)
            body = await read_body(request, self._max_bytes)
            return (query.name, query.version, query.label), body

        reply = await self._core.forward(
            channel.REST_PREDICT,
            "predict",
            "rest",
            None,
            deadline=started + self._timeout,
            prepare=prepare,
            timeout=self._timeout,
            log=log,
        )
        if reply.code != "OK":
            return json_response({"error": reply.body}, reply_status(reply))
        if log and reply.extra is not None:
            self._log.rest_predict_bytes(reply.model, *reply.extra[1])  # type: ignore[union-attr]
        return await body_response(request, reply.body, JSON_HEADERS)

    async def _dispatch(
        self,
        request: web.Request,
        tally: Tally,
        query: ModelQuery,
        verb: str | None,
        resource: str | None,
        deadline: float,
    ) -> web.Response:
        if query.name in self._model_names():  # a bad request to a served model counts as its
            tally.model = query.name
        if verb is not None:
            if verb not in VERBS:
                raise InvalidArgument(f"unknown verb {verb!r}; use one of {', '.join(VERBS)}")
            body = codec.parse_body(await read_body(request, self._max_bytes))
            signature = body.get("signature_name", "")
            if not isinstance(signature, str):
                raise InvalidArgument("'signature_name' must be a string")
            query = ModelQuery(query.name, query.version, query.label, signature)
            return await getattr(self, f"_{verb}")(tally, query, body, deadline)
        if resource == "metadata":
            metadata = self._core.metadata(tally, query)
            response = messages.metadata_response(metadata)
            return json_response(
                {
                    "model_spec": proto_json(response.model_spec),
                    "metadata": {"signature_def": proto_json(messages.signature_map(metadata))},
                }
            )
        if resource is None:
            if query.label is not None:
                version = self._core.lease(tally, query)
                version.release()
                statuses = self._core.status(tally, query.name, version.model.version)
            else:
                statuses = self._core.status(tally, query.name, query.version)
            return json_response(proto_json(messages.status_response(statuses)))
        if resource == "parameters":
            return _json_text(to_json(self._core.parameter_summary(tally, query)))
        base = request.query.get("base", "")
        if not base.isdigit():
            raise InvalidArgument("compare needs ?base=VERSION, the version to compare against")
        comparison = await self._core.compare_parameters(tally, query, int(base))
        return _json_text(to_json(comparison))

    async def _classify(
        self, tally: Tally, query: ModelQuery, body: dict[str, Any], deadline: float
    ) -> web.Response:
        examples = codec.examples(body)
        result = await self._core.classify(tally, query, examples, deadline)
        if self._log is not None and self._log.enabled:
            self._log.rest_classify(examples, result)
        return json_response({"results": [[[c, s] for c, s in row] for row in result.classes]})

    async def _regress(
        self, tally: Tally, query: ModelQuery, body: dict[str, Any], deadline: float
    ) -> web.Response:
        examples = codec.examples(body)
        result = await self._core.regress(tally, query, examples, deadline)
        if self._log is not None and self._log.enabled:
            self._log.rest_regress(examples, result)
        return json_response({"results": result.values})


def _json_text(text: str) -> web.Response:
    return web.Response(text=text, content_type="application/json")


def _query(match: re.Match[str]) -> ModelQuery:
    version = match["version"]
    if version is not None and not version.isdigit():
        raise InvalidArgument(f"version {version!r} is not a number")
    return ModelQuery(
        name=match["name"],
        version=int(version) if version is not None else None,
        label=match["label"],
    )
