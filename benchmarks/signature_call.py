"""The in-process cost of one TensorFlow signature call, the part of latency no server avoids.

    python -m benchmarks.signature_call --model_dir exported/mlp/1 --calls 2000

Loads the SavedModel as the naive server does and times `signatures["serving_default"]` on a
prebuilt tensor of 1 and of 256 rows, and on a NumPy row (conversion included). Also computes the
reference answers of the exactness check, as base64 float32 bytes: output `y` for the benchmark's
1 and 32 reference rows (`benchmarks.wire.reference_rows`), each set in one call, and for each of
the 32 rows alone, one call a row (a coupled model's scalar answer counts as that row's one
value). With --answers-only, only the answers, for a model that is not timed (chimera). Prints
JSON.
"""

import argparse
import base64
import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

# After TensorFlow itself: `wire` then leaves the real package alone.
from benchmarks.wire import reference_rows

REFERENCE_ROWS = (1, 32)


def percentiles(call, calls: int, warm_up: int) -> dict[str, float]:
    for _ in range(warm_up):
        call()
    seconds = np.empty(calls)
    for i in range(calls):
        started = time.perf_counter()
        call()
        seconds[i] = time.perf_counter() - started
    p50, p90, p99 = np.percentile(seconds * 1000, [50, 90, 99])
    return {"p50": round(float(p50), 4), "p90": round(float(p90), 4), "p99": round(float(p99), 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.signature_call", description=__doc__)
    p.add_argument("--model_dir", required=True, help="one SavedModel version folder")
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--warm-up", type=int, default=100)
    p.add_argument("--answers-only", action="store_true", help="the reference answers, no timing")
    args = p.parse_args(argv)
    signature = tf.saved_model.load(args.model_dir).signatures["serving_default"]
    rng = np.random.default_rng(0)
    result: dict[str, dict[str, Any]] = {}
    for rows in () if args.answers_only else (1, 256):
        x = tf.constant(rng.uniform(size=(rows, args.features)).astype(np.float32))
        call = lambda x=x: signature(x=x)  # noqa: E731
        result[f"rows_{rows}_ms"] = percentiles(call, args.calls, args.warm_up)
    if not args.answers_only:
        row = rng.uniform(size=(1, args.features)).astype(np.float32)
        result["rows_1_numpy_input_ms"] = percentiles(
            lambda: signature(x=row)["y"].numpy(), args.calls, args.warm_up
        )
    answers = {}
    for rows in REFERENCE_ROWS:
        y = signature(x=tf.constant(reference_rows(rows, args.features)))["y"].numpy()
        answers[str(rows)] = {
            "shape": list(y.shape),
            "float32_base64": base64.b64encode(y.astype("<f4").tobytes()).decode(),
        }
    rows = reference_rows(max(REFERENCE_ROWS), args.features)
    each = np.concatenate(
        [
            np.atleast_1d(signature(x=tf.constant(rows[i : i + 1]))["y"].numpy())
            for i in range(len(rows))
        ]
    )
    answers["each_row_alone"] = {
        "shape": list(each.shape),
        "float32_base64": base64.b64encode(each.astype("<f4").tobytes()).decode(),
    }
    print(json.dumps(result | {"answers": answers}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
