"""The coupled model (chimera) at 64 streams, one row a request, with and without exact batching.

chimera's output is one scalar for a whole call: its rows are coupled, so no server may merge two
requests' rows into one call. Exact batching may still run requests waiting together in one
looped TensorFlow call that computes each on its own; this measures what that buys (rate, and the
TensorFlow worker's CPU per request against its one-call-a-request cost) and checks that every
answer under 64 concurrent requests is still bit for bit the row's own in-process call.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import wire
from benchmarks.answers import Reference, burst_answers, summary
from benchmarks.servers import ServerProcess

MODEL = "chimera"
SERVERS = {
    "blockserve_exact": "--enable_exact_batching=true",
    "blockserve_default": "exact batching off (default)",
}
"""The blockserve configurations measured on chimera, by key, with their label."""


@dataclass(frozen=True)
class CoupledWorkload:
    """chimera's one-row requests: the reference row (h2load's body), and each of the 32
    reference rows for the exactness check."""

    request: bytes
    body: Path
    single_rows: list[bytes]


def build_workload(work: Path) -> CoupledWorkload:
    rows = wire.reference_rows(32)
    request = wire.predict_request_for(MODEL, rows[:1]).SerializeToString()
    body = work / f"body-{MODEL}-1.grpc"
    body.write_bytes(wire.grpc_frame(request))
    single_rows = [
        wire.predict_request_for(MODEL, rows[i : i + 1]).SerializeToString()
        for i in range(len(rows))
    ]
    return CoupledWorkload(request, body, single_rows)


def check(
    server: ServerProcess, work: CoupledWorkload, reference: Reference, bursts: int
) -> dict[str, Any]:
    """The size of one OK answer (for h2load's byte count), and exactness: the reference row
    alone, then `bursts` times 64 one-row requests at once, each against its row's own call."""
    first, second = server.predict(work.request), server.predict(work.request)
    if len(first) != len(second):
        raise RuntimeError(
            f"{server.spec.title} answered chimera in sizes {len(first)}, {len(second)}"
        )
    answer = wire.output_array(wire.predict_pb2.PredictResponse.FromString(first))
    expected = reference.one_call[1]
    if answer.size != 1 or not np.allclose(answer, expected, rtol=1e-4, atol=1e-5):
        raise RuntimeError(f"{server.spec.title}: chimera answered {answer}, in-process {expected}")
    exact = summary(
        {"1": (answer.reshape(expected.shape), expected)},
        burst_answers(server, work.single_rows, reference.each_row_alone, bursts),
    )
    return {"ok_body_bytes": len(wire.grpc_frame(first)), "exactness": exact}
