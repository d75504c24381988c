"""The performance benchmark: blockserve, a naive server and the bare gRPC floor, side by side.

    python -m benchmarks.run [--smoke] [--out DIR] [--models-dir DIR]

Exports the seed models (or reuses --models-dir), starts five servers of the exported `mlp`
(blockserve with batching off and on, the naive server, the threaded and the asyncio floor), and
measures them in interleaved rounds, one server at a time while the others sit idle:

- sequential latency, one row, from a separate client process (`benchmarks.latency_client`);
- throughput with h2load, one connection carrying 64 concurrent streams, at 1 and 32 rows a
  request, counting only answers with gRPC status OK (see `benchmarks.h2load`);
- a concurrency sweep for the latency-against-throughput plot;
- resident memory once every model is loaded, against `benchmarks.memory_baseline`.

Writes OUT/latest.json, OUT/latest.md and OUT/latency_throughput.png (OUT defaults to
benchmarks/results) and prints the Markdown. Targets that fail are results, not errors: the exit
status is 0 whenever the run itself worked.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import exported, h2load, report, servers, wire
from benchmarks.exported import newest_version
from benchmarks.servers import ServerProcess, ServerSpec

ROOT = servers.ROOT
MODEL = "mlp"
OUTPUT_WIDTH = 10
ROWS = (1, 32)
READY_TIMEOUT = 180.0


@dataclass(frozen=True)
class Settings:
    """How long and how often each thing is measured."""

    duration: float
    warm_up: float
    repeats: int
    connections: int
    streams: int
    latency_calls: int
    latency_warm_up: int
    signature_calls: int
    sweep: tuple[int, ...]
    """Concurrent streams of the plot's extra points; the main runs give the last one."""
    sweep_duration: float


FULL = Settings(
    duration=6,
    warm_up=2,
    repeats=3,
    connections=1,
    streams=64,
    latency_calls=2000,
    latency_warm_up=200,
    signature_calls=3000,
    sweep=(1, 4, 16),
    sweep_duration=4,
)
SMOKE = replace(
    FULL,
    duration=1,
    warm_up=0.5,
    repeats=1,
    latency_calls=100,
    latency_warm_up=20,
    signature_calls=200,
    sweep=(4,),
    sweep_duration=1,
)


@dataclass(frozen=True)
class Workload:
    """The prebuilt requests: serialized for gRPC clients, framed in files for h2load."""

    requests: dict[int, bytes]
    request_files: dict[int, Path]
    bodies: dict[int, Path]
    missing_model_body: Path


def build_workload(work: Path) -> Workload:
    requests, request_files, bodies = {}, {}, {}
    for rows in ROWS:
        requests[rows] = wire.predict_request(MODEL, rows).SerializeToString()
        request_files[rows] = work / f"request-{rows}.bin"
        request_files[rows].write_bytes(requests[rows])
        bodies[rows] = work / f"body-{rows}.grpc"
        bodies[rows].write_bytes(wire.grpc_frame(requests[rows]))
    missing = work / "body-missing-model.grpc"
    missing.write_bytes(
        wire.grpc_frame(wire.predict_request("no_such_model", 1).SerializeToString())
    )
    return Workload(requests, request_files, bodies, missing)


