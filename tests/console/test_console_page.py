"""The console in a real browser against a real server serving the seed models."""

import http.client
import random
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import export
from tests.console.conftest import ConsolePage, console_url, served_seed_models
from tests.service.conftest import (
    HOST,
    SEED_MODELS,
    ServerProcess,
    copy_version,
    write_model_config,
)

CHIMERA_FEATURES = 20
# chimera keeps two versions, so that a second one placed beside the first can be compared.
POLICIES = {"chimera": "model_version_policy { latest { num_versions: 2 } }"}
VERSION_TIMEOUT = 120.0
# Live insight's reference is its first 200 sampled requests, at most 20 sampled a second.
INSIGHT_TIMEOUT = 90.0
SAMPLE_EVERY_REQUEST = 1


@pytest.fixture(scope="module")
def console_server(
    tmp_path_factory: pytest.TempPathFactory, exported: Path
) -> Iterator[ServerProcess]:
    """A server of its own (a test places a version in its model folders)."""
    root = tmp_path_factory.mktemp("console-models")
    config = served_seed_models(root, exported, POLICIES)
    with ServerProcess([f"--model_config_file={config}"], root / "server.log") as server:
        yield server


def send_predictions(server: ServerProcess, count: int, value: float = 1.0) -> None:
    row = [value * (i + 1) / CHIMERA_FEATURES for i in range(CHIMERA_FEATURES)]
    for _ in range(count):
        response = server.rest("POST", "/v1/models/chimera:predict", {"instances": [row]})
        assert response.status == 200, response.body


def insight_served(server: ServerProcess) -> bool:
    """Whether this server has the live-insight endpoints (not: whether they hold data)."""
    response = server.rest("GET", "/v1/models/chimera/versions/1/activations")
    return not (response.status == 404 and b"no such resource" in response.body)


def cards(page: ConsolePage) -> dict[str, str]:
    """The model's figure cards, label to value, as shown at one instant."""
    return page.driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#head .card')].map("
        "c => [c.querySelector('.label').innerText.toLowerCase(),"
        " c.querySelector('.value').innerText]))"
    )


def test_root_redirects_to_the_console(console_server: ServerProcess) -> None:
    connection = http.client.HTTPConnection(HOST, console_server.rest_port, timeout=10)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        assert (response.status, response.getheader("Location")) == (302, "/console")
    finally:
        connection.close()


def test_page_is_served_from_the_package_for_its_own_origin_only(
    console_server: ServerProcess,
) -> None:
    connection = http.client.HTTPConnection(HOST, console_server.rest_port, timeout=10)
    try:
        connection.request("GET", "/console")
        response = connection.getresponse()
        body = response.read().decode()
        policy = response.getheader("Content-Security-Policy")
    finally:
        connection.close()
    assert response.status == 200 and "blockserve console" in body
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert not re.search(r"(src|href)=\"https?:", body), "the page must not load from elsewhere"
    assert console_server.rest("GET", "/console/static/console.js").status == 200
    assert console_server.rest("GET", "/console/static/nothing.js").status == 404


def test_page_loads_without_errors_and_lists_the_seed_models(
    console_server: ServerProcess, page: ConsolePage
) -> None:
    page.open(console_url(console_server.rest_url))
    page.wait(lambda: page.count("nav a[data-model]") == len(SEED_MODELS), "the model list")
    assert set(page.attributes("nav a[data-model]", "data-model")) == set(SEED_MODELS)
    assert all("v1" in text for text in page.texts("nav a[data-model]"))
    page.element("#signatures table")
    resources = page.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources and all(r.startswith(console_server.rest_url + "/") for r in resources)
    page.screenshot("models")


def test_chimera_layer_tree_shows_counts_and_draws_a_parameter_histogram(
    console_server: ServerProcess, page: ConsolePage
) -> None:
    page.open(console_url(console_server.rest_url, "chimera"))
    dense = '#layer-tree details[data-path="chimera/nest_mlp/net/dense"]'
    page.element(dense)
    assert "1,344" in page.text(f"{dense} > summary")
    assert "5,112 parameters" in page.text("#layers .totals")
    assert "constant" in page.text('tr.variable[data-path="chimera/fixed_hidden_mlp/Const"]')
    assert "[?, 20]" in page.text("#signatures") and "float32" in page.text("#signatures")

    page.element('tr.variable[data-path="chimera/nest_mlp/net/dense/kernel"]').click()
    page.wait(lambda: page.count("#parameter-histogram svg rect.bar") == 20, "20 bars")
    heights = page.attributes("#parameter-histogram rect.bar", "height")
    assert max(float(height) for height in heights) > 0
    assert "chimera/nest_mlp/net/dense/kernel" in page.text("#parameter-histogram h4")
    assert "[20, 64] float32" in page.text("#parameter-histogram")
    page.screenshot("layers")


