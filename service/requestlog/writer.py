"""The request log's writer thread: records queue up in a bounded buffer and are written there,
so that a slow or failing disk costs requests nothing; what does not fit is dropped and counted."""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.front.metrics import Metrics
from service.requestlog.files import RotatingRecordFile

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
"""Under a steady stream the buffer never empties: the files are flushed this often anyway."""

BUFFER_FULL = "buffer_full"
WRITE_ERROR = "write_error"


@dataclass(frozen=True)
class PendingRecord:
    """A sampled call, as the request handler left it: serialized on the writer thread."""

    model: str
    prefix: str
    size: int
    """The bytes its messages hold, which the buffer's budget counts while it waits."""
    build: Callable[[], bytes]


class LogWriter:
    """One thread writing every model's records, each prefix to its own rotating files."""

    def __init__(
        self, capacity: int, capacity_bytes: int, max_file_bytes: int, metrics: Metrics
    ) -> None:
        self._queue: queue.Queue[PendingRecord | None] = queue.Queue(capacity)
        self._capacity_bytes = capacity_bytes
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        self._max_file_bytes = max_file_bytes
        self._dropped = metrics.request_log_dropped
        self._written = metrics.request_log_records
        self._files: dict[str, RotatingRecordFile] = {}
        self._failing: set[str] = set()
        self._unflushed: dict[str, int] = {}
        """Records written per model since the last flush: counted once they are in the files."""
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, record: PendingRecord) -> None:
        """Queue a record, or count it dropped if the buffer is full; never waits."""
        with self._bytes_lock:
            fits = self._queued_bytes + record.size <= self._capacity_bytes
            if fits:
                self._queued_bytes += record.size
        if fits:
            try:
                self._queue.put_nowait(record)
                return
            except queue.Full:
                self._release(record)
        self._dropped.labels(record.model, BUFFER_FULL).inc()

    def _release(self, record: PendingRecord) -> None:
        with self._bytes_lock:
            self._queued_bytes -= record.size

    def stop(self) -> None:
        """Write what is queued, close the files and end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        flush_at = time.monotonic() + FLUSH_SECONDS
        while True:
            record = self._queue.get()
            if record is None:
                break
            self._write(record)
            self._release(record)
            if self._queue.empty() or time.monotonic() >= flush_at:
                self._flush()
                flush_at = time.monotonic() + FLUSH_SECONDS
        self._flush()
        for file in self._files.values():
            file.close()

    def _write(self, record: PendingRecord) -> None:
        file = self._files.get(record.prefix)
        if file is None:
            file = self._files[record.prefix] = RotatingRecordFile(
                record.prefix, self._max_file_bytes
            )
        try:
            data = record.build()
        except Exception:  # a bug here must not end the thread that every model logs through
            log.exception("request log %s: cannot build a record", record.model)
            self._dropped.labels(record.model, WRITE_ERROR).inc()
            return
        try:
            file.write(data)
        except OSError as e:
            self._dropped.labels(record.model, WRITE_ERROR).inc()
            if record.prefix not in self._failing:  # once until it works again, not per record
                self._failing.add(record.prefix)
                log.error("request log %s: cannot write %s: %s", record.model, file.path, e)
            file.abandon()
            return
        self._unflushed[record.model] = self._unflushed.get(record.model, 0) + 1
        self._failing.discard(record.prefix)

    def _flush(self) -> None:
        for prefix, file in self._files.items():
            try:
                file.flush()
            except OSError as e:
                log.error("request log %s: cannot flush: %s", prefix, e)
                file.abandon()
        for model, count in self._unflushed.items():
            self._written.labels(model).inc(count)
        self._unflushed.clear()
