"""QR scanner in serial mode (USB CDC or RS-232): one line per code.

    scanner = QrScanner("/dev/ttyACM0", on_code=lambda code: ...).start()

The codes are passed on as they are; what they mean (an appointment, a medical-insurance e-voucher)
is the kiosk's business (`kiosk/identity.py`). A scanner in keyboard (HID) mode types the code and
Enter into the kiosk window instead; the kiosk app reads those lines itself. Never logs a code: an
e-voucher carries a name and an ID number.
"""
from __future__ import annotations

from typing import Callable

from hardware.lines import LineDevice


class QrScanner(LineDevice):
    kind = "QR scanner"

    def __init__(self, port: str, on_code: Callable[[str], None] | None = None, baudrate: int = 9600, **kw):
        super().__init__(port, baudrate=baudrate, **kw)
        self.on_code = on_code

    def handle(self, text: str) -> None:
        if self.on_code is not None:
            self.on_code(text)
