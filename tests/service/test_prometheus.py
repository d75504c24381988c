"""A real Prometheus (Debian's) scrapes a running server and computes latency quantiles from it."""

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.service import wire
from tests.service.conftest import ServerProcess, free_port

MODELS = ("mlp", "param_net")


def query(url: str, promql: str) -> list[dict]:
    with urllib.request.urlopen(
        f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    ) as r:
        answer = json.load(r)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


@pytest.mark.slow
def test_prometheus_computes_p99_latency_for_each_model_with_traffic(
    server: ServerProcess, tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus is not installed (make system-deps)"
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: blockserve\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.rest_port}']}}]\n"
    )
    prometheus = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if query(url, 'up{job="blockserve"} == 1'):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()[-3000:]
            time.sleep(0.5)
        x = np.zeros((1, 20), np.float32)
        stop = time.monotonic() + 6
        while time.monotonic() < stop:  # traffic across several scrapes, so rate() has points
            for model in MODELS:
                features = 4 if model == "param_net" else 20
                server.prediction.Predict(wire.predict_request(model, {"x": x[:, :features]}))
            time.sleep(0.05)
        time.sleep(2.5)
        promql = (
            "histogram_quantile(0.99, sum by (le, model) "
            "(rate(blockserve_request_duration_seconds_bucket{method='predict'}[30s])))"
        )
        latencies = {r["metric"]["model"]: float(r["value"][1]) for r in query(url, promql)}
        for model in MODELS:
            assert model in latencies, f"no p99 for {model}: {latencies}"
            assert 0 < latencies[model] < 10
    finally:
        prometheus.terminate()
        prometheus.wait(30)
