"""A fake ESC/POS thermal printer that behaves like one, on a pty or a TCP port.

It reads what a driver sends into an input buffer, prints it at the speed a thermal head prints, answers
status queries in whatever state a test sets, keeps the paper roll and renders it to PNG. Tests assert on
what a citizen would read: the text lines (`lines()`), how big each was printed, and the QR codes
(decode `roll_image()` with zxing-cpp). The parser is the renderer's own command table
(`hardware.printing.escpos`); the mechanism is in `printer_mechanism.py`, the roll in `printer_roll.py`.

Timing (all on the injected `clock`; defaults print at once, as the older tests expect):

    speed_mm_s       print speed; None prints instantly. Text lines, rasters and feeds take their paper
                     length / speed (8 dots per mm); a line never takes less than `line_time` seconds
    line_time        seconds per printed text line at least (a slow head)
    buffer_bytes     input buffer; while it is full the fake stops reading the port, so the driver's writes
                     block (a pty) or queue (TCP), as against a real printer
    status_behind_data
                     True: DLE EOT is answered only when the print data before it has been printed (a
                     network printer; the default on TCP). False: answered on receipt (serial; pty default)
    stalled          the mechanism stops: nothing more prints and nothing queued is answered

Fault switches (attributes; set them any time, also while a job is arriving):

    paper_out        the roll is empty: nothing prints; DLE EOT 4 reports paper end, DLE EOT 1 offline
    paper_low        the near-end sensor is on (still prints)
    cover_open       the cover is open: nothing prints; DLE EOT 2 reports it, DLE EOT 1 offline
    silent           never answers a status query (a printer switched off at the far end of a cable)
    garbage          answers status queries with bytes no printer sends (wrong baud rate, line noise)
    paper_runs_out_after = N
                     the paper runs out after N more bytes of print data (mid-job)
    answer_delay     seconds before a status answer goes out (measured on the injected clock)
    after_cut(n, **switches)
                     set switches once n more slips have been cut (e.g. `after_cut(1, silent=True)`: the
                     printer goes silent just after printing a ticket)
    unplug()         closes the port (pty master / TCP sockets): the driver's next read/write fails
                     and a pty device path disappears
    chinese_font     False: FS & is ignored and GB18030 bytes print as code-page junk, like a printer
                     without a Chinese font
    answers_sync     False: GS r 1 is ignored, like printers that do not implement it

Use it without a port too: `FakePrinter().feed(data)` parses bytes directly (fast unit tests).

Status answers: DLE EOT 1, 2, 4 (one byte each, bits 1 and 4 set) and GS r 1 (paper sensor: bits 0-1
near end, bits 2-3 paper end; processed in order, after the print data before it).
"""
from __future__ import annotations

import logging
import os
import random
import select
import socket
import threading
import time
from collections import deque
from typing import Callable

from hardware.printing import escpos
from hardware.printing.paper import DOTS_PER_MM
from hardware.fakes.printer_mechanism import Mechanism
from hardware.fakes.pty import close_quietly, open_raw
from hardware.fakes.printer_roll import CutMark, PrintedImage, PrintedLine, roll_image, split_pages
from hardware.fakes.printer_roll import Feed  # noqa: F401 - re-exported for tests

log = logging.getLogger("onewindow.fake_printer")

PRINTING = {"text", "lf", "tab", "feed_lines", "feed_dots", "cut", "raster", "function"}
ANSWERED = {"status", "sync_status"}