def python_json(module: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    """Run `python -m module args` and read the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def reference_answer(server: ServerProcess, request: bytes, rows: int) -> tuple[int, np.ndarray]:
    """The size of one OK answer as h2load sees it (frame included), and the answer itself."""
    answer = server.predict(request)
    y = wire.output_array(wire.predict_pb2.PredictResponse.FromString(answer))
    expected = (1, OUTPUT_WIDTH) if server.spec.answers_fixed else (rows, OUTPUT_WIDTH)
    if y.shape != expected:
        raise RuntimeError(f"{server.spec.title} answered {rows} rows with shape {y.shape}")
    return len(wire.grpc_frame(answer)), y


def check_same_answers(answers: dict[str, np.ndarray]) -> None:
    """Every server with a model must compute the same mlp, or comparing them means nothing."""
    (first, reference), *others = answers.items()
    for key, y in others:
        if not np.allclose(y, reference, rtol=1e-4, atol=1e-5):
            raise RuntimeError(f"{key} and {first} disagree on the same request:\n{y}\n{reference}")


def sequential_latency(server: ServerProcess, work: Workload, settings: Settings) -> dict[str, Any]:
    return python_json(
        "benchmarks.latency_client",
        f"--target={server.target}",
        f"--request={work.request_files[1]}",
        f"--calls={settings.latency_calls}",
        f"--warm-up={settings.latency_warm_up}",
    )


def throughput(
    server: ServerProcess,
    others: list[ServerProcess],
    body: Path,
    ok_body_bytes: int,
    load: h2load.Load,
    log: Path,
) -> dict[str, Any]:
    """One h2load run with the server's CPU time, the idle servers' CPU time and, for blockserve,
    its own count of answers by status."""
    h2load.warm_up(server.predict_url, body, load)
    codes_before = server.predict_codes() if server.spec.has_rest else None
    cpu_before = server.cpu_seconds()
    idle_before = sum(o.cpu_seconds() for o in others)
    load_average = os.getloadavg()[0]
    result = h2load.measure(server.predict_url, body, ok_body_bytes, load, log)
    cpu = server.cpu_seconds() - cpu_before
    measured = asdict(result) | {
        "load_average": round(load_average, 2),
        "server_cpu_seconds": round(cpu, 3),
        "server_cpu_ms_per_ok": round(1000 * cpu / result.ok, 4) if result.ok else None,
        "idle_servers_cpu_seconds": round(sum(o.cpu_seconds() for o in others) - idle_before, 3),
    }
    if codes_before is not None:
        after = server.predict_codes()
        delta = {c: after.get(c, 0) - codes_before.get(c, 0) for c in after}
        measured["server_codes"] = {c: n for c, n in delta.items() if n}
        # Streams open when h2load started or stopped may be answered OK unseen by h2load.
        server_ok = delta.get("OK", 0)
        measured["server_agrees"] = result.ok <= server_ok <= result.ok + 2 * load.streams
    log.unlink(missing_ok=True)
    return measured


def negative_control(
    server: ServerProcess, work: Workload, ok_body_bytes: int, settings: Settings, log: Path
) -> dict[str, Any]:
    """Predicts for a model that does not exist: h2load sees HTTP 200s, the accounting must not
    count a single one as OK, and blockserve's /metrics must agree."""
    load = h2load.Load(settings.connections, settings.streams, 1.0, 0)
    before = server.predict_codes()
    result = h2load.measure(server.predict_url, work.missing_model_body, ok_body_bytes, load, log)
    not_found = server.predict_codes().get("NOT_FOUND", 0) - before.get("NOT_FOUND", 0)
    log.unlink(missing_ok=True)
    return {
        "server": server.spec.key,
        "completed": result.completed,
        "http_2xx": result.http_2xx,
        "ok": result.ok,
        "not_ok": result.not_ok,
        "server_not_found": not_found,
        # The server may have answered a few more than h2load waited for when it stopped.
        "consistent": result.ok == 0
        and result.http_2xx == result.completed > 0
        and result.completed <= not_found <= result.started,
    }


def best_of(record: dict[str, Any]) -> dict[str, float | None]:
    """Each metric's best over the rounds: noise on a shared machine only makes things slower."""
    latency = [r["latency_ms"] for r in record["latency"]]
    runs = {rows: record["throughput"][str(rows)] for rows in ROWS}
    fastest = {rows: max(runs[rows], key=lambda r: r["ok_per_second"]) for rows in ROWS}
    cpu = [r["server_cpu_ms_per_ok"] for r in runs[1] if r["server_cpu_ms_per_ok"] is not None]
    return {
        "latency_p50_ms": min(lat["p50"] for lat in latency),
        "latency_p99_ms": min(lat["p99"] for lat in latency),
        "ok_per_second_rows_1": fastest[1]["ok_per_second"],
        "load_p50_ms_rows_1": fastest[1]["latency_ms"].get("p50"),
        "load_p99_ms_rows_1": fastest[1]["latency_ms"].get("p99"),
        "ok_per_second_rows_32": fastest[32]["ok_per_second"],
        "rows_per_second_rows_32": fastest[32]["ok_per_second"] * 32,
        "cpu_ms_per_ok_rows_1": min(cpu) if cpu else None,
    }


def server_specs(config: Path, models_dir: Path) -> list[ServerSpec]:
    return [
        servers.blockserve(config, batching=False),
        servers.blockserve(config, batching=True),
        servers.naive(newest_version(models_dir, MODEL)),
        servers.floor("threaded"),
        servers.floor("asyncio"),
    ]


def measure_all(
    running: list[ServerProcess], work: Workload, settings: Settings, logs: Path
) -> dict[str, dict[str, Any]]:
    """The rounds, the sweep and the memory readings of every running server."""
    records: dict[str, dict[str, Any]] = {}
    answers: dict[str, np.ndarray] = {}
    for server in running:
        sizes = {}
        for rows in ROWS:
            sizes[rows], y = reference_answer(server, work.requests[rows], rows)
            if rows == 1 and not server.spec.answers_fixed:
                answers[server.spec.key] = y
        records[server.spec.key] = {
            "title": server.spec.title,
            "argv": server.argv,
            "answers_fixed": server.spec.answers_fixed,
            "ok_body_bytes": {str(rows): sizes[rows] for rows in ROWS},
            "rss_ready_bytes": server.rss_bytes(),
            "latency": [],
            "throughput": {str(rows): [] for rows in ROWS},
            "sweep": [],
        }
    check_same_answers(answers)
    main_load = h2load.Load(
        settings.connections, settings.streams, settings.duration, settings.warm_up
    )
    for round_ in range(settings.repeats):
        # Alternate the order so that a slow minute on the machine does not always hit one server.
        order = running if round_ % 2 == 0 else running[::-1]
        for server in order:
            record = records[server.spec.key]
            others = [o for o in running if o is not server]
            latency = sequential_latency(server, work, settings)
            record["latency"].append(
                latency | {"round": round_, "load_average": os.getloadavg()[0]}
            )
            for rows in ROWS:
                measured = throughput(
                    server,
                    others,
                    work.bodies[rows],
                    record["ok_body_bytes"][str(rows)],
                    main_load,
                    logs / f"h2load-{server.spec.key}.log",
                )
                record["throughput"][str(rows)].append(measured | {"round": round_})
            print(
                f"round {round_ + 1}/{settings.repeats} {server.spec.title}: "
                f"p50 {latency['latency_ms']['p50']:.3f} ms, "
                f"{record['throughput']['32'][-1]['ok_per_second']:.0f} req/s at 32 rows, "
                f"{record['throughput']['1'][-1]['ok_per_second']:.0f} req/s at 1 row",
                flush=True,
            )
    sweep_load = replace(
        main_load, duration=settings.sweep_duration, warm_up=min(1.0, settings.warm_up)
    )
    for streams in settings.sweep:
        for server in running:
            record = records[server.spec.key]
            measured = throughput(
                server,
                [o for o in running if o is not server],
                work.bodies[1],
                record["ok_body_bytes"]["1"],
                replace(sweep_load, streams=streams),
                logs / f"h2load-{server.spec.key}.log",
            )
            record["sweep"].append(measured)
    for server in running:
        record = records[server.spec.key]
        fastest = max(record["throughput"]["1"], key=lambda r: r["ok_per_second"])
        record["sweep"].append(fastest)
        record["rss_end_bytes"] = server.rss_bytes()
        record["peak_rss_bytes"] = server.peak_rss_bytes()
        record["best"] = best_of(record)
    return records


def start(specs: list[ServerSpec], work: Workload, logs: Path) -> list[ServerProcess]:
    """Start every server, then wait for each: loading in parallel saves minutes, and nothing is
    measured until all of them are up."""
    running = []
    try:
        for spec in specs:
            running.append(ServerProcess(spec, logs / f"{spec.key}.log"))
        for server in running:
            server.wait_ready(work.requests[1], READY_TIMEOUT)
    except BaseException:
        for server in running:
            server.stop()
        raise
    return running


def benchmark(settings: Settings, models_dir: Path, out: Path, mode: str) -> dict[str, Any]:
    started = time.time()
    load_start = os.getloadavg()
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    work = build_workload(logs)
    config = models_dir / "models.config"
    signature = python_json(
        "benchmarks.signature_call",
        f"--model_dir={newest_version(models_dir, MODEL)}",
        f"--calls={settings.signature_calls}",
    )
    baseline = python_json("benchmarks.memory_baseline", f"--model_config_file={config}")
    running = start(server_specs(config, models_dir), work, logs)
    try:
        records = measure_all(running, work, settings, logs)
        control = negative_control(
            running[0],
            work,
            records[running[0].spec.key]["ok_body_bytes"]["1"],
            settings,
            logs / "h2load-negative-control.log",
        )
    finally:
        for server in running:
            server.stop()
    results: dict[str, Any] = {
        "meta": {
            "mode": mode,
            "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started, 1),
            "cpu_count": os.cpu_count(),
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "model": MODEL,
            "models_dir": str(models_dir),
            "settings": asdict(settings),
        },
        "signature_call": signature,
        "memory_baseline": baseline,
        "servers": records,
        "negative_control": control,
    }
    results["floor"] = report.floor(results)
    results["targets"] = report.as_dicts(report.targets(results))
    return results


def write(results: dict[str, Any], out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    text = report.markdown(results)
    (out / "latest.md").write_text(text)
    report.plot(results, str(out / "latency_throughput.png"))
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="seconds per run, not minutes: for CI")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--models-dir", type=Path, help="reuse an export (with models.config)")
    p.add_argument("--duration", type=float, help="seconds of each h2load run")
    p.add_argument("--repeats", type=int, help="interleaved rounds")
    args = p.parse_args(argv)
    settings = SMOKE if args.smoke else FULL
    if args.duration:
        settings = replace(settings, duration=args.duration)
    if args.repeats:
        settings = replace(settings, repeats=args.repeats)
    mode = "smoke" if args.smoke else "full"
    with exported.models_dir(args.models_dir) as models:
        results = benchmark(settings, models, args.out, mode)
    print(write(results, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
