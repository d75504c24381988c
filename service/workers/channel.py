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

RUN = "run"
LOAD = "load"
UNLOAD = "unload"
COMPARE = "compare"
READY = -1
"""The call id of the message a worker sends once TensorFlow is imported and it takes work."""


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
