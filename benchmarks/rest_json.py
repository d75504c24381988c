"""mlp over REST: `POST /v1/models/mlp:predict` with a one-row `{"instances": [...]}` body.

Driven by h2load over HTTP/1.1 (`--h1`), one request in flight per connection, as REST clients
send; an answer's HTTP status is its status, so the OK answers are the 200s. Answers are checked
bit for bit against the in-process call: blockserve writes REST floats as the exact decimal of
their float32 value, so they survive the JSON round trip.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import wire
from benchmarks.answers import EXACT_BURST, Pair, Reference, summary
from benchmarks.servers import ServerProcess

MODEL = "mlp"
PATH = f"/v1/models/{MODEL}:predict"


def instances(rows: np.ndarray) -> bytes:
    """A REST predict body of `rows` in the row format; every float32 written exactly."""
    return json.dumps({"instances": rows.tolist()}).encode()


@dataclass(frozen=True)
class RestWorkload:
    """The one-row REST body (the reference row) as bytes and as h2load's file, and each of the
    32 reference rows' bodies for the exactness check."""

    body: bytes
    body_file: Path
    single_rows: list[bytes]


def build_workload(work: Path) -> RestWorkload:
    rows = wire.reference_rows(32)
    body = instances(rows[:1])
    body_file = work / f"body-rest-{MODEL}-1.json"
    body_file.write_bytes(body)
    return RestWorkload(body, body_file, [instances(rows[i : i + 1]) for i in range(len(rows))])


def predictions(server: ServerProcess, body: bytes) -> tuple[int, np.ndarray]:
    """One REST predict: the answer's size in bytes, and its predictions as float32."""
    status, answer = server.http_post_json(PATH, body)
    if status != 200:
        raise RuntimeError(f"{server.spec.title}: REST predict answered {status}: {answer[:300]!r}")
    return len(answer), np.array(json.loads(answer)["predictions"], dtype=np.float32)


def check(
    server: ServerProcess, work: RestWorkload, reference: Reference, bursts: int
) -> dict[str, Any]:
    """The size of one OK answer, and exactness: the reference row alone, then `bursts` times
    64 one-row REST requests at once (64 connections), each against its row's own call."""
    size, alone = predictions(server, work.body)
    expected = reference.one_call[1]
    if alone.shape != expected.shape or not np.allclose(alone, expected, rtol=1e-4, atol=1e-5):
        raise RuntimeError(f"{server.spec.title}: REST answered {alone}, in-process {expected}")
    burst = [i % len(work.single_rows) for i in range(EXACT_BURST)]
    concurrent: list[Pair] = []
    with ThreadPoolExecutor(max_workers=EXACT_BURST) as pool:
        for _ in range(bursts):
            answers = pool.map(lambda i: predictions(server, work.single_rows[i])[1], burst)
            for i, y in zip(burst, answers, strict=True):
                concurrent.append((y, reference.each_row_alone[i : i + 1]))
    return {"ok_body_bytes": size, "exactness": summary({"1": (alone, expected)}, concurrent)}
