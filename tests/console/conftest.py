"""Fixtures for the console's tests: a real headless Chromium driven by Selenium, and a server."""

import base64
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.service.conftest import (  # noqa: F401  (server logs on failure)
    SEED_MODELS,
    ServerProcess,
    pytest_runtest_makereport,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
WAIT_SECONDS = 30.0
STALE = (StaleElementReferenceException, NoSuchElementException)
# The page polls the server this often (ms) in the tests, rather than every 2 s.
POLL_MS = 500
# Screenshots also go here when set, e.g. docs/ to renew the README's pictures from a real run.
SCREENSHOT_DIR_VARIABLE = "CONSOLE_SCREENSHOT_DIR"
# The live-insight endpoints answer 404 while a version has no data (or on a server without
# them); the browser logs each such answer as an error, which is the page working as meant.
EXPECTED_NOT_FOUND = ("/activations - Failed to load resource", "/drift - Failed to load resource")


# The page rectangle around every element the selectors given match, in CSS pixels.
CLIP_SCRIPT = """
const rects = arguments[0].map((css) => document.querySelector(css).getBoundingClientRect());
const x = Math.min(...rects.map((r) => r.left)) + window.scrollX;
const y = Math.min(...rects.map((r) => r.top)) + window.scrollY;
const right = Math.max(...rects.map((r) => r.right)) + window.scrollX;
const bottom = Math.max(...rects.map((r) => r.bottom)) + window.scrollY;
const margin = 8;  // the elements' borders and a little of the page around them
return {
  x: Math.max(0, x - margin),
  y: Math.max(0, y - margin),
  width: right - x + 2 * margin,
  height: bottom - y + 2 * margin,
};
"""


class ConsolePage:
    """One browser tab on a console: waits, clicks, screenshots and the browser's log."""

    def __init__(self, driver: webdriver.Chrome, screenshots: Path) -> None:
        self.driver = driver
        self.screenshots = screenshots
        self.log: list[dict[str, Any]] = []

    def open(self, url: str) -> "ConsolePage":
        self.driver.get(url)
        return self

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
        """The first truthy value of `condition()`, polled; fails naming `what` after timeout."""
        try:
            # An element may go stale under the test when the page navigates or redraws.
            return WebDriverWait(
                self.driver, timeout, poll_frequency=0.1, ignored_exceptions=STALE
            ).until(lambda _: condition())
        except Exception as e:
            raise AssertionError(
                f"waited {timeout}s for {what}; the page says:\n{self.text('body')}"
            ) from e

    def element(self, css: str, timeout: float = WAIT_SECONDS) -> WebElement:
        return self.wait(lambda: self.find(css), f"an element {css!r}", timeout)

    def find(self, css: str) -> WebElement | None:
        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        return found[0] if found else None

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    # The page redraws its live parts on every poll, so an element found a moment ago may be
    # gone: what the tests read, they read in one script, at one instant.

    def text(self, css: str) -> str:
        """The rendered text of the first element `css` matches; empty if none does."""
        script = "return document.querySelector(arguments[0])?.innerText ?? ''"
        return self.driver.execute_script(script, css)

    def texts(self, css: str) -> list[str]:
        script = "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText)"
        return self.driver.execute_script(script, css)

    def attributes(self, css: str, name: str) -> list[str | None]:
        script = (
            "return [...document.querySelectorAll(arguments[0])]"
            ".map(e => e.getAttribute(arguments[1]))"
        )
        return self.driver.execute_script(script, css, name)

    def attribute(self, css: str, name: str) -> str | None:
        found = self.attributes(css, name)
        return found[0] if found else None

    def count(self, css: str) -> int:
        return len(self.attributes(css, "class"))

    def polls(self) -> int:
        """How many times the page has polled the server since it loaded."""
        return int(self.driver.execute_script("return Number(document.body.dataset.polls || 0)"))

    def next_polls(self, count: int = 2) -> None:
        """Wait until the page has polled `count` more times: what it shows is current."""
        start = self.polls()
        self.wait(lambda: self.polls() >= start + count, f"{count} more polls")

    def errors(self) -> list[dict[str, Any]]:
        """The browser's error entries so far, leaving out the expected 404s of live insight."""
        self.log.extend(self.driver.get_log("browser"))
        return [
            entry
            for entry in self.log
            if entry["level"] == "SEVERE"
            and not (
                entry["source"] == "network"
                and "404" in entry["message"]
                and any(part in entry["message"] for part in EXPECTED_NOT_FOUND)
            )
        ]

    def screenshot(self, name: str, *parts: str) -> Path:
        """The whole page, however long, as `name`.png in the screenshot folder; or only the
        smallest rectangle holding the elements `parts` (CSS selectors) on it."""
        driver = self.driver
        width, height = driver.get_window_size().values()
        full = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, max(height, full + 90))  # 90: the browser's own chrome
        time.sleep(0.3)  # one layout and paint at the new size
        path = self.screenshots / f"{name}.png"
        if not parts:
            driver.save_screenshot(str(path))
        else:
            for css in parts:
                self.element(css)
            clip = driver.execute_script(CLIP_SCRIPT, list(parts))
            shot = driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {"format": "png", "clip": clip | {"scale": 1}, "captureBeyondViewport": True},
            )
            path.write_bytes(base64.b64decode(shot["data"]))
        copy_to = os.environ.get(SCREENSHOT_DIR_VARIABLE)
        if copy_to:
            shutil.copyfile(path, Path(copy_to) / f"console-{name}.png")
        driver.set_window_size(width, height)
        return path


def start_chromium(profile: Path) -> webdriver.Chrome:
    """Headless Chromium with a fresh profile in `profile`, logging its console for the tests."""
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "the console tests need Debian's chromium and chromium-driver (scripts/system-deps)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each view's screenshot goes."""
    return tmp_path_factory.mktemp("console-screenshots")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """One headless Chromium for a test module."""
    profile = Path(tempfile.mkdtemp(prefix="console-chromium-"))
    driver = start_chromium(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: webdriver.Chrome, screenshots: Path) -> Iterator[ConsolePage]:
    """The browser, its log emptied, on a blank page; fails the test on a browser error."""
    browser.get("about:blank")
    browser.get_log("browser")
    console = ConsolePage(browser, screenshots)
    yield console
    errors = console.errors()
    assert not errors, "the browser logged errors:\n" + json.dumps(errors, indent=2)


def console_url(server_url: str, fragment: str = "") -> str:
    return f"{server_url}/console?poll={POLL_MS}" + (f"#{fragment}" if fragment else "")


def served_seed_models(root: Path, exported: Path, policies: dict[str, str]) -> Path:
    """A ModelServerConfig serving a copy of every seed model from `root`; `policies` gives
    some of them a model_version_policy (text format), so that a test may add versions."""
    entries = []
    for name in SEED_MODELS:
        shutil.copytree(exported / name, root / name)
        policy = policies.get(name, "")
        entries.append(
            f'  config {{ name: "{name}" base_path: "{root / name}" '
            f'model_platform: "tensorflow" {policy} }}'
        )
    config = root / "models.config"
    config.write_text("model_config_list {\n" + "\n".join(entries) + "\n}\n")
    return config
