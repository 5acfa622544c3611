"""A fake ESC/POS thermal printer that behaves like one, on a pty or a TCP port.

It reads what a driver sends, answers DLE EOT status queries in whatever state a test sets, prints onto a
modelled paper roll, and renders the roll to PNG. Tests assert on what a citizen would read: the text lines
(`lines()`), how big each was printed, and the QR codes (decode `roll_image()` with zxing-cpp).

Fault switches (attributes; set them any time, also while a job is arriving):

    paper_out        the roll is empty: nothing prints; DLE EOT 4 reports paper end, DLE EOT 1 offline
    paper_low        the near-end sensor is on (still prints)
    cover_open       the cover is open: nothing prints; DLE EOT 2 reports it, DLE EOT 1 offline
    silent           never answers a status query (a printer switched off at the far end of a cable)
    garbage          answers status queries with bytes no printer sends (wrong baud rate, line noise)
    paper_runs_out_after = N
                     the paper runs out after N more bytes of print data (mid-job)
    answer_delay     seconds before a status answer goes out (measured on the injected clock)
    unplug()         closes the port (pty master / TCP sockets): the driver's next read/write fails
                     and a pty device path disappears
    chinese_font     False: FS & is ignored and GB18030 bytes print as code-page junk, like a printer
                     without a Chinese font

Use it without a port too: `FakePrinter().feed(data)` parses bytes directly (fast unit tests).

What it understands: ESC @, ESC a, ESC E, ESC !, ESC - , ESC M, ESC t, ESC d, ESC J, ESC 2, ESC 3, GS !,
GS B, GS L, GS W, GS a, GS V, GS v 0, GS ( k (QR model 2: module size, error level, store, print), FS &,
FS ., FS !, DLE EOT 1-4, LF, CR, HT. Anything else is recorded in `unknown` (and tests fail on it).
"""
from __future__ import annotations

import logging
import os
import random
import select
import socket
import threading
import time
import tty
from dataclasses import dataclass, field
from typing import Callable

import qrcode
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger("onewindow.fake_printer")

PAPER_DOTS = {58: 384, 80: 576}
CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 16: "cp1252", 17: "cp866", 19: "cp858"}
FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
LINE_SPACING = 30  # dots, ESC 2 default


@dataclass
class PrintedLine:
    """One line of text as it came out of the printer."""

    text: str
    dots: int               # width in dots
    width: int = 1          # largest horizontal magnification on the line
    height: int = 1         # largest vertical magnification on the line
    bold: bool = False      # any bold character
    align: str = "left"
    wrapped: bool = False   # the printer had to wrap it: the line was wider than the paper
    chars: list = field(default_factory=list, repr=False)  # (char, dots, width, height, bold)


@dataclass
class PrintedImage:
    """A raster picture or a QR code on the roll (mode "1", ink = 1)."""

    image: Image.Image
    kind: str = "raster"      # raster | qr
    qr_data: bytes = b""
    too_wide: bool = False    # the raster was wider than the paper


@dataclass
class Feed:
    dots: int


@dataclass
class CutMark:
    partial: bool


