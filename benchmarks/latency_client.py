"""Sequential Predict latency: one call at a time from its own process, the request prebuilt.

    python -m benchmarks.latency_client --target 127.0.0.1:8500 --request FILE --calls 2000

FILE holds a serialized PredictRequest (or, with --method, the request of that gRPC method, such
as the V2 protocol's ModelInfer); it is sent as bytes and the answer is not parsed, so the
client costs the same against every server. Prints JSON: latency percentiles in ms and the count
of calls by gRPC status.
"""

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import grpc
import numpy as np

PREDICT = "/tensorflow.serving.PredictionService/Predict"


def measure(
    target: str, request: bytes, calls: int, warm_up: int, method: str = PREDICT
) -> dict[str, object]:
    codes: Counter[str] = Counter()
    latencies = np.empty(calls)
    with grpc.insecure_channel(target) as channel:
        predict = channel.unary_unary(method)
        for _ in range(warm_up):
            predict(request, timeout=30)
        for i in range(calls):
            started = time.perf_counter()
            try:
                predict(request, timeout=30)
                codes["OK"] += 1
            except grpc.RpcError as e:
                codes[e.code().name] += 1
            latencies[i] = time.perf_counter() - started
    p50, p90, p99 = np.percentile(latencies * 1000, [50, 90, 99])
    return {
        "calls": calls,
        "codes": dict(codes),
        "latency_ms": {
            "p50": round(float(p50), 3),
            "p90": round(float(p90), 3),
            "p99": round(float(p99), 3),
            "mean": round(float(latencies.mean() * 1000), 3),
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.latency_client", description=__doc__)
    p.add_argument("--target", required=True, help="HOST:PORT")
    p.add_argument("--request", required=True, type=Path, help="serialized PredictRequest")
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--warm-up", type=int, default=200, help="calls made before measuring")
    p.add_argument("--method", default=PREDICT, help=f"gRPC method path (default {PREDICT})")
    args = p.parse_args(argv)
    result = measure(args.target, args.request.read_bytes(), args.calls, args.warm_up, args.method)
    print(json.dumps(result))
    return 0 if result["codes"] == {"OK": args.calls} else 1


if __name__ == "__main__":
    sys.exit(main())
