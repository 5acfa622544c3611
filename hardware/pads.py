"""Clerk call pads and rating pads on an addressed RS-485 bus (9600 8N1): frames and the bus driver.

A frame (both directions; see hardware/README.md, "Call pads and rating pads"):

    FF 68 LL LL 68 AA FF' DD... CS 16

`FF` a wake-up byte, `68` start, `LL` the length of address + function + data (sent twice, must
agree), `68` start again, `AA` the pad's address (1-247), `FF'` the function, `DD...` data (0-64
bytes), `CS` the sum of the bytes from the address through the data, modulo 256, `16` end.

`FrameReader` turns a byte stream into frames and names every bad one (bad checksum, lengths that
disagree, a missing end byte, bytes outside any frame); it resynchronises on the next `FF 68`.
`PadBus` owns the serial port: a reader thread hands frames to a callback, `send()` writes frames,
the pads are polled for presence, and an unplugged adapter is reopened until it is back.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import serial

log = logging.getLogger("onewindow.pads")

WAKE, START, END = 0xFF, 0x68, 0x16
MAX_DATA = 64
# Functions, pad -> bridge
KEY, RATING, POLL_ANSWER = 0x01, 0x02, 0x21
# Functions, bridge -> pad
SHOW, RATING_REQUEST, POLL = 0x10, 0x11, 0x20
# Keys of a call pad (data byte of a KEY frame)
KEYS = {0x01: "call", 0x02: "recall", 0x03: "start", 0x04: "finish", 0x05: "no_show", 0x06: "rating_request",
        0x07: "pause", 0x08: "transfer"}
KEY_CODES = {name: code for code, name in KEYS.items()}
PAD_KINDS = {0x01: "call", 0x02: "rating"}


@dataclass(frozen=True)
class Frame:
    address: int
    function: int
    data: bytes = b""

    def encode(self) -> bytes:
        return encode(self.address, self.function, self.data)


def checksum(body: bytes) -> int:
    return sum(body) & 0xFF


def encode(address: int, function: int, data: bytes = b"") -> bytes:
    if not 0 <= address <= 255 or not 0 <= function <= 255 or len(data) > MAX_DATA:
        raise ValueError("address and function are bytes; data is at most 64 bytes")
    body = bytes([address, function]) + data
    return bytes([WAKE, START, len(body), len(body), START]) + body + bytes([checksum(body), END])


class FrameReader:
    """Feed bytes in; take frames out. `errors` counts each kind of bad input it threw away."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.errors: dict[str, int] = {}

    def _bad(self, kind: str, dropped: bytes) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        log.warning("pad bus: dropped a bad frame (%s): %s", kind, dropped[:24].hex(" "))

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames: list[Frame] = []
        buf = self.buffer
        while True:
            start = buf.find(bytes([WAKE, START]))
            if start < 0:
                keep = 1 if buf[-1:] == bytes([WAKE]) else 0
                if len(buf) > keep:
                    self._bad("garbage", bytes(buf[:len(buf) - keep]))
                    del buf[:len(buf) - keep]
                break
            if start > 0:
                self._bad("garbage", bytes(buf[:start]))
                del buf[:start]
            if len(buf) < 5:
                break
            n1, n2, start2 = buf[2], buf[3], buf[4]
            if n1 != n2 or start2 != START or not 2 <= n1 <= MAX_DATA + 2:
                self._bad("bad_header", bytes(buf[:5]))
                del buf[:2]
                continue
            total = 5 + n1 + 2
            if len(buf) < total:
                break
            body = bytes(buf[5:5 + n1])
            cs, end = buf[5 + n1], buf[6 + n1]
            if end != END:
                self._bad("no_end", bytes(buf[:total]))
                del buf[:2]
                continue
            if cs != checksum(body):
                self._bad("checksum", bytes(buf[:total]))
                del buf[:total]
                continue
            frames.append(Frame(body[0], body[1], body[2:]))
            del buf[:total]
        return frames


