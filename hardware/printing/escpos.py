"""The few ESC/POS commands onewindow sends, as bytes (Epson ESC/POS, as Chinese thermal printers speak it).

Kept in one place so the renderer reads like the document and the fake printer's parser can be checked
against the same numbers.
"""
from __future__ import annotations

ESC, GS, FS, DLE, EOT, LF = b"\x1b", b"\x1d", b"\x1c", b"\x10", b"\x04", b"\n"

INIT = ESC + b"@"
CHINESE_ON = FS + b"&"    # FS &: two-byte (GB18030) characters from the Chinese font
CHINESE_OFF = FS + b"."   # FS .: back to one-byte code-page characters
ALIGN = {"left": ESC + b"a\x00", "center": ESC + b"a\x01", "right": ESC + b"a\x02"}
BOLD_ON, BOLD_OFF = ESC + b"E\x01", ESC + b"E\x00"
QR_ECC = {"L": 48, "M": 49, "Q": 50, "H": 51}


def size(width: int, height: int) -> bytes:
    """GS ! n: character magnification, 1-8 each way."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError(f"magnification {width}x{height} outside 1-8")
    return GS + b"!" + bytes([((width - 1) << 4) | (height - 1)])


def feed(lines: int) -> bytes:
    """ESC d n: print and feed n lines."""
    return ESC + b"d" + bytes([max(0, min(255, lines))])


def cut(partial: bool = True, feed_lines: int = 4) -> bytes:
    """GS V 66 n (partial) / GS V 65 n (full): feed n lines to the cutter, then cut."""
    return GS + b"V" + (b"B" if partial else b"A") + bytes([feed_lines])


def status_query(n: int) -> bytes:
    """DLE EOT n: real-time status. 1 printer, 2 offline cause, 3 error cause, 4 paper roll sensor."""
    return DLE + EOT + bytes([n])


def raster(width_bytes: int, height: int, data: bytes) -> bytes:
    """GS v 0 m xL xH yL yH d1...dk: a raster bit image, 1 bit per dot, MSB left, 1 = black."""
    if len(data) != width_bytes * height:
        raise ValueError(f"raster needs {width_bytes * height} bytes, got {len(data)}")
    return (GS + b"v0\x00" + width_bytes.to_bytes(2, "little") + height.to_bytes(2, "little") + data)


def qr_native(data: bytes, module: int, ecc: str) -> bytes:
    """GS ( k: select model 2, set module size and error correction, store the data, print it."""
    if not 1 <= module <= 16:
        raise ValueError(f"QR module size {module} outside 1-16")
    if len(data) > 7089:
        raise ValueError("QR data too long")
    store_len = len(data) + 3
    return (
        GS + b"(k\x04\x001A2\x00"                                    # fn 65: model 2
        + GS + b"(k\x03\x001C" + bytes([module])                     # fn 67: module size
        + GS + b"(k\x03\x001E" + bytes([QR_ECC[ecc]])                # fn 69: error correction
        + GS + b"(k" + store_len.to_bytes(2, "little") + b"1P0" + data  # fn 80: store
        + GS + b"(k\x03\x001Q0"                                     # fn 81: print
    )
