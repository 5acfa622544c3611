"""Site configuration: one TOML file (plus its service-item catalogue), validated once.

`load(path)` returns a frozen `SiteConfig` or raises `ConfigError` listing every problem as
"key: value: why". Nothing else in onewindow reads the file.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from onewindow.devices import DEVICE_ROLES, Device, devices_section as _devices  # noqa: F401 (re-exported)
from onewindow.appointment_config import AppointmentPolicy, read_appointments
from onewindow.catalogue import Catalogue, load_catalogue_data

SITE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
PREFIX_RE = re.compile(r"^[A-Z]$")
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRIORITY_GROUPS = {
    "military": ("军人优先", "Service members and veterans"),
    "elderly": ("老年人优先", "Elderly"),
    "pregnant": ("孕妇优先", "Pregnant women"),
    "disabled": ("残疾人优先", "People with disabilities"),
}
MISSED_POLICIES = ("void", "requeue")
SITE_LEVELS = ("city", "county", "township", "village", "hospital", "pharmacy", "bank")
WINDOW_KINDS = ("comprehensive", "priority", "enterprise", "complex")


class ConfigError(Exception):
    """The configuration is invalid; `errors` lists each problem as (key, value, why)."""

    what = "configuration"

    def __init__(self, source: str, errors: list[tuple[str, Any, str]]):
        self.source = source
        self.errors = errors
        lines = [f"{source}: {len(errors)} problem(s) in the {self.what}:"]
        lines += [f"  - {key}: {value!r}: {why}" for key, value, why in errors]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Span:
    """A daily time span [start, end) in local time, e.g. 08:30-12:00."""

    start: time
    end: time

    def contains(self, t: time) -> bool:
        return self.start <= t < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class BusinessType:
    prefix: str
    name: str
    name_en: str
    service_minutes: float
    daily_quota: int | None = None
    issue_hours: tuple[Span, ...] | None = None  # None: the site's opening hours


@dataclass(frozen=True)
class Window:
    number: int
    name: str
    serves: tuple[str, ...]  # business-type prefixes, in this window's priority order
    kind: str = "comprehensive"
    hours: tuple[Span, ...] | None = None  # lunch-break / extended-hours windows; None: site hours


@dataclass(frozen=True)
class PriorityPolicy:
    groups: tuple[str, ...] = ("military", "elderly", "pregnant", "disabled")
    elderly_age: int = 70
    head_start_minutes: float = 30.0
    max_wait_minutes: float = 60.0
    # A window prefers the business types it lists first: each place down its list counts as this many
    # minutes less waiting when the window chooses whom to call next.
    skill_step_minutes: float = 10.0
    # A ticket moves forward this many minutes for each person waiting in its line per window trained
    # for its business type, so a window trained for several lines helps the one falling behind.
    line_step_minutes: float = 10.0
    # Line pressure gives at most this many minutes of credit, so it never puts anyone who came more
    # than this long after a ticket ahead of it (and nobody ahead of a priority citizen).
    line_cap_minutes: float = 20.0


@dataclass(frozen=True)
class CallPolicy:
    max_calls: int = 3  # the first call plus recalls
    missed: str = "void"  # or "requeue"
    requeue_places: int = 3
    max_requeues: int = 1


@dataclass(frozen=True)
class SiteConfig:
    site_id: str
    name: str
    name_en: str
    timezone: str
    level: str
    day_reset: time
    hours: dict[str, tuple[Span, ...]]  # weekday -> spans
    business_types: tuple[BusinessType, ...]
    windows: tuple[Window, ...]
    priority: PriorityPolicy
    calls: CallPolicy
    ratings_enabled: bool
    catalogue: Catalogue
    address: str = ""
    phone_enquiry: str = ""
    phone_complaint: str = ""
    public_url: str = ""  # the hall's public web address (its ticket pages are {public_url}/t/{ticket id})
    source: str = "<memory>"
    stop_issuing_minutes: float = 15.0  # tickets stop this long before every window serving a type closes
    devices: tuple[Device, ...] = ()
    follow_up_days: tuple[int, int] = (1, 5)  # working days to first contact, to close (bad ratings)
    appointments: AppointmentPolicy = AppointmentPolicy()  # the appointment book and extended hours
    _types_by_prefix: dict[str, BusinessType] = field(default_factory=dict, repr=False, compare=False)
    _windows_by_number: dict[int, Window] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._types_by_prefix.update({b.prefix: b for b in self.business_types})
        self._windows_by_number.update({w.number: w for w in self.windows})

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def business_type(self, prefix: str) -> BusinessType | None:
        return self._types_by_prefix.get(prefix)

    def window(self, number: int) -> Window | None:
        return self._windows_by_number.get(number)

    def hours_on(self, weekday: int) -> tuple[Span, ...]:
        return self.hours.get(WEEKDAYS[weekday], ())


class _Checker:
    """Collects (key, value, why) problems while reading raw TOML data."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, Any, str]] = []

    def fail(self, key: str, value: Any, why: str) -> None:
        self.errors.append((key, value, why))

    def table(self, data: dict, key: str, path: str, required: bool = False) -> dict:
        value = data.get(key, None)
        if value is None:
            if required:
                self.fail(path, None, "is required")
            return {}
        if not isinstance(value, dict):
            self.fail(path, value, "must be a table")
            return {}
        return value

    def str_(self, data: dict, key: str, path: str, default: str | None = None,
             pattern: re.Pattern | None = None, choices: Iterable[str] | None = None) -> str:
        value = data.get(key, default)
        if value is None:
            self.fail(path, None, "is required")
            return ""
        if not isinstance(value, str) or (not value.strip() and default is None):
            self.fail(path, value, "must be a non-empty string")
            return ""
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(path, value, f"must match {pattern.pattern}")
        if choices is not None and value not in choices:
            self.fail(path, value, f"must be one of {', '.join(choices)}")
        return value

    def num(self, data: dict, key: str, path: str, default: float | None = None,
            minimum: float | None = None, maximum: float | None = None, integer: bool = False) -> Any:
        value = data.get(key, default)
        if value is None:
            if default is None and key in data:
                self.fail(path, value, "is required")
            return None
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            self.fail(path, value, "must be an integer" if integer else "must be a number")
            return default
        if minimum is not None and value < minimum:
            self.fail(path, value, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            self.fail(path, value, f"must be at most {maximum}")
        return value

    def clock(self, value: Any, path: str) -> time | None:
        if not isinstance(value, str) or not HHMM_RE.match(value):
            self.fail(path, value, "must be a time HH:MM (24-hour)")
            return None
        h, m = value.split(":")
        return time(int(h), int(m))

    def spans(self, value: Any, path: str) -> tuple[Span, ...]:
        if not isinstance(value, list):
            self.fail(path, value, 'must be a list of spans like "08:30-12:00"')
            return ()
        out: list[Span] = []
        for i, raw in enumerate(value):
            p = f"{path}[{i}]"
            if not isinstance(raw, str) or raw.count("-") != 1:
                self.fail(p, raw, 'must be a span like "08:30-12:00"')
                continue
            a, b = (self.clock(x.strip(), p) for x in raw.split("-"))
            if a is None or b is None:
                continue
            if b <= a:
                self.fail(p, raw, "must end after it starts")
                continue
            if out and a < out[-1].end:
                self.fail(p, raw, "overlaps or precedes the span before it")
                continue
            out.append(Span(a, b))
        return tuple(out)


def read_toml(path: str | Path, error: type[ConfigError] = ConfigError) -> dict:
    """The data of a TOML file, or `error` saying that the file is missing or not TOML."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(str(path), [("(file)", str(path), "does not exist")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise error(str(path), [("(file)", str(path), f"is not valid TOML: {exc}")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(str(path), [("(file)", str(path), f"cannot be read: {exc}")]) from None


def _check_day_reset(c: _Checker, reset: time, hours: dict, types: list, windows: list) -> None:
    """The service day may not end while the hall works: it would cancel everyone waiting."""
    spans = [s for v in hours.values() for s in v]
    spans += [s for t in types for s in (t.issue_hours or ())] + [s for w in windows for s in (w.hours or ())]
    inside = sorted({str(s) for s in spans if s.start < reset < s.end})
    if inside:
        c.fail("site.day_reset", f"{reset:%H:%M}", f"falls inside opening hours ({', '.join(inside)}): "
               "the day would end while citizens wait")


def load(path: str | Path) -> SiteConfig:
    """Read and validate a site configuration file and the catalogue it names."""
    path = Path(path)
    return from_dict(read_toml(path), source=str(path), base_dir=path.parent)


def from_dict(raw: dict, source: str = "<memory>", base_dir: Path | None = None) -> SiteConfig:
    """Validate raw TOML data section by section; a SiteConfig, or ConfigError listing every problem."""
    c = _Checker()
    site = _site_section(c, raw)
    hours = _hours(c, raw)
    types = _business_types(c, raw)
    prefixes = {t.prefix for t in types}
    windows = _windows(c, raw, prefixes)
    for t in types:
        if not any(t.prefix in w.serves for w in windows):
            c.fail("window", t.prefix, f"no window serves business type {t.prefix} ({t.name})")
    _check_day_reset(c, site["day_reset"], hours, types, windows)
    priority, calls = _priority(c, raw), _calls(c, raw)
    ratings_enabled = _ratings_enabled(c, raw)
    follow_up_days = _follow_up_days(c, raw)
    catalogue = _catalogue(c, raw, prefixes, base_dir)
    devices = _devices(c, raw.get("device", []), {w.number for w in windows}, site.get("site_id"))
    appointments = read_appointments(c, raw, prefixes, {w.number for w in windows})
    if c.errors:
        raise ConfigError(source, c.errors)
    return SiteConfig(**site, hours=hours, business_types=tuple(types), windows=tuple(windows),
                      priority=priority, calls=calls, ratings_enabled=ratings_enabled, catalogue=catalogue,
                      source=source, devices=devices, follow_up_days=follow_up_days,
                      appointments=appointments)


PUBLIC_URL_RE = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


def _site_section(c: _Checker, raw: dict) -> dict[str, Any]:
    """[site]: the SiteConfig fields it gives."""
    site = c.table(raw, "site", "site", required=True)
    tz = c.str_(site, "timezone", "site.timezone", default="Asia/Shanghai")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        c.fail("site.timezone", tz, "is not a known IANA time zone")
    address = site.get("address", "")
    public_url = site.get("public_url", "")
    if not isinstance(public_url, str) or (public_url and not PUBLIC_URL_RE.match(public_url)):
        c.fail("site.public_url", public_url, "must be the hall's public http(s) address, like https://hall.example.cn")
        public_url = ""
    return {
        "site_id": c.str_(site, "id", "site.id", pattern=SITE_ID_RE),
        "name": c.str_(site, "name", "site.name"),
        "name_en": c.str_(site, "name_en", "site.name_en", default=""),
        "timezone": tz,
        "level": c.str_(site, "level", "site.level", default="county", choices=SITE_LEVELS),
        "day_reset": c.clock(site.get("day_reset", "03:00"), "site.day_reset") or time(3, 0),
        "address": address if isinstance(address, str) else "",
        "phone_enquiry": str(site.get("phone_enquiry", "")),
        "phone_complaint": str(site.get("phone_complaint", "")),
        "public_url": public_url.rstrip("/"),
        "stop_issuing_minutes": float(c.num(site, "stop_issuing_minutes", "site.stop_issuing_minutes", default=15,
                                            minimum=0, maximum=240) or 0),
    }


def _hours(c: _Checker, raw: dict) -> dict[str, tuple[Span, ...]]:
    """[hours]: weekday -> opening spans (`weekdays` and `weekend` name several days)."""
    hours: dict[str, tuple[Span, ...]] = {}
    for key, value in c.table(raw, "hours", "hours", required=True).items():
        targets = {"weekdays": WEEKDAYS[:5], "weekend": WEEKDAYS[5:]}.get(key, (key,))
        if targets == (key,) and key not in WEEKDAYS:
            c.fail(f"hours.{key}", value, "unknown day: use mon..sun, weekdays or weekend")
            continue
        spans = c.spans(value, f"hours.{key}")
        for day in targets:
            hours[day] = spans
    return hours


def _entries(c: _Checker, raw: dict, key: str) -> list[tuple[str, dict]]:
    """The tables of an array of tables ([[key]]): (path, table) for each, at least one required."""
    entries = raw.get(key, [])
    if not isinstance(entries, list) or not entries:
        c.fail(key, entries, f"at least one [[{key}]] is required")
        return []
    out = []
    for i, entry in enumerate(entries):
        if isinstance(entry, dict):
            out.append((f"{key}[{i}]", entry))
        else:
            c.fail(f"{key}[{i}]", entry, "must be a table")
    return out


def _business_types(c: _Checker, raw: dict) -> list[BusinessType]:
    """[[business_type]]"""
    types: list[BusinessType] = []
    for p, bt in _entries(c, raw, "business_type"):
        prefix = c.str_(bt, "prefix", f"{p}.prefix", pattern=PREFIX_RE)
        if any(t.prefix == prefix for t in types):
            c.fail(f"{p}.prefix", prefix, "is used by another business type")
        types.append(BusinessType(
            prefix=prefix,
            name=c.str_(bt, "name", f"{p}.name"),
            name_en=c.str_(bt, "name_en", f"{p}.name_en", default=""),
            service_minutes=float(c.num(bt, "service_minutes", f"{p}.service_minutes", default=8,
                                        minimum=0.5, maximum=240) or 8),
            daily_quota=c.num(bt, "daily_quota", f"{p}.daily_quota", minimum=1, maximum=999, integer=True),
            issue_hours=c.spans(bt["issue_hours"], f"{p}.issue_hours") if "issue_hours" in bt else None,
        ))
    return types


def _windows(c: _Checker, raw: dict, prefixes: set[str]) -> list[Window]:
    """[[window]]"""
    windows: list[Window] = []
    for p, w in _entries(c, raw, "window"):
        number = c.num(w, "number", f"{p}.number", minimum=1, maximum=999, integer=True)
        if number is None:
            c.fail(f"{p}.number", None, "is required")
            number = 0
        if any(x.number == number for x in windows):
            c.fail(f"{p}.number", number, "is used by another window")
        windows.append(Window(
            number=number,
            name=c.str_(w, "name", f"{p}.name", default=f"{number}号窗口"),
            serves=_serves(c, w.get("serves"), f"{p}.serves", prefixes),
            kind=c.str_(w, "kind", f"{p}.kind", default="comprehensive", choices=WINDOW_KINDS),
            hours=c.spans(w["hours"], f"{p}.hours") if "hours" in w else None,
        ))
    return windows


def _serves(c: _Checker, serves: Any, path: str, prefixes: set[str]) -> tuple[str, ...]:
    if not isinstance(serves, list) or not serves or not all(isinstance(s, str) for s in serves):
        c.fail(path, serves, "must be a non-empty list of business-type prefixes")
        return ()
    for s in serves:
        if s not in prefixes:
            c.fail(path, s, f"is not a business type prefix (known: {', '.join(sorted(prefixes))})")
    if len(set(serves)) != len(serves):
        c.fail(path, serves, "lists a business type twice")
    return tuple(serves)


def _priority(c: _Checker, raw: dict) -> PriorityPolicy:
    """[priority]"""
    pr = c.table(raw, "priority", "priority")
    groups = pr.get("groups", list(PriorityPolicy.groups))
    if not isinstance(groups, list) or any(g not in PRIORITY_GROUPS for g in groups):
        c.fail("priority.groups", groups, f"must be a list drawn from {', '.join(PRIORITY_GROUPS)}")
        groups = []

    def minutes(key: str, default: float, minimum: float, maximum: float) -> float:
        return float(c.num(pr, key, f"priority.{key}", default=default, minimum=minimum, maximum=maximum))

    return PriorityPolicy(
        groups=tuple(groups),
        elderly_age=c.num(pr, "elderly_age", "priority.elderly_age", default=70, minimum=50, maximum=100,
                          integer=True),
        head_start_minutes=minutes("head_start_minutes", 30, 0, 600),
        max_wait_minutes=minutes("max_wait_minutes", 60, 1, 1440),
        skill_step_minutes=minutes("skill_step_minutes", 10, 0, 600),
        line_step_minutes=minutes("line_step_minutes", 10, 0, 600),
        line_cap_minutes=minutes("line_cap_minutes", 20, 0, 600),
    )


def _calls(c: _Checker, raw: dict) -> CallPolicy:
    """[calls]"""
    cl = c.table(raw, "calls", "calls")
    return CallPolicy(
        max_calls=c.num(cl, "max_calls", "calls.max_calls", default=3, minimum=1, maximum=10, integer=True),
        missed=c.str_(cl, "missed", "calls.missed", default="void", choices=MISSED_POLICIES),
        requeue_places=c.num(cl, "requeue_places", "calls.requeue_places", default=3, minimum=0, maximum=100,
                             integer=True),
        max_requeues=c.num(cl, "max_requeues", "calls.max_requeues", default=1, minimum=0, maximum=10,
                           integer=True),
    )


def _follow_up_days(c: _Checker, raw: dict) -> tuple[int, int]:
    """[ratings] follow-up deadlines of a bad rating: working days to first contact, to closing."""
    r = c.table(raw, "ratings", "ratings")
    return (c.num(r, "follow_up_contact_days", "ratings.follow_up_contact_days", default=1, minimum=0, maximum=30,
                  integer=True),
            c.num(r, "follow_up_close_days", "ratings.follow_up_close_days", default=5, minimum=0, maximum=90,
                  integer=True))


def _ratings_enabled(c: _Checker, raw: dict) -> bool:
    """[ratings]"""
    enabled = c.table(raw, "ratings", "ratings").get("enabled", True)
    if not isinstance(enabled, bool):
        c.fail("ratings.enabled", enabled, "must be true or false")
        return True
    return enabled


def _catalogue(c: _Checker, raw: dict, prefixes: set[str], base_dir: Path | None) -> Catalogue:
    """`catalogue = "file.toml"`: the service items, read from their own file."""
    cat_ref = raw.get("catalogue")
    if cat_ref is None:
        return Catalogue(items=())
    if not isinstance(cat_ref, str):
        c.fail("catalogue", cat_ref, "must be the path of the catalogue file")
        return Catalogue(items=())
    cat_path = Path(cat_ref)
    if not cat_path.is_absolute() and base_dir is not None:
        cat_path = base_dir / cat_path
    try:
        cat_raw = tomllib.loads(cat_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        c.fail("catalogue", cat_ref, f"file {cat_path} does not exist")
        return Catalogue(items=())
    except tomllib.TOMLDecodeError as exc:
        c.fail("catalogue", cat_ref, f"is not valid TOML: {exc}")
        return Catalogue(items=())
    except (OSError, UnicodeDecodeError) as exc:  # a directory, no permission, not UTF-8 (found by fuzzing)
        c.fail("catalogue", cat_ref, f"cannot be read: {exc}")
        return Catalogue(items=())
    catalogue, cat_errors = load_catalogue_data(cat_raw, prefixes)
    c.errors.extend((f"catalogue:{k}", v, why) for k, v, why in cat_errors)
    return catalogue


SITES_DIR = Path(__file__).resolve().parent / "sites"


def sample_path(name: str = "county-hall") -> Path:
    """Path of a shipped sample site configuration ("county-hall" or "village-point")."""
    return SITES_DIR / f"{name}.toml"


def add_config_argument(parser) -> None:
    """Add `-c/--config` to a command (every process takes the site's configuration this way)."""
    parser.add_argument("-c", "--config", default=None,
                        help="site configuration (TOML); default: the sample county hall")


def site_or_report(args) -> SiteConfig | None:
    """The site configuration named by `args.config` (default: the sample), or None after printing every
    problem with it (the command then exits 1)."""
    try:
        return load(args.config or sample_path())
    except ConfigError as exc:
        print(exc)
        return None
