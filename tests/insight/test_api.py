"""GetActivationSummary and GetInputDrift over gRPC and REST, and the client's tables, against
an in-process server whose fetch asks real VersionInsights (the front's wiring is the lead's:
here the adapters are tested on their own, with the library behind them)."""

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from aiohttp import web

from service.front.grpc.inspection import InspectionServicer
from service.front.rest.insight import InsightRoutes
from service.insight.fetch import ACTIVATIONS
from service.insight.merge import merge_activation_summaries, merge_input_drift
from service.insight.monitor import VersionInsight
from service.insight.reference import REFERENCE_FILE, write_reference
from service.insight.settings import InsightSettings
from service.protos.blockserve.v1 import inspection_pb2_grpc
from service.shared.errors import NotFound
from service.shared.options import RuntimeOptions
from service.worker.runtime.loader import open_version

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = InsightSettings(sample_rate=1.0, max_samples_per_second=1e9, pending=1000)


class Accounting:
    """Stands in for the core's call(method, protocol): records what was counted."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @contextlib.contextmanager
    def call(self, method: str, protocol: str):
        self.calls.append((method, protocol))
        yield None


class InsightServer:
    """gRPC and REST on ephemeral ports, on an event loop in a thread of its own."""

    def __init__(self, insights: dict[str, VersionInsight]) -> None:
        self.insights = insights
        self.core = Accounting()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def fetch(self, kind: str, name: str, version: int | None, label: str | None):
        insight = self.insights.get(name)
        if insight is None or version not in (None, insight.version):
            raise NotFound(f"model {name!r} has no version {version} loaded")
        if kind == ACTIVATIONS:
            return merge_activation_summaries([insight.activation_summary()])
        return merge_input_drift([insight.input_drift()])

    async def _start(self) -> None:
        self.grpc = grpc.aio.server()
        servicer = InspectionServicer(self.core, self.fetch)
        inspection_pb2_grpc.add_ModelInspectionServiceServicer_to_server(servicer, self.grpc)
        self.grpc_port = self.grpc.add_insecure_port("127.0.0.1:0")
        await self.grpc.start()
        app = web.Application()
        app.router.add_routes(InsightRoutes(self.fetch, self.core.call).routes())
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.rest_port = site._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        await self.grpc.stop(None)
        await self.runner.cleanup()

    def __enter__(self) -> "InsightServer":
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InsightServer]:
    """chimera after 40 sampled requests; param_net with a reference file, after 100 shifted."""
    folder = tmp_path_factory.mktemp("api") / "param_net" / "1"
    shutil.copytree(exported / "param_net" / "1", folder)
    rng = np.random.default_rng(0)
    write_reference(folder / REFERENCE_FILE, {"x": rng.normal(size=(2000, 4))})
    chimera = open_version("chimera", 1, exported / "chimera" / "1", RuntimeOptions())
    param_net = open_version("param_net", 1, folder, RuntimeOptions())
    insights = {"chimera": VersionInsight(chimera, SETTINGS)}
    insights["param_net"] = VersionInsight(param_net, SETTINGS)
    for i in range(100):
        x = rng.normal(size=(10, 20)).astype(np.float32) * 0.05
        if i < 40:
            insights["chimera"].offer("serving_default", {"x": x})
        shifted = rng.normal(size=(10, 4)).astype(np.float32)
        shifted[:, 2] += 1.5
        insights["param_net"].offer("serving_default", {"x": shifted})
        for insight in insights.values():
            insight.work()
    with InsightServer(insights) as running:
        yield running
    chimera.close()
    param_net.close()


def client(server: InsightServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.client", *args, f"--target=127.0.0.1:{server.grpc_port}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def rest(server: InsightServer, path: str) -> tuple[int, dict]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_client_prints_the_activation_table(server: InsightServer) -> None:
    result = client(server, "activations", "chimera")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Activations of chimera, version 1, signature serving_default: 40 sampled requests"
    )
    assert any(line.startswith("chimera/nest_mlp/net/dense ") for line in lines)
    assert lines[-1].startswith("Loop iterations per request: mean ")
    assert ("get_activation_summary", "grpc") in server.core.calls


def test_client_prints_the_drift_table(server: InsightServer) -> None:
    result = client(server, "drift", "param_net")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "Input drift of param_net, version 1",
        "Reference: assets.extra/blockserve_reference.npz (2,000 rows); "
        "window: the last 1,000 sampled rows",
    ]
    x_row = next(line for line in lines if line.startswith("x "))
    assert float(x_row.split()[1]) > 0.25  # feature 2 was shifted by 1.5 sigma


def test_rest_serves_the_same_messages_as_json(server: InsightServer) -> None:
    status, body = rest(server, "/v1/models/chimera/versions/1/activations")
    assert status == 200
    assert body["sampled_requests"] == "40"  # int64 as proto3 JSON writes it
    assert body["layers"][0]["path"] == "chimera/nest_mlp/net/dense"
    window = body["layers"][0]["window"]
    assert len(window["histogram"]["edges"]) == len(window["histogram"]["counts"]) + 1
    status, body = rest(server, "/v1/models/param_net/drift")
    assert status == 200
    assert body["reference"] == {"source": "file", "rows": "2000"}
    (scored,) = body["inputs"]
    assert max(scored["features"], key=lambda f: f["psi"])["index"] == 2
    assert ("get_input_drift", "rest") in server.core.calls


def test_unknown_models_are_not_found_in_both_apis(server: InsightServer) -> None:
    status, body = rest(server, "/v1/models/nosuch/activations")
    assert status == 404 and "nosuch" in body["error"]
    assert rest(server, "/v1/models/chimera/versions/x/drift")[0] == 400
    result = client(server, "drift", "nosuch")
    assert result.returncode == 1
    assert result.stderr.startswith("error: NOT_FOUND: model 'nosuch'")
