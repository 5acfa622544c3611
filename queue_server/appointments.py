"""The appointment book: slots, their capacity, bookings and the no-show rule. Pure: no I/O, no clock,
no threads, no randomness; times are epoch seconds passed in.

A slot is one business type's `slot_minutes` (default 60) on a day the hall serves, laid over the hours
of the windows serving that type (so lunch-time windows make lunch-time slots). Its capacity comes
from the windows staffed then: each window gives its minutes in the slot, shared among the business
types it serves, times the share offered to bookings (`appointments.share`; all of it on
appointment-only days and holidays), divided by the type's service minutes.

The book changes only through `apply(event)`, so replaying the stored events rebuilds it; the engine
(`queue_server/booking_rules.py`) decides commands with the checks here and emits the events.
A booking holds its citizen's identity only as `holder`: a salted hash made by the console
(`onewindow/identity.py`), never the numbers themselves; `purge_days` after the slot the book forgets the
booking whole (and the server removes the identity from the stored event).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from onewindow.config import SiteConfig
from queue_server.calendar import HallCalendar
from queue_server.model import Rejected

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed at a kiosk
CODE_LENGTH = 8
BOOKED, CHECKED_IN, LATE, NO_SHOW, CANCELLED = "booked", "checked_in", "late", "no_show", "cancelled"
DAY = 86400.0


@dataclass(slots=True)
class Booking:
    code: str
    business_type: str
    item: str | None
    start: float
    end: float
    holder: str | None  # the protected identity (salted hash); None once purged
    channel: str
    booked_at: float
    state: str = BOOKED
    ticket: str | None = None
    changed: int = 0


@dataclass(frozen=True, slots=True)
class Slot:
    business_type: str
    start: float
    end: float
    capacity: int


class Book:
    def __init__(self, site: SiteConfig, calendar: HallCalendar):
        self.site = site
        self.policy = site.appointments
        self.calendar = calendar
        self.bookings: dict[str, Booking] = {}
        self.taken: dict[tuple[str, float], int] = {}  # (business type, slot start) -> bookings holding it
        self.by_holder: dict[str, list[str]] = {}
        self._slot_cache: dict[tuple[str, date], tuple[Slot, ...]] = {}

    # ------------------------------------------------------------------ the days and their slots
    def day_kind(self, d: date) -> str:
        """"closed", "open" (walk-ins and bookings), "appointments_only" or "holiday" (appointments only)."""
        p = self.policy
        if d in p.holidays:
            return "holiday" if p.holiday_hours else "closed"
        if not self.site.hours_on(d.weekday()):
            return "closed"
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d.weekday()]
        return "appointments_only" if weekday in p.only_days else "open"

    def _window_spans(self, d: date, kind: str) -> dict[int, list[tuple[float, float]]]:
        at = self.calendar.at
        if kind == "holiday":
            staffed = self.policy.holiday_windows
            return {w.number: [(at(d, s.start), at(d, s.end)) for s in self.policy.holiday_hours]
                    for w in self.site.windows if staffed is None or w.number in staffed}
        site_spans = self.site.hours_on(d.weekday())
        return {w.number: [(at(d, s.start), at(d, s.end)) for s in (w.hours if w.hours is not None else site_spans)]
                for w in self.site.windows}

    def slots_on(self, prefix: str, d: date) -> tuple[Slot, ...]:
        """Every slot of business type `prefix` on date `d` (capacity at least 1), in time order."""
        key = (prefix, d)
        cached = self._slot_cache.get(key)
        if cached is not None:
            return cached
        kind = self.day_kind(d)
        bt = self.site.business_type(prefix)
        out: list[Slot] = []
        if kind != "closed" and bt is not None and self.policy.bookable(prefix):
            share = self.policy.share if kind == "open" else 1.0
            spans = {n: s for n, s in self._window_spans(d, kind).items() if prefix in self.site.window(n).serves}
            length = self.policy.slot_minutes * 60.0
            for a, b in _merged(s for ss in spans.values() for s in ss):
                start = a
                while start < b:
                    end = min(start + length, b)
                    # each staffed window's minutes in the slot, shared among the types it serves
                    per_type = sum(_overlap(s, (start, end)) / 60.0 / len(self.site.window(n).serves)
                                   for n, ss in spans.items() for s in ss)
                    capacity = int(per_type * share / bt.service_minutes + 1e-9)
                    if capacity > 0:
                        out.append(Slot(prefix, start, end, capacity))
                    start = end
        if len(self._slot_cache) > 512:
            self._slot_cache.clear()
        self._slot_cache[key] = tuple(out)
        return self._slot_cache[key]

    def slot_at(self, prefix: str, start: float) -> Slot | None:
        for s in self.slots_on(prefix, self.calendar.local(start).date()):
            if abs(s.start - start) < 1.0:
                return s
        return None

    def free(self, slot: Slot) -> int:
        return slot.capacity - self.taken.get((slot.business_type, slot.start), 0)

    def upcoming(self, prefix: str, now: float, first: date | None = None, days: int = 1) -> list[Slot]:
        """Slots that may still be booked (start after `now`, within the horizon), `days` days from `first`."""
        first = first or self.calendar.local(now).date()
        limit = now + self.policy.horizon_days * DAY
        out = []
        for i in range(days):
            for s in self.slots_on(prefix, first + timedelta(days=i)):
                if now < s.start <= limit:
                    out.append(s)
        return out

    def next_free(self, prefix: str, now: float, after: float, n: int = 3) -> list[Slot]:
        """The first `n` slots with a free place starting at or after `after` (within the horizon)."""
        out = []
        d = self.calendar.local(max(now, after)).date()
        for s in self.upcoming(prefix, now, d, self.policy.horizon_days + 1):
            if s.start >= after and self.free(s) > 0:
                out.append(s)
                if len(out) == n:
                    break
        return out

    # ------------------------------------------------------------------ checks (raise Rejected)
    def check_slot(self, prefix: str, start: float, now: float, ignore: Booking | None = None) -> Slot:
        """The slot a booking asks for, if it may be booked now; else a refusal naming the next free slots."""
        if not self.policy.bookable(prefix):
            raise Rejected("not_bookable", f"business type {prefix} is not served by appointment here")
        slot = self.slot_at(prefix, start)
        if slot is None:
            raise Rejected("no_such_slot", f"there is no {prefix} appointment slot at "
                           f"{self.calendar.iso(start)}", next_free=self.free_list(prefix, now, start))
        if slot.start <= now:
            raise Rejected("slot_started", f"the slot at {self._hhmm(slot.start)} has begun: book a later one",
                           next_free=self.free_list(prefix, now, now))
        if slot.start > now + self.policy.horizon_days * DAY:
            raise Rejected("too_far_ahead", f"slots can be booked up to {self.policy.horizon_days} days ahead")
        holds = 1 if ignore is not None and (ignore.business_type, ignore.start) == (prefix, slot.start) else 0
        if self.free(slot) + holds <= 0:
            nxt = self.free_list(prefix, now, slot.start)
            when = ", ".join(x["start"][11:16] + (f" ({x['start'][:10]})" if x["start"][:10] != nxt[0]["start"][:10]
                                                  else "") for x in nxt) if nxt else "none in the next days"
            raise Rejected("slot_full", f"the {self._hhmm(slot.start)} slot is full ({slot.capacity} places): "
                           f"next free: {when}", next_free=nxt)
        return slot

    def check_holder(self, holder: str, now: float) -> None:
        """Refuse a citizen blocked by the no-show rule (the refusal says until when and why)."""
        until = self.blocked_until(holder, now)
        if until is not None:
            raise Rejected("booking_blocked", f"{self.rule_text()}: new bookings are possible again from "
                           f"{self.calendar.iso(until)[:10]}", blocked_until=self.calendar.iso(until))

    def blocked_until(self, holder: str, now: float) -> float | None:
        p = self.policy
        shows = sorted(b.end for c in self.by_holder.get(holder, ()) if (b := self.bookings[c]).state == NO_SHOW
                       and b.end <= now)
        for i in range(len(shows) - p.no_show_limit, -1, -1):  # latest run of `limit` within `no_show_days`
            run = shows[i:i + p.no_show_limit]
            if run[-1] - run[0] <= p.no_show_days * DAY:
                until = run[-1] + p.block_days * DAY
                return until if now < until else None
        return None

    def rule_text(self) -> str:
        p = self.policy
        return (f"{p.no_show_limit} no-shows within {p.no_show_days} days block new bookings for "
                f"{p.block_days} days")

    def rule_text_zh(self) -> str:
        p = self.policy
        return f"{p.no_show_days}天内爽约{p.no_show_limit}次,{p.block_days}天内不能预约"

    def find(self, code: str, holder: str | None = None) -> Booking:
        b = self.bookings.get(code.upper())
        if b is None or (holder is not None and b.holder != holder):
            raise Rejected("unknown_booking", f"no booking {code} for this citizen" if holder
                           else f"no booking {code}")
        return b

    def new_code(self, holder: str, start: float, now: float) -> str:
        """A short booking code derived from the protected identity, the slot and the time (unguessable
        without the site's salt; repeated until unused)."""
        for n in range(100):
            h = hashlib.sha256(f"{self.site.site_id}|{holder}|{start}|{now}|{n}".encode()).digest()
            code = "".join(CODE_ALPHABET[x % len(CODE_ALPHABET)] for x in h[:CODE_LENGTH])
            if code not in self.bookings:
                return code
        raise Rejected("internal_error", "could not make a booking code")  # pragma: no cover

    # ------------------------------------------------------------------ views
    def _hhmm(self, t: float) -> str:
        return f"{self.calendar.local(t):%H:%M}"

    def slot_view(self, s: Slot) -> dict:
        return {"start": self.calendar.iso(s.start), "end": self.calendar.iso(s.end), "capacity": s.capacity,
                "free": max(0, self.free(s))}

    def free_list(self, prefix: str, now: float, after: float) -> list[dict]:
        return [self.slot_view(s) for s in self.next_free(prefix, now, after)]

    def view(self, b: Booking) -> dict:
        """What the citizen and the clerk may see of a booking (never the identity, not even hashed)."""
        p, iso = self.policy, self.calendar.iso
        return {"code": b.code, "business_type": b.business_type, "item": b.item, "start": iso(b.start),
                "end": iso(b.end), "state": b.state, "ticket": b.ticket, "channel": b.channel,
                "check_in_from": iso(b.start - p.check_in_early_minutes * 60),
                "check_in_until": iso(b.start + p.check_in_late_minutes * 60),
                "rule": self.rule_text(), "rule_zh": self.rule_text_zh()}

    def on_day(self, d: date) -> list[Booking]:
        a = datetime.combine(d, datetime.min.time(), self.calendar.tz).timestamp()
        return sorted((b for b in self.bookings.values() if a <= b.start < a + DAY and b.state != CANCELLED),
                      key=lambda b: (b.start, b.business_type, b.code))

    # ------------------------------------------------------------------ time passing
    def due(self, now: float) -> tuple[list[Booking], list[Booking]]:
        """(bookings whose slot ended without a check-in, bookings whose identity is due to be forgotten)."""
        missed = [b for b in self.bookings.values() if b.state == BOOKED and b.end <= now]
        purge_before = now - self.policy.purge_days * DAY
        purge = [b for b in self.bookings.values() if b.holder is not None and b.end <= purge_before]
        return missed, purge

    def next_due(self) -> float:
        """The earliest time `due` can return anything (the engine skips the scan until then)."""
        ends = [b.end for b in self.bookings.values() if b.state == BOOKED]
        ends += [b.end + self.policy.purge_days * DAY for b in self.bookings.values() if b.holder is not None]
        return min(ends, default=float("inf"))

    # ------------------------------------------------------------------ apply (events)
    def apply(self, e: dict) -> None:
        kind = e["type"]
        if kind == "appointment_booked":
            b = Booking(e["code"], e["business_type"], e.get("item"), e["start"], e["end"], e.get("holder"),
                        e.get("channel", "online"), e["at"])
            self.bookings[b.code] = b
            self.taken[(b.business_type, b.start)] = self.taken.get((b.business_type, b.start), 0) + 1
            if b.holder:
                self.by_holder.setdefault(b.holder, []).append(b.code)
        elif kind == "appointment_changed":
            b = self.bookings[e["code"]]
            self._release(b)
            b.start, b.end, b.changed = e["start"], e["end"], b.changed + 1
            self.taken[(b.business_type, b.start)] = self.taken.get((b.business_type, b.start), 0) + 1
        elif kind == "appointment_cancelled":
            b = self.bookings[e["code"]]
            self._release(b)
            b.state = CANCELLED
        elif kind == "appointment_checked_in":
            b = self.bookings[e["code"]]
            b.state, b.ticket = (LATE if e.get("late") else CHECKED_IN), e.get("ticket")
        elif kind == "appointment_no_show":
            self.bookings[e["code"]].state = NO_SHOW
        elif kind == "appointment_holders_purged":  # long past: forgotten whole (the log keeps the rest)
            for code in e["codes"]:
                b = self.bookings.pop(code, None)
                if b is None:
                    continue
                if b.state != CANCELLED:
                    self._release(b)
                codes = self.by_holder.get(b.holder, []) if b.holder else []
                if code in codes:
                    codes.remove(code)
                if b.holder and not codes:
                    self.by_holder.pop(b.holder, None)

    def _release(self, b: Booking) -> None:
        key = (b.business_type, b.start)
        self.taken[key] = self.taken.get(key, 0) - 1
        if self.taken[key] <= 0:
            del self.taken[key]


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def _merged(spans) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]
