"""The console behind --admin_token_file: refused without the token, open with it."""

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.console.conftest import ConsolePage, console_url
from tests.service.conftest import HOST, ServerProcess, write_model_config

TOKEN = "console-test-token-5f2c"


@pytest.fixture(scope="module")
def locked_server(
    tmp_path_factory: pytest.TempPathFactory, exported: Path
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("console-token")
    token_file = root / "admin.token"
    token_file.write_text(TOKEN + "\n")
    config = write_model_config(root / "models.config", {"param_net": exported / "param_net"})
    flags = [f"--model_config_file={config}", f"--admin_token_file={token_file}"]
    with ServerProcess(flags, root / "server.log") as server:
        yield server


def get(server: ServerProcess, path: str, headers: dict[str, str] | None = None):
    connection = http.client.HTTPConnection(HOST, server.rest_port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode(), dict(response.getheaders())
    finally:
        connection.close()


def test_console_and_its_files_are_refused_without_the_token(
    locked_server: ServerProcess,
) -> None:
    status, body, _ = get(locked_server, "/console")
    assert status == 401 and 'name="token"' in body
    assert "console.js" not in body  # the form only, nothing of the page itself
    assert get(locked_server, "/console/static/console.js")[0] == 401
    wrong = {"Authorization": f"Bearer {TOKEN}x"}
    assert get(locked_server, "/console", wrong)[0] == 401
    assert get(locked_server, "/console", {"Cookie": "blockserve_console=guess"})[0] == 401


def test_console_opens_with_the_token_as_a_bearer(locked_server: ServerProcess) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    status, body, headers = get(locked_server, "/console", bearer)
    assert status == 200 and "console.js" in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert get(locked_server, "/console/static/console.js", bearer)[0] == 200


def sign_in(page: ConsolePage, token: str) -> None:
    field = page.element("input[name=token]")
    field.clear()
    field.send_keys(token)
    page.driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_browser_signs_in_with_the_token_and_not_without(
    locked_server: ServerProcess, page: ConsolePage
) -> None:
    page.open(console_url(locked_server.rest_url))
    page.element("input[name=token]")
    page.screenshot("sign-in")
    sign_in(page, "not the token")
    page.wait(lambda: "not the admin token" in page.text("form"), "the refusal")
    sign_in(page, TOKEN)
    page.wait(lambda: page.count("nav a[data-model='param_net']"), "the console")
    cookie = page.driver.get_cookie("blockserve_console")
    assert cookie["httpOnly"] and TOKEN not in cookie["value"]
    # The refused attempts are the only errors the browser may have logged: 401s of the form.
    refused = [e for e in page.errors() if "status of 401" in e["message"]]
    page.log = [e for e in page.log if e not in refused]
