"""Window LED displays over serial (RS-485 bus or RS-232, 9600 8N1): frames, driver and config.

The frame format (also in hardware/README.md, "Window LED displays"):

    STX 0x02 | ADDR | CMD | LEN_HI LEN_LO | DATA (LEN bytes) | CRC_LO CRC_HI | ETX 0x03

- ADDR: the display's address on the bus, 1-247 (0 = every display, no answer).
- CMD: 0x01 TEXT (DATA = flags byte, then the text in the display's encoding: GB2312 or GB18030;
  flags bit 0 = blink), 0x02 CLEAR (no data), 0x05 PING (no data).
- LEN: length of DATA, big-endian, at most 250.
- CRC: CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) over ADDR, CMD, LEN and DATA, low byte first.
- The addressed display answers ACK: a frame with CMD 0x06 and DATA = the command acknowledged, or NAK:
  CMD 0x15 and DATA = a reason (1 bad CRC, 2 unknown command, 3 bad length, 4 text it cannot encode).
  A frame that is cut short, has a wrong CRC or lacks ETX is thrown away (NAK 1 if the address could
  be read); the reader looks for the next STX.
Text is fitted to the display's width in half-width cells (an ASCII character takes one, a Chinese
character two) before it is encoded.
"""
from __future__ import annotations

import logging
import termios
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("onewindow.led")

STX, ETX = 0x02, 0x03
TEXT, CLEAR, PING, ACK, NAK = 0x01, 0x02, 0x05, 0x06, 0x15
NAK_CRC, NAK_COMMAND, NAK_LENGTH, NAK_ENCODING = 1, 2, 3, 4
MAX_DATA = 250
ENCODINGS = ("gb2312", "gb18030")


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(address: int, command: int, data: bytes = b"") -> bytes:
    if not 0 <= address <= 247:
        raise ValueError(f"address {address} is not 0-247")
    if len(data) > MAX_DATA:
        raise ValueError(f"{len(data)} bytes of data; at most {MAX_DATA}")
    body = bytes([address, command, len(data) >> 8, len(data) & 0xFF]) + data
    crc = crc16(body)
    return bytes([STX]) + body + bytes([crc & 0xFF, crc >> 8, ETX])


@dataclass(frozen=True)
class Frame:
    address: int
    command: int
    data: bytes


