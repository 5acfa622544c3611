"""Zones: which windows and business types one hall display shows.

A site with several displays gives each a zone. A zone is written on the command line
(`onewindow display --zone "windows=1-4;types=A,B"`) or named in a zones file (TOML,
`[zone.east] windows = [1, 2, 3, 4]`, `types = ["A", "B"]`) given with `--zones FILE`.
An empty zone (the default) shows the whole hall.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

PREFIX_RE = re.compile(r"[A-Z]{1,2}")


class ZoneError(ValueError):
    """A zone spec or zones file that cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class Zone:
    name: str = "all"
    windows: frozenset[int] | None = None  # None: every window
    business_types: frozenset[str] | None = None  # None: every business type

    def has_window(self, number: int) -> bool:
        return self.windows is None or number in self.windows

    def has_type(self, prefix: str) -> bool:
        return self.business_types is None or prefix in self.business_types

    def has_call(self, number: str, window: int) -> bool:
        return self.has_window(window) and self.has_type(prefix_of(number))


def prefix_of(number: str) -> str:
    """The business-type letters of a ticket number: "A023" -> "A"."""
    i = 0
    while i < len(number) and number[i].isalpha():
        i += 1
    return number[:i]


def _window_numbers(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        a, _, b = part.partition("-")
        if not a.isdigit() or (b and not b.isdigit()):
            raise ZoneError(f"window list {text!r}: {part!r} is not a number or range like 1-4")
        lo, hi = int(a), int(b or a)
        if hi < lo or hi - lo > 999:
            raise ZoneError(f"window list {text!r}: range {part!r} is backwards or too long")
        out.update(range(lo, hi + 1))
    return frozenset(out)


def _types(values) -> frozenset[str]:
    out = set()
    for v in values:
        if not isinstance(v, str) or not PREFIX_RE.fullmatch(v.strip()):
            raise ZoneError(f"business type {v!r} is not a prefix like A")
        out.add(v.strip())
    return frozenset(out)


def parse_zone(spec: str | None, zones_file: str | Path | None = None) -> Zone:
    """A zone from `--zone` (a spec, or a name in the zones file); None or "" is the whole hall."""
    if not spec:
        return Zone()
    if "=" not in spec:
        if zones_file is None:
            raise ZoneError(f"zone {spec!r}: give windows=/types= or a zones file with --zones")
        return load_zones(zones_file).get(spec) or _unknown(spec, zones_file)
    windows = types = None
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        key, _, value = part.partition("=")
        key = key.strip()
        if key == "windows":
            windows = _window_numbers(value)
        elif key == "types":
            types = _types(v for v in value.split(",") if v.strip())
        else:
            raise ZoneError(f"zone {spec!r}: unknown key {key!r} (use windows= and types=)")
    return Zone(name=spec, windows=windows, business_types=types)


def _unknown(name: str, path) -> Zone:
    raise ZoneError(f"zone {name!r} is not in {path}")


def load_zones(path: str | Path) -> dict[str, Zone]:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ZoneError(f"zones file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ZoneError(f"zones file {path} is not valid TOML: {exc}") from None
    zones = {}
    for name, table in (raw.get("zone") or {}).items():
        if not isinstance(table, dict):
            raise ZoneError(f"zone.{name} must be a table")
        windows = table.get("windows")
        if windows is not None and (not isinstance(windows, list)
                                    or not all(isinstance(w, int) and not isinstance(w, bool) for w in windows)):
            raise ZoneError(f"zone.{name}.windows must be a list of window numbers")
        types = table.get("types")
        if types is not None and not isinstance(types, list):
            raise ZoneError(f"zone.{name}.types must be a list of business-type prefixes")
        zones[name] = Zone(name=name, windows=None if windows is None else frozenset(windows),
                           business_types=None if types is None else _types(types))
    return zones
