"""`[[printer]]` tables: which printers a kiosk has, how to reach them and what they can do.

    [[printer]]
    id = "kiosk-1"                                  # unique; kiosks and logs name printers by it
    url = "serial:///dev/ttyUSB0?baudrate=19200"   # or tcp://10.0.0.5:9100, usb://0x0416:0x5011,
                                                    #    file:///dev/usb/lp0
    paper = 80                # roll width in mm: 58 (384 dots, 32 columns) or 80 (576 dots, 48 columns)
    chinese_font = true       # has a GB18030 font (FS &); false: Chinese is printed as pictures
    text_mode = "gb18030"     # "gb18030" or "image"; default follows chinese_font
    native_qr = true          # prints QR codes itself (GS ( k); false: sent as a picture
    cutter = true             # has an auto-cutter; false: paper is fed out to tear off
    status = true             # answers DLE EOT status queries; default false for file://
    timeout_ms = 300          # how long to wait for one status answer
    speed_mm_s = 50           # the slowest the printer prints: a job's deadlines grow with its paper length
    confirm = true            # after a job, GS r 1 (answered once the job went through) confirms it printed;
                              # a printer that does not answer it is confirmed by DLE EOT instead
    fallback = "kiosk-1-spare"  # another printer's id to use when this one fails

`parse_printers(tables)` returns a tuple of frozen `PrinterConfig` or raises `PrinterConfigError` listing
every problem as (key, value, why), like `onewindow.config.ConfigError`. `load_printers(path)` reads the
`[[printer]]` tables of a TOML file (a site configuration or a kiosk's own file).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hardware.printing import paper as geometry
from onewindow.config import ConfigError

PRINTER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
TEXT_MODES = ("gb18030", "image")
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)
KNOWN_KEYS = {"id", "url", "paper", "chinese_font", "text_mode", "native_qr", "cutter", "status",
              "timeout_ms", "fallback", "name", "speed_mm_s", "confirm"}
URL_OPTIONS = {
    "serial": {"baudrate", "bytesize", "parity", "stopbits", "rtscts", "xonxoff", "dsrdtr", "write_timeout_ms"},
    "tcp": {"connect_timeout_ms", "write_timeout_ms"},
    "usb": {"interface", "in_ep", "out_ep"},
    "file": set(),
}


class PrinterConfigError(ConfigError):
    """The printer configuration is invalid; `errors` lists each problem as (key, value, why)."""

    what = "printer configuration"


@dataclass(frozen=True)
class PrinterProfile:
    """What a printer can do; the renderer needs nothing else."""

    paper_mm: int = 80
    text_mode: str = "gb18030"
    native_qr: bool = True
    cutter: bool = True

    @property
    def dots(self) -> int:
        return geometry.dots(self.paper_mm)

    @property
    def columns(self) -> int:
        return geometry.columns(self.paper_mm)


@dataclass(frozen=True)
class Endpoint:
    """Where a printer is: scheme serial|tcp|usb|file, a target and typed options."""

    scheme: str
    target: str  # device path, host, "vid:pid" or file path
    port: int | None = None
    options: dict = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.target}" + (f":{self.port}" if self.port else "")


@dataclass(frozen=True)
class PrinterConfig:
    id: str
    url: str
    endpoint: Endpoint
    profile: PrinterProfile
    status: bool = True
    timeout_ms: int = 300
    fallback: str | None = None
    name: str = ""
    speed_mm_s: float = 50.0
    confirm: bool = True


def _bool_opt(value: str) -> bool | None:
    return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(value.lower())


def _int_opt(value: str) -> int | None:
    try:
        return int(value, 0)
    except ValueError:
        return None


def _parse_options(scheme: str, raw_opts: dict, key: str, errors: list) -> dict[str, Any]:
    """The typed `?name=value` options of a printer URL; problems go to `errors`."""
    opts: dict[str, Any] = {}
    for name, value in raw_opts.items():
        if name not in URL_OPTIONS[scheme]:
            allowed = ", ".join(sorted(URL_OPTIONS[scheme])) or "none"
            errors.append((f"{key}?{name}", value, f"unknown option for {scheme} (allowed: {allowed})"))
            continue
        if name in ("rtscts", "xonxoff", "dsrdtr"):
            b = _bool_opt(value)
            if b is None:
                errors.append((f"{key}?{name}", value, "must be 0 or 1"))
            opts[name] = bool(b)
        elif name == "parity":
            if value.upper() not in ("N", "E", "O", "M", "S"):
                errors.append((f"{key}?parity", value, "must be N, E, O, M or S"))
            opts[name] = value.upper()
        elif name == "stopbits":
            if value not in ("1", "1.5", "2"):
                errors.append((f"{key}?stopbits", value, "must be 1, 1.5 or 2"))
            opts[name] = float(value) if value == "1.5" else _int_opt(value) or 1
        else:
            n = _int_opt(value)
            if n is None:
                errors.append((f"{key}?{name}", value, "must be a whole number"))
                continue
            if name == "baudrate" and n not in BAUDRATES:
                errors.append((f"{key}?baudrate", n, f"must be one of {', '.join(map(str, BAUDRATES))}"))
            if name == "bytesize" and n not in (5, 6, 7, 8):
                errors.append((f"{key}?bytesize", n, "must be 5, 6, 7 or 8"))
            if name.endswith("_ms") and not 10 <= n <= 60000:
                errors.append((f"{key}?{name}", n, "must be 10 to 60000 milliseconds"))
            if name in ("in_ep", "out_ep", "interface") and not 0 <= n <= 255:
                errors.append((f"{key}?{name}", n, "must be 0 to 255 (0x00-0xff)"))
            opts[name] = n
    return opts


def parse_url(url: Any, key: str = "url") -> tuple[Endpoint | None, list[tuple[str, Any, str]]]:
    """Parse a printer connection URL; return the endpoint (or None) and its problems."""
    errors: list[tuple[str, Any, str]] = []
    if not isinstance(url, str) or "://" not in url:
        return None, [(key, url, "must be a URL like serial:///dev/ttyUSB0?baudrate=19200, "
                                 "tcp://10.0.0.5:9100, usb://0x0416:0x5011 or file:///dev/usb/lp0")]
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in URL_OPTIONS:
        return None, [(key, url, f"unknown scheme {scheme!r}: use serial, tcp, usb or file")]
    opts = _parse_options(scheme, dict(parse_qsl(parts.query, keep_blank_values=True)), key, errors)
    port = None
    if scheme in ("serial", "file"):
        target = parts.path
        if parts.netloc:
            errors.append((key, url, f"{scheme} URLs have three slashes and an absolute path, "
                                     f"like {scheme}:///dev/ttyUSB0"))
        elif not target.startswith("/") or target == "/":
            errors.append((key, url, "needs an absolute device path"))
    elif scheme == "tcp":
        target = parts.hostname or ""
        if not target:
            errors.append((key, url, "needs a host, like tcp://10.0.0.5:9100"))
        try:
            port = parts.port or 9100
        except ValueError:
            errors.append((key, url, "port must be 1 to 65535"))
            port = 9100
        if parts.path not in ("", "/"):
            errors.append((key, url, "a tcp URL has no path"))
    else:  # usb
        target = parts.netloc
        m = re.fullmatch(r"(0x[0-9a-fA-F]{1,4}):(0x[0-9a-fA-F]{1,4})", target)
        if not m:
            errors.append((key, url, "needs a vendor and product id in hex, like usb://0x0416:0x5011"))
        else:
            opts["vendor_id"], opts["product_id"] = int(m.group(1), 16), int(m.group(2), 16)
    if errors:
        return None, errors
    return Endpoint(scheme=scheme, target=target, port=port, options=opts), errors


def parse_printers(tables: Any, source: str = "printer") -> tuple[PrinterConfig, ...]:
    """Validate `[[printer]]` tables (a list of dicts) into PrinterConfig objects, or raise PrinterConfigError."""
    errors: list[tuple[str, Any, str]] = []
    if tables is None:
        return ()
    if not isinstance(tables, list):
        raise PrinterConfigError(source, [("printer", tables, "must be an array of [[printer]] tables")])
    out: list[PrinterConfig] = []
    ids: list[str] = []
    for i, t in enumerate(tables):
        if not isinstance(t, dict):
            errors.append((f"printer[{i}]", t, "must be a table"))
            continue
        printer = _parse_table(t, i, ids, errors)
        ids.append(printer.id)
        out.append(printer)
    for p in out:
        if p.fallback is not None:
            if p.fallback == p.id:
                errors.append((f"printer {p.id!r}.fallback", p.fallback, "a printer cannot be its own fallback"))
            elif p.fallback not in ids:
                errors.append((f"printer {p.id!r}.fallback", p.fallback,
                               f"is not a printer id (known: {', '.join(ids)})"))
    if errors:
        raise PrinterConfigError(source, errors)
    return tuple(out)


def _number(t: dict, key: str, where: str, default: Any, low: float, high: float, why: str, errors: list,
            integer: bool = False) -> Any:
    v = t.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int if integer else (int, float)) or not low <= v <= high:
        errors.append((f"{where}.{key}", v, why))
        return default
    return v


def _parse_table(t: dict, i: int, ids: list[str], errors: list) -> PrinterConfig:
    """One `[[printer]]` table; its problems go to `errors`."""
    pid = t.get("id")
    where = f"printer {pid!r}" if isinstance(pid, str) and pid else f"printer[{i}]"
    for k in t:
        if k not in KNOWN_KEYS:
            errors.append((f"{where}.{k}", t[k], f"unknown key (known: {', '.join(sorted(KNOWN_KEYS))})"))
    if not isinstance(pid, str) or not PRINTER_ID_RE.match(pid):
        errors.append((f"{where}.id", pid, "is required: letters, digits, '-', '_' or '.', at most 40"))
        pid = f"printer{i}"
    if pid in ids:
        errors.append((f"{where}.id", pid, "is used by another printer"))
    endpoint, url_errors = parse_url(t.get("url"), f"{where}.url")
    errors.extend(url_errors)

    def flag(name: str, default: bool) -> bool:
        v = t.get(name, default)
        if not isinstance(v, bool):
            errors.append((f"{where}.{name}", v, "must be true or false"))
            return default
        return v

    paper = t.get("paper", 80)
    if paper not in (58, 80) or isinstance(paper, bool):
        errors.append((f"{where}.paper", paper, "must be 58 or 80 (mm)"))
        paper = 80
    chinese_font = flag("chinese_font", True)
    text_mode = t.get("text_mode", "gb18030" if chinese_font else "image")
    if text_mode not in TEXT_MODES:
        errors.append((f"{where}.text_mode", text_mode, "must be gb18030 or image"))
        text_mode = "image"
    elif text_mode == "gb18030" and not chinese_font:
        errors.append((f"{where}.text_mode", text_mode,
                       "needs a printer with a Chinese font (chinese_font = true); use image"))
    is_file = endpoint is not None and endpoint.scheme == "file"
    status = flag("status", not is_file)
    if status and is_file:
        errors.append((f"{where}.status", status, "a device file (file://) cannot answer status queries: "
                                                  "leave status out or set it false"))
    speed = _number(t, "speed_mm_s", where, 50, 10, 500, "must be 10 to 500 (mm of paper a second)", errors)
    timeout_ms = _number(t, "timeout_ms", where, 300, 20, 2000,
                         "must be 20 to 2000 milliseconds (a kiosk must not wait longer for a status)", errors, True)
    fallback = t.get("fallback")
    if fallback is not None and not isinstance(fallback, str):
        errors.append((f"{where}.fallback", fallback, "must be another printer's id"))
        fallback = None
    name = t.get("name", "")
    if not isinstance(name, str):
        errors.append((f"{where}.name", name, "must be a string"))
        name = ""
    return PrinterConfig(
        id=pid, url=str(t.get("url")), endpoint=endpoint or Endpoint("file", "/dev/null"),
        profile=PrinterProfile(paper_mm=paper, text_mode=text_mode, native_qr=flag("native_qr", True),
                               cutter=flag("cutter", True)),
        status=status, timeout_ms=timeout_ms, fallback=fallback, name=name, speed_mm_s=float(speed),
        confirm=flag("confirm", True))


def load_printers(path: str | Path) -> tuple[PrinterConfig, ...]:
    """The `[[printer]]` tables of a TOML file, validated."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PrinterConfigError(str(path), [("(file)", str(path), "does not exist")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise PrinterConfigError(str(path), [("(file)", str(path), f"is not valid TOML: {exc}")]) from None
    return parse_printers(raw.get("printer", []), source=str(path))


def printer_from_url(url: str, paper: int = 80, text_mode: str = "gb18030", printer_id: str = "printer",
                     **profile: Any) -> PrinterConfig:
    """A one-off printer config from a URL (for `onewindow print-sample --printer URL`)."""
    table = {"id": printer_id, "url": url, "paper": paper, "text_mode": text_mode,
             "chinese_font": text_mode == "gb18030", **profile}
    return parse_printers([table], source=url)[0]