class FakePrinter:
    def __init__(self, paper_mm: int = 80, chinese_font: bool = True, transport: str | None = None,
                 clock: Callable[[], float] = time.monotonic, name: str = "fake"):
        if paper_mm not in PAPER_DOTS:
            raise ValueError("paper_mm must be 58 or 80")
        self.paper_mm = paper_mm
        self.dots = PAPER_DOTS[paper_mm]
        self.chinese_font = chinese_font
        self.clock = clock
        self.name = name
        # fault switches
        self.paper_out = False
        self.paper_low = False
        self.cover_open = False
        self.silent = False
        self.garbage = False
        self.paper_runs_out_after: int | None = None
        self.answer_delay = 0.0
        # what happened
        self.roll: list[PrintedLine | PrintedImage | Feed | CutMark] = []
        self.received = bytearray()
        self.status_queries: list[int] = []
        self.unknown: list[bytes] = []
        self.lost_bytes = 0  # print data that arrived while the printer could not print
        self.unplugged = False
        self._buf = bytearray()
        self._lock = threading.RLock()
        self._answers: list[tuple[float, bytes]] = []
        self._reset_modes()
        self._line: list = []
        self._line_align = None
        # transport
        self.transport = transport
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._master: int | None = None
        self._slave: int | None = None
        self.device: str | None = None
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self.port: int | None = None

    # ------------------------------------------------------------------ transport
    def start(self) -> "FakePrinter":
        if self.transport == "pty":
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            self.device = os.ttyname(self._slave)
        elif self.transport == "tcp":
            self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._server.bind(("127.0.0.1", self.port or 0))
            self._server.listen(4)
            self.port = self._server.getsockname()[1]
        else:
            raise ValueError("transport must be 'pty' or 'tcp' to start the fake on a port")
        self.unplugged = False
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"fake-printer-{self.name}", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        if self.transport == "pty":
            return f"serial://{self.device}?baudrate=115200"
        if self.transport == "tcp":
            return f"tcp://127.0.0.1:{self.port}"
        raise ValueError("not started on a port")

    def __enter__(self) -> "FakePrinter":
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self._close_port()

    def unplug(self) -> None:
        """Pull the cable: close the port so the driver's next read or write fails."""
        log.info("%s: unplugged", self.name)
        self.unplugged = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
            self._thread = None
        self._close_port()

    def _close_port(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
        for s in self._conns + ([self._server] if self._server else []):
            try:
                s.close()
            except OSError:
                pass
        self._conns, self._server = [], None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.transport == "pty":
                    self._serve_pty()
                else:
                    self._serve_tcp()
            except OSError as exc:
                if not self._stop.is_set():
                    log.warning("%s: port error: %s", self.name, exc)
                    time.sleep(0.01)

    def _serve_pty(self) -> None:
        master = self._master
        if master is None:
            return
        r, _, _ = select.select([master], [], [], 0.01)
        if r:
            data = os.read(master, 65536)
            self.feed(data)
        self._flush_answers(lambda b: os.write(master, b))

    def _serve_tcp(self) -> None:
        assert self._server is not None
        r, _, _ = select.select([self._server] + self._conns, [], [], 0.01)
        for s in r:
            if s is self._server:
                conn, _ = self._server.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._conns.append(conn)
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._conns.remove(s)
                s.close()
                continue
            self.feed(data)
        conns = list(self._conns)
        if conns:
            self._flush_answers(lambda b: conns[-1].sendall(b))
        else:
            self._answers.clear()

    def _flush_answers(self, send: Callable[[bytes], object]) -> None:
        now = self.clock()
        with self._lock:
            due = [a for t, a in self._answers if t <= now]
            self._answers = [(t, a) for t, a in self._answers if t > now]
        for a in due:
            send(a)

    # ------------------------------------------------------------------ state
    def _reset_modes(self) -> None:
        self.align = "left"
        self.bold = False
        self.mag = (1, 1)
        self.chinese = False
        self.code_page = 0
        self.line_spacing = LINE_SPACING
        self._qr = {"module": 3, "ecc": 49, "data": b""}

    @property
    def can_print(self) -> bool:
        return not (self.paper_out or self.cover_open or self.unplugged)

    def status_byte(self, n: int) -> int:
        """The DLE EOT n answer for the current state (fixed bits 0x12 set)."""
        b = 0x12
        if n == 1 and not self.can_print:
            b |= 0x08
        elif n == 2:
            b |= (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)
        elif n == 4:
            b |= (0x0C if self.paper_low or self.paper_out else 0) | (0x60 if self.paper_out else 0)
        return b

    # ------------------------------------------------------------------ parser
    def feed(self, data: bytes) -> None:
        """Bytes arriving from the driver."""
        with self._lock:
            self.received += data
            self._buf += data
            pos = 0
            buf = self._buf
            while pos < len(buf):
                used = self._step(buf, pos)
                if used == 0:
                    break  # incomplete command: wait for more bytes
                if buf[pos] != 0x10:  # real-time commands use no paper
                    self._count_print_bytes(used)
                pos += used
            del buf[:pos]

    def _answer(self, n: int) -> None:
        self.status_queries.append(n)
        if self.silent:
            return
        if self.garbage:
            reply = bytes([random.choice([0xFF, 0x00, 0x81, 0xA5, 0x7E])]) + b"\xff"
        else:
            reply = bytes([self.status_byte(n)])
        self._answers.append((self.clock() + self.answer_delay, reply))

    def _count_print_bytes(self, n: int) -> None:
        """Count n bytes of print data against the paper (the roll runs out after `paper_runs_out_after`)."""
        if not self.can_print:
            self.lost_bytes += n
        if self.paper_runs_out_after is not None:
            self.paper_runs_out_after -= n
            if self.paper_runs_out_after < 0:
                self.paper_runs_out_after = None
                self.paper_out = True
                log.info("%s: paper ran out mid-job", self.name)

    def _step(self, buf: bytearray, pos: int) -> int:  # noqa: C901 - one branch per command
        b = buf[pos]
        rest = len(buf) - pos

        def need(k: int) -> bool:
            return rest >= k

        if b == 0x10:  # DLE
            if not need(3):
                return 0
            if buf[pos + 1] == 0x04 and 1 <= buf[pos + 2] <= 4:
                self._answer(buf[pos + 2])
                return 3
            self.unknown.append(bytes(buf[pos:pos + 3]))
            return 3
        printing = self.can_print
        if b == 0x0A:
            if printing:
                self._newline()
            return 1
        if b in (0x0D, 0x00):
            return 1
        if b == 0x09:
            if printing:
                self._put(" " * 4, 12)
            return 1
        if b == 0x1B:  # ESC
            if not need(2):
                return 0
            c = buf[pos + 1]
            if c == 0x40:
                self._flush_line()
                self._reset_modes()
                return 2
            if c in (0x32,):
                self.line_spacing = LINE_SPACING
                return 2
            one_arg = {0x61, 0x45, 0x21, 0x2D, 0x4D, 0x74, 0x64, 0x4A, 0x33, 0x47, 0x52, 0x20, 0x7B}
            if c in one_arg:
                if not need(3):
                    return 0
                n = buf[pos + 2]
                if c == 0x61:
                    self.align = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}.get(n, "left")
                elif c == 0x45:
                    self.bold = bool(n & 1)
                elif c == 0x21:
                    self.bold = bool(n & 0x08)
                    self.mag = (2 if n & 0x20 else 1, 2 if n & 0x10 else 1)
                elif c == 0x74:
                    if n not in CODE_PAGES:
                        self.unknown.append(bytes(buf[pos:pos + 3]))
                    self.code_page = n
                elif c == 0x64 and self.can_print:
                    self._flush_line()
                    self.roll.append(Feed(n * self.line_spacing))
                elif c == 0x4A and self.can_print:
                    self._flush_line()
                    self.roll.append(Feed(n))
                elif c == 0x33:
                    self.line_spacing = n
                return 3
            self.unknown.append(bytes(buf[pos:pos + 2]))
            return 2
        if b == 0x1D:  # GS
            if not need(2):
                return 0
            c = buf[pos + 1]
            if c == 0x21:
                if not need(3):
                    return 0
                n = buf[pos + 2]
                self.mag = ((n >> 4) + 1, (n & 0x0F) + 1)
                return 3
            if c in (0x42, 0x61, 0x66, 0x68, 0x77, 0x48):
                return 3 if need(3) else 0
            if c in (0x4C, 0x57):
                return 4 if need(4) else 0
            if c == 0x56:  # GS V m [n]
                if not need(3):
                    return 0
                m = buf[pos + 2]
                size = 4 if m in (65, 66, 97, 98, 103, 104) else 3
                if not need(size):
                    return 0
                if self.can_print:
                    self._flush_line()
                    if size == 4:
                        self.roll.append(Feed(buf[pos + 3] * self.line_spacing))
                    self.roll.append(CutMark(partial=m in (1, 49, 66, 98)))
                return size
            if c == 0x76:  # GS v 0 m xL xH yL yH d...
                if not need(8):
                    return 0
                wb = buf[pos + 4] | buf[pos + 5] << 8
                h = buf[pos + 6] | buf[pos + 7] << 8
                total = 8 + wb * h
                if not need(total):
                    return 0
                ok = self.can_print
                if ok:
                    self._flush_line()
                    img = Image.frombytes("1", (wb * 8, h), bytes(buf[pos + 8:pos + total]))
                    self.roll.append(PrintedImage(img, "raster", too_wide=wb * 8 > self.dots))
                return total
            if c == 0x28:  # GS ( k pL pH cn fn ...
                if not need(5):
                    return 0
                ln = buf[pos + 3] | buf[pos + 4] << 8
                total = 5 + ln
                if not need(total):
                    return 0
                ok = self.can_print
                if buf[pos + 2] == 0x6B and ln >= 2 and buf[pos + 5] == 0x31:
                    fn, args = buf[pos + 6], bytes(buf[pos + 7:pos + total])
                    if fn == 0x43:
                        self._qr["module"] = args[0]
                    elif fn == 0x45:
                        self._qr["ecc"] = args[0]
                    elif fn == 0x50:
                        self._qr["data"] = args[1:]
                    elif fn == 0x51 and ok:
                        self._flush_line()
                        self._print_qr()
                    return total
                self.unknown.append(bytes(buf[pos:pos + min(total, 8)]))
                return total
            self.unknown.append(bytes(buf[pos:pos + 2]))
            return 2
        if b == 0x1C:  # FS
            if not need(2):
                return 0
            c = buf[pos + 1]
            if c == 0x26:
                self.chinese = self.chinese_font
                return 2
            if c == 0x2E:
                self.chinese = False
                return 2
            if c in (0x21, 0x2D, 0x57):
                return 3 if need(3) else 0
            self.unknown.append(bytes(buf[pos:pos + 2]))
            return 2
        if b < 0x20 or b == 0x7F:
            self.unknown.append(bytes([b]))
            return 1
        # printable
        if b < 0x80:
            if printing:
                self._put(chr(b), 12)
            return 1
        if self.chinese:
            if not need(2):
                return 0
            b2 = buf[pos + 1]
            k = 4 if 0x30 <= b2 <= 0x39 else 2
            if not need(k):
                return 0
            try:
                ch = bytes(buf[pos:pos + k]).decode("gb18030")
            except UnicodeDecodeError:
                ch = "\ufffd"
            if printing:
                self._put(ch, 24)
            return k
        ch = bytes([b]).decode(CODE_PAGES.get(self.code_page, "cp437"), "replace")
        if printing:
            self._put(ch, 12)
        return 1

    # ------------------------------------------------------------------ the roll
    def _put(self, ch: str, base_dots: int) -> None:
        w, h = self.mag
        dots = base_dots * w
        used = sum(c[1] for c in self._line)
        if not self._line:
            self._line_align = self.align
        if used + dots > self.dots:  # the printer wraps by itself: a layout bug
            self._flush_line(wrapped=True)
            self._line_align = self.align
        self._line.append((ch, dots, w, h, self.bold))

    def _newline(self) -> None:
        if self._line:
            self._flush_line()
        else:
            self.roll.append(Feed(self.line_spacing))

    def _flush_line(self, wrapped: bool = False) -> None:
        if not self._line:
            return
        chars = self._line
        self.roll.append(PrintedLine(
            text="".join(c[0] for c in chars), dots=sum(c[1] for c in chars),
            width=max(c[2] for c in chars), height=max(c[3] for c in chars),
            bold=any(c[4] for c in chars), align=self._line_align or "left", wrapped=wrapped, chars=chars))
        self._line = []

    def _print_qr(self) -> None:
        level = {48: qrcode.constants.ERROR_CORRECT_L, 49: qrcode.constants.ERROR_CORRECT_M,
                 50: qrcode.constants.ERROR_CORRECT_Q, 51: qrcode.constants.ERROR_CORRECT_H}
        q = qrcode.QRCode(error_correction=level.get(self._qr["ecc"], qrcode.constants.ERROR_CORRECT_M),
                          box_size=max(1, self._qr["module"]), border=4)
        q.add_data(self._qr["data"])
        q.make(fit=True)
        m = q.get_matrix()
        n, k = len(m), max(1, self._qr["module"])
        small = Image.frombytes("L", (n, n), bytes(255 if v else 0 for row in m for v in row))
        img = small.resize((n * k, n * k), Image.NEAREST).convert("1")
        canvas = Image.new("1", (self.dots, img.height), 0)
        x = {"left": 0, "center": (self.dots - img.width) // 2, "right": self.dots - img.width}[self.align]
        canvas.paste(img, (max(0, x), 0))
        self.roll.append(PrintedImage(canvas, "qr", qr_data=bytes(self._qr["data"]), too_wide=img.width > self.dots))

    # ------------------------------------------------------------------ what a citizen reads
    def printed(self) -> list:
        with self._lock:
            return list(self.roll)

    def lines(self) -> list[str]:
        """The text lines on the roll, in order."""
        return [r.text for r in self.printed() if isinstance(r, PrintedLine)]

    def text(self) -> str:
        return "\n".join(self.lines())

    def find(self, text: str) -> PrintedLine | None:
        """The first printed line containing `text`."""
        return next((r for r in self.printed() if isinstance(r, PrintedLine) and text in r.text), None)

    def cuts(self) -> int:
        return sum(isinstance(r, CutMark) for r in self.printed())

    def pages(self) -> list[list]:
        """The roll split at each cut: one list of records per slip."""
        pages, cur = [], []
        for r in self.printed():
            if isinstance(r, CutMark):
                pages.append(cur)
                cur = []
            else:
                cur.append(r)
        if cur:
            pages.append(cur)
        return pages

    def wait_idle(self, quiet: float = 0.05, timeout: float = 2.0) -> None:
        """Wait (real time) until no bytes arrived for `quiet` seconds: for port-based tests."""
        deadline = time.monotonic() + timeout
        last, since = len(self.received), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.005)
            if len(self.received) != last:
                last, since = len(self.received), time.monotonic()
            elif time.monotonic() - since >= quiet:
                return

    def roll_image(self, records: list | None = None, margin: int = 16) -> Image.Image:
        """The paper roll as a picture (RGB, white paper, black print, grey margins)."""
        records = self.printed() if records is None else records
        items: list[tuple[int, Image.Image | None, object]] = []
        height = margin
        for r in records:
            if isinstance(r, PrintedLine):
                h = max(LINE_SPACING, 24 * r.height + 6)
                items.append((height, None, r))
                height += h
            elif isinstance(r, PrintedImage):
                items.append((height, r.image, r))
                height += r.image.height
            elif isinstance(r, Feed):
                height += r.dots
            elif isinstance(r, CutMark):
                items.append((height, None, r))
                height += 12
        height += margin
        out = Image.new("L", (self.dots + 2 * margin, height), 255)
        draw = ImageDraw.Draw(out)
        draw.rectangle([0, 0, margin - 1, height], fill=200)
        draw.rectangle([self.dots + margin, 0, self.dots + 2 * margin, height], fill=200)
        for y, img, r in items:
            if isinstance(r, PrintedImage):
                ink = img.point(lambda v: 0 if v else 255, mode="L")  # type: ignore[union-attr]
                out.paste(ink.crop((0, 0, min(ink.width, self.dots), ink.height)), (margin, y))
            elif isinstance(r, PrintedLine):
                self._draw_line(out, r, margin, y)
            elif isinstance(r, CutMark):
                for x in range(margin, self.dots + margin, 12):
                    draw.line([x, y + 6, x + 6, y + 6], fill=120)
        return out.convert("RGB")

    def save_png(self, path, records: list | None = None) -> None:
        """Save the roll as a grey-scale PNG (a thermal printer has no grey: it compresses well)."""
        self.roll_image(records).convert("L").save(path, optimize=True)

    def _draw_line(self, out: Image.Image, line: PrintedLine, margin: int, y: int) -> None:
        x = {"left": 0, "center": (self.dots - line.dots) // 2, "right": self.dots - line.dots}[line.align]
        x = margin + max(0, x)
        draw = ImageDraw.Draw(out)
        draw.fontmode = "1"  # dots are on or off, as on thermal paper
        for ch, dots, w, h, bold in line.chars:
            wide = dots // w >= 24
            font = _fake_font(24 * h if wide else 20 * h, not wide)
            cx = x + dots / 2
            for dx in ((0, 1) if bold else (0,)):
                draw.text((cx + dx, y + round(24 * h * (0.84 if wide else 0.80))), ch, font=font, fill=0,
                          anchor="ms")
            x += dots


_FONTS: dict = {}


def _fake_font(size: int, mono: bool) -> ImageFont.FreeTypeFont:
    key = (size, mono)
    if key not in _FONTS:
        _FONTS[key] = ImageFont.truetype(FONT_PATH, size, index=1 if mono else 0)
    return _FONTS[key]
