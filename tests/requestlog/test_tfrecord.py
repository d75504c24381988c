"""TFRecord framing and rotating files, checked against TensorFlow's own writer and reader."""

from pathlib import Path

import pytest
import tensorflow as tf

from service.requestlog.files import RotatingRecordFile, log_files
from service.requestlog.tfrecord import CorruptRecord, frame, masked_crc, read_records

RECORDS = [b"", b"a", b"half plus two", bytes(range(256)) * 40]


def test_masked_crc_of_the_check_string_is_tensorflows() -> None:
    # CRC32C("123456789") is 0xE3069283; masked as tensorflow/core/lib/hash/crc32c.h does.
    crc = 0xE3069283
    assert masked_crc(b"123456789") == ((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def test_frames_are_byte_for_byte_what_tensorflows_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "tf.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in RECORDS:
            writer.write(record)
    assert b"".join(frame(r) for r in RECORDS) == path.read_bytes()
    assert list(read_records(path)) == RECORDS


def test_a_damaged_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "damaged.tfrecord"
    data = bytearray(frame(b"half plus two"))
    data[14] ^= 0x01  # a byte of the data, after the 12-byte header
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptRecord, match="fails its CRC"):
        list(read_records(path))


def test_files_rotate_past_their_size_and_tensorflow_reads_them_in_order(tmp_path: Path) -> None:
    prefix = str(tmp_path / "logs" / "model")
    records = [f"record {i:03d}".encode() * 3 for i in range(20)]  # 30 bytes, 46 framed
    log = RotatingRecordFile(prefix, max_bytes=100)
    for record in records:
        log.write(record)
    log.close()
    files = log_files(prefix)
    assert len(files) == 10  # two 46-byte records fit in 100 bytes, a third does not
    assert all(f.stat().st_size <= 100 for f in files)
    read = [r.numpy() for f in files for r in tf.data.TFRecordDataset(str(f))]
    assert read == records


def test_a_record_larger_than_a_file_gets_a_file_of_its_own(tmp_path: Path) -> None:
    prefix = str(tmp_path / "model")
    log = RotatingRecordFile(prefix, max_bytes=10)
    for record in (b"x" * 50, b"y" * 50):
        log.write(record)
    log.close()
    assert [list(read_records(f)) for f in log_files(prefix)] == [[b"x" * 50], [b"y" * 50]]
