"""Who comes to the hall, when, for what, and how long it takes: load profiles and test halls.

A `Profile` is the citizens' side of a simulated day (arrival rates per business type and time of
day, service-time distributions, behaviour shares). The hall's side is a real `SiteConfig`: the
sample county hall, or a hall built in code with `onewindow.config.from_dict` (city centre, and the
steady-state halls of the proof runs).

Figures follow /work/shared/domain/DOMAIN.md: a county hall takes ~800 cases a working day on ~12
windows, a city centre ~2,500 on ~40; the first hour after opening is the peak; most items take
under 10 minutes with a long tail of complex ones.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from onewindow import config
from onewindow.config import SiteConfig

# A Monday (the hall's weekday hours apply).
SIM_DAY = date(2026, 11, 23)
PREFIXES = ("A", "B", "C", "D", "E", "F")


@dataclass(frozen=True)
class Service:
    """A service-time distribution: mean minutes and coefficient of variation.

    `kind` is "lognormal" (the long tail seen at a counter) or "exp" (exponential, for the textbook
    checks)."""

    mean_minutes: float
    cv: float = 0.9
    kind: str = "lognormal"


@dataclass(frozen=True)
class Segment:
    """Arrivals between two local clock hours (floats; past 24 means after midnight), per hour."""

    start_hour: float
    end_hour: float
    per_hour: dict[str, float]


@dataclass(frozen=True)
class Profile:
    name: str
    arrivals: tuple[Segment, ...]
    service: dict[str, Service]
    use_items: bool = True  # draw a catalogue item per ticket; item means scale with the type's mean
    priority_share: float = 0.10  # share of walk-ins in a priority group
    appointments_per_hour: float = 0.0  # booked one-hour slots, checked in on arrival
    absent_share: float = 0.04  # not at hand when called; half come back later, half have left
    transfer_share: float = 0.02  # handed to another business type part-way (keeps their place)
    hold_share: float = 0.02  # sent to fetch a paper; the clerk holds the ticket and calls back
    pause_per_service: float = 0.04  # chance a clerk pauses after a visit ...
    pause_minutes: float = 6.0  # ... for this long on average
    walk_seconds: tuple[float, float] = (10.0, 40.0)  # from hearing the call to the window
    recall_seconds: float = 45.0  # a clerk recalls an absent citizen this often
    rating_share: float = 0.7  # citizens who rate on the pad
    lunch_overrun_minutes: float = 45.0  # clerks clear their line before a break, up to this long
    always_open: bool = False  # issue tickets at any hour (steady-state runs)
    measure: tuple[float, float] | None = None  # count only tickets arriving between these local hours

    def total_per_day(self) -> float:
        return sum((s.end_hour - s.start_hour) * sum(s.per_hour.values()) for s in self.arrivals)

    def scaled(self, factor: float, name: str | None = None) -> "Profile":
        segs = tuple(Segment(s.start_hour, s.end_hour, {p: r * factor for p, r in s.per_hour.items()})
                     for s in self.arrivals)
        return replace(self, arrivals=segs, appointments_per_hour=self.appointments_per_hour * factor,
                       name=name or self.name)


# ---------------------------------------------------------------------------------------------- load
# Share of cases per business type in a county hall (records and certificates are the commonest).
COUNTY_MIX = {"A": 0.25, "B": 0.35, "C": 0.10, "D": 0.15, "E": 0.10, "F": 0.05}
# Service as observed at the counter: faster than the catalogue's planning figures, with a long tail.
COUNTY_SERVICE = {"A": Service(4.5), "B": Service(2.5), "C": Service(6.0), "D": Service(9.0),
                  "E": Service(8.0), "F": Service(12.0)}
# Cases per opening period of a weekday: the first hour after opening is the peak.
COUNTY_SHAPE = ((8.5, 9.5, 125), (9.5, 10.5, 115), (10.5, 11.5, 100), (11.5, 12.0, 40),
                (13.5, 14.5, 110), (14.5, 15.5, 110), (15.5, 16.5, 105), (16.5, 17.5, 95))


def day_profile(name: str, cases: float, mix: dict[str, float] = COUNTY_MIX,
                service: dict[str, Service] = COUNTY_SERVICE, appointments_share: float = 0.04,
                **kw) -> Profile:
    """A working day of `cases` tickets with the county hall's daily shape and mix."""
    base = sum(n for _, _, n in COUNTY_SHAPE)
    open_hours = sum(b - a for a, b, _ in COUNTY_SHAPE)
    walk_in = 1.0 - appointments_share
    segs = tuple(Segment(a, b, {p: n * cases / base / (b - a) * share * walk_in for p, share in mix.items()})
                 for a, b, n in COUNTY_SHAPE)
    return Profile(name=name, arrivals=segs, service=dict(service),
                   appointments_per_hour=cases * appointments_share / open_hours, **kw)


def county_profile() -> Profile:
    return day_profile("county hall weekday", 800)


def city_profile() -> Profile:
    return day_profile("city centre weekday", 2500)


def county_site() -> SiteConfig:
    return config.load(config.sample_path("county-hall"))


