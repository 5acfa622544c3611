"""The pad frame format: FF 68 len len 68 addr func data... checksum 16, and every way it goes bad."""
from __future__ import annotations

import pytest

from hardware.pads import KEY, SHOW, Frame, FrameReader, checksum, encode


def test_a_key_frame_is_laid_out_as_documented():
    # Pad 3 presses "call" (key 1): body 03 01 01, length 3, checksum 05.
    assert encode(3, KEY, b"\x01") == bytes.fromhex("ff 68 03 03 68 03 01 01 05 16")
    assert checksum(bytes([0xFF, 0x02])) == 0x01  # modulo 256


def test_frames_split_anywhere_and_glued_together_are_read_back():
    frames = [Frame(1, KEY, b"\x02"), Frame(2, SHOW, b"A012 CALL 1"), Frame(247, 0x20)]
    stream = b"".join(f.encode() for f in frames)
    reader = FrameReader()
    got = []
    for i in range(0, len(stream), 3):
        got += reader.feed(stream[i:i + 3])
    assert got == frames and reader.errors == {}


@pytest.mark.parametrize("spoil, kind", [
    (lambda f: f[:-2] + bytes([(f[-2] + 1) % 256]) + f[-1:], "checksum"),
    (lambda f: f[:3] + bytes([f[3] + 1]) + f[4:], "bad_header"),
    (lambda f: f[:-1] + b"\x00", "no_end"),
    (lambda f: b"\x00\x01noise" + f[:4], "garbage"),
])
def test_a_bad_frame_is_dropped_named_and_the_next_good_one_still_read(spoil, kind, caplog):
    good = encode(5, KEY, b"\x01")
    reader = FrameReader()
    frames = reader.feed(spoil(good) + good)
    assert frames == [Frame(5, KEY, b"\x01")]
    assert reader.errors.get(kind, 0) >= 1, reader.errors
    assert "dropped a bad frame" in caplog.text


def test_oversized_data_is_refused_when_encoding():
    with pytest.raises(ValueError):
        encode(1, SHOW, b"x" * 65)
