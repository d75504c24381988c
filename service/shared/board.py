"""Which calls a worker has in hand, written in memory the front and the worker share.

The worker puts the ids of the calls it is decoding or running on the board before it starts
them and wipes it after; that is a few stores into a shared page, no system call. The front reads
the board only once the worker has died: a call on the board was in hand (it may be what killed
the worker: INTERNAL, counted against its version), any other was never started (the front sends
it to another worker). Without the board the front could only guess, and a request sent to a
worker already dying was blamed for its death.
"""

import mmap
import os
from collections.abc import Container, Sequence

SLOTS = 512
"""Ids the board lists one by one; a larger group is written as its lowest and highest id."""
_COUNT = 0
_RANGE = -1
"""The count that says slots 1 and 2 hold a range of ids, not a list."""
_SIZE = (SLOTS + 1) * 8


class Board:
    """One worker's board: created by the front (`create`), opened by the worker (`open`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._memory = mmap.mmap(fd, _SIZE)
        self._slots = memoryview(self._memory).cast("q")

    @classmethod
    def create(cls) -> "Board":
        """A zeroed board (nothing in hand) whose `fd` a child process may inherit."""
        fd = os.memfd_create("blockserve-board", 0)
        os.ftruncate(fd, _SIZE)
        return cls(fd)

    # the worker

    def hold(self, call_ids: Sequence[int]) -> None:
        slots = self._slots
        if len(call_ids) > SLOTS:
            slots[1], slots[2] = min(call_ids), max(call_ids)
            slots[_COUNT] = _RANGE
            return
        for slot, call_id in enumerate(call_ids, 1):
            slots[slot] = call_id
        slots[_COUNT] = len(call_ids)

    def hold_one(self, call_id: int) -> None:
        """The common case, kept to two stores."""
        slots = self._slots
        slots[1] = call_id
        slots[_COUNT] = 1

    def wipe(self) -> None:
        self._slots[_COUNT] = 0

    # the front, after the worker died

    def held(self) -> Container[int]:
        slots = self._slots
        count = slots[_COUNT]
        if count == _RANGE:
            return range(slots[1], slots[2] + 1)
        return frozenset(slots[1 : count + 1].tolist())

    def close(self) -> None:
        self._slots.release()
        self._memory.close()
        os.close(self.fd)