class FrameReader:
    """Splits a byte stream into frames; corrupt ones are counted and skipped (`on_corrupt(address)`)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.corrupt = 0

    def feed(self, data: bytes) -> list[Frame | tuple[str, int | None]]:
        """Frames found, and ("corrupt", address or None) for each frame thrown away."""
        self.buffer += data
        out: list = []
        while True:
            start = self.buffer.find(STX)
            if start < 0:
                self.buffer.clear()
                return out
            del self.buffer[:start]
            if len(self.buffer) < 5:
                return out
            length = (self.buffer[3] << 8) | self.buffer[4]
            if length > MAX_DATA:
                out.append(("corrupt", self.buffer[1]))
                self.corrupt += 1
                del self.buffer[:1]
                continue
            end = 5 + length + 3
            if len(self.buffer) < end:
                return out
            body, tail = bytes(self.buffer[1:5 + length]), self.buffer[5 + length:end]
            if tail[2] != ETX or (tail[0] | tail[1] << 8) != crc16(body):
                out.append(("corrupt", body[0]))
                self.corrupt += 1
                del self.buffer[:1]  # resynchronise on the next STX
                continue
            out.append(Frame(body[0], body[1], body[4:]))
            del self.buffer[:end]


def cells(ch: str) -> int:
    return 1 if ord(ch) < 0x80 else 2


def fit(text: str, width: int) -> str:
    """The text cut to `width` half-width cells (a Chinese character takes two)."""
    out, used = [], 0
    for ch in text:
        if used + cells(ch) > width:
            break
        out.append(ch)
        used += cells(ch)
    return "".join(out)


@dataclass(frozen=True)
class LedConfig:
    window: int
    port: str
    address: int = 1
    width: int = 16  # half-width cells: 16 = eight Chinese characters
    encoding: str = "gb2312"
    baudrate: int = 9600


class LedConfigError(ValueError):
    pass


def parse_leds(tables: list) -> list[LedConfig]:
    """`[[led]]` tables: window, port, address (1-247), width (4-64 cells), encoding (gb2312|gb18030)."""
    out, errors = [], []
    for i, t in enumerate(tables if isinstance(tables, list) else []):
        p = f"led[{i}]"
        if not isinstance(t, dict):
            errors.append(f"{p} must be a table")
            continue
        try:
            cfg = LedConfig(window=int(t["window"]), port=str(t["port"]), address=int(t.get("address", 1)),
                            width=int(t.get("width", 16)), encoding=str(t.get("encoding", "gb2312")).lower(),
                            baudrate=int(t.get("baudrate", 9600)))
        except (KeyError, TypeError, ValueError) as exc:
            errors.append(f"{p}: window and port are required; numbers must be numbers ({exc})")
            continue
        if not 1 <= cfg.address <= 247:
            errors.append(f"{p}.address {cfg.address} is not 1-247")
        if not 4 <= cfg.width <= 64:
            errors.append(f"{p}.width {cfg.width} is not 4-64 cells")
        if cfg.encoding not in ENCODINGS:
            errors.append(f"{p}.encoding {cfg.encoding!r} is not one of {', '.join(ENCODINGS)}")
        out.append(cfg)
    if errors:
        raise LedConfigError("; ".join(errors))
    return out


def load_leds(path: str | Path) -> list[LedConfig]:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LedConfigError(f"{path}: {exc}") from None
    return parse_leds(raw.get("led", []))


class LedBus:
    """One serial port with one or more displays on it. Opens lazily; a port that fails is closed and
    opened again on the next send (an unplugged and plugged-back adapter recovers by itself)."""

    def __init__(self, port: str, baudrate: int = 9600, timeout: float = 0.3, retries: int = 2):
        self.port, self.baudrate, self.timeout, self.retries = port, baudrate, timeout, retries
        self._serial = None
        self._lock = threading.Lock()
        self._reader = FrameReader()
        self.online = False

    def _open(self):
        import serial

        if self._serial is None:
            self._serial = serial.Serial(self.port, self.baudrate, bytesize=8, parity="N", stopbits=1,
                                         timeout=0.05, write_timeout=1.0)
            self._reader = FrameReader()
        return self._serial

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:  # noqa: BLE001 - a vanished port may fail to close
                pass
            self._serial = None

    def send(self, address: int, command: int, data: bytes = b"") -> str:
        """Send a frame and wait for the answer: "ok", "nak:<reason>", "no_answer" or "offline"."""
        import serial

        with self._lock:
            outcome = "no_answer"
            for _ in range(1 + self.retries):
                try:
                    port = self._open()
                    port.reset_input_buffer()
                    port.write(frame(address, command, data))
                    port.flush()
                    outcome = self._answer(port, address, command)
                except (serial.SerialException, OSError, termios.error) as exc:
                    if self.online or self._serial is not None:
                        log.warning("LED port %s: %s", self.port, exc)
                    self.close()
                    outcome = "offline"
                    break
                if outcome == "ok" or outcome == f"nak:{NAK_ENCODING}":
                    break
            self.online = outcome == "ok"
            return outcome

    def _answer(self, port, address: int, command: int) -> str:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            chunk = port.read(64)
            for f in self._reader.feed(chunk):
                if isinstance(f, Frame) and f.address == address:
                    if f.command == ACK and f.data[:1] == bytes([command]):
                        return "ok"
                    if f.command == NAK:
                        return f"nak:{f.data[0] if f.data else 0}"
        return "no_answer"


class LedDisplay:
    """One window's LED display: `show(text)` fits, encodes and sends it; remembers the text."""

    def __init__(self, config: LedConfig, bus: LedBus):
        self.config, self.bus = config, bus
        self.text: str | None = None
        self.state = "unknown"  # ok, offline, no_answer, nak:N

    def encode(self, text: str) -> bytes:
        fitted = fit(text, self.config.width)
        return fitted.encode(self.config.encoding, errors="replace")

    def show(self, text: str, blink: bool = False) -> str:
        self.text = text
        self.state = self.bus.send(self.config.address, TEXT, bytes([1 if blink else 0]) + self.encode(text))
        return self.state

    def clear(self) -> str:
        self.text = ""
        self.state = self.bus.send(self.config.address, CLEAR)
        return self.state
