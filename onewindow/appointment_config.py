"""The `[appointments]` section of a site configuration: the appointment book's rules and the
extended-hours sessions (appointment-only weekdays, a holiday calendar with its own hours).

Read by `onewindow.config.from_dict` (which collects the problems with everyone else's); the engine's
appointment book (`queue_server/appointments.py`) follows it. Lunch-time windows are `window.hours`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

IDENTITY_FIELDS = ("id_last4", "phone", "name")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class AppointmentPolicy:
    enabled: bool = True
    business_types: tuple[str, ...] | None = None  # None: every business type may be booked
    slot_minutes: int = 60
    share: float = 0.5  # of a staffed window's time offered to bookings (appointment-only days: all of it)
    horizon_days: int = 14  # how far ahead a slot may be booked
    identity: tuple[str, ...] = ("id_last4", "phone")  # what a booking holds (protected) to recognise the citizen
    purge_days: int = 60  # the protected identity is forgotten this long after the slot
    check_in_early_minutes: int = 30
    check_in_late_minutes: int = 15  # later than this after the slot began: a walk-in
    no_show_limit: int = 2  # this many no-shows within `no_show_days` ...
    no_show_days: int = 30
    block_days: int = 30  # ... block new bookings for this long after the last one
    only_days: tuple[str, ...] = ()  # weekdays that serve appointments only (walk-ins refused)
    holidays: tuple[date, ...] = ()  # closed to walk-ins; appointments in `holiday_hours` only
    holiday_hours: tuple = ()  # spans (config.Span) of appointment service on holidays; empty: closed
    holiday_windows: tuple[int, ...] | None = None  # windows staffed on holidays; None: all

    def bookable(self, prefix: str) -> bool:
        return self.enabled and (self.business_types is None or prefix in self.business_types)


def read_appointments(c, raw: dict, prefixes: set[str], windows: set[int]) -> AppointmentPolicy:
    """[appointments] -> AppointmentPolicy; problems go to the checker `c` (onewindow.config._Checker)."""
    a = c.table(raw, "appointments", "appointments")
    known = {"enabled", "business_types", "slot_minutes", "share", "horizon_days", "identity", "purge_days",
             "check_in_early_minutes", "check_in_late_minutes", "no_show_limit", "no_show_days", "block_days",
             "only_days", "holidays", "holiday_hours", "holiday_windows"}
    for key in sorted(set(a) - known):
        c.fail(f"appointments.{key}", a[key], "is not a key of [appointments]")
    enabled = a.get("enabled", True)
    if not isinstance(enabled, bool):
        c.fail("appointments.enabled", enabled, "must be true or false")
        enabled = True

    def num(key: str, default, lo, hi, integer=True):
        return c.num(a, key, f"appointments.{key}", default=default, minimum=lo, maximum=hi, integer=integer)

    types = _names(c, a, "business_types", prefixes, "business-type prefixes")
    slot = num("slot_minutes", 60, 10, 240)
    if slot and 1440 % slot:
        c.fail("appointments.slot_minutes", slot, "must divide a day (15, 20, 30, 60, 120, ...)")
    identity = _names(c, a, "identity", set(IDENTITY_FIELDS), "identity fields") or ("id_last4", "phone")
    policy = AppointmentPolicy(
        enabled=enabled, business_types=types, slot_minutes=slot,
        share=float(num("share", 0.5, 0.05, 1.0, integer=False)), horizon_days=num("horizon_days", 14, 1, 90),
        identity=tuple(identity), purge_days=num("purge_days", 60, 1, 3650),
        check_in_early_minutes=num("check_in_early_minutes", 30, 0, 240),
        check_in_late_minutes=num("check_in_late_minutes", 15, 0, 240),
        no_show_limit=num("no_show_limit", 2, 1, 100), no_show_days=num("no_show_days", 30, 1, 365),
        block_days=num("block_days", 30, 0, 365),
        only_days=_names(c, a, "only_days", set(WEEKDAY_NAMES), "weekdays") or (),
        holidays=_holidays(c, a.get("holidays", [])),
        holiday_hours=c.spans(a["holiday_hours"], "appointments.holiday_hours") if "holiday_hours" in a else (),
        holiday_windows=_names(c, a, "holiday_windows", windows, "window numbers"),
    )
    if policy.purge_days < max(policy.no_show_days, policy.block_days):
        c.fail("appointments.purge_days", policy.purge_days, "must be at least no_show_days and block_days: "
               "the no-show rule needs the bookings it counts")
    if policy.check_in_late_minutes >= policy.slot_minutes:
        c.fail("appointments.check_in_late_minutes", policy.check_in_late_minutes,
               "must be shorter than a slot (slot_minutes)")
    return policy


def _names(c, a: dict, key: str, allowed: set, what: str) -> tuple | None:
    if key not in a:
        return None
    value = a[key]
    if not isinstance(value, list) or any(isinstance(v, bool) or v not in allowed for v in value):
        c.fail(f"appointments.{key}", value, f"must be a list of {what} ({', '.join(map(str, sorted(allowed)))})")
        return None
    return tuple(value)


def _holidays(c, value: Any) -> tuple[date, ...]:
    if not isinstance(value, list):
        c.fail("appointments.holidays", value, 'must be a list of dates like "2026-10-01"')
        return ()
    out = []
    for i, v in enumerate(value):
        try:
            out.append(v if isinstance(v, date) else date.fromisoformat(v))
        except (TypeError, ValueError):
            c.fail(f"appointments.holidays[{i}]", v, 'must be a date like "2026-10-01"')
    return tuple(sorted(set(out)))
