"""The benchmarks in smoke mode: they run end to end and write every result the README quotes.

Benchmarks are not tests: nothing here asserts a time, a rate or a ratio, only that each code
path ran (export, five servers, h2load, parsing, the tables and plots) and left its results.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SERVERS = {
    "blockserve_batching_off",
    "blockserve_batching_on",
    "naive",
    "floor_threaded",
    "floor_asyncio",
}
SERVER_KEYS = {
    "title",
    "argv",
    "answers_fixed",
    "ok_body_bytes",
    "rss_ready_bytes",
    "rss_end_bytes",
    "peak_rss_bytes",
    "latency",
    "throughput",
    "sweep",
    "best",
}
BEST_KEYS = {
    "latency_p50_ms",
    "latency_p99_ms",
    "ok_per_second_rows_1",
    "load_p50_ms_rows_1",
    "load_p99_ms_rows_1",
    "ok_per_second_rows_32",
    "rows_per_second_rows_32",
    "cpu_ms_per_ok_rows_1",
}
RUN_KEYS = {
    "connections",
    "streams",
    "seconds",
    "started",
    "completed",
    "http_2xx",
    "body_bytes",
    "ok_body_bytes",
    "ok",
    "not_ok",
    "ok_per_second",
    "latency_ms",
    "server_cpu_ms_per_ok",
    "idle_servers_cpu_seconds",
}
SOAK_KEYS = {
    "meta",
    "load",
    "server_codes",
    "samples",
    "rss_after_warm_up_bytes",
    "rss_end_bytes",
    "rss_max_bytes",
    "growth_percent",
    "slope_mib_per_minute",
    "growth_limit_percent",
    "passed",
    "answers_after_soak",
    "exit_code_after_sigterm",
}


def run_module(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_benchmark_smoke_run_writes_every_result(tmp_path: Path) -> None:
    done = run_module("benchmarks.run", "--smoke", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert set(results) == {
        "meta",
        "signature_call",
        "memory_baseline",
        "servers",
        "negative_control",
        "floor",
        "targets",
    }
    assert set(results["servers"]) == SERVERS
    for key, server in results["servers"].items():
        assert set(server) >= SERVER_KEYS, key
        assert set(server["best"]) >= BEST_KEYS, key
        for rows in ("1", "32"):
            for run in server["throughput"][rows]:
                assert set(run) >= RUN_KEYS, (key, rows)
                assert run["ok"] > 0, (key, rows, run)
        assert server["latency"][0]["codes"] == {"OK": results["meta"]["settings"]["latency_calls"]}
    assert {"rows_1_ms", "rows_256_ms"} <= set(results["signature_call"])
    assert results["memory_baseline"]["loaded"] == 7
    assert results["floor"]["ok_per_second_rows_1_from"] in {"floor_threaded", "floor_asyncio"}
    assert len(results["targets"]) == 12
    assert all(t["passed"] is not None for t in results["targets"])
    # Not a timing: the proof that h2load's HTTP 200s with a gRPC error are not counted as OK.
    assert results["negative_control"]["consistent"], results["negative_control"]
    table = (tmp_path / "latest.md").read_text()
    assert all(f"| {server['title']} |" in table for server in results["servers"].values())
    assert table.count("| batching_") == len(results["targets"])
    assert (tmp_path / "latency_throughput.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_soak_smoke_writes_every_result(tmp_path: Path, exported: Path) -> None:
    done = run_module(
        "benchmarks.soak", "--smoke", "--out", str(tmp_path), "--models-dir", str(exported)
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((tmp_path / "soak.json").read_text())
    assert set(results) >= SOAK_KEYS
    assert len(results["samples"]) >= 10
    assert results["load"]["predict"]["ok"] > 0
    assert results["answers_after_soak"] is True
    assert results["exit_code_after_sigterm"] == 0
    assert (tmp_path / "soak.md").is_file()
    assert (tmp_path / "soak_rss.png").stat().st_size > 0
