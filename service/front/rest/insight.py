"""REST routes of live insight: GET /v1/models/{m}[/versions/{v}|/labels/{l}]/activations and
/drift, the proto3 JSON of the same messages the gRPC API returns."""

import logging
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from aiohttp import web

from service.insight.fetch import ACTIVATIONS, DRIFT, Fetch
from service.inspection.proto_json import to_json
from service.shared.errors import InvalidArgument, ServingError

log = logging.getLogger(__name__)

ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"/(?P<kind>activations|drift)$"
)
PATHS = (
    "/v1/models/{name}/{kind:activations|drift}",
    "/v1/models/{name}/versions/{version}/{kind:activations|drift}",
    "/v1/models/{name}/labels/{label}/{kind:activations|drift}",
)
METHODS = {ACTIVATIONS: "get_activation_summary", DRIFT: "get_input_drift"}

Account = Callable[[str, str], AbstractContextManager[Any]]
"""core.call(method, protocol): counts the request in the metrics, as every REST call is."""


class InsightRoutes:
    """The handlers; `fetch` asks the workers (see service.insight.fetch)."""

    def __init__(self, fetch: Fetch, account: Account | None = None) -> None:
        self._fetch = fetch
        self._account = account

    def routes(self) -> list[web.RouteDef]:
        """GET routes; register them before any catch-all /v1/models/{tail} route."""
        return [web.get(path, self.handle, allow_head=False) for path in PATHS]

    async def handle(self, request: web.Request) -> web.Response:
        match = ROUTE.match(request.path)
        if match is None:
            return _error(f"no such resource: {request.path}", 404)
        kind = match["kind"]
        try:
            if self._account is None:
                return await self._answer(kind, match)
            with self._account(METHODS[kind], "rest"):
                return await self._answer(kind, match)
        except ServingError as e:
            from service.front.rest.app import http_status  # here: app.py imports this module

            return _error(str(e), http_status(e))
        except Exception:
            log.exception("unexpected error in GET %s", request.path)
            return _error("internal error; see the server log", 500)

    async def _answer(self, kind: str, match: re.Match[str]) -> web.Response:
        version = match["version"]
        if version is not None and not version.isdigit():
            raise InvalidArgument(f"version {version!r} is not a number")
        answer = await self._fetch(
            kind, match["name"], int(version) if version is not None else None, match["label"]
        )
        return web.Response(text=to_json(answer), content_type="application/json")


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)
