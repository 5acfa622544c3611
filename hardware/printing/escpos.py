"""The ESC/POS commands onewindow knows, as one table (Epson ESC/POS, as Chinese thermal printers speak it).

One source for both directions: the renderer builds its bytes from these definitions, the station
estimates how much paper a job feeds with `paper_dots`, and the fake printer's parser is driven by the
same table (`tokens` splits a byte stream into commands and text runs; the fake has one handler per
command name). A command the renderer sends but the fake does not understand cannot happen silently.

    DLE EOT n   real-time status (answered on receipt by serial printers; network printers often answer
                only after the data ahead of it is processed)
    GS r 1      paper-sensor status, answered after everything before it was processed: the station uses
                it to learn that a job has really gone through the printer
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from hardware.printing.paper import GLYPH_H, LINE_SPACING

ESC, GS, FS, DLE, EOT, LF = b"\x1b", b"\x1d", b"\x1c", b"\x10", b"\x04", b"\n"
INTRODUCERS = {0x10, 0x1B, 0x1C, 0x1D}


@dataclass(frozen=True)
class Command:
    """One ESC/POS command: its name, the bytes it starts with and how long it is.

    `args` fixed argument bytes follow the prefix, or `size(buf, pos)` gives the whole command's length
    from its first bytes (None: more bytes are needed). `realtime` commands are answered on receipt."""

    name: str
    prefix: bytes
    args: int = 0
    size: Callable[[bytes, int], int | None] | None = None
    realtime: bool = False

    def __call__(self, *args: int) -> bytes:
        if self.size is None and len(args) != self.args:
            raise ValueError(f"{self.name} takes {self.args} argument bytes, got {len(args)}")
        return self.prefix + bytes(args)

    def length(self, buf: bytes, pos: int) -> int | None:
        n = self.size(buf, pos) if self.size else len(self.prefix) + self.args
        return n if n is not None and len(buf) - pos >= n else None


def _cut_size(buf: bytes, pos: int) -> int | None:  # GS V m [n]
    if len(buf) - pos < 3:
        return None
    return 4 if buf[pos + 2] in (65, 66, 97, 98, 103, 104) else 3


def _raster_size(buf: bytes, pos: int) -> int | None:  # GS v 0 m xL xH yL yH d...
    if len(buf) - pos < 8:
        return None
    return 8 + (buf[pos + 4] | buf[pos + 5] << 8) * (buf[pos + 6] | buf[pos + 7] << 8)


def _function_size(buf: bytes, pos: int) -> int | None:  # GS ( k pL pH d...
    if len(buf) - pos < 5:
        return None
    return 5 + (buf[pos + 3] | buf[pos + 4] << 8)


COMMANDS = (
    Command("lf", LF), Command("cr", b"\r"), Command("tab", b"\t"), Command("nul", b"\x00"),
    Command("init", ESC + b"@"), Command("align", ESC + b"a", 1), Command("bold", ESC + b"E", 1),
    Command("print_mode", ESC + b"!", 1), Command("underline", ESC + b"-", 1), Command("font", ESC + b"M", 1),
    Command("code_page", ESC + b"t", 1), Command("feed_lines", ESC + b"d", 1), Command("feed_dots", ESC + b"J", 1),
    Command("line_spacing_default", ESC + b"2"), Command("line_spacing", ESC + b"3", 1),
    Command("double_strike", ESC + b"G", 1), Command("charset", ESC + b"R", 1),
    Command("right_spacing", ESC + b" ", 1), Command("upside_down", ESC + b"{", 1),
    Command("size", GS + b"!", 1), Command("reverse", GS + b"B", 1), Command("hri_position", GS + b"H", 1),
    Command("auto_status", GS + b"a", 1), Command("hri_font", GS + b"f", 1), Command("barcode_height", GS + b"h", 1),
    Command("barcode_width", GS + b"w", 1), Command("left_margin", GS + b"L", 2),
    Command("print_width", GS + b"W", 2), Command("cut", GS + b"V", size=_cut_size),
    Command("raster", GS + b"v0", size=_raster_size), Command("function", GS + b"(k", size=_function_size),
    Command("sync_status", GS + b"r", 1),
    Command("chinese_on", FS + b"&"), Command("chinese_off", FS + b"."), Command("chinese_mode", FS + b"!", 1),
    Command("chinese_underline", FS + b"-", 1), Command("chinese_quad", FS + b"W", 1),
    Command("status", DLE + EOT, 1, realtime=True),
)
BY_NAME = {c.name: c for c in COMMANDS}
_BY_PREFIX = {c.prefix: c for c in COMMANDS}
_UNKNOWN_LEN = {0x10: 3, 0x1B: 2, 0x1C: 2, 0x1D: 2}  # an unknown command is skipped this far


@dataclass(frozen=True)
class Token:
    """A piece of the byte stream: a command (`command` set), a run of text, or unknown bytes."""

    data: bytes
    command: Command | None = None
    unknown: bool = False

    @property
    def name(self) -> str:
        return self.command.name if self.command else ("unknown" if self.unknown else "text")


def next_token(buf: bytes, pos: int = 0) -> Token | None:
    """The token at `buf[pos]`, or None when the bytes there are an incomplete command."""
    b = buf[pos]
    if b >= 0x20 and b != 0x7F:  # text (GB18030 trail bytes are all >= 0x30: never a command)
        end = pos
        while end < len(buf) and buf[end] >= 0x20 and buf[end] != 0x7F:
            end += 1
        return Token(bytes(buf[pos:end]))
    for k in (3, 2, 1):
        cmd = _BY_PREFIX.get(bytes(buf[pos:pos + k]))
        if cmd is not None:
            n = cmd.length(buf, pos)
            return None if n is None else Token(bytes(buf[pos:pos + n]), cmd)
    if b in _UNKNOWN_LEN:
        n = _UNKNOWN_LEN[b]
        if len(buf) - pos < n:
            # a known prefix may still complete it (e.g. GS ( k, GS v 0)
            return None if any(p.startswith(bytes(buf[pos:])) for p in _BY_PREFIX) else \
                Token(bytes(buf[pos:]), unknown=True)
        if b == 0x1D and buf[pos + 1] in (0x28, 0x76) and len(buf) - pos < 3:
            return None
        return Token(bytes(buf[pos:pos + n]), unknown=True)
    return Token(bytes([b]), unknown=True)


def tokens(buf: bytes) -> Iterator[Token]:
    """Split a complete byte stream into tokens (an incomplete tail comes out as unknown bytes)."""
    pos = 0
    while pos < len(buf):
        tok = next_token(buf, pos) or Token(bytes(buf[pos:]), unknown=True)
        yield tok
        pos += len(tok.data)


# ----------------------------------------------------------------- builders the renderer uses
INIT = BY_NAME["init"]()
CHINESE_ON = BY_NAME["chinese_on"]()    # FS &: two-byte (GB18030) characters from the Chinese font
CHINESE_OFF = BY_NAME["chinese_off"]()  # FS .: back to one-byte code-page characters
ALIGNS = {"left": 0, "center": 1, "right": 2}
ALIGN = {name: BY_NAME["align"](n) for name, n in ALIGNS.items()}
BOLD_ON, BOLD_OFF = BY_NAME["bold"](1), BY_NAME["bold"](0)
QR_ECC = {"L": 48, "M": 49, "Q": 50, "H": 51}
SYNC_STATUS = BY_NAME["sync_status"](1)  # GS r 1: paper sensor, after the data before it


def size(width: int, height: int) -> bytes:
    """GS ! n: character magnification, 1-8 each way."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError(f"magnification {width}x{height} outside 1-8")
    return BY_NAME["size"](((width - 1) << 4) | (height - 1))