class FakePrinter(Mechanism):
    def __init__(self, paper_mm: int = 80, chinese_font: bool = True, transport: str | None = None,
                 clock: Callable[[], float] = time.monotonic, name: str = "fake", speed_mm_s: float | None = None,
                 line_time: float = 0.0, buffer_bytes: int = 4096, status_behind_data: bool | None = None):
        super().__init__(paper_mm, chinese_font)
        self.clock = clock
        self.name = name
        self.speed_mm_s, self.line_time, self.buffer_bytes = speed_mm_s, line_time, buffer_bytes
        self.status_behind_data = transport == "tcp" if status_behind_data is None else status_behind_data
        # fault switches
        self.paper_out = self.paper_low = self.cover_open = self.silent = self.garbage = self.stalled = False
        self.paper_runs_out_after: int | None = None
        self.answer_delay = 0.0
        self.answers_sync = True
        self._schedule: list[list] = []  # [cuts to go, switches]
        # what happened
        self.received = bytearray()
        self.status_queries: list[int] = []
        self.lost_bytes = 0  # print data that arrived while the printer could not print
        self.unplugged = False
        self._lock = threading.RLock()
        self._pending = b""                       # an incomplete command at the end of what arrived
        self._queue: deque[escpos.Token] = deque()  # the input buffer, as tokens
        self._queued_bytes = 0
        self._free_at = 0.0                       # when the mechanism finishes what it is printing
        self._answers: list[tuple[float, bytes]] = []
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
            self._master, self._slave = open_raw()
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
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._thread = None
        self._close_port()

    def unplug(self) -> None:
        """Pull the cable: close the port so the driver's next read or write fails."""
        log.info("%s: unplugged", self.name)
        self.unplugged = True
        self.stop()

    def _close_port(self) -> None:
        close_quietly(self._master, self._slave)
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
                self._serve_pty() if self.transport == "pty" else self._serve_tcp()
                self.advance()
            except OSError as exc:
                if not self._stop.is_set():
                    log.warning("%s: port error: %s", self.name, exc)
                    time.sleep(0.01)

    @property
    def _room(self) -> bool:
        return self._queued_bytes < self.buffer_bytes  # a command longer than the buffer streams in

    def _serve_pty(self) -> None:
        master = self._master
        if master is None:
            return
        r, _, _ = select.select([master] if self._room else [], [], [], 0.005)
        if r:
            self.receive(os.read(master, self.buffer_bytes))
        self._flush_answers(lambda b: os.write(master, b))

    def _serve_tcp(self) -> None:
        assert self._server is not None
        r, _, _ = select.select([self._server] + (self._conns if self._room else []), [], [], 0.005)
        for s in r:
            if s is self._server:
                conn, _ = self._server.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._conns.append(conn)
                continue
            try:
                data = s.recv(self.buffer_bytes)
            except OSError:
                data = b""
            if not data:
                self._conns.remove(s)
                s.close()
                continue
            self.receive(data)
        conns = list(self._conns)
        if conns:
            self._flush_answers(lambda b: conns[-1].sendall(b))
        else:
            with self._lock:
                self._answers.clear()

    def _flush_answers(self, send: Callable[[bytes], object]) -> None:
        now = self.clock()
        with self._lock:
            due = [a for t, a in self._answers if t <= now]
            self._answers = [(t, a) for t, a in self._answers if t > now]
        for a in due:
            send(a)

    # ------------------------------------------------------------------ input buffer and timing
    def feed(self, data: bytes) -> None:
        """Bytes arriving from the driver, printed as far as the clock allows (at once without a speed)."""
        self.receive(data)
        self.advance()

    def receive(self, data: bytes) -> None:
        """Bytes into the input buffer; real-time commands are answered now unless behind data."""
        with self._lock:
            self.received += data
            buf = self._pending + data
            if not self._queue and self._free_at < self.clock():
                self._free_at = self.clock()
            pos = 0
            while pos < len(buf):
                tok = escpos.next_token(buf, pos)
                if tok is None:
                    break
                pos += len(tok.data)
                if tok.command is not None and tok.command.realtime and not self.status_behind_data:
                    self.advance()  # the answer tells the state at this moment
                    self._answer(tok)
                    continue
                self._queue.append(tok)
                self._queued_bytes += len(tok.data)
            self._pending = buf[pos:]

    def advance(self) -> None:
        """Print what the clock says is printed by now."""
        with self._lock:
            now = self.clock()
            while self._queue and not self.stalled and self._free_at <= now:
                tok = self._queue.popleft()
                self._queued_bytes -= len(tok.data)
                self._free_at += self._execute(tok)

    @property
    def busy(self) -> bool:
        """Data is waiting in the buffer or still being printed."""
        return bool(self._queue) or self._free_at > self.clock()

    def _execute(self, tok: escpos.Token) -> float:
        """Carry out one token from the buffer; the seconds the mechanism is busy with it."""
        if tok.name in ANSWERED:
            self._answer(tok)
            return 0.0
        if not self.can_print and tok.name in PRINTING:
            self.lost_bytes += len(tok.data)
            self._use_paper(len(tok.data))
            return 0.0
        if not self.can_print:
            self.lost_bytes += len(tok.data)
        before = len(self.roll)
        dots = self.execute(tok)
        self._use_paper(len(tok.data))
        if self.speed_mm_s is None:
            return 0.0
        lines = sum(isinstance(r, PrintedLine) for r in self.roll[before:])
        return max(dots / (DOTS_PER_MM * self.speed_mm_s), lines * self.line_time)

    def _use_paper(self, n: int) -> None:
        """Count n bytes of print data against the paper (the roll runs out after `paper_runs_out_after`)."""
        if self.paper_runs_out_after is not None:
            self.paper_runs_out_after -= n
            if self.paper_runs_out_after < 0:
                self.paper_runs_out_after = None
                self.paper_out = True
                log.info("%s: paper ran out mid-job", self.name)

    # ------------------------------------------------------------------ status and faults
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

    def sensor_byte(self) -> int:
        """The GS r 1 answer: bits 0-1 near end, bits 2-3 paper end."""
        return (0x03 if self.paper_low or self.paper_out else 0) | (0x0C if self.paper_out else 0)

    def _answer(self, tok: escpos.Token) -> None:
        n = tok.data[2]
        self.status_queries.append(n if tok.name == "status" else -n)  # GS r n is recorded as -n
        if self.silent or (tok.name == "sync_status" and not self.answers_sync):
            return
        if self.garbage:
            reply = bytes([random.choice([0xFF, 0x00, 0x81, 0xA5, 0x7E])]) + b"\xff"
        else:
            reply = bytes([self.status_byte(n) if tok.name == "status" else self.sensor_byte()])
        self._answers.append((self.clock() + self.answer_delay, reply))

    def after_cut(self, cuts: int = 1, **switches) -> None:
        """Set fault switches once `cuts` more slips have been cut."""
        for key in switches:
            if not hasattr(self, key):
                raise AttributeError(f"no fault switch {key!r}")
        self._schedule.append([cuts, switches])

    def on_cut(self) -> None:
        for entry in list(self._schedule):
            entry[0] -= 1
            if entry[0] <= 0:
                self._schedule.remove(entry)
                for key, value in entry[1].items():
                    log.info("%s: after the cut, %s = %r", self.name, key, value)
                    setattr(self, key, value)

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
        return split_pages(self.printed())

    def images(self) -> list[PrintedImage]:
        return [r for r in self.printed() if isinstance(r, PrintedImage)]

    def wait_idle(self, quiet: float = 0.05, timeout: float = 2.0) -> None:
        """Wait (real time) until no bytes arrived for `quiet` seconds and the buffer is printed."""
        deadline = time.monotonic() + timeout
        last, since = len(self.received), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.005)
            if len(self.received) != last or self.busy:
                last, since = len(self.received), time.monotonic()
            elif time.monotonic() - since >= quiet:
                return

    def roll_image(self, records: list | None = None, margin: int = 16):
        """The paper roll as a picture (RGB, white paper, black print, grey margins)."""
        return roll_image(self.printed() if records is None else records, self.dots, margin)

    def save_png(self, path, records: list | None = None) -> None:
        """Save the roll as a grey-scale PNG (a thermal printer has no grey: it compresses well)."""
        self.roll_image(records).convert("L").save(path, optimize=True)