def test_traffic_figures_follow_the_requests(
    console_server: ServerProcess, page: ConsolePage
) -> None:
    page.open(console_url(console_server.rest_url, "chimera"))
    page.element("#head .card")
    page.next_polls()
    before = int(cards(page)["requests"].replace(",", ""))
    send_predictions(console_server, 40)
    latency = re.compile(r"[\d.]+ (µs|ms|s)")
    shown = page.wait(
        lambda: (
            (c := cards(page))["request rate"] != "0.00/s"
            and int(c["requests"].replace(",", "")) >= before + 40
            and latency.fullmatch(c["p50 latency"])
            and c
        ),
        "the traffic's figures",
    )
    assert latency.fullmatch(shown["p99 latency"]), shown
    assert shown["error rate"] == "0.0%", shown
    assert latency.fullmatch(shown["load time"]), shown
    page.screenshot("traffic")


def test_activations_and_drift_say_there_is_no_data_yet(
    console_server: ServerProcess, page: ConsolePage
) -> None:
    # No test sends param_net a request: whether or not this server samples activations and
    # measures drift, it has nothing to show for it.
    page.open(console_url(console_server.rest_url, "param_net"))
    page.element('#activations[data-state="empty"]')
    assert "No activation samples yet" in page.text("#activations")
    page.element('#drift[data-state="empty"]')
    assert "No reference yet" in page.text("#drift")
    page.screenshot("no-insight-yet")


class Traffic:
    """Predict requests of random rows sent to chimera from a thread until stopped; `shift`
    moves the rows' mean, which the drift against a first-requests reference must show."""

    ROWS = 8

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.shift = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send)
        self._random = random.Random(0)

    def _send(self) -> None:
        while not self._stop.is_set():
            rows = [
                [self._random.gauss(self.shift, 1.0) for _ in range(CHIMERA_FEATURES)]
                for _ in range(self.ROWS)
            ]
            response = self.server.rest("POST", "/v1/models/chimera:predict", {"instances": rows})
            assert response.status == 200, response.body
            time.sleep(0.005)  # a steady stream, not a load test: sampling is capped anyway

    def __enter__(self) -> "Traffic":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_activations_and_drift_change_as_traffic_flows(
    console_server: ServerProcess, page: ConsolePage, exported: Path, tmp_path: Path
) -> None:
    assert insight_served(console_server), "the server has no activation and drift endpoints"
    # Every request offered for sampling, so that the reference and window fill in seconds.
    config = write_model_config(tmp_path / "models.config", {"chimera": exported / "chimera"})
    flags = [f"--model_config_file={config}", f"--activation_sample_rate={SAMPLE_EVERY_REQUEST}"]
    with ServerProcess(flags, tmp_path / "server.log") as server, Traffic(server) as traffic:
        page.open(console_url(server.rest_url, "chimera"))
        page.element('#activations[data-state="data"]', timeout=INSIGHT_TIMEOUT)
        assert page.count("#activations svg rect.bar")
        sampled = page.attribute("#activations", "data-sampled")
        page.wait(
            lambda: page.attribute("#activations", "data-sampled") != sampled,
            "more sampled requests",
        )
        page.element('#drift[data-state="data"]', timeout=INSIGHT_TIMEOUT)
        drift = page.text("#drift-summary"), page.text("#drift .insight-grid")
        traffic.shift = 3.0
        page.wait(
            lambda: (page.text("#drift-summary"), page.text("#drift .insight-grid")) != drift,
            "new drift figures",
            timeout=INSIGHT_TIMEOUT,
        )
        page.screenshot("insight-live-page")
        page.screenshot("insight-live", "#live")
        page.open("about:blank")  # before the server stops: a page polling nothing logs errors


def test_comparison_appears_once_a_second_version_is_placed(
    console_server: ServerProcess, page: ConsolePage, tmp_path: Path
) -> None:
    page.open(console_url(console_server.rest_url, "chimera"))
    page.element('#comparison[data-state="empty"]')
    assert "Only version 1 is loaded" in page.text("#comparison")

    result = export(tmp_path, "--models", "chimera", "--version", "2", "--seed", "7")
    assert result.returncode == 0, result.stderr
    base = Path(console_server.flags[0].split("=", 1)[1]).parent / "chimera"
    copy_version(tmp_path / "chimera" / "2", base, 2)

    page.wait(
        lambda: page.count("nav a[data-model='chimera'] .state-available") == 2,
        "version 2 available",
        timeout=VERSION_TIMEOUT,
    )
    page.element('#comparison[data-state="data"]')
    assert "Version 2 against" in page.text("#comparison")
    summary = page.text("#comparison-summary")
    changed = int(re.search(r"changed\s+(\d+)", summary)[1])
    assert changed > 0, summary
    assert page.count("#comparison tr.changed")
    assert page.count("#versions tbody tr") == 2
    send_predictions(console_server, 30)  # version 2 now: its row of the table moves
    page.wait(lambda: "/s" in page.text("#versions tr[data-version='2'] td.num"), "v2's rate")
    page.screenshot("comparison-page")
    page.screenshot("comparison", "#layers", "#comparison")