def feed(lines: int) -> bytes:
    """ESC d n: print and feed n lines."""
    return BY_NAME["feed_lines"](max(0, min(255, lines)))


def cut(partial: bool = True, feed_lines: int = 4) -> bytes:
    """GS V 66 n (partial) / GS V 65 n (full): feed n lines to the cutter, then cut."""
    return BY_NAME["cut"].prefix + bytes([66 if partial else 65, feed_lines])


def status_query(n: int) -> bytes:
    """DLE EOT n: real-time status. 1 printer, 2 offline cause, 3 error cause, 4 paper roll sensor."""
    return BY_NAME["status"](n)


def raster(width_bytes: int, height: int, data: bytes) -> bytes:
    """GS v 0 m xL xH yL yH d1...dk: a raster bit image, 1 bit per dot, MSB left, 1 = black."""
    if len(data) != width_bytes * height:
        raise ValueError(f"raster needs {width_bytes * height} bytes, got {len(data)}")
    return BY_NAME["raster"].prefix + b"\x00" + width_bytes.to_bytes(2, "little") + height.to_bytes(2, "little") + data


def function(fn: int, args: bytes) -> bytes:
    """GS ( k pL pH cn fn args: a QR-code function (cn = 49)."""
    return BY_NAME["function"].prefix + (len(args) + 2).to_bytes(2, "little") + b"1" + bytes([fn]) + args


def qr_native(data: bytes, module: int, ecc: str) -> bytes:
    """GS ( k: select model 2, set module size and error correction, store the data, print it."""
    if not 1 <= module <= 16:
        raise ValueError(f"QR module size {module} outside 1-16")
    if len(data) > 7089:
        raise ValueError("QR data too long")
    return (function(65, b"2\x00") + function(67, bytes([module])) + function(69, bytes([QR_ECC[ecc]]))
            + function(80, b"0" + data) + function(81, b"0"))


# ----------------------------------------------------------------- how much paper a job feeds
def paper_dots(data: bytes) -> int:
    """About how many dots of paper `data` feeds (text lines, rasters, QR codes, feeds, cuts): the station
    derives how long a printer needs for a job from it."""
    total, height, spacing, line, qr_module, qr_len = 0, 1, LINE_SPACING, False, 3, 0
    for tok in tokens(data):
        name, d = tok.name, tok.data
        if name == "text":
            line = True
        elif name == "lf":
            total += max(spacing, GLYPH_H * height + 6) if line else spacing
            line = False
        elif name == "size":
            height = (d[2] & 0x0F) + 1
        elif name == "line_spacing":
            spacing = d[2]
        elif name == "line_spacing_default":
            spacing = LINE_SPACING
        elif name == "feed_lines":
            total += d[2] * spacing
        elif name == "feed_dots":
            total += d[2]
        elif name == "raster":
            total += d[6] | d[7] << 8
        elif name == "cut":
            total += (d[3] * spacing if len(d) == 4 else 0) + 24
        elif name == "function" and len(d) > 6:
            if d[6] == 67:
                qr_module = d[7]
            elif d[6] == 80:
                qr_len = len(d) - 8
            elif d[6] == 81:  # version from the data length (byte mode, level M), plus the quiet zone
                version = next((v for v, cap in enumerate((14, 26, 42, 62, 84, 106, 122, 152, 180, 213), 1)
                                if qr_len <= cap), 12)
                total += qr_module * (17 + 4 * version + 8)
    return total