class PadBus:
    """The serial port of one pad bus. `on_frame(frame)` runs on the reader thread; keep it short.

    `poll(addresses)` asks each address for a sign of life every `poll_interval` s; `present(addr)`
    says whether it answered (or sent anything) within `offline_after` s. When the port goes away
    (USB adapter unplugged) the bus reports `connected = False` and reopens it every `retry` s.
    """

    def __init__(self, port: str, on_frame: Callable[[Frame], None], baudrate: int = 9600,
                 poll_interval: float = 1.0, offline_after: float = 3.0, retry: float = 0.5,
                 on_change: Callable[[], None] | None = None, clock=time.monotonic):
        self.port, self.baudrate = port, baudrate
        self.on_frame, self.on_change = on_frame, on_change
        self.poll_interval, self.offline_after, self.retry = poll_interval, offline_after, retry
        self.clock = clock
        self.reader = FrameReader()
        self.addresses: list[int] = []
        self.last_heard: dict[int, float] = {}
        self._serial: serial.Serial | None = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connected = False
        self.frames_in = 0

    # --- life cycle ------------------------------------------------------------------------------
    def start(self) -> "PadBus":
        for target, name in ((self._read_loop, "pad-bus-reader"), (self._poll_loop, "pad-bus-poller")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(3)
        self._close()

    # --- writing ---------------------------------------------------------------------------------
    def send(self, address: int, function: int, data: bytes = b"") -> bool:
        """Write one frame; False (and a log line) when the port is away."""
        s = self._serial
        if s is None:
            return False
        try:
            with self._write_lock:
                s.write(encode(address, function, data))
            return True
        except (serial.SerialException, OSError) as exc:
            log.warning("pad bus %s: write failed (%s)", self.port, exc)
            self._lost()
            return False

    def show(self, address: int, text: str) -> bool:
        return self.send(address, SHOW, text.encode("ascii", "replace")[:MAX_DATA])

    def present(self, address: int) -> bool:
        heard = self.last_heard.get(address)
        return self.connected and heard is not None and self.clock() - heard <= self.offline_after

    # --- threads ---------------------------------------------------------------------------------
    def _open(self) -> bool:
        try:
            s = serial.Serial(self.port, self.baudrate, bytesize=8, parity="N", stopbits=1, timeout=0.05)
        except (serial.SerialException, OSError):
            return False
        self._serial = s
        self.reader.buffer.clear()  # nothing half-read survives a reopen (the error counts do)
        self.connected = True
        log.info("pad bus %s open", self.port)
        self._changed()
        return True

    def _close(self) -> None:
        s, self._serial = self._serial, None
        if s is not None:
            try:
                s.close()
            except (serial.SerialException, OSError):
                pass

    def _lost(self) -> None:
        if self.connected:
            log.warning("pad bus %s is gone (unplugged?); trying to reopen it every %.1f s", self.port, self.retry)
        self.connected = False
        self._close()
        self.reader.buffer.clear()
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                log.exception("pad bus change listener failed")

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            s = self._serial
            if s is None:
                if not self._open():
                    self._stop.wait(self.retry)
                continue
            try:
                data = s.read(1)  # waits up to the timeout for the first byte, then takes what came
                if data and s.in_waiting:
                    data += s.read(s.in_waiting)
            except (serial.SerialException, OSError, TypeError, AttributeError):
                self._lost()
                continue
            if not data:
                continue
            for frame in self.reader.feed(data):
                self.frames_in += 1
                was_present = self.present(frame.address)
                self.last_heard[frame.address] = self.clock()
                if not was_present:
                    self._changed()
                if frame.function != POLL_ANSWER:
                    try:
                        self.on_frame(frame)
                    except Exception:
                        log.exception("pad bus: handling %s failed", frame)

    def _poll_loop(self) -> None:
        seen: dict[int, bool] = {}
        while not self._stop.wait(self.poll_interval):
            for address in list(self.addresses):
                self.send(address, POLL)
            now_seen = {a: self.present(a) for a in self.addresses}
            if now_seen != seen:
                for a, up in now_seen.items():
                    if seen.get(a, True) != up and not up:
                        log.warning("pad %d on %s does not answer (unplugged or off)", a, self.port)
                seen = now_seen
                self._changed()
