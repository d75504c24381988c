"""The console's activation and drift views, drawn from the documented JSON of those endpoints.

The endpoints belong to the live-insight work; a small stand-in server answers them here with
the documented shapes (int64 fields as protobuf JSON strings), so that the page's reading of the
contract is pinned whatever the real server holds. The rest of the page is served by the
console's own routes, as in blockserve.
"""

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from service.front.console import console_routes
from tests.console.conftest import ConsolePage, console_url

MODEL, VERSION, FEATURES = "nest_mlp", "3", 20


# The activations' histograms use a logarithmic grid whose outer edges may be infinite.
LOG_EDGES = [0.0, 1e-6, 1e-4, 1e-2, 1.0, 10.0, "Infinity"]


def stats(count: int, shift: float, zero_fraction: float, log_grid: bool) -> dict[str, Any]:
    edges: list[Any] = LOG_EDGES if log_grid else [shift + i / 4 for i in range(9)]
    counts = [str(count // 8 + i) for i in range(len(edges) - 1)]
    return {
        "count": str(count),
        "mean": shift + 1,
        "std": 0.5,
        "min": 0.0 if log_grid else edges[0],
        "max": 12.5 if log_grid else edges[-1],
        "zero_fraction": zero_fraction,
        "non_finite_fraction": 0.0,
        "histogram": {"edges": edges, "counts": counts},
    }


NO_LOOP = stats(0, 0.0, 0.0, False) | {"histogram": {"edges": [], "counts": []}}


@dataclass
class StandIn:
    """The JSON a server with live insight gives, changing with every call as traffic would."""

    with_data: bool = True
    gathering: bool = False  # with_data False: a first-requests reference still filling up
    calls: dict[str, int] = field(default_factory=lambda: {"activations": 0, "drift": 0})

    def listing(self) -> dict[str, Any]:
        status = {"error_code": "OK", "error_message": ""}
        return {
            "models": [MODEL],
            "model_version_status": {
                MODEL: [{"version": VERSION, "state": "AVAILABLE", "status": status}]
            },
        }

    def metadata(self) -> dict[str, Any]:
        x = {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}, {"size": "20"}]}}
        signature = {"inputs": {"x": x}, "outputs": {"y": x}, "method_name": "predict"}
        return {"metadata": {"signature_def": {"signature_def": {"serving_default": signature}}}}

    def parameters(self) -> dict[str, Any]:
        totals = ("total", "trainable", "non_trainable", "constant")
        return {"model": MODEL, "version": VERSION, "layers": []} | {
            f"{kind}_parameters": "0" for kind in totals
        }

    def activations(self) -> dict[str, Any]:
        n = self.calls["activations"] = self.calls["activations"] + 1
        if not self.with_data:
            empty = {"sampled_requests": "0", "layers": [], "loop_halvings": NO_LOOP}
            return {"model": MODEL, "version": 3, "signature": ""} | empty
        layers = [
            {"path": "nest_mlp/net/dense", "window": stats(64 * n, 0.0, 0.25, False)},
            {"path": "nest_mlp/net/dense_1", "window": stats(32 * n, n / 10, 0.6, True)},
        ]
        for layer in layers:
            layer["since_load"] = layer["window"]
        return {
            "model": MODEL,
            "version": 3,
            "signature": "serving_default",
            "sampled_requests": str(10 * n),
            "layers": layers,
            "loop_halvings": NO_LOOP,  # a model without a graph loop
        }

    def drift(self) -> dict[str, Any]:
        n = self.calls["drift"] = self.calls["drift"] + 1
        if not self.with_data:
            reference = {"source": "first_requests", "rows": str(7 * n)}
            if not self.gathering:
                reference = {"source": "none", "rows": "0"}
            return {"model": MODEL, "version": 3, "reference": reference, "window_rows": "0"}
        features = [
            {"index": i, "psi": 0.4 if i == 3 else 0.01 * i + 0.001 * n, "ks": 0.02 * i}
            for i in range(FEATURES)
        ]
        return {
            "model": MODEL,
            "version": 3,
            "reference": {"source": "first_requests", "rows": "100"},
            "window_rows": str(5 * n),
            "inputs": [{"name": "x", "score": 0.3, "features": features}],
        }

    def routes(self) -> list[web.RouteDef]:
        def answer(make: Any) -> Any:
            async def handler(request: web.Request) -> web.Response:
                return web.json_response(make())

            return handler

        path = f"/v1/models/{MODEL}/versions/{VERSION}"

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(text="# no traffic\n")

        return [
            web.get("/v1/models", answer(self.listing)),
            web.get("/metrics", metrics),
            web.get(f"{path}/metadata", answer(self.metadata)),
            web.get(f"{path}/parameters", answer(self.parameters)),
            web.get(f"{path}/activations", answer(self.activations)),
            web.get(f"{path}/drift", answer(self.drift)),
        ]