# ---------------------------------------------------------------------------------------------- halls
def hall_dict(windows: list[list[str]], prefixes=PREFIXES, service_minutes: dict[str, float] | None = None,
              skill_step: float = 10, head_start: float = 30, max_wait: float = 60,
              groups: tuple[str, ...] = ("military", "elderly", "pregnant", "disabled"),
              missed: str = "requeue", ratings: bool = True, site_id: str = "sim-hall",
              hours: list[str] | None = None, window_hours: dict[int, list[str]] | None = None,
              line_step: float | None = None, line_cap: float | None = None,
              kinds: dict[int, str] | None = None) -> dict:
    """The raw configuration (same shape as the TOML) of a hall with the given windows' skills."""
    service_minutes = service_minutes or {p: 8 for p in prefixes}
    raw = {
        "site": {"id": site_id, "name": "模拟大厅", "name_en": "Simulated hall", "timezone": "Asia/Shanghai",
                 "day_reset": "03:00"},
        "hours": {"weekdays": hours or ["08:30-12:00", "13:30-17:30"]},
        "business_type": [{"prefix": p, "name": f"业务{p}", "name_en": f"Business {p}",
                           "service_minutes": service_minutes[p]} for p in prefixes],
        "window": [{"number": i + 1, "serves": list(s)} for i, s in enumerate(windows)],
        "priority": {"groups": list(groups), "head_start_minutes": head_start, "max_wait_minutes": max_wait,
                     "skill_step_minutes": skill_step},
        "calls": {"max_calls": 3, "missed": missed, "requeue_places": 3, "max_requeues": 1},
        "ratings": {"enabled": ratings},
    }
    for number, spans in (window_hours or {}).items():
        raw["window"][number - 1]["hours"] = spans
    for number, kind in (kinds or {}).items():
        raw["window"][number - 1]["kind"] = kind
    if line_step is not None:
        raw["priority"]["line_step_minutes"] = line_step
    if line_cap is not None:
        raw["priority"]["line_cap_minutes"] = line_cap
    return raw


def hall(windows: list[list[str]], **kw) -> SiteConfig:
    return config.from_dict(hall_dict(windows, **kw))


def chain_skills(n_windows: int, prefixes=PREFIXES) -> list[list[str]]:
    """Mixed skills: each window trained for three business types, linked in a chain.

    Windows come in pairs per type: the first of a pair also serves the next two types, the second
    the previous type and the one opposite, so every type is served by six windows and can borrow
    from its neighbours and across the hall."""
    k = len(prefixes)
    out = []
    for j in range(n_windows):
        i = (j // 2) % k
        if j % 2 == 0:
            out.append([prefixes[i], prefixes[(i + 1) % k], prefixes[(i + 2) % k]])
        else:
            out.append([prefixes[i], prefixes[(i - 1) % k], prefixes[(i + k // 2) % k]])
    return out


def dedicated_skills(n_windows: int, prefixes=PREFIXES) -> list[list[str]]:
    """Each window serves one business type only (the same number of windows per type)."""
    return [[prefixes[(j // (n_windows // len(prefixes))) % len(prefixes)]] for j in range(n_windows)]


def pooled_skills(n_windows: int, prefixes=PREFIXES) -> list[list[str]]:
    return [list(prefixes) for _ in range(n_windows)]


def pooled_like(skills: list[list[str]], prefixes=PREFIXES) -> list[list[str]]:
    """The same hall fully pooled: every window serves every type, its own skills first in its own
    order (so the rule's skill preferences are the same as in `skills`), then the others."""
    return [list(s) + [p for p in prefixes if p not in s] for s in skills]


def city_site() -> SiteConfig:
    """A city centre: 40 windows of mixed skills (the county hall's pattern, three times over, plus a
    priority window, two enterprise windows and a lunch-break window)."""
    county = county_site()
    pattern = [list(w.serves) for w in county.windows]
    windows = pattern * 3 + [["A", "B", "C", "D", "E"], ["F", "A"], ["F", "D"], ["B", "A", "C"]]
    lunch = {n: ["08:30-17:30"] for n in (11, 23, 35, 40)}
    service = {b.prefix: b.service_minutes for b in county.business_types}
    return hall(windows, service_minutes=service, site_id="sim-city", window_hours=lunch)


def steady_profile(name: str, per_hour: dict[str, float], service: dict[str, Service], hours: float = 20.0,
                   warmup: float = 1.5, cooldown: float = 1.5, **kw) -> Profile:
    """Constant arrival rates through a service day (from 03:10, `hours` long, leaving time to serve
    everyone before the 03:00 reset); tickets
    are counted between `warmup` hours after the start and `cooldown` hours before the end."""
    start = 3 + 1 / 6
    behaviour = dict(use_items=False, priority_share=0.0, appointments_per_hour=0.0, absent_share=0.0,
                     transfer_share=0.0, hold_share=0.0, pause_per_service=0.0, walk_seconds=(0.0, 0.0),
                     rating_share=0.0, always_open=True)
    behaviour.update(kw)
    return Profile(name=name, arrivals=(Segment(start, start + hours, dict(per_hour)),), service=dict(service),
                   measure=(start + warmup, start + hours - cooldown), **behaviour)
