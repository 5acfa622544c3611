"""A serial device that sends one line per reading (QR scanners in serial mode, ID-card reader bridges).

    dev = LineDevice("/dev/ttyACM0", on_line=print).start()   # or a pyserial URL, e.g. "loop://"
    dev.state        # "ok" while the port is open, "offline" while it is unplugged
    dev.stop()

A thread reads the port; each complete line (CR, LF or CR LF ended) goes to `on_line(text)`. A line that
is not UTF-8 or longer than `max_line` is dropped with a log line (line noise, a wrong baud rate). An
unplugged device (SerialException / OSError) sets `state = "offline"` and the port is reopened every
`reopen_seconds` until it is back (a udev symlink such as /dev/serial/by-id/... survives a replug).
`handle` runs on the reader thread: keep it short.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import serial

log = logging.getLogger("onewindow.hardware")


class LineDevice:
    kind = "line device"

    def __init__(self, port: str, on_line: Callable[[str], None] | None = None, baudrate: int = 9600,
                 max_line: int = 2048, reopen_seconds: float = 1.0, on_state: Callable[[str], None] | None = None):
        self.port, self.baudrate, self.max_line, self.reopen_seconds = port, baudrate, max_line, reopen_seconds
        self.on_line = on_line
        self.on_state = on_state
        self.state = "offline"
        self.lines_read = 0
        self.dropped = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ser = None
        self._discarding = False

    def start(self) -> "LineDevice":
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"{self.kind}-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self._close()

    def wait_state(self, state: str, timeout: float = 3.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.state != state and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.state == state

    # ------------------------------------------------------------------ the reader thread
    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            (log.info if state == "ok" else log.warning)("%s %s: %s", self.kind, self.port, state)
            if self.on_state is not None:
                try:
                    self.on_state(state)
                except Exception:  # noqa: BLE001
                    log.exception("%s %s: state listener failed", self.kind, self.port)

    def _open(self) -> bool:
        try:
            self._ser = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.1)
        except (serial.SerialException, OSError, ValueError) as exc:
            log.debug("%s %s: cannot open: %s", self.kind, self.port, exc)
            self._set_state("offline")
            return False
        self._set_state("ok")
        return True

    def _close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except Exception:  # noqa: BLE001
                pass
            self._ser = None

    def _run(self) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            if self._ser is None and not self._open():
                self._stop.wait(self.reopen_seconds)
                continue
            try:
                data = self._ser.read(self._ser.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                log.warning("%s %s: read failed (%s): unplugged?", self.kind, self.port, exc)
                self._close()
                self._set_state("offline")
                buf.clear()
                self._discarding = False
                continue
            if not data:
                continue
            buf += data
            buf = self._split(buf)

    def _split(self, buf: bytearray) -> bytearray:
        while True:
            ends = [i for i in (buf.find(b"\n"), buf.find(b"\r")) if i >= 0]
            if not ends:
                if len(buf) > self.max_line:  # too long for a code: drop it up to its line end
                    if not self._discarding:
                        self.dropped += 1
                        log.warning("%s %s: dropping a line longer than %d bytes", self.kind, self.port, self.max_line)
                    self._discarding = True
                    return bytearray()
                return buf
            end = min(ends)
            raw, buf = bytes(buf[:end]), buf[end + 1:]
            if self._discarding:
                self._discarding = False
            elif raw:
                self._line(raw)

    def _line(self, raw: bytes) -> None:
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            self.dropped += 1
            log.warning("%s %s: dropped a line that is not UTF-8 (%d bytes)", self.kind, self.port, len(raw))
            return
        if not text or len(text) > self.max_line or any(ord(c) < 32 for c in text):
            self.dropped += 1
            log.warning("%s %s: dropped a line with control characters or no text", self.kind, self.port)
            return
        self.lines_read += 1
        try:
            self.handle(text)
        except Exception:  # noqa: BLE001 - a bad reading never kills the reader
            log.exception("%s %s: handling a line failed", self.kind, self.port)

    def handle(self, text: str) -> None:
        if self.on_line is not None:
            self.on_line(text)
