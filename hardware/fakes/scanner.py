"""A fake QR scanner on a pty: the kiosk's driver opens `fake.device` like the real serial port.

    fake = FakeScanner().start()
    QrScanner(fake.device, on_code=...).start()
    fake.scan("onewindow:appointment?ref=R1&start=2026-11-23T10:00:00%2B08:00")   # one code, CR LF ended
    fake.noise(b"\\xff\\xfe\\x00garbage\\r\\n")                                     # line noise
    fake.unplug(); fake.replug()                                                # pull and put back the cable

`device` is a symlink (like /dev/serial/by-id/...) that `replug()` points at a fresh pty, so a driver
that reopens its port finds the device again. Line ending: `line_end` (b"\\r\\n" by default; some scanners
send only CR).
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from hardware.fakes.pty import close_quietly, link, open_raw

log = logging.getLogger("onewindow.fake_devices")


class FakeLineDevice:
    name = "fake line device"

    def __init__(self, line_end: bytes = b"\r\n"):
        self.line_end = line_end
        self._dir = Path(tempfile.mkdtemp(prefix="onewindow-fake-"))
        self.device = str(self._dir / "tty")
        self._master: int | None = None
        self._slave: int | None = None
        self.unplugged = True
        self.sent: list[bytes] = []

    def start(self) -> "FakeLineDevice":
        self.replug()
        return self

    def replug(self) -> None:
        self._close()
        self._master, self._slave = open_raw()
        link(self.device, self._slave)
        self.unplugged = False

    def unplug(self) -> None:
        """Pull the cable: the driver's next read fails and the device path is gone."""
        self._close()
        try:
            os.unlink(self.device)
        except FileNotFoundError:
            pass
        self.unplugged = True

    def stop(self) -> None:
        self.unplug()
        try:
            self._dir.rmdir()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        if self._master is None:
            raise OSError("the fake device is unplugged")
        self.sent.append(data)
        os.write(self._master, data)

    def send_line(self, text: str) -> None:
        self.send(text.encode("utf-8") + self.line_end)

    def noise(self, data: bytes = b"\xff\xfe\x00\x1b[garbage\r\n") -> None:
        self.send(data)

    def _close(self) -> None:
        close_quietly(self._master, self._slave)
        self._master = self._slave = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class FakeScanner(FakeLineDevice):
    name = "fake QR scanner"

    def scan(self, code: str) -> None:
        self.send_line(code)
