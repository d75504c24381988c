"""TFRecord framing, as tf.io.TFRecordWriter writes it, without TensorFlow.

Each record: its length (uint64, little-endian), the masked CRC32C of those 8 bytes, the data,
the masked CRC32C of the data (both uint32, little-endian).
"""

import struct
from collections.abc import Iterator
from pathlib import Path

import google_crc32c

MASK_DELTA = 0xA282EAD8
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")


class CorruptRecord(ValueError):
    """A file that is not TFRecords, or is cut short or damaged."""


def masked_crc(data: bytes) -> int:
    """TensorFlow's masked CRC32C: rotated and offset, so CRCs of CRCs stay informative."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One record ready to append to a TFRecord file."""
    length = _LENGTH.pack(len(data))
    return b"".join((length, _CRC.pack(masked_crc(length)), data, _CRC.pack(masked_crc(data))))


def read_records(path: Path) -> Iterator[bytes]:
    """Every record of a TFRecord file, each checked against its CRCs."""
    with path.open("rb") as f:
        while header := f.read(_LENGTH.size + _CRC.size):
            if len(header) < _LENGTH.size + _CRC.size:
                raise CorruptRecord(f"{path}: a record header is cut short")
            length_bytes = header[: _LENGTH.size]
            if _CRC.unpack(header[_LENGTH.size :])[0] != masked_crc(length_bytes):
                raise CorruptRecord(f"{path}: a record length fails its CRC; not a TFRecord file?")
            (length,) = _LENGTH.unpack(length_bytes)
            data = f.read(length)
            footer = f.read(_CRC.size)
            if len(data) < length or len(footer) < _CRC.size:
                raise CorruptRecord(f"{path}: the last record is cut short")
            if _CRC.unpack(footer)[0] != masked_crc(data):
                raise CorruptRecord(f"{path}: a record's data fails its CRC")
            yield data
