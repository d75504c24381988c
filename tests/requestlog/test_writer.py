"""The writer thread: a full buffer drops and counts instead of waiting."""

from pathlib import Path

from service.front.metrics import Metrics
from service.requestlog.files import log_files
from service.requestlog.tfrecord import read_records
from service.requestlog.writer import BUFFER_FULL, LogWriter, PendingRecord


def record(prefix: Path, i: int) -> PendingRecord:
    return PendingRecord("m", str(prefix), 100, lambda: f"call {i}".encode())


def test_a_full_buffer_drops_and_counts_without_waiting(tmp_path: Path) -> None:
    metrics = Metrics()
    writer = LogWriter(capacity=2, capacity_bytes=1 << 20, max_file_bytes=1 << 20, metrics=metrics)
    prefix = tmp_path / "m"
    for i in range(5):  # the thread has not started: nothing drains the buffer
        writer.put(record(prefix, i))
    writer.start()
    writer.stop()
    dropped = metrics.registry.get_sample_value(
        "blockserve_request_log_dropped_total", {"model": "m", "reason": BUFFER_FULL}
    )
    written = metrics.registry.get_sample_value(
        "blockserve_request_log_records_total", {"model": "m"}
    )
    assert (dropped, written) == (3, 2)
    assert [r for f in log_files(str(prefix)) for r in read_records(f)] == [b"call 0", b"call 1"]


def test_a_buffer_past_its_bytes_drops_and_counts(tmp_path: Path) -> None:
    metrics = Metrics()
    writer = LogWriter(capacity=100, capacity_bytes=250, max_file_bytes=1 << 20, metrics=metrics)
    prefix = tmp_path / "m"
    for i in range(5):  # 100 bytes each: two fit in 250
        writer.put(record(prefix, i))
    writer.start()
    writer.stop()
    dropped = metrics.registry.get_sample_value(
        "blockserve_request_log_dropped_total", {"model": "m", "reason": BUFFER_FULL}
    )
    assert dropped == 3
    assert [r for f in log_files(str(prefix)) for r in read_records(f)] == [b"call 0", b"call 1"]
