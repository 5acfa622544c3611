"""A fake bus of window LED displays on a pty: parses frames as the displays do, answers ACK/NAK, keeps
what each display shows, and can be told to misbehave.

    bus = FakeLedBus(addresses=(3, 4)).start()     # bus.path: a stable path (symlink) to the pty
    ...  drive hardware.led.LedBus(bus.path) ...
    bus.screens[3]        # "A023 请到3号窗口"
    bus.unplug(); bus.plug()   # the cable pulled and put back (same path, new pty)
    bus.silent = True          # displays stop answering

Switches (see hardware/README.md): `silent`, `unplug()`/`plug()`, `refuse_encoding` (answers NAK 4).
Timing: a pty moves bytes at memory speed whatever the baud rate, so with `paced=True` the fake waits
the time the frame would take on the wire at 9600 8N1 (10 bits a byte) before it answers.
"""
from __future__ import annotations

import logging
import os
import select
import tempfile
import threading
import time
from pathlib import Path

from hardware.fakes.pty import close_quietly, link, open_raw
from hardware.led import ACK, CLEAR, NAK, NAK_COMMAND, NAK_CRC, NAK_ENCODING, PING, TEXT, Frame, FrameReader, frame

log = logging.getLogger("onewindow.fake_led")


class FakeLedBus:
    def __init__(self, addresses=(1,), *, encoding: str = "gb2312", baudrate: int = 9600, paced: bool = True,
                 folder: str | Path | None = None):
        self.addresses = set(addresses)
        self.encoding, self.baudrate, self.paced = encoding, baudrate, paced
        self.folder = Path(folder or tempfile.mkdtemp(prefix="fake-led-"))
        self.path = str(self.folder / "led-bus")
        self.screens: dict[int, str] = {}
        self.blinking: dict[int, bool] = {}
        self.received: list[Frame] = []
        self.rejected = 0
        self.silent = False
        self.refuse_encoding = False
        self.unplugged = True
        self._master = self._slave = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> "FakeLedBus":
        self.plug()
        return self

    def plug(self) -> None:
        self._master, self._slave = open_raw()
        link(self.path, self._slave)
        self.unplugged = False
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fake-led", daemon=True)
        self._thread.start()
        log.info("fake LED bus plugged in at %s", self.path)

    def unplug(self) -> None:
        """Pull the cable: the port disappears; the driver's reads and writes fail until `plug()`."""
        self.unplugged = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self._thread = None
        Path(self.path).unlink(missing_ok=True)
        close_quietly(self._master, self._slave)
        self._master = self._slave = None

    def stop(self) -> None:
        self.unplug()

    def __enter__(self) -> "FakeLedBus":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wire_seconds(self, n_bytes: int) -> float:
        return n_bytes * 10 / self.baudrate

    def _run(self) -> None:
        reader = FrameReader()
        master = self._master
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 1024)
            except OSError:
                return
            if self.paced:
                time.sleep(self.wire_seconds(len(data)))
            for item in reader.feed(data):
                self._handle(master, item)

    def _handle(self, master: int, item) -> None:
        if not isinstance(item, Frame):
            with self._lock:
                self.rejected += 1
            address = item[1]
            log.info("fake LED: corrupt frame thrown away (address %s)", address)
            if address in self.addresses:
                self._answer(master, frame(address, NAK, bytes([NAK_CRC])))
            return
        with self._lock:
            self.received.append(item)
        if item.address not in self.addresses:
            return  # another device's frame on the bus
        if item.command == TEXT and item.data:
            if self.refuse_encoding:
                return self._answer(master, frame(item.address, NAK, bytes([NAK_ENCODING])))
            try:
                text = item.data[1:].decode(self.encoding)
            except UnicodeDecodeError:
                return self._answer(master, frame(item.address, NAK, bytes([NAK_ENCODING])))
            with self._lock:
                self.screens[item.address] = text
                self.blinking[item.address] = bool(item.data[0] & 1)
        elif item.command == CLEAR:
            with self._lock:
                self.screens[item.address] = ""
        elif item.command != PING:
            return self._answer(master, frame(item.address, NAK, bytes([NAK_COMMAND])))
        self._answer(master, frame(item.address, ACK, bytes([item.command])))

    def _answer(self, master: int, data: bytes) -> None:
        if self.silent:
            return
        if self.paced:
            time.sleep(self.wire_seconds(len(data)))
        try:
            os.write(master, data)
        except OSError:
            pass
