"""CORS for the REST API (--rest_api_enable_cors_support), so that browser pages on other
origins can call it, as tensorflow_model_server's HTTP server allows when told to."""

from collections.abc import Awaitable, Callable

from aiohttp import web

ALLOWED_METHODS = "GET, POST, OPTIONS"
PREFLIGHT_MAX_AGE_SECONDS = "600"


@web.middleware
async def cors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer preflight requests, and let every origin read every response."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response: web.StreamResponse = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "Content-Type"
        )
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE_SECONDS
    else:
        try:
            response = await handler(request)
        except web.HTTPException as e:
            e.headers["Access-Control-Allow-Origin"] = "*"
            raise
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
