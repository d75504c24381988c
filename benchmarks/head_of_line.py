"""Head-of-line blocking: small requests' latency while one large REST predict is served.

    python -m benchmarks.head_of_line probe --target HOST:PORT --request FILE --rate 200

`measure` (run by `benchmarks.run` against blockserve with default flags, after everything else)
sends one-row gRPC Predicts of mlp at a fixed rate from a probe process of its own (this module's
`probe`), first with nothing else in flight, then while one large REST predict of mlp is served
(150,000 rows, about 61 MB of JSON; a few MB in smoke runs). It reports the small requests'
p50/p99/max latency in both, the latter counting only those sent while the large one was in
flight. blockserve sends requests of `--large_request_bytes` or more to a worker of their own
(the lane), so small ones should not queue behind it; `blockserve_worker_calls_total` shows
which worker served what.

The probe sends on schedule whether or not earlier answers came back (gRPC futures), so a stall
shows as latency, not as fewer requests; it stops when its stdin closes and prints one JSON line:
every call's start (seconds since the epoch), latency in ms and gRPC status.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from benchmarks import rest_json, wire
from benchmarks.servers import ROOT, ServerProcess

PREDICT = wire.PREDICT
QUIET_SETTLE = 1.0
"""Seconds of small requests before the large one is sent, and after it is answered."""


def probe(target: str, request: bytes, rate: float, stop: threading.Event) -> list[list[Any]]:
    """One-row Predicts every 1/rate s until `stop`; [start, latency ms, status] of each."""
    calls: list[list[Any]] = []
    done = threading.Semaphore(0)
    with grpc.insecure_channel(target) as channel:
        predict = channel.unary_unary(PREDICT)
        for _ in range(20):
            predict(request, timeout=30)
        print("ready", flush=True)
        sent, next_at = 0, time.perf_counter()
        while not stop.is_set():
            time.sleep(max(0.0, next_at - time.perf_counter()))
            wall, began = time.time(), time.perf_counter()
            future = predict.future(request, timeout=60)

            def finished(f: grpc.Future, wall: float = wall, began: float = began) -> None:
                ms = (time.perf_counter() - began) * 1000
                calls.append([round(wall, 6), round(ms, 3), f.code().name])
                done.release()

            future.add_done_callback(finished)
            sent += 1
            next_at += 1 / rate
        for _ in range(sent):
            done.acquire(timeout=120)
    return calls


class Probe:
    """The probe as a child process: started, ready, then stopped for its calls."""

    def __init__(self, server: ServerProcess, request_file: Path, rate: float) -> None:
        argv = [f"--target={server.target}", f"--request={request_file}", f"--rate={rate}"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.head_of_line", "probe", *argv],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        if self.process.stdout.readline().strip() != "ready":
            self.process.kill()
            raise RuntimeError(f"head-of-line probe did not start (exit {self.process.wait()})")

    def stop(self) -> list[list[Any]]:
        out, _ = self.process.communicate(input="", timeout=180)
        if self.process.returncode != 0:
            raise RuntimeError(f"head-of-line probe exited {self.process.returncode}")
        return json.loads(out.strip().splitlines()[-1])["calls"]


def latencies(calls: list[list[Any]], since: float = 0.0, until: float = float("inf")) -> dict:
    """p50/p99/max latency (ms) of the calls started in [since, until], and their codes."""
    chosen = [c for c in calls if since <= c[0] <= until]
    codes: dict[str, int] = {}
    for call in chosen:
        codes[call[2]] = codes.get(call[2], 0) + 1
    ms = np.array([c[1] for c in chosen], dtype=np.float64)
    found = {"calls": len(chosen), "codes": codes}
    if not ms.size:
        return found | {"p50_ms": None, "p99_ms": None, "max_ms": None}
    p50, p99 = np.percentile(ms, [50, 99])
    return found | {
        "p50_ms": round(float(p50), 3),
        "p99_ms": round(float(p99), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: round(v - before.get(k, 0), 3) for k, v in after.items() if v - before.get(k, 0)}


def one_round(
    server: ServerProcess, small: Path, large: bytes, rows: int, rate: float, quiet: float
) -> dict[str, Any]:
    """Small requests alone for `quiet` seconds, then again around one large request."""
    alone = Probe(server, small, rate)
    time.sleep(quiet)
    without = latencies(alone.stop())
    during = Probe(server, small, rate)
    time.sleep(QUIET_SETTLE)
    calls_before, cpu_before = server.worker_calls(), server.cpu_seconds_by_process()
    began = time.time()
    try:
        status, answer, error = *server.http_post_json(rest_json.PATH, large, timeout=900), ""
    except OSError as e:  # recorded, not fatal: the small requests' figures still stand
        status, answer, error = 0, b"", f"{type(e).__name__}: {e}"
    ended = time.time()
    calls_after, cpu_after = server.worker_calls(), server.cpu_seconds_by_process()
    time.sleep(QUIET_SETTLE)
    calls = during.stop()
    answered = len(json.loads(answer)["predictions"]) if status == 200 else 0
    return {
        "without_large": without,
        "during_large": latencies(calls, began, ended),
        "small_around_large": latencies(calls),
        "large": {
            "rows": rows,
            "request_bytes": len(large),
            "answer_bytes": len(answer),
            "status": status,
            "error": error,
            "rows_answered": answered,
            "seconds": round(ended - began, 3),
            "worker_calls": _delta(calls_after, calls_before),
            "server_cpu_seconds_by_process": _delta(cpu_after, cpu_before),
        },
    }


def measure(
    server: ServerProcess,
    small: Path,
    rows: int,
    rate: float,
    quiet: float,
    repeats: int,
) -> dict[str, Any]:
    """`repeats` rounds of `one_round`; the best is the one with the lowest p99 during the
    large request (noise on a shared machine only makes things slower)."""
    large = rest_json.instances(wire.reference_rows(rows))
    rounds = []
    for round_ in range(repeats):
        measured = one_round(server, small, large, rows, rate, quiet)
        rounds.append(measured | {"round": round_, "load_average": os.getloadavg()[0]})
        print(
            f"head of line round {round_ + 1}/{repeats}: {len(large) / 1e6:.1f} MB answered "
            f"{measured['large']['status']} in {measured['large']['seconds']:.1f} s; small p99 "
            f"{measured['during_large']['p99_ms']} ms during it, "
            f"{measured['without_large']['p99_ms']} ms without",
            flush=True,
        )
    answered = [r for r in rounds if r["large"]["rows_answered"] == rows]
    best = min(answered or rounds, key=lambda r: r["during_large"]["p99_ms"] or float("inf"))
    return {"server": server.spec.key, "rate": rate, "rounds": rounds, "best": best}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.head_of_line", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("probe", help="send small Predicts until stdin closes; print JSON")
    run.add_argument("--target", required=True, help="HOST:PORT")
    run.add_argument("--request", required=True, type=Path, help="serialized PredictRequest")
    run.add_argument("--rate", type=float, default=200.0, help="requests per second")
    args = p.parse_args(argv)
    stop = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    calls = probe(args.target, args.request.read_bytes(), args.rate, stop)
    print(json.dumps({"calls": calls}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
