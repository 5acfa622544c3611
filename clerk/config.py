"""The bridge's configuration: one TOML file, validated once into frozen objects or precise errors.

    [bridge]
    id = "bridge-1"              # device id (presence, device status, MQTT client id)
    port = "/dev/ttyUSB0"        # the RS-485 adapter; 9600 8N1
    poll_interval = 1.0          # seconds between presence polls of each pad

    [[pad]]
    address = 1                  # 1-247, as set on the pad
    kind = "call"                # "call" or "rating"
    window = 3
    transfer_to = "B"            # call pads: the business type (letter) or window (number) of the transfer key
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path


class BridgeConfigError(ValueError):
    def __init__(self, source: str, errors: list[str]):
        super().__init__(f"{source}: " + "; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class PadConfig:
    address: int
    kind: str
    window: int
    transfer_to: str | int | None = None


@dataclass(frozen=True)
class BridgeConfig:
    id: str
    port: str
    pads: tuple[PadConfig, ...]
    poll_interval: float = 1.0

    def pad(self, address: int) -> PadConfig | None:
        return next((p for p in self.pads if p.address == address), None)

    def pads_of(self, window: int, kind: str) -> list[PadConfig]:
        return [p for p in self.pads if p.window == window and p.kind == kind]


def parse(raw: dict, source: str = "<memory>") -> BridgeConfig:
    errors: list[str] = []
    b = raw.get("bridge") if isinstance(raw.get("bridge"), dict) else {}
    if not isinstance(raw.get("bridge"), dict):
        errors.append("[bridge]: missing")
    bid = b.get("id", "bridge-1")
    if not isinstance(bid, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", bid):
        errors.append(f"bridge.id = {bid!r}: 1-64 characters of A-Z a-z 0-9 _ . -")
    port = b.get("port")
    if not isinstance(port, str) or not port:
        errors.append(f"bridge.port = {port!r}: the serial port's path")
    poll = b.get("poll_interval", 1.0)
    if not isinstance(poll, (int, float)) or not 0.05 <= poll <= 60:
        errors.append(f"bridge.poll_interval = {poll!r}: seconds from 0.05 to 60")
    pads = []
    seen: set[int] = set()
    for i, p in enumerate(raw.get("pad", []) if isinstance(raw.get("pad", []), list) else []):
        where = f"pad[{i}]"
        addr, kind, window, to = p.get("address"), p.get("kind"), p.get("window"), p.get("transfer_to")
        if not isinstance(addr, int) or not 1 <= addr <= 247:
            errors.append(f"{where}.address = {addr!r}: 1-247")
        elif addr in seen:
            errors.append(f"{where}.address = {addr}: used twice on one bus")
        seen.add(addr if isinstance(addr, int) else -1)
        if kind not in ("call", "rating"):
            errors.append(f"{where}.kind = {kind!r}: \"call\" or \"rating\"")
        if not isinstance(window, int) or not 1 <= window <= 999:
            errors.append(f"{where}.window = {window!r}: a window number")
        if to is not None and not ((isinstance(to, str) and re.fullmatch(r"[A-Z]", to)) or
                                   (isinstance(to, int) and 1 <= to <= 999)):
            errors.append(f"{where}.transfer_to = {to!r}: a business type letter or a window number")
        unknown = set(p) - {"address", "kind", "window", "transfer_to"}
        if unknown:
            errors.append(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        pads.append(PadConfig(addr, kind, window, to))
    if not pads:
        errors.append("[[pad]]: at least one pad")
    if errors:
        raise BridgeConfigError(source, errors)
    return BridgeConfig(bid, port, tuple(pads), float(poll))


def load(path: str | Path) -> BridgeConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BridgeConfigError(str(path), [str(exc)]) from None
    return parse(raw, str(path))
