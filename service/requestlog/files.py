"""A request log's files: TFRecords appended under one prefix, a new file past a size."""

import contextlib
import os
import time
from pathlib import Path

from service.requestlog.tfrecord import frame

SUFFIX = ".tfrecord"


class RotatingRecordFile:
    """Appends framed records to `PREFIX-STAMP-PID-SEQ.tfrecord`, starting the next file once
    one would pass `max_bytes` (a record larger than that gets a file of its own).

    The stamp and pid keep the files of a restarted server, or of two servers given the same
    prefix, apart. Used by one thread.
    """

    def __init__(self, prefix: str, max_bytes: int) -> None:
        self.prefix = prefix
        self._max_bytes = max_bytes
        self._stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        self._sequence = 0
        self._file = None
        self._size = 0

    @property
    def path(self) -> Path:
        """The file being written now (or next)."""
        return Path(f"{self.prefix}-{self._stamp}-{os.getpid()}-{self._sequence:05d}{SUFFIX}")

    def write(self, data: bytes) -> None:
        record = frame(data)
        if self._file is not None and self._size and self._size + len(record) > self._max_bytes:
            self.close()
            self._sequence += 1
        if self._file is None:
            path = self.path
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("ab")
            self._size = path.stat().st_size
        self._file.write(record)
        self._size += len(record)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def abandon(self) -> None:
        """After a failed write: leave the file (its last record may be cut) for a new one."""
        if self._file is not None:
            self.close()
            self._sequence += 1

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):  # a failed flush was reported by the writer
                file.close()


def log_files(prefix: str) -> list[Path]:
    """The files written under `prefix`, oldest first."""
    base = Path(prefix)
    return sorted(base.parent.glob(f"{base.name}-*{SUFFIX}"))
