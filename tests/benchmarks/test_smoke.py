"""The benchmarks in smoke mode: they run end to end and write every result the README quotes.

Benchmarks are not tests: nothing here asserts a time, a rate or a ratio, only that each code
path ran (export, the servers, h2load, the open loop, the exactness check, the coupled model with
exact batching on and off, REST JSON, head-of-line blocking, parsing, the tables and plots) and
left its results. The peers (MLServer, Triton) run only where their venvs are already
cached, as smoke runs never install them: each is either measured or listed as not run, with why.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SERVERS = {
    "blockserve_default",
    "blockserve_exact",
    "blockserve_batching",
    "blockserve_no_sampling",
    "blockserve_workers_2",
    "blockserve_v2",
    "naive",
    "floor_threaded",
    "floor_asyncio",
}
PEERS = {"mlserver_batching_off", "mlserver_batching_on", "triton"}
SERVER_KEYS = {
    "title",
    "family",
    "protocol",
    "argv",
    "answers_fixed",
    "ok_body_bytes",
    "exactness",
    "memory_ready",
    "memory_end",
    "peak_rss_bytes",
    "latency",
    "throughput",
    "sweep",
    "open_loop",
    "best",
}
EXACTNESS_KEYS = {
    "alone",
    "concurrent_calls",
    "concurrent_differing",
    "max_abs_difference",
    "equal_share",
    "exact",
}
OPEN_LOOP_KEYS = {"rate", "ok_per_second", "kept_up", "p50_ms", "p99_ms", "p99_9_ms"}
TARGETS_PER_CONFIGURATION = 11
BLOCKSERVE_CONFIGURATIONS = 6
BATCHING_TARGETS = 5
"""chimera's rate and worker CPU with exact batching on / off, its exactness, head of line, and
live insight's sampling against sampling off."""
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
    "server_cpu_ms_per_ok_by_process",
    "idle_servers_cpu_seconds",
}
SUMMARY_KEYS = {
    "ok_per_second",
    "p50_ms",
    "p99_ms",
    "cpu_ms_per_ok",
    "cpu_ms_per_ok_by_process",
    "request_paths",
    "looped_share",
}
HEAD_OF_LINE_KEYS = {"calls", "codes", "p50_ms", "p99_ms", "max_ms"}
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
        "peers_not_run",
        "negative_control",
        "floor",
        "targets",
        "coupled",
        "rest_json",
        "head_of_line",
    }
    meta = results["meta"]
    assert len(meta["load_average_start"]) == len(meta["load_average_end"]) == 3
    assert "load average at the start: " in done.stdout
    assert "load average at the end: " in done.stdout
    ran = set(results["servers"])
    assert ran - PEERS == SERVERS
    # Every peer was either measured or named with the reason it was not.
    assert ran & PEERS | set(results["peers_not_run"]) == PEERS, results["peers_not_run"]
    assert all(results["peers_not_run"].values())
    for key, server in results["servers"].items():
        assert set(server) >= SERVER_KEYS, key
        assert set(server["best"]) >= BEST_KEYS, key
        for rows in ("1", "32"):
            for run in server["throughput"][rows]:
                assert set(run) >= RUN_KEYS, (key, rows)
                assert run["ok"] > 0, (key, rows, run)
        assert server["latency"][0]["codes"] == {"OK": results["meta"]["settings"]["latency_calls"]}
        for share in results["meta"]["open_loop"]["shares_of_floor"]:
            assert set(server["best"]["open_loop"][str(share)]) >= OPEN_LOOP_KEYS, (key, share)
        assert server["memory_ready"]["tree_bytes"] >= server["memory_ready"]["main_bytes"] > 0
        if server["answers_fixed"]:
            assert server["exactness"] is None, key
        else:
            assert set(server["exactness"]) >= EXACTNESS_KEYS, key
            assert server["exactness"]["concurrent_calls"] > 0, key
    # The multi-process server's workers are its children, and their CPU counts: not a timing.
    workers = results["servers"]["blockserve_workers_2"]["memory_ready"]["children_bytes"]
    assert len(workers) >= 2, workers
    assert {"rows_1_ms", "rows_256_ms", "answers"} <= set(results["signature_call"])
    assert results["memory_baseline"]["loaded"] == 7
    assert results["floor"]["ok_per_second_rows_1_from"] in {"floor_threaded", "floor_asyncio"}
    blockserve = results["servers"]["blockserve_default"]["best"]
    assert blockserve["cpu_ms_per_ok_by_process_rows_1"]["front"] > 0
    assert blockserve["cpu_ms_per_ok_by_process_rows_1"]["workers"] > 0
    # The coupled model, with exact batching on and off: answers checked, paths counted.
    assert set(results["coupled"]) == {"blockserve_exact", "blockserve_default"}
    for key, record in results["coupled"].items():
        assert record["model"] == "chimera", key
        assert set(record["exactness"]) >= EXACTNESS_KEYS, key
        assert record["exactness"]["concurrent_calls"] > 0, key
        assert set(record["best"]) >= SUMMARY_KEYS, key
        assert all(run["ok"] > 0 and run["server_agrees"] for run in record["runs"]), key
        assert sum(record["best"]["request_paths"].values()) > 0, key
    # Without exact batching no request is looped: what the looped share is compared with.
    assert "looped" not in results["coupled"]["blockserve_default"]["best"]["request_paths"]
    rest = results["rest_json"]
    assert rest["server"] == "blockserve_default" and rest["connections"] > 1
    assert set(rest["best"]) >= SUMMARY_KEYS
    assert set(rest["exactness"]) >= EXACTNESS_KEYS
    assert all(run["ok"] > 0 and run["server_agrees"] for run in rest["runs"])
    # One large REST predict answered in full while small requests were timed around it.
    blocking = results["head_of_line"]["best"]
    assert blocking["large"]["status"] == 200, blocking["large"]
    assert blocking["large"]["rows_answered"] == blocking["large"]["rows"] > 0
    for window in ("without_large", "during_large"):
        assert set(blocking[window]) >= HEAD_OF_LINE_KEYS, window
    assert blocking["without_large"]["calls"] > 0
    assert len(results["targets"]) == (
        BLOCKSERVE_CONFIGURATIONS * TARGETS_PER_CONFIGURATION + BATCHING_TARGETS
    )
    peers_ran = {results["servers"][k]["family"] for k in ran & PEERS}
    for t in results["targets"]:
        needs_peer = "MLServer" in t["target"] and "mlserver" not in peers_ran
        needs_peer |= "Triton" in t["target"] and "triton" not in peers_ran
        assert (t["passed"] is None) == needs_peer, t
    # Not a timing: the proof that h2load's HTTP 200s with a gRPC error are not counted as OK.
    assert results["negative_control"]["consistent"], results["negative_control"]
    table = (tmp_path / "latest.md").read_text()
    assert all(f"| {server['title']} |" in table for server in results["servers"].values())
    assert all(f"| {key}: not run (" in table for key in results["peers_not_run"])
    assert table.count(" pass |") + table.count(" **FAIL** |") + table.count(" not run |") >= len(
        results["targets"]
    )
    for heading in ("Exact batching on mlp", "Coupled model: chimera", "REST JSON", "Head of line"):
        assert heading in table, heading
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
