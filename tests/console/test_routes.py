"""The console's routes without a browser: what an installation without its files answers."""

import asyncio
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from service.front.console.routes import Console, read_static


def test_a_console_without_its_files_says_so_and_the_server_still_starts(tmp_path: Path) -> None:
    async def check() -> tuple[int, str]:
        app = web.Application()
        app.router.add_routes(Console("", read_static(tmp_path / "missing")).routes())
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/console")
            return response.status, await response.text()

    status, text = asyncio.run(check())
    assert status == 503 and "lacks the console's files" in text


def test_every_file_the_page_names_is_served() -> None:
    files = read_static()
    page = files["index.html"].decode()
    modules = "".join(f.decode() for name, f in files.items() if name.endswith(".js"))
    named = {"console.css", "console.js"} | {
        part.split('"')[0] for part in modules.split('from "./')[1:]
    }
    assert all(name in page or name in modules for name in named)
    assert named <= set(files), named - set(files)
