"""The servers' answers: read in each protocol, and checked against the SavedModel's own call.

The reference is the in-process answer of `signatures["serving_default"]` to the benchmark's
reference rows, each set in one call (computed by `benchmarks.signature_call`, which has
TensorFlow). A server is *exact* when every answer it gives is bit for bit that reference:
the 1-row and 32-row requests sent alone, and many one-row requests at once, which is when a
server that merges requests into one TensorFlow call does so (on CPUs where a row's result
depends on how many rows share the call, merged answers differ in the last bits; on others they
do not, and merging is exact there).
"""

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks import wire, wire_v2
from benchmarks.servers import ServerProcess

OUTPUT_WIDTH = 10
ROWS = (1, 32)
EXACT_BURST = 64
"""One-row requests in flight at once in the exactness check."""


def answer_array(server: ServerProcess, answer: bytes) -> np.ndarray:
    """Output `y` of a serialized answer in the server's protocol."""
    if server.spec.protocol == "v2":
        return wire_v2.output_array(answer)
    return wire.output_array(wire.predict_pb2.PredictResponse.FromString(answer))


def reference_answer(server: ServerProcess, request: bytes, rows: int) -> tuple[int, np.ndarray]:
    """The size of one OK answer as h2load sees it (frame included), and the answer itself.
    Two calls: the byte accounting needs every OK answer to one request to be one size."""
    first, second = server.predict(request), server.predict(request)
    if len(first) != len(second):
        raise RuntimeError(
            f"{server.spec.title} answered one request in {len(first)} and {len(second)} bytes: "
            "its OK answers cannot be counted from body bytes"
        )
    y = answer_array(server, first)
    expected = (1, OUTPUT_WIDTH) if server.spec.answers_fixed else (rows, OUTPUT_WIDTH)
    if y.shape != expected:
        raise RuntimeError(f"{server.spec.title} answered {rows} rows with shape {y.shape}")
    return len(wire.grpc_frame(first)), y


@dataclass(frozen=True)
class Reference:
    """The SavedModel's own answers (`signature_call`): each reference request's rows in one
    call, and every one of the 32 rows in a call of its own."""

    one_call: dict[int, np.ndarray]
    each_row_alone: np.ndarray


def _array(answer: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(answer["float32_base64"]), dtype="<f4").reshape(
        answer["shape"]
    )


def in_process_answers(signature: dict[str, Any]) -> Reference:
    answers = signature["answers"]
    return Reference(
        one_call={rows: _array(answers[str(rows)]) for rows in ROWS},
        each_row_alone=_array(answers["each_row_alone"]),
    )


def same_model(y: np.ndarray, reference: np.ndarray) -> bool:
    """Close enough to be the same mlp: merging rows moves an answer by ~1e-7, a different
    model by far more. Exactness is judged apart, bit for bit."""
    return y.shape == reference.shape and bool(np.allclose(y, reference, rtol=1e-4, atol=1e-5))


def exactness(
    server: ServerProcess,
    single_rows: list[bytes],
    alone: dict[int, np.ndarray],
    reference: Reference,
    bursts: int,
) -> dict[str, Any]:
    """Whether the server's answers are bit for bit the in-process call's: the reference
    requests sent alone, then `bursts` times EXACT_BURST one-row requests at once (the 32
    reference rows, each its own request, in turn), which is when a server that merges
    requests into one TensorFlow call does so."""
    return summary(
        {str(rows): (alone[rows], reference.one_call[rows]) for rows in ROWS},
        burst_answers(server, single_rows, reference.each_row_alone, bursts),
    )


Pair = tuple[np.ndarray, np.ndarray]
"""A server's answer and the in-process call's answer it must equal bit for bit."""


def burst_answers(
    server: ServerProcess, single_rows: list[bytes], each_row_alone: np.ndarray, bursts: int
) -> list[Pair]:
    """`bursts` times EXACT_BURST one-row requests in flight at once (`single_rows` in turn),
    each answer paired with its row's own in-process call (`each_row_alone[i : i + 1]`; a
    coupled model's scalar answer is read as that one value)."""
    burst = [i % len(single_rows) for i in range(EXACT_BURST)]
    checked = []
    for _ in range(bursts):
        answers = server.predict_concurrently([single_rows[i] for i in burst])
        for i, answer in zip(burst, answers, strict=True):
            expected = each_row_alone[i : i + 1]
            checked.append((answer_array(server, answer).reshape(expected.shape), expected))
    return checked


def summary(alone: dict[str, Pair], concurrent: list[Pair]) -> dict[str, Any]:
    """The exactness record: requests sent alone (by rows), and requests sent at once."""
    checked = [*alone.values(), *concurrent]
    equal = [y.shape == ref.shape and bool(np.array_equal(y, ref)) for y, ref in checked]
    return {
        "alone": {rows: equal[i] for i, rows in enumerate(alone)},
        "concurrent_calls": len(concurrent),
        "concurrent_differing": equal[len(alone) :].count(False),
        "max_abs_difference": max(
            float(np.max(np.abs(y - ref))) if y.shape == ref.shape else float("inf")
            for y, ref in checked
        ),
        "equal_share": round(sum(equal) / len(equal), 4),
        "exact": all(equal),
    }
