"""One h2load run against one server, with what the server spent and, for blockserve, counted.

Spent: the CPU time of the server's process tree over the run, in all and by process (front,
TensorFlow workers, the large-request lane: `ServerProcess.cpu_seconds_by_process`). Counted:
blockserve's own answers by status and, for the model driven, its requests by the road of their
TensorFlow call (`blockserve_request_paths_total`: single, looped, merged).
"""

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks import h2load
from benchmarks.servers import ServerProcess


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _per_ok(seconds: float, ok: int) -> float | None:
    return round(1000 * seconds / ok, 4) if ok else None


def measure(
    server: ServerProcess,
    others: list[ServerProcess],
    body: Path,
    ok_body_bytes: int,
    load: h2load.Load,
    log: Path,
    model: str = "mlp",
) -> dict[str, Any]:
    """One h2load run of `body` (a gRPC Predict or, with `load.rest`, a REST predict of
    `model`) with the CPU time of the server's process tree, the idle servers' CPU time and,
    for blockserve, its own count of answers by status and of `model`'s requests by path."""
    url = server.rest_predict_url(model) if load.rest else server.predict_url
    protocol = "rest" if load.rest else "grpc"
    h2load.warm_up(url, body, load)
    counted = server.spec.has_rest
    codes_before = server.predict_codes(protocol) if counted else {}
    paths_before = server.request_paths(model) if counted else {}
    cpu_before = server.cpu_seconds_by_process()
    idle_before = sum(o.cpu_seconds() for o in others)
    load_average = os.getloadavg()[0]
    result = h2load.measure(url, body, ok_body_bytes, load, log)
    cpu = _delta(server.cpu_seconds_by_process(), cpu_before)
    total = sum(cpu.values())
    measured = asdict(result) | {
        "rate": load.rate,
        "load_average": round(load_average, 2),
        "server_cpu_seconds": round(total, 3),
        "server_cpu_ms_per_ok": _per_ok(total, result.ok),
        "server_cpu_seconds_by_process": {k: round(v, 3) for k, v in cpu.items()},
        "server_cpu_ms_per_ok_by_process": {k: _per_ok(v, result.ok) for k, v in cpu.items()},
        "idle_servers_cpu_seconds": round(sum(o.cpu_seconds() for o in others) - idle_before, 3),
    }
    if counted:
        delta = _delta(server.predict_codes(protocol), codes_before)
        measured["server_codes"] = delta
        measured["request_paths"] = _delta(server.request_paths(model), paths_before)
        # Streams open when h2load started or stopped may be answered OK unseen by h2load.
        in_flight = load.connections * load.streams
        measured["server_agrees"] = result.ok <= delta.get("OK", 0) <= result.ok + 2 * in_flight
    log.unlink(missing_ok=True)
    return measured


def looped_share(paths: dict[str, float]) -> float | None:
    """The share of requests answered in a looped call (exact batching), of those counted."""
    total = sum(paths.values())
    return round(paths.get("looped", 0) / total, 4) if total else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The best of several rounds of one load, each figure on its own (noise on a shared
    machine only makes things slower): the fastest round's rate, latency and paths, and the
    least CPU per answer, in all and by process."""
    fastest = max(runs, key=lambda r: r["ok_per_second"])
    cpu = [r["server_cpu_ms_per_ok"] for r in runs if r["server_cpu_ms_per_ok"] is not None]
    by_process: dict[str, float] = {}
    for run in runs:
        for role, ms in run["server_cpu_ms_per_ok_by_process"].items():
            if ms is not None:
                by_process[role] = min(ms, by_process.get(role, ms))
    paths = fastest.get("request_paths", {})
    return {
        "ok_per_second": fastest["ok_per_second"],
        "p50_ms": fastest["latency_ms"].get("p50"),
        "p99_ms": fastest["latency_ms"].get("p99"),
        "cpu_ms_per_ok": min(cpu) if cpu else None,
        "cpu_ms_per_ok_by_process": by_process,
        "request_paths": paths,
        "looped_share": looped_share(paths),
        "not_ok": sum(r["not_ok"] for r in runs),
    }
