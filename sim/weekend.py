"""A Saturday that serves appointments only ("周末不打烊，预约服务"), simulated through the appointment book.

The county hall with `appointments.only_days = ["sat"]`: citizens book their slots on Friday evening
(`book`; a full slot sends them to the next free one the refusal names), come on Saturday and check in
with their booking code (`check_in`); some come too late (a walk-in ticket is refused on such a day),
some not at all (no-shows when their slot ends); walk-ins who did not know are refused
(`appointments_only`). Everything else is the ordinary simulation (`sim.harness.Simulation`).

    from sim.weekend import weekend_day
    print(weekend_day(seed=1))
"""
from __future__ import annotations

import dataclasses
import random
import statistics
from datetime import date, datetime, time

from onewindow.config import SiteConfig
from queue_server.appointments import LATE, NO_SHOW
from sim.harness import Citizen, Simulation
from sim.profiles import COUNTY_SERVICE, Profile, Segment, county_site

SATURDAY = date(2026, 11, 28)
LATE_SHARE, NO_SHOW_SHARE = 0.08, 0.06


def weekend_site(site: SiteConfig | None = None) -> SiteConfig:
    site = site or county_site()
    policy = dataclasses.replace(site.appointments, only_days=("sat",))
    return dataclasses.replace(site, appointments=policy, _types_by_prefix={}, _windows_by_number={})


def weekend_profile(appointments_per_hour: float = 30.0, walk_ins_per_hour: float = 4.0) -> Profile:
    """Booked citizens through the Saturday morning, and a few walk-ins who did not know."""
    return Profile(name="county hall Saturday, appointments only",
                   arrivals=(Segment(9.0, 12.0, {"A": walk_ins_per_hour / 2, "D": walk_ins_per_hour / 2}),),
                   service=dict(COUNTY_SERVICE), appointments_per_hour=appointments_per_hour, priority_share=0.0,
                   absent_share=0.0, transfer_share=0.0, hold_share=0.0)


class WeekendDay(Simulation):
    def __init__(self, site: SiteConfig, profile: Profile, seed: int = 1):
        self.weekend_rng = random.Random(f"weekend:{seed}")
        self.stayed_away: set[int] = set()
        self.rebooked = 0
        super().__init__(site, profile, seed, day=SATURDAY)

    def _draw_behaviour(self, prefixes: list[str]) -> None:
        """Before the day: every booked citizen books (Friday 18:00); some will be late, some stay away."""
        friday = self.calendar.at(date.fromordinal(SATURDAY.toordinal() - 1), time(18, 0))
        for n, c in enumerate(self.citizens):
            if c.appointment is not None:
                self._book(c, n, friday)
        for c in self.citizens:
            if c.appointment is None or c.ref is None:
                continue
            r = self.weekend_rng.random()
            if r < NO_SHOW_SHARE:
                self.stayed_away.add(id(c))
            elif r < NO_SHOW_SHARE + LATE_SHARE:
                c.arrival = c.appointment + self.weekend_rng.uniform(20 * 60, 40 * 60)
        self.citizens.sort(key=lambda c: c.arrival)
        super()._draw_behaviour(prefixes)

    def _book(self, c: Citizen, n: int, at: float) -> None:
        holder = "".join("abcdefghijklmnop"[int(ch, 16)] for ch in f"{n:064x}")
        args = {"business_type": c.business_type, "start": c.appointment, "holder": holder}
        _, reply = self.engine.handle("book", args, at)
        same_day = [s for s in (reply.get("error") or {}).get("next_free", []) if s["start"][:10] == SATURDAY.isoformat()]
        if not reply["ok"] and same_day:
            start = datetime.fromisoformat(same_day[0]["start"]).timestamp()
            _, reply = self.engine.handle("book", {**args, "start": start}, at)
            if reply["ok"]:  # the citizen comes for the slot the refusal offered
                self.rebooked += 1
                c.arrival += start - c.appointment
                c.appointment = start
        if reply["ok"]:
            c.ref = reply["booking"]["code"]
        else:
            c.ref, c.refused = None, reply["error"]["code"]

    def _arrive(self, c: Citizen, _) -> None:
        if c.appointment is None:
            return super()._arrive(c, _)
        if c.ref is None or id(c) in self.stayed_away:
            c.refused = c.refused or "stayed_away"
            return
        reply = self.do("check_in", code=c.ref)
        if not reply["ok"]:
            c.refused = reply["error"]["code"]
            return
        c.ticket = reply["ticket"]["id"]
        self.by_ticket[c.ticket] = c
        self._offer(c.business_type)


def weekend_day(seed: int = 1, profile: Profile | None = None) -> dict:
    """Run one appointment-only Saturday; what happened to the booked citizens and the walk-ins."""
    sim = WeekendDay(weekend_site(), profile or weekend_profile(), seed)
    result = sim.run()
    sim.engine.tick(sim.calendar.at(SATURDAY, time(12, 30)))  # the last slots end: no-shows recorded
    book = sim.engine.book
    booked = [b for b in book.bookings.values()]
    walk_ins = [t for t in result.tickets if not t.appointment]
    waits = [t.wait / 60.0 for t in result.tickets if t.appointment and t.wait is not None]
    over = [(k, n) for k, n in book.taken.items() if n > book.slot_at(*k).capacity]
    return {
        "day": SATURDAY.isoformat(), "kind": book.day_kind(SATURDAY), "bookings": len(booked),
        "rebooked_after_full_slot": sim.rebooked,
        "checked_in": sum(1 for b in booked if b.state == "checked_in"),
        "no_slot_left": sum(1 for t in result.tickets if t.outcome == "refused:slot_full"),
        "late_refused": sum(1 for t in result.tickets if t.outcome == "refused:too_late"),
        "late_walk_ins": sum(1 for b in booked if b.state == LATE),
        "stayed_away": len(sim.stayed_away), "no_shows": sum(1 for b in booked if b.state == NO_SHOW),
        "served": sum(1 for t in result.tickets if t.appointment and t.outcome == "done"),
        "walk_ins": len(walk_ins),
        "walk_ins_refused": sum(1 for t in walk_ins if t.outcome == "refused:appointments_only"),
        "booked_wait_p50_min": round(statistics.median(waits), 1) if waits else None,
        "booked_wait_p90_min": round(statistics.quantiles(waits, n=10)[-1], 1) if len(waits) > 1 else None,
        "slots_over_capacity": len(over),
    }


if __name__ == "__main__":  # pragma: no cover
    print(weekend_day())
