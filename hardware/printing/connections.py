"""Connections only move bytes: serial (pyserial), raw TCP 9100, USB (python-escpos + pyusb) and file.

Each has `write(data, timeout)`, `read(n, timeout)` (returns what arrived within `timeout` seconds, maybe
b""), `drain()` (drops stale input) and `close()`. Every failure is raised as `PrinterFault` with a reason
code a clerk can act on and `sent`, the bytes the device had taken before it failed (0: nothing of the job
can have printed). Nothing here blocks longer than the timeout it was given: serial ports, device files
and sockets are written without blocking, against a deadline (a stalled /dev/usb/lp0 costs the timeout).
"""
from __future__ import annotations

import logging
import os
import select
import socket
import termios
import time
from typing import Protocol

from hardware.printing.config import Endpoint

log = logging.getLogger("onewindow.printer")

# Reasons a print job fails, in a clerk's words (also the `reason` of print_failed events).
REASONS = {
    "paper_out": ("打印机缺纸", "out of paper"),
    "cover_open": ("打印机盖未关", "cover open"),
    "offline": ("打印机脱机", "offline"),
    "printer_error": ("打印机故障", "printer error"),
    "no_answer": ("打印机无响应", "not answering"),
    "bad_reply": ("打印机应答异常", "garbled status reply"),
    "unplugged": ("打印机未连接", "not connected"),
    "write_timeout": ("打印数据发送超时", "data could not be sent in time"),
    "timeout": ("打印超时", "timed out"),
    "render_error": ("打印内容无法排版", "could not lay out the slip"),
    "cancelled": ("打印已取消", "cancelled"),
}


class PrinterFault(Exception):
    """A printer could not do what was asked; `reason` is a key of REASONS."""

    def __init__(self, reason: str, detail: str = "", sent: int = 0):
        self.reason = reason
        self.detail = detail
        self.sent = sent
        super().__init__(f"{reason}: {detail}" if detail else reason)


def write_all(fileno: int, send, data: bytes, timeout: float, errors: tuple = (OSError,)) -> None:
    """Write `data` through `send` (os.write or socket.send on a non-blocking descriptor) within `timeout`
    seconds, counting what the device took; raise PrinterFault(write_timeout|unplugged, sent=n)."""
    deadline = time.monotonic() + timeout
    view, sent = memoryview(data), 0
    while sent < len(data):
        left = deadline - time.monotonic()
        try:
            if left <= 0 or not select.select([], [fileno], [], left)[1]:
                raise PrinterFault("write_timeout", f"{sent} of {len(data)} bytes sent within {timeout:.1f} s",
                                   sent)
            sent += send(view[sent:sent + 65536])
        except (BlockingIOError, InterruptedError):
            continue
        except errors as exc:
            raise PrinterFault("unplugged", str(exc), sent) from None


class Connection(Protocol):
    can_read: bool

    def write(self, data: bytes, timeout: float) -> None: ...
    def read(self, n: int, timeout: float) -> bytes: ...
    def drain(self) -> None: ...
    def close(self) -> None: ...