@dataclass
class StandInServer:
    url: str
    api: StandIn


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandInServer]:
    """The stand-in API and the console's routes on an ephemeral port, in a thread of its own."""
    api = StandIn()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_routes(console_routes("") + api.routes())
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield StandInServer(f"http://127.0.0.1:{port}", api)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_activation_histograms_and_dead_share_update_while_traffic_flows(
    stand_in: StandInServer, page: ConsolePage
) -> None:
    stand_in.api.with_data = True
    page.open(console_url(stand_in.url))
    page.element('#activations[data-state="data"]')
    assert page.attributes("#activations .insight-card", "data-layer") == [
        "nest_mlp/net/dense",
        "nest_mlp/net/dense_1",
    ]
    even, logarithmic = (
        f'#activations .insight-card[data-layer="nest_mlp/net/{name}"]'
        for name in ("dense", "dense_1")
    )
    assert "dead 25.0%" in page.text(even) and "dead 60.0%" in page.text(logarithmic)
    assert page.count(f"{even} svg rect.bar") == 8
    assert page.count(f"{logarithmic} svg.uneven rect.bar") == 6
    assert "log-spaced bins" in page.text(logarithmic)
    sampled = int(page.attribute("#activations", "data-sampled"))
    page.wait(
        lambda: int(page.attribute("#activations", "data-sampled")) > sampled,
        "the sampled request count to grow",
    )
    assert "sampled requests to serving_default" in page.text("#activation-summary")


def test_drift_shows_psi_per_feature_against_the_reference(
    stand_in: StandInServer, page: ConsolePage
) -> None:
    stand_in.api.with_data = True
    page.open(console_url(stand_in.url))
    page.element('#drift[data-state="data"]')
    assert "100 rows from the first requests" in page.text("#drift-summary")
    card = '#drift .insight-card[data-input="x"]'
    page.element(card)
    assert "score 0.3" in page.text(card)
    assert page.count(f"{card} svg rect.bar") == 20
    assert page.count(f"{card} svg rect.bar.level-2") == 1  # feature 3
    rows = page.attribute("#drift", "data-window-rows")
    page.wait(lambda: page.attribute("#drift", "data-window-rows") != rows, "the window to move")
    page.screenshot("insight")


def test_empty_activations_and_reference_say_there_is_no_data_yet(
    stand_in: StandInServer, page: ConsolePage
) -> None:
    stand_in.api.with_data = False
    page.open(console_url(stand_in.url))
    page.element('#activations[data-state="empty"]')
    assert "No activation samples yet" in page.text("#activations")
    page.element('#drift[data-state="empty"]')
    assert "No reference yet" in page.text("#drift")
    assert "No signature metadata" not in page.text("#signatures")


def test_a_reference_still_gathering_says_so(stand_in: StandInServer, page: ConsolePage) -> None:
    stand_in.api.with_data, stand_in.api.gathering = False, True
    try:
        page.open(console_url(stand_in.url))
        page.wait(lambda: "Still gathering" in page.text("#drift"), "the gathering reference")
        assert "rows from the first requests" in page.text("#drift")
    finally:
        stand_in.api.gathering = False


def scrape(requests: dict[tuple[str, str], float], buckets: dict[str, float]) -> str:
    """Prometheus text of the series the page reads, of model m version 1: requests by
    (method, code), Predict's latency buckets by upper bound."""
    series = 'model="m",protocol="rest",version="1"'
    lines = [
        f'blockserve_requests_total{{code="{code}",method="{method}",signature="s",{series}}} {n}'
        for (method, code), n in requests.items()
    ]
    lines += [
        f'blockserve_request_duration_seconds_bucket{{le="{le}",method="predict",{series}}} {n}'
        for le, n in buckets.items()
    ]
    return "\n".join(lines) + "\n"


# A second apart: 100 Predict requests between them, 50 under 2 ms and 50 under 4 ms, one of
# them failed; and the console's own metadata reads, which are not traffic.
SCRAPES = (
    scrape(
        {("predict", "OK"): 10, ("get_model_metadata", "OK"): 5},
        {"0.001": 10, "0.002": 10, "0.004": 10, "+Inf": 10},
    ),
    scrape(
        {
            ("predict", "OK"): 109,
            ("predict", "INVALID_ARGUMENT"): 1,
            ("get_model_metadata", "OK"): 500,
        },
        {"0.001": 10, "0.002": 60, "0.004": 110, "+Inf": 110},
    ),
)


def test_traffic_figures_are_computed_as_prometheus_would(
    stand_in: StandInServer, page: ConsolePage
) -> None:
    page.open(console_url(stand_in.url))
    page.element("#head")
    figures = page.driver.execute_async_script(
        """
        const [older, newer, done] = arguments;
        import("/console/static/prometheus.js").then((p) => {
          const t = p.traffic(p.parse(older, 0), p.parse(newer, 1000), "m", "1");
          done([t.requests, t.rate, t.p50, t.p99, t.errorShare, t.totalSince]);
        });
        """,
        *SCRAPES,
    )
    # histogram_quantile(0.5): rank 50 of 100 falls at the top of the (0.001, 0.002] bucket;
    # 0.99: rank 99 is 49/50 of the way through (0.002, 0.004].
    assert figures == pytest.approx([100, 100.0, 0.002, 0.00396, 0.01, 110])
