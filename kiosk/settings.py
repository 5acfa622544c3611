"""Kiosk settings: one small TOML file per kiosk (the site's own file stays the site's).

    [kiosk]
    id = "kiosk-1"                 # device id: presence, device status, print events
    idle_seconds = 45              # no touch this long on any screen but home -> home (30-60 s)
    languages = ["zh", "en"]       # the first is the default; a tap switches to the next
    screen_px = [1280, 800]        # the screen, in pixels ...
    screen_mm = [344, 215]         # ... and in millimetres (for the 15 mm touch-target check)
    fullscreen = true
    print_slips = true             # offer the one-time notice slip with the ticket
    scanner = "/dev/ttyACM0"       # QR scanner (serial or pty path, or a pyserial URL); "" = none
    idcard = "/dev/ttyUSB1"        # ID-card reader; "" = none
    state_dir = "var/kiosk"        # where cancels still owed to the server are kept across restarts

    [[printer]]                    # as in hardware/README.md; the first is the kiosk's printer,
    id = "main"                    # a second one is its fallback
    url = "tcp://192.168.1.50:9100"

`load(path)` returns frozen `KioskSettings` or raises `ConfigError` listing every problem (key, value, why).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onewindow.config import ConfigError

LANGUAGES = ("zh", "en")
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
KIOSK_KEYS = {"id", "idle_seconds", "languages", "screen_px", "screen_mm", "fullscreen", "print_slips",
              "scanner", "idcard", "min_target_mm", "state_dir"}


class KioskSettingsError(ConfigError):
    what = "kiosk settings"


@dataclass(frozen=True)
class KioskSettings:
    id: str = "kiosk-1"
    idle_seconds: float = 45.0
    languages: tuple[str, ...] = LANGUAGES
    screen_px: tuple[int, int] = (1280, 800)
    screen_mm: tuple[float, float] = (344.0, 215.0)
    fullscreen: bool = True
    print_slips: bool = True
    scanner: str = ""
    idcard: str = ""
    min_target_mm: float = 15.0
    state_dir: str = "var/kiosk"
    printers: tuple = field(default=())  # hardware.printing.config.PrinterConfig

    @property
    def px_per_mm(self) -> float:
        """Pixels per millimetre of the screen (the smaller of the two axes: the safe side)."""
        return min(self.screen_px[0] / self.screen_mm[0], self.screen_px[1] / self.screen_mm[1])

    def mm_to_px(self, mm: float) -> float:
        return mm * self.px_per_mm

    @property
    def min_target_px(self) -> float:
        return self.mm_to_px(self.min_target_mm)


def _pair(raw: dict, key: str, kind: type, errors: list, default: tuple) -> tuple:
    value = raw.get(key, list(default))
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)):
        errors.append((f"kiosk.{key}", value, "must be two positive numbers [width, height]"))
        return default
    return tuple(kind(v) for v in value)


def from_dict(raw: dict, source: str = "<memory>") -> KioskSettings:
    from hardware.printing.config import PrinterConfigError, parse_printers

    errors: list[tuple[str, Any, str]] = []
    k = raw.get("kiosk", {})
    if not isinstance(k, dict):
        raise KioskSettingsError(source, [("kiosk", k, "must be a table")])
    for key in raw:
        if key not in ("kiosk", "printer"):
            errors.append((key, raw[key], "unknown table (known: kiosk, printer)"))
    for key in k:
        if key not in KIOSK_KEYS:
            errors.append((f"kiosk.{key}", k[key], f"unknown key (known: {', '.join(sorted(KIOSK_KEYS))})"))
    dev = k.get("id", "kiosk-1")
    if not isinstance(dev, str) or not DEVICE_ID_RE.match(dev):
        errors.append(("kiosk.id", dev, "must be 1-64 letters, digits, '_', '.' or '-'"))
        dev = "kiosk-1"
    idle = k.get("idle_seconds", 45)
    if isinstance(idle, bool) or not isinstance(idle, (int, float)) or not 30 <= idle <= 60:
        errors.append(("kiosk.idle_seconds", idle, "must be 30 to 60 seconds"))
        idle = 45
    langs = k.get("languages", list(LANGUAGES))
    if not isinstance(langs, list) or not langs or any(x not in LANGUAGES for x in langs) or len(set(langs)) != len(langs):
        errors.append(("kiosk.languages", langs, f"must be a list of distinct languages from {', '.join(LANGUAGES)}"))
        langs = list(LANGUAGES)
    flags = {}
    for name, default in (("fullscreen", True), ("print_slips", True)):
        flags[name] = k.get(name, default)
        if not isinstance(flags[name], bool):
            errors.append((f"kiosk.{name}", flags[name], "must be true or false"))
            flags[name] = default
    ports = {}
    for name in ("scanner", "idcard", "state_dir"):
        ports[name] = k.get(name, "var/kiosk" if name == "state_dir" else "")
        if not isinstance(ports[name], str):
            errors.append((f"kiosk.{name}", ports[name], "must be a device path or URL (\"\" for none)"))
            ports[name] = ""
    target = k.get("min_target_mm", 15)
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 9 <= target <= 40:
        errors.append(("kiosk.min_target_mm", target, "must be 9 to 40 mm"))
        target = 15
    printers: tuple = ()
    try:
        printers = parse_printers(raw.get("printer", []), source=source)
    except PrinterConfigError as exc:
        errors.extend(exc.errors)
    settings = KioskSettings(
        id=dev, idle_seconds=float(idle), languages=tuple(langs),
        screen_px=_pair(k, "screen_px", int, errors, (1280, 800)),
        screen_mm=_pair(k, "screen_mm", float, errors, (344.0, 215.0)),
        fullscreen=flags["fullscreen"], print_slips=flags["print_slips"],
        scanner=ports["scanner"], idcard=ports["idcard"], min_target_mm=float(target), printers=printers,
        state_dir=ports["state_dir"] or "var/kiosk")
    if errors:
        raise KioskSettingsError(source, errors)
    return settings


def load(path: str | Path | None) -> KioskSettings:
    """The kiosk settings in `path`, or the defaults when `path` is None."""
    if path is None:
        return KioskSettings()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KioskSettingsError(str(path), [("(file)", str(path), "does not exist")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise KioskSettingsError(str(path), [("(file)", str(path), f"is not valid TOML: {exc}")]) from None
    return from_dict(raw, source=str(path))
