"""The framing both ends of a worker's socket share: a 4-byte length, then a pickled message.

Messages are tuples, the cheapest thing pickle knows. Front to worker: `(op, call_id, *args)`;
worker to front: `(call_id, ok, payload)`, where a failed call's payload is `(code, message)`.
Arrays travel inside the pickle (protocol 5 keeps them one copy).
"""

import pickle
import struct
from collections.abc import Iterator
from typing import Any

HEADER = struct.Struct("<I")
PROTOCOL = 5

# Front to worker. On the worker's main thread, in the order sent: a forwarded request,
# decoded there by its protocol's codec (PREDICT ... REST_INFER); RUN, the arrays of a call the
# front decoded itself (Classify, Regress); ROUTE, a model's served versions and labels; UNLOAD;
# CONFIGURE, the request road's settings, sent once before anything else. On a second thread,
# so that calls go on meanwhile: LOAD and COMPARE, which take seconds, and INSIGHT.
PREDICT = "predict"
MODEL_INFER = "model_infer"
REST_PREDICT = "rest_predict"
REST_INFER = "rest_infer"
REQUESTS = frozenset({PREDICT, MODEL_INFER, REST_PREDICT, REST_INFER})
RUN = "run"
ROUTE = "route"
UNLOAD = "unload"
CONFIGURE = "configure"
IN_ORDER = REQUESTS | {RUN, ROUTE, UNLOAD, CONFIGURE}
LOAD = "load"
COMPARE = "compare"
INSIGHT = "insight"
"""A version's activation summary or input-drift state, as this worker has sampled them."""

READY = -1
"""The call id of the message a worker sends once TensorFlow is imported and it takes work."""
NO_REPLY = -2
"""The call id of a message that wants no answer (ROUTE)."""
# Worker to front: (call_id, True, payload) answers a call, (call_id, False, (code, message))
# fails it, and (call_id, None, deadline) tells the front of a deadline the request carried in
# its body (a V2 `timeout`), which the front then keeps.
UNRESOLVED = "UNRESOLVED"
"""A request's code when the routing table has no version for it: the front says why."""


def frame(message: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(message, PROTOCOL)
    return HEADER.pack(len(body)) + body


class FrameReader:
    """Splits a byte stream into messages, however the reads cut it."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Any]:
        """Every message completed by `data`, in order."""
        buffer = self._buffer
        buffer += data
        start = 0
        end = len(buffer)
        while end - start >= HEADER.size:
            (size,) = HEADER.unpack_from(buffer, start)
            if end - start - HEADER.size < size:
                break
            body_start = start + HEADER.size
            yield pickle.loads(memoryview(buffer)[body_start : body_start + size])
            start = body_start + size
        if start:
            del buffer[:start]
