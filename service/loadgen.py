"""A gRPC load generator for Predict: closed loop (fixed concurrency) or open loop (fixed rate).

    python -m service.loadgen --model mlp --concurrency 16 --duration 10 --rows 1
    python -m service.loadgen --model mlp --rate 500 --duration 10
    python -m service.loadgen --model mlp --sweep 1,4,16,64 --plot latency.png
    python -m service.loadgen --model mlp --protocol v2   # V2's ModelInfer instead of Predict

The open loop measures each latency from the moment the request was due, so a server that falls
behind shows its queueing instead of hiding it (no coordinated omission).
"""

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import grpc
import numpy as np

from service.protos.tensorflow_serving.apis import predict_pb2
from service.shared.codecs.tensors import from_numpy

PREDICT = "/tensorflow.serving.PredictionService/Predict"


@dataclass
class Report:
    """What one run measured."""

    mode: str
    target: str
    model: str
    rows: int
    duration_seconds: float
    concurrency: int = 0
    rate: float = 0.0
    requests: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    throughput_rps: float = 0.0
    rows_per_second: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)


def predict_request(model: str, rows: int, features: int, signature: str) -> bytes:
    """A serialized PredictRequest, built once: the generator must not be the bottleneck."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    x = np.random.default_rng(0).uniform(size=(rows, features)).astype(np.float32)
    from_numpy(x, request.inputs["x"])
    return request.SerializeToString()


async def _closed(
    target: str, payload: bytes, concurrency: int, duration: float, method: str = PREDICT
) -> tuple[list[float], Counter[str]]:
    latencies: list[float] = []
    codes: Counter[str] = Counter()
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(method)
        stop = time.perf_counter() + duration

        async def worker() -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                try:
                    await call(payload, timeout=30)
                    codes["OK"] += 1
                    latencies.append(time.perf_counter() - started)
                except grpc.aio.AioRpcError as e:
                    codes[e.code().name] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, codes


async def _open(
    target: str, payload: bytes, rate: float, duration: float, method: str = PREDICT
) -> tuple[list[float], Counter[str]]:
    latencies: list[float] = []
    codes: Counter[str] = Counter()
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(method)

        async def one(due: float) -> None:
            try:
                await call(payload, timeout=30)
                codes["OK"] += 1
                latencies.append(time.perf_counter() - due)
            except grpc.aio.AioRpcError as e:
                codes[e.code().name] += 1

        start = time.perf_counter()
        tasks = []
        for i in range(int(rate * duration)):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
    return latencies, codes


def _worker(
    args: tuple[str, str, bytes, int, float, float, str],
) -> tuple[list[float], dict[str, int]]:
    mode, target, payload, concurrency, rate, duration, method = args
    if mode == "closed":
        latencies, codes = asyncio.run(_closed(target, payload, concurrency, duration, method))
    else:
        latencies, codes = asyncio.run(_open(target, payload, rate, duration, method))
    return latencies, dict(codes)


def run(
    target: str,
    model: str,
    rows: int,
    features: int,
    duration: float,
    concurrency: int = 0,
    rate: float = 0.0,
    processes: int = 1,
    signature: str = "",
    protocol: str = "tfserving",
) -> Report:
    """One measured run, spread over `processes` client processes."""
    mode = "open" if rate else "closed"
    if protocol == "v2":
        from service.v2 import client as v2  # only then: its messages clash with tritonclient's

        method, payload = v2.MODEL_INFER, v2.infer_payload(model, rows, features, signature)
    else:
        method, payload = PREDICT, predict_request(model, rows, features, signature)
    each = max(1, concurrency // processes)
    share = [
        (mode, target, payload, each, rate / processes, duration, method) for _ in range(processes)
    ]
    started = time.perf_counter()
    if processes == 1:
        parts = [_worker(share[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            parts = pool.map(_worker, share)
    elapsed = time.perf_counter() - started
    latencies = np.array([x for part, _ in parts for x in part]) * 1000
    codes: Counter[str] = Counter()
    for _, part in parts:
        codes.update(part)
    report = Report(mode, target, model, rows, round(elapsed, 3), concurrency, rate)
    report.ok = codes.pop("OK", 0)
    report.errors = dict(codes)
    report.requests = report.ok + sum(codes.values())
    report.throughput_rps = round(report.ok / elapsed, 1)
    report.rows_per_second = round(report.ok * rows / elapsed, 1)
    if latencies.size:
        quantiles = np.percentile(latencies, [50, 90, 99, 99.9])
        report.latency_ms = {
            name: round(float(v), 3)
            for name, v in zip(("p50", "p90", "p99", "p99.9"), quantiles, strict=True)
        } | {"mean": round(float(latencies.mean()), 3), "max": round(float(latencies.max()), 3)}
    return report


def render(report: Report) -> str:
    load = (
        f"concurrency {report.concurrency}" if report.mode == "closed" else f"rate {report.rate}/s"
    )
    lat = report.latency_ms
    errors = ", ".join(f"{k} {v}" for k, v in report.errors.items()) or "none"
    return (
        f"{report.model} @ {report.target}, {load}, {report.rows} row(s), "
        f"{report.duration_seconds:.1f}s: {report.throughput_rps:.0f} req/s "
        f"({report.rows_per_second:.0f} rows/s); latency ms p50 {lat.get('p50', 0):.2f} "
        f"p90 {lat.get('p90', 0):.2f} p99 {lat.get('p99', 0):.2f} "
        f"p99.9 {lat.get('p99.9', 0):.2f}; errors: {errors}"
    )


def plot(reports: list[Report], path: str) -> None:
    """Latency against throughput over a concurrency sweep."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    throughput = [r.throughput_rps for r in reports]
    for quantile in ("p50", "p99"):
        ax.plot(throughput, [r.latency_ms[quantile] for r in reports], marker="o", label=quantile)
    for r in reports:
        ax.annotate(f"c={r.concurrency}", (r.throughput_rps, r.latency_ms["p99"]), fontsize=8)
    ax.set_xlabel("throughput (requests/s)")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.set_title(f"{reports[0].model}, {reports[0].rows} row(s) per request")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m service.loadgen", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--target", default="localhost:8500", help="gRPC address (default localhost:8500)"
    )
    p.add_argument("--model", required=True)
    p.add_argument("--signature", default="", help="signature name (default serving_default)")
    p.add_argument(
        "--protocol",
        choices=("tfserving", "v2"),
        default="tfserving",
        help="TensorFlow Serving's Predict (default) or V2's ModelInfer",
    )
    p.add_argument("--features", type=int, default=20, help="input width (default 20, the seed's)")
    p.add_argument("--rows", type=int, default=1, help="rows per request (default 1)")
    p.add_argument("--duration", type=float, default=10, help="seconds per run (default 10)")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--concurrency", type=int, default=8, help="closed loop: requests in flight")
    load.add_argument("--rate", type=float, help="open loop: requests per second")
    load.add_argument("--sweep", help="closed loop over these concurrencies, e.g. 1,4,16,64")
    p.add_argument("--processes", type=int, default=1, help="client processes (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--plot", help="with --sweep: write a latency/throughput PNG here")
    args = p.parse_args(argv)
    common = dict(
        target=args.target,
        model=args.model,
        rows=args.rows,
        features=args.features,
        duration=args.duration,
        processes=args.processes,
        signature=args.signature,
        protocol=args.protocol,
    )
    if args.sweep:
        levels = [int(c) for c in args.sweep.split(",")]
        reports = [run(concurrency=c, **common) for c in levels]
    elif args.rate:
        reports = [run(rate=args.rate, **common)]
    else:
        reports = [run(concurrency=args.concurrency, **common)]
    if args.json:
        print(json.dumps([asdict(r) for r in reports], indent=2))
    else:
        print("\n".join(render(r) for r in reports))
    if args.plot:
        plot(reports, args.plot)
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