class SerialConnection:
    """A serial printer (RS-232, USB-serial, or a pty in tests) through pyserial."""

    can_read = True

    def __init__(self, endpoint: Endpoint):
        import serial  # pyserial

        self._serial_mod = serial
        o = endpoint.options
        try:
            self.port = serial.Serial(
                endpoint.target, baudrate=o.get("baudrate", 9600), bytesize=o.get("bytesize", 8),
                parity=o.get("parity", "N"), stopbits=o.get("stopbits", 1), rtscts=o.get("rtscts", False),
                xonxoff=o.get("xonxoff", False), dsrdtr=o.get("dsrdtr", False), timeout=0,
                write_timeout=o.get("write_timeout_ms", 2000) / 1000)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PrinterFault("unplugged", f"cannot open {endpoint.target}: {exc}") from None
        self.baudrate = o.get("baudrate", 9600)

    def write(self, data: bytes, timeout: float) -> None:
        fd = getattr(self.port, "fd", None)
        if fd is None:
            raise PrinterFault("unplugged", "the serial port is closed")
        write_all(fd, lambda b: os.write(fd, b), data, timeout, (OSError, termios.error))

    def read(self, n: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        out = b""
        try:
            while len(out) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.port.timeout = left
                chunk = self.port.read(n - len(out))
                if not chunk:
                    break
                out += chunk
        except (self._serial_mod.SerialException, OSError, termios.error) as exc:
            raise PrinterFault("unplugged", str(exc)) from None
        return out

    def drain(self) -> None:
        try:
            self.port.reset_input_buffer()
        except (self._serial_mod.SerialException, OSError, termios.error) as exc:
            raise PrinterFault("unplugged", str(exc)) from None

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:  # noqa: BLE001 - closing a dead port must not raise
            pass


class TcpConnection:
    """A network printer on raw TCP (port 9100, "JetDirect")."""

    can_read = True

    def __init__(self, endpoint: Endpoint):
        timeout = endpoint.options.get("connect_timeout_ms", 1000) / 1000
        try:
            self.sock = socket.create_connection((endpoint.target, endpoint.port or 9100), timeout=timeout)
        except OSError as exc:
            raise PrinterFault("unplugged", f"cannot connect to {endpoint.target}:{endpoint.port}: {exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes, timeout: float) -> None:
        self.sock.setblocking(False)
        write_all(self.sock.fileno(), self.sock.send, data, timeout)

    def read(self, n: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        out = b""
        try:
            while len(out) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                r, _, _ = select.select([self.sock], [], [], left)
                if not r:
                    break
                chunk = self.sock.recv(n - len(out))
                if not chunk:
                    raise PrinterFault("unplugged", "the printer closed the connection")
                out += chunk
        except OSError as exc:
            raise PrinterFault("unplugged", str(exc)) from None
        return out

    def drain(self) -> None:
        try:
            while select.select([self.sock], [], [], 0)[0]:
                if not self.sock.recv(4096):
                    raise PrinterFault("unplugged", "the printer closed the connection")
        except OSError as exc:
            raise PrinterFault("unplugged", str(exc)) from None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class FileConnection:
    """A device file such as /dev/usb/lp0 (write-only: it cannot be asked for status), or a plain file.

    Opened and written without blocking: a stalled device (no paper, switched off, a full FIFO) is a
    `write_timeout` after the deadline, not a kiosk frozen in os.write."""

    can_read = False

    def __init__(self, endpoint: Endpoint):
        self.path = endpoint.target
        flags = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | (0 if self.path.startswith("/dev/") else os.O_CREAT)
        try:
            self.fd = os.open(self.path, flags)
        except OSError as exc:
            raise PrinterFault("unplugged", f"cannot open {self.path}: {exc}") from None

    def write(self, data: bytes, timeout: float) -> None:
        write_all(self.fd, lambda b: os.write(self.fd, b), data, timeout)

    def read(self, n: int, timeout: float) -> bytes:
        return b""

    def drain(self) -> None:
        pass

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class UsbConnection:
    """A USB printer through python-escpos's `Usb` (needs pyusb and libusb)."""

    can_read = True

    def __init__(self, endpoint: Endpoint):
        try:
            from escpos.printer import Usb
            import usb.core  # noqa: F401 - pyusb
        except ImportError:
            raise PrinterFault("unplugged", "USB printers need pyusb (pip install pyusb) and libusb-1.0") from None
        o = endpoint.options
        kwargs = {k: o[k] for k in ("interface", "in_ep", "out_ep") if k in o}
        try:
            self.printer = Usb(o["vendor_id"], o["product_id"], timeout=0, **kwargs)
            self.printer.open()
        except Exception as exc:  # noqa: BLE001 - pyusb raises many types
            raise PrinterFault("unplugged", f"cannot open USB {endpoint.target}: {exc}") from None
        self.in_ep = o.get("in_ep", 0x82)

    def write(self, data: bytes, timeout: float) -> None:
        try:
            self.printer.device.write(self.printer.out_ep, data, int(timeout * 1000))
        except Exception as exc:  # noqa: BLE001
            reason = "write_timeout" if "timeout" in str(exc).lower() else "unplugged"
            # pyusb does not say how much went out before a timeout: count it as some
            raise PrinterFault(reason, str(exc), sent=1 if reason == "write_timeout" else 0) from None

    def read(self, n: int, timeout: float) -> bytes:
        try:
            return bytes(self.printer.device.read(self.printer.in_ep, n, max(1, int(timeout * 1000))))
        except Exception as exc:  # noqa: BLE001
            if "timeout" in str(exc).lower():
                return b""
            raise PrinterFault("unplugged", str(exc)) from None

    def drain(self) -> None:
        while self.read(64, 0.001):
            pass

    def close(self) -> None:
        try:
            self.printer.close()
        except Exception:  # noqa: BLE001
            pass


def open_connection(endpoint: Endpoint) -> Connection:
    """Open the connection an endpoint describes; PrinterFault("unplugged", ...) if it is not there."""
    cls = {"serial": SerialConnection, "tcp": TcpConnection, "file": FileConnection, "usb": UsbConnection}
    if endpoint.scheme not in cls:
        raise PrinterFault("unplugged", f"unknown connection scheme {endpoint.scheme!r}")
    return cls[endpoint.scheme](endpoint)
