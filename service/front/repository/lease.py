"""A loaded version shared by requests: an unload waits until the last request lets go."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from service.front.workers.loaded import LoadedVersion


class ServedVersion:
    """A LoadedVersion with a count of the requests using it."""

    def __init__(self, model: LoadedVersion) -> None:
        self.model = model
        self._users = 0
        self._retired = False
        self._idle = threading.Condition()

    def try_acquire(self) -> bool:
        """Take a lease unless the version is being unloaded."""
        with self._idle:
            if self._retired:
                return False
            self._users += 1
            return True

    def release(self) -> None:
        with self._idle:
            self._users -= 1
            if self._users == 0:
                self._idle.notify_all()

    @contextmanager
    def lease(self) -> Iterator[LoadedVersion]:
        """For code that already holds a lease: give it back when the block ends."""
        try:
            yield self.model
        finally:
            self.release()

    def retire(self, timeout: float | None = None) -> bool:
        """Refuse new leases, wait for current ones to end, then free the model."""
        with self._idle:
            self._retired = True
            drained = self._idle.wait_for(lambda: self._users == 0, timeout)
        if drained:
            self.model.close()
        return drained
