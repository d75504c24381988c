"""The console's HTTP routes: the page and its static files, behind the admin token when set.

The page is plain files read from this package once, at start-up; everything it shows it reads
in the browser from the public JSON API and /metrics. No route here computes model data.
"""

import hashlib
import hmac
import logging
from pathlib import Path

from aiohttp import web

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
PAGE = "index.html"
LOGIN = "login.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
COOKIE = "blockserve_console"
MESSAGE_MARK = "<!--message-->"
MISSING = (
    "this installation of blockserve lacks the console's files (service/front/console/static/)"
)
# The page talks to its own origin only: it must work without a network, and nothing it shows
# may be sent elsewhere.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
LOGIN_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def read_static(folder: Path = STATIC) -> dict[str, bytes]:
    """Every file of the console by name; read once, they are a few tens of kilobytes.

    Empty when the folder is missing (an installation built without its data files): the
    server still starts, and the console says what is wrong.
    """
    if not folder.is_dir():
        log.warning("the console's files are not installed (no %s); /console will say so", folder)
        return {}
    return {
        path.name: path.read_bytes()
        for path in sorted(folder.iterdir())
        if path.suffix in CONTENT_TYPES and path.is_file()
    }


class ConsoleDoor:
    """Who may see the console: everyone without a token; with one, who shows it.

    The token comes as `authorization: Bearer TOKEN` or as the cookie the login form sets. The
    cookie holds an HMAC of the token, not the token, so that it is no admin credential for the
    APIs that take one. Both are compared in constant time.
    """

    def __init__(self, admin_token: str) -> None:
        self._token = admin_token
        self._cookie = (
            hmac.new(admin_token.encode(), b"blockserve console", hashlib.sha256).hexdigest()
            if admin_token
            else ""
        )

    @property
    def locked(self) -> bool:
        return bool(self._token)

    def admits(self, request: web.Request) -> bool:
        if not self._token:
            return True
        bearer = request.headers.get("Authorization", "")
        cookie = request.cookies.get(COOKIE, "")
        # Both compared, whatever the first gives, so that timing says nothing about either.
        by_bearer = hmac.compare_digest(bearer.encode(), f"Bearer {self._token}".encode())
        by_cookie = hmac.compare_digest(cookie.encode(), self._cookie.encode())
        return by_bearer or by_cookie

    def token_matches(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self._token.encode())

    def admit(self, response: web.StreamResponse, secure: bool) -> None:
        response.set_cookie(
            COOKIE, self._cookie, path="/console", httponly=True, samesite="Strict", secure=secure
        )


class Console:
    """The handlers: the page, its files, the login form and the redirect from /."""

    def __init__(self, admin_token: str, files: dict[str, bytes]) -> None:
        self._door = ConsoleDoor(admin_token)
        self._files = files

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.root),
            web.get("/console", self.page),
            web.get("/console/", self.root),
            web.get("/console/static/{name}", self.static_file),
            web.post("/console/login", self.login),
        ]

    async def root(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/console")

    async def page(self, request: web.Request) -> web.Response:
        if PAGE not in self._files or LOGIN not in self._files:
            return web.Response(status=503, text=MISSING)
        if not self._door.admits(request):
            return self._login_page("", 401)
        return self._file(PAGE, PAGE_POLICY)

    async def static_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name in (PAGE, LOGIN) or name not in self._files:
            return web.Response(status=404, text=f"no such console file: {name}")
        if not self._door.admits(request):
            return web.Response(status=401, text="the console needs the admin token")
        return self._file(name, PAGE_POLICY)

    async def login(self, request: web.Request) -> web.Response:
        if not self._door.locked or LOGIN not in self._files:
            raise web.HTTPSeeOther("/console")  # which says what there is to say
        form = await request.post()
        token = form.get("token")
        if not isinstance(token, str) or not self._door.token_matches(token.strip()):
            return self._login_page("That is not the admin token.", 401)
        response = web.HTTPSeeOther("/console")
        self._door.admit(response, request.secure)
        raise response

    def _file(self, name: str, policy: str) -> web.Response:
        suffix = Path(name).suffix
        return web.Response(
            body=self._files[name],
            headers={
                "Content-Type": CONTENT_TYPES[suffix],
                # Always asked again, so that a new server's page never runs an old script.
                "Cache-Control": "no-cache",
                "Content-Security-Policy": policy,
                "X-Content-Type-Options": "nosniff",
            },
        )

    def _login_page(self, message: str, status: int) -> web.Response:
        html = self._files[LOGIN].decode()
        if message:
            html = html.replace(MESSAGE_MARK, f'<p class="error">{message}</p>')
        return web.Response(
            status=status,
            text=html,
            content_type="text/html",
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": LOGIN_POLICY,
                "WWW-Authenticate": 'Bearer realm="blockserve console"',
            },
        )


def console_routes(admin_token: str) -> list[web.RouteDef]:
    """The console's routes for the REST application; `admin_token` empty leaves it open."""
    return Console(admin_token, read_static()).routes()
