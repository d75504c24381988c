"""The Open Inference Protocol (V2) over REST: health, metadata, infer and the repository.

    GET  /v2/health/live, /v2/health/ready, /v2
    GET  /v2/models/{m}[/versions/{v}][/ready]
    POST /v2/models/{m}[/versions/{v}]/infer
    POST /v2/repository/index, /v2/repository/models/{m}/load, .../unload

Every call that names a model goes through the data plane's accounting, as TensorFlow
Serving's REST API does; errors are {"error": "..."} with the status of HTTP_STATUS.
"""

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from service.front.dataplane import DataPlane, Tally
from service.front.metrics import ALL_MODELS
from service.front.rest.app import (
    JSON_HEADERS,
    body_response,
    http_status,
    json_response,
    read_body,
    reply_status,
)
from service.front.v2 import calls
from service.front.v2.metadata import server_metadata
from service.front.v2.repository import ModelRepository, load_base_path
from service.shared import channel
from service.shared.codecs import rest_json as codec
from service.shared.codecs import v2_rest as http_body
from service.shared.codecs.v2_request import SIGNATURE_PARAMETER, model_query
from service.shared.errors import (
    DeadlineExceeded,
    InvalidArgument,
    ServingError,
    Unavailable,
)

log = logging.getLogger(__name__)

MODEL = re.compile(
    r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?:/(?P<verb>ready|infer))?$"
)
REPOSITORY = re.compile(r"^/v2/repository/(?:index|models/(?P<name>[^/]+)/(?P<verb>load|unload))$")


class V2Rest:
    """The V2 REST handlers; model work goes through the data plane, control through the
    repository."""

    def __init__(
        self,
        core: DataPlane,
        repository: ModelRepository,
        max_request_bytes: int,
        timeout_seconds: float,
        draining: Callable[[], bool],
    ) -> None:
        self._core = core
        self._repository = repository
        self._max_bytes = max_request_bytes
        self._timeout = timeout_seconds
        self._draining = draining

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v2/health/live", self.live),
            web.get("/v2/health/ready", self.ready),
            web.get("/v2", self.metadata),
            web.route("*", "/v2/models/{tail:.*}", self.models),
            web.route("*", "/v2/repository/{tail:.*}", self.repository),
        ]

    async def live(self, request: web.Request) -> web.Response:
        return json_response({"live": True})

    async def ready(self, request: web.Request) -> web.Response:
        ready = not self._draining() and not self._core.unready_models()
        return json_response({"ready": ready}, 200 if ready else 503)

    async def metadata(self, request: web.Request) -> web.Response:
        return json_response(server_metadata())

    # -- models -------------------------------------------------------------------------------

    async def models(self, request: web.Request) -> web.Response:
        match = MODEL.match(request.path)
        if match is None:
            return _error(404, f"no such resource: {request.path}")
        verb = match["verb"]
        allowed = "POST" if verb == "infer" else "GET"
        if request.method != allowed:
            return _error(405, f"use {allowed} for this resource")
        name, version = match["name"], match["version"] or ""
        if verb == "infer":
            return await self._infer(request, name, version)
        signature = request.query.get(SIGNATURE_PARAMETER, "")
        query = model_query(name, version, signature) if _valid(version) else None

        async def ready(tally: Tally) -> web.Response:
            if query is None:
                raise InvalidArgument(f"version {version[:40]!r} is not valid")
            if calls.model_ready(self._core, tally, query):
                return json_response({"name": name, "ready": True})
            raise Unavailable(f"model {name!r} {_version_text(version)}is not ready")

        async def describe(tally: Tally) -> web.Response:
            if query is None:
                raise InvalidArgument(f"version {version[:40]!r} is not valid")
            return json_response(calls.describe(self._core, tally, query))

        if verb == "ready":
            return await self._call("model_ready", ready)
        return await self._call("model_metadata", describe)

    async def _infer(self, request: web.Request, name: str, version: str) -> web.StreamResponse:
        """Infer crosses the front as bytes: a worker decodes, checks, runs and encodes."""
        started = time.monotonic()

        async def prepare() -> tuple[object, bytes]:
            body = await read_body(request, self._max_bytes)
            return (name, version, request.headers.get(http_body.HEADER_LENGTH)), body

        reply = await self._core.forward(
            channel.REST_INFER,
            "model_infer",
            "rest",
            None,
            deadline=started + self._timeout,
            prepare=prepare,
            timeout=self._timeout,
        )
        if reply.code != "OK":
            return _error(reply_status(reply), str(reply.body))
        length = reply.extra[0] if reply.extra else None
        if length is None:
            return await body_response(request, reply.body, JSON_HEADERS)
        headers = {
            http_body.HEADER_LENGTH: str(length),
            "Content-Type": "application/octet-stream",
        }
        return await body_response(request, reply.body, headers)

    # -- repository ---------------------------------------------------------------------------

    async def repository(self, request: web.Request) -> web.Response:
        match = REPOSITORY.match(request.path)
        if match is None:
            return _error(404, f"no such resource: {request.path}")
        if request.method != "POST":
            return _error(405, "use POST for this resource")
        name, verb = match["name"], match["verb"]
        loop = asyncio.get_running_loop()

        async def index(tally: Tally) -> web.Response:
            tally.model = ALL_MODELS
            body = await read_body(request, self._max_bytes)
            parsed = codec.parse_body(body) if body.strip() else {}
            ready_only = parsed.get("ready", False)
            if not isinstance(ready_only, bool):
                raise InvalidArgument("'ready' must be true or false")
            entries = self._repository.index(ready_only)
            return json_response(
                [
                    {"name": e.name, "version": e.version, "state": e.state, "reason": e.reason}
                    for e in entries
                ]
            )

        async def control(tally: Tally) -> web.Response:
            self._repository.authorize(
                request.headers.get("Authorization", ""), f"repository {verb}"
            )
            body = await read_body(request, self._max_bytes)
            parsed = codec.parse_body(body) if body.strip() else {}
            parameters = parsed.get("parameters") or {}
            if not isinstance(parameters, dict):
                raise InvalidArgument("'parameters' must be an object")
            if verb == "unload":
                await loop.run_in_executor(None, self._repository.unload, name)
            else:
                base_path = load_base_path(parameters)
                await loop.run_in_executor(None, self._repository.load, name, base_path)
            tally.model = name  # served (or just unloaded) under this name: bounded series
            return json_response({})

        if name is None:
            return await self._call("repository_index", index, timed=False)
        return await self._call(f"repository_model_{verb}", control, timed=False)

    # -- helpers ------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        work: Callable[[Tally], Awaitable[web.Response]],
        timed: bool = True,
    ) -> web.Response:
        """One accounted request with the REST timeout; the core's errors become statuses."""
        try:
            with self._core.call(method, "rest") as tally:
                if not timed:  # loads take as long as they take, like config reloads
                    return await work(tally)
                try:
                    return await asyncio.wait_for(work(tally), self._timeout)
                except TimeoutError:
                    raise DeadlineExceeded(
                        f"the request took longer than its deadline ({self._timeout * 1000:.0f}"
                        " ms at most)"
                    ) from None
        except ServingError as e:
            return _error(http_status(e), str(e))
        except Exception:
            log.exception("unexpected error in V2 %s", method)
            return _error(500, "internal error; see the server log")


def _valid(version: str) -> bool:
    return len(version) <= 255 and all(c.isalnum() or c in "._-" for c in version)


def _version_text(version: str) -> str:
    return f"version {version} " if version else ""


def _error(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)
