"""Fake call pads and rating pads on a fake RS-485 bus: a pty whose far end a thread plays.

    bus = FakePadBus(tmpdir / "ttyPADS").start()      # the bridge opens tmpdir/ttyPADS (a symlink)
    pad = bus.add_call_pad(1)                          # address 1
    rating = bus.add_rating_pad(2)
    pad.press("call")                                  # a KEY frame, as the real pad sends it
    pad.display                                        # the last text the bridge showed on it
    rating.rate(1)                                     # a RATING frame

Fault switches (every fault path has a test): `bus.corrupt_next("checksum" | "garbage" | "length" |
"no_end")` spoils the next frame a pad sends; `pad.silent = True` takes one pad off the bus (it
answers nothing); `bus.unplug()` pulls the USB adapter (the pty and its path vanish; the bridge's
reads fail) and `bus.replug()` puts it back on the same path.
"""
from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

from hardware.fakes.pty import close_quietly, link, open_raw
from hardware.pads import (KEY, KEY_CODES, POLL, POLL_ANSWER, RATING, RATING_REQUEST, SHOW, Frame, FrameReader,
                           encode)


class FakePad:
    kind_code = 0x01

    def __init__(self, bus: "FakePadBus", address: int):
        self.bus, self.address = bus, address
        self.silent = False
        self.display = ""
        self.shown: list[tuple[float, str]] = []  # (monotonic time, text) of every SHOW
        self.polls = 0
        self.shown_event = threading.Event()

    def receive(self, frame: Frame) -> None:
        if self.silent:
            return
        if frame.function == POLL:
            self.polls += 1
            self.bus.send(encode(self.address, POLL_ANSWER, bytes([self.kind_code])))
        elif frame.function == SHOW:
            self.display = frame.data.decode("ascii", "replace")
            self.shown.append((time.monotonic(), self.display))
            self.shown_event.set()


class FakeCallPad(FakePad):
    kind_code = 0x01

    def press(self, key: str) -> None:
        """Press a key: call, recall, start, finish, no_show, rating_request, pause, transfer."""
        if not self.silent:
            self.bus.send(encode(self.address, KEY, bytes([KEY_CODES[key]])))


class FakeRatingPad(FakePad):
    kind_code = 0x02

    def __init__(self, bus, address):
        super().__init__(bus, address)
        self.requested: str | None = None  # the ticket number it was asked to rate (lit up)

    def receive(self, frame: Frame) -> None:
        if frame.function == RATING_REQUEST and not self.silent:
            self.requested = frame.data.decode("ascii", "replace")
        super().receive(frame)

    def rate(self, score: int) -> None:
        if not self.silent:
            self.bus.send(encode(self.address, RATING, bytes([score])))
            self.requested = None


class FakePadBus:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.pads: dict[int, FakePad] = {}
        self.frames_from_bridge: list[Frame] = []
        self._master: int | None = None
        self._slave: int | None = None
        self._corrupt: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- pads ------------------------------------------------------------------------------------
    def add_call_pad(self, address: int) -> FakeCallPad:
        pad = self.pads[address] = FakeCallPad(self, address)
        return pad

    def add_rating_pad(self, address: int) -> FakeRatingPad:
        pad = self.pads[address] = FakeRatingPad(self, address)
        return pad

    # --- faults ----------------------------------------------------------------------------------
    def corrupt_next(self, kind: str) -> None:
        if kind not in ("checksum", "garbage", "length", "no_end"):
            raise ValueError(f"unknown fault {kind}")
        with self._lock:
            self._corrupt.append(kind)

    def unplug(self) -> None:
        """The adapter is pulled out: the port's path disappears and the bridge's reads fail."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.path.unlink(missing_ok=True)
        close_quietly(self._master, self._slave)
        self._master = self._slave = None

    def replug(self) -> "FakePadBus":
        return self.start()

    # --- the wire --------------------------------------------------------------------------------
    def start(self) -> "FakePadBus":
        self._master, self._slave = open_raw()
        link(self.path, self._slave)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fake-pad-bus", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.unplug()

    def send(self, frame: bytes) -> None:
        with self._lock:
            fault = self._corrupt.pop(0) if self._corrupt else None
        if fault == "checksum":
            frame = frame[:-2] + bytes([(frame[-2] + 1) & 0xFF]) + frame[-1:]
        elif fault == "garbage":
            frame = b"\x00\x13\x37garbage" + frame[:4]  # noise, then a frame cut short
        elif fault == "length":
            frame = frame[:3] + bytes([(frame[3] + 1) & 0xFF]) + frame[4:]
        elif fault == "no_end":
            frame = frame[:-1] + b"\x00"
        fd = self._master
        if fd is not None:
            try:
                os.write(fd, frame)
            except OSError:
                pass

    def _run(self) -> None:
        reader = FrameReader()
        fd = self._master
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(fd, 256)
            except OSError:
                return
            for frame in reader.feed(data):
                self.frames_from_bridge.append(frame)
                pad = self.pads.get(frame.address)
                if pad is not None:
                    pad.receive(frame)
