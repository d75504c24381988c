"""How long a worker's death costs: `python -m benchmarks.recovery [--models-dir DIR]`.

For 1 and 2 workers (each with the large-request lane, the default), and for 1 worker without
the lane: one-row Predicts of mlp from 4 threads, back to back; worker 0 is killed with SIGKILL;
reported: the requests that failed (and with which codes), the longest gap between two answered
requests, and the time until the killed worker was back with every version
(`blockserve_worker_restarts_total`). Writes benchmarks/results/recovery.json and prints a table.
"""

import argparse
import itertools
import json
import os
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import psutil

from benchmarks import exported, servers, wire
from benchmarks.servers import ServerProcess
from service.protos.tensorflow_serving.apis import prediction_service_pb2_grpc

THREADS = 4
BEFORE_SECONDS = 2.0
AFTER_SECONDS = 12.0
REPEATS = 3


def restarts(server: ServerProcess) -> float:
    return sum(server.metric_counts("blockserve_worker_restarts_total", "worker").values())


def spec(config: Path, key: str, title: str, flags: list[str]) -> servers.ServerSpec:
    return servers.ServerSpec(
        key=key,
        title=title,
        command=lambda ports: servers.python_module(
            "service",
            f"--port={ports.grpc}",
            f"--rest_api_port={ports.http}",
            f"--bind_address={servers.HOST}",
            f"--model_config_file={config}",
            *flags,
        ),
        family="blockserve",
        protocol="tfs",
        has_rest=True,
        workers=1,
    )


def worker_zero(server: ServerProcess) -> psutil.Process:
    """The live process started with `--index 0` (the previous one may linger as a zombie)."""
    for child in psutil.Process(server.process.pid).children():
        try:
            argv = child.cmdline()
        except psutil.Error:
            continue
        if "--index" in argv and argv[argv.index("--index") + 1] == "0":
            return child
    raise RuntimeError("no worker 0")


def one_death(server: ServerProcess) -> dict[str, Any]:
    """Traffic, a SIGKILL to worker 0, traffic until the worker is back and a while after."""
    channel = grpc.insecure_channel(server.target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = wire.predict_request("mlp", 1)
    answered: list[float] = []
    failed: dict[str, int] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def traffic() -> None:
        while not stop.is_set():
            try:
                stub.Predict(request, timeout=5)
                with lock:
                    answered.append(time.monotonic())
            except grpc.RpcError as e:
                with lock:
                    failed[e.code().name] = failed.get(e.code().name, 0) + 1
                time.sleep(0.01)  # a client backs off a little; a failing loop must not spin

    threads = [threading.Thread(target=traffic) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    time.sleep(BEFORE_SECONDS)
    before = restarts(server)
    worker = worker_zero(server)
    killed = time.monotonic()
    os.kill(worker.pid, signal.SIGKILL)
    back = None
    while time.monotonic() - killed < AFTER_SECONDS:
        if back is None and restarts(server) > before:
            back = time.monotonic() - killed
        time.sleep(0.02)
    stop.set()
    for thread in threads:
        thread.join()
    channel.close()
    around = sorted(t for t in answered if t > killed - 1)
    gaps = [b - a for a, b in itertools.pairwise(around)]
    return {
        "failed": failed,
        "answered": len(answered),
        "longest_gap_ms": round(1000 * max(gaps, default=0.0), 1),
        "worker_back_seconds": None if back is None else round(back, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recovery")
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with exported.models_dir(args.models_dir) as models, tempfile.TemporaryDirectory() as work:
        config = models / "models.config"
        setups = {
            "1 worker + lane (default)": [],
            "2 workers + lane": ["--num_workers=2"],
            "1 worker, no lane": ["--large_request_bytes=0"],
        }
        results = {}
        request = wire.predict_request("mlp", 1).SerializeToString()
        for title, flags in setups.items():
            key = f"recovery_{len(results)}"
            server = ServerProcess(spec(config, key, title, flags), Path(work) / f"{key}.log")
            try:
                server.wait_ready(request, 180)
                runs = [one_death(server) for _ in range(REPEATS)]
            finally:
                server.stop()
            results[title] = runs
            back = [r["worker_back_seconds"] for r in runs if r["worker_back_seconds"]]
            print(
                f"{title}: failed {[r['failed'] for r in runs]}, longest gap "
                f"{[r['longest_gap_ms'] for r in runs]} ms, worker back after "
                f"{statistics.median(back) if back else None} s (median of {len(back)})",
                flush=True,
            )
    print(f"load average at end: {os.getloadavg()}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "recovery.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
