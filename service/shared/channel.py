"""The framing both ends of a worker's socket share: two 4-byte lengths, a pickled message, and
the message's out-of-band part, if it has one.

Messages are tuples, the cheapest thing pickle knows. Front to worker: `(op, call_id, *args)`;
worker to front: `(call_id, ok, payload)`, where a failed call's payload is `(code, message)`.
Arrays travel inside the pickle (protocol 5 keeps them one copy). A request or answer body of
LARGE_BYTES or more travels out of band (`out_of_band`, `frame_parts`): after the pickle, never
copied into it, so that the front's one thread spends no 60 MB copy on it; the reader fills it
piece by piece as the bytes arrive and hands it out as a buffer (a bytearray, or a read-only
memoryview where the sender's was read-only).
"""

import pickle
import struct
from collections.abc import Iterator
from typing import Any

HEADER = struct.Struct("<II")
"""The size of a frame's pickle, then of its out-of-band part (0 for most messages)."""
PROTOCOL = 5
LARGE_BYTES = 1 << 20
"""A body this large goes out of band."""

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
    return HEADER.pack(len(body), 0) + body


def out_of_band(body: Any) -> Any:
    """`body`, marked to travel out of band where it is large (for `frame_parts`)."""
    return pickle.PickleBuffer(body) if len(body) >= LARGE_BYTES else body


def frame_parts(message: tuple[Any, ...]) -> list[bytes | memoryview]:
    """The frame of a message that may hold one body marked by `out_of_band`: the header and
    pickle, then the body's own bytes, uncopied."""
    marked: list[pickle.PickleBuffer] = []
    body = pickle.dumps(message, PROTOCOL, buffer_callback=marked.append)
    if not marked:
        return [HEADER.pack(len(body), 0) + body]
    (buffer,) = marked
    raw = buffer.raw()
    return [HEADER.pack(len(body), raw.nbytes) + body, raw]


class FrameReader:
    """Splits a byte stream into messages, however the reads cut it."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._large: tuple[bytes, bytearray] | None = None
        """The pickle of a message whose out-of-band part is arriving, and that part."""
        self._filled = 0

    def feed(self, data: bytes) -> Iterator[Any]:
        """Every message completed by `data`, in order."""
        if self._large is not None:
            used = self._fill(data)
            if not self._complete():
                return
            yield self._finish()
            data = memoryview(data)[used:]  # type: ignore[assignment]
        buffer = self._buffer
        buffer += data
        start = 0
        end = len(buffer)
        while end - start >= HEADER.size:
            size, extra = HEADER.unpack_from(buffer, start)
            body_start = start + HEADER.size
            if end - body_start < size:
                break
            start = body_start + size
            if not extra:
                yield pickle.loads(memoryview(buffer)[body_start:start])
                continue
            self._large, self._filled = (bytes(buffer[body_start:start]), bytearray(extra)), 0
            with memoryview(buffer) as view:
                start += self._fill(view[start:])
            if not self._complete():
                break
            yield self._finish()
        if start:
            del buffer[:start]

    def _fill(self, data: Any) -> int:
        """Copy into the out-of-band part what `data` holds of it; the bytes used."""
        assert self._large is not None
        part = self._large[1]
        used = min(len(data), len(part) - self._filled)
        part[self._filled : self._filled + used] = data[:used]
        self._filled += used
        return used

    def _complete(self) -> bool:
        return self._large is not None and self._filled == len(self._large[1])

    def _finish(self) -> Any:
        assert self._large is not None
        pickled, part = self._large
        self._large = None
        return pickle.loads(pickled, buffers=[part])
