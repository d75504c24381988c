"""The worker channel's framing: messages come out whole and in order however reads cut the
stream, and large bodies come out of band as buffers holding the very bytes sent."""

import numpy as np
import pytest

from service.shared import channel

BIG = channel.LARGE_BYTES + 12345


def messages() -> list[tuple]:
    rng = np.random.default_rng(0)
    writable = bytearray(rng.bytes(BIG))
    read_only = rng.bytes(2 * BIG)
    return [
        ("predict", 1, None, b"small", 1.0, None, False),
        ("rest_predict", 2, ("m", None, None), channel.out_of_band(writable), 1.0, None, False),
        (3, True, ("OK", b"answer", None, ())),
        ("predict", 4, None, channel.out_of_band(read_only), 2.0, None, True),
        (5, True, ("OK", channel.out_of_band(b"just under"), None, ())),
    ]


def stream() -> bytes:
    return b"".join(bytes(part) for m in messages() for part in channel.frame_parts(m))


@pytest.mark.parametrize("cut", [1, 7, 4096, 65536, channel.LARGE_BYTES, 10 * BIG])
def test_messages_come_out_whole_and_in_order_however_the_reads_cut(cut: int) -> None:
    data = stream()
    reader = channel.FrameReader()
    got = [m for start in range(0, len(data), cut) for m in reader.feed(data[start : start + cut])]
    sent = messages()
    assert [m[:2] for m in got] == [m[:2] for m in sent]
    assert got[0] == sent[0] and got[2] == sent[2] and got[4] == sent[4]
    # A writable body comes out as the bytearray it was; a read-only one as a read-only view.
    assert type(got[1][3]) is bytearray
    assert got[1][3] == sent[1][3].raw()
    assert isinstance(got[3][3], memoryview) and got[3][3].readonly
    assert got[3][3] == sent[3][3].raw()


def test_only_large_bodies_go_out_of_band() -> None:
    small = channel.frame_parts(("predict", 1, None, channel.out_of_band(b"x" * 100)))
    large = channel.frame_parts(("predict", 1, None, channel.out_of_band(b"x" * BIG)))
    assert len(small) == 1 and small[0] == channel.frame(("predict", 1, None, b"x" * 100))
    assert len(large) == 2 and len(large[1]) == BIG and len(large[0]) < 100
