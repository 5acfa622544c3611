"""A simulated service day that drives the real engine (`Engine.handle`) in simulated time.

The simulation plays the citizens and the clerks; every decision about the queue (who is called,
what a ticket shows, what a missed call does) is the engine's, reached through the same commands
a kiosk and a call pad send. Time is a small event list (heapq) of our own.

Randomness comes from two seeded streams: the citizens (arrivals, business type, item, service
time, behaviour) are drawn up front from one, so two halls run with the same seed see the very
same citizens (common random numbers); the clerks' small choices come from the other.

How clerks work here:
- A window is staffed by shifts: its `hours` in the site config (or the site's hours), or a
  staffing plan given by the caller. At the end of a shift the clerk finishes the visit in hand and
  signs out; before the lunch break a clerk first clears the line it serves (up to
  `lunch_overrun_minutes`); at closing time everyone who holds a ticket is served.
- A free clerk presses "call next" at once. A new ticket goes to a free window that serves it
  (the one listing the type first; ties at random).
- An absent citizen is recalled every `recall_seconds` up to the site's call limit, then marked a
  no-show (the engine voids it or puts it back in line). A held ticket is called back when its
  citizen has returned and the clerk is free.
"""
from __future__ import annotations

import heapq
import math
import random
import time as wallclock
from datetime import date, time

from onewindow.config import SiteConfig
from queue_server.dispatch import naive_wait
from queue_server.engine import Engine
from queue_server.model import W_CLOSED, W_PAUSED
from sim.profiles import SIM_DAY, Profile
from sim.records import BUSY, IDLE, OFF, PAUSED, Citizen, Clerk, DayResult, TicketResult, draw_service, poisson

INF = math.inf

# Event kinds, in the order they are handled when they fall at the same instant.
SHIFT_START, ARRIVE, AT_WINDOW, RECALL, FINISH, TRANSFER, HOLD, BACK, RESUME, SHIFT_END = range(10)



class Simulation:
    def __init__(self, site: SiteConfig, profile: Profile, seed: int = 1, day: date = SIM_DAY,
                 shifts: dict[int, list[tuple[float, float]]] | None = None, monitor: bool = False,
                 estimates: bool = True, line_step: float | None = None):
        """`shifts`: window -> [(start_hour, end_hour)] local hours; None staffs windows by their config
        hours. `monitor` checks the aging rule from outside at every call (slower). `estimates` records
        the forecast and naive waits at issue. `line_step` (minutes) overrides the dispatch's line
        pressure (0 for a FIFO hall)."""
        self.site = site
        self.profile = profile
        self.engine = Engine(site, always_open=profile.always_open)
        self.engine.estimates = estimates
        if line_step is not None:
            self.engine.dispatch.line_step = line_step * 60.0
        self.calendar = self.engine.calendar
        self.midnight = self.calendar.at(day, time(0))
        self.day = day
        self.seed = seed
        self.citizen_rng = random.Random(f"citizens:{seed}")
        self.rng = random.Random(f"clerks:{seed}")
        self.monitor = monitor
        self.estimates = estimates
        self.max_wait = site.priority.max_wait_minutes * 60.0
        self.max_calls = site.calls.max_calls
        self.heap: list[tuple] = []
        self.order = 0
        self.commands = 0
        self.violations = 0
        self.citizens: list[Citizen] = []
        self.by_ticket: dict[str, Citizen] = {}
        self.clerks: dict[int, Clerk] = {}
        self.serving: dict[str, list[int]] = {}  # business type -> windows serving it
        for w in site.windows:
            self.clerks[w.number] = Clerk(w.number, w.serves, [])
            for p in w.serves:
                self.serving.setdefault(p, []).append(w.number)
        self._plan_shifts(shifts)
        self._make_citizens()

    # ---------------------------------------------------------------- set-up
    def hour(self, h: float) -> float:
        return self.midnight + h * 3600.0

    def _plan_shifts(self, shifts: dict[int, list[tuple[float, float]]] | None) -> None:
        site_spans = self.site.hours_on(self.day.weekday())
        closing = self.hour(site_spans[-1].end.hour + site_spans[-1].end.minute / 60) if site_spans else INF
        for w in self.site.windows:
            if shifts is not None:
                spans = [(self.hour(a), self.hour(b)) for a, b in shifts.get(w.number, [])]
            elif self.profile.always_open:
                a = self.profile.arrivals[0].start_hour
                seg = self.profile.arrivals[0]
                spans = [(self.hour(seg.start_hour), self.hour(seg.end_hour))]
            else:
                cfg = w.hours if w.hours is not None else site_spans
                spans = [(self.hour(s.start.hour + s.start.minute / 60), self.hour(s.end.hour + s.end.minute / 60))
                         for s in cfg]
            spans.sort()
            out = []
            for i, (a, b) in enumerate(spans):
                if shifts is not None:  # a plan: serve out the line only at (or after) closing time
                    overrun = INF if b >= closing else 0.0
                elif i == len(spans) - 1:  # serve everyone who holds a ticket at closing time
                    overrun = INF
                else:  # clear the line before a break, for a while
                    overrun = self.profile.lunch_overrun_minutes * 60.0
                out.append((a, b, overrun))
                self.push(a, SHIFT_START, w.number, len(out) - 1)
                self.push(b, SHIFT_END, w.number, None)
            self.clerks[w.number].shifts = out

    def _make_citizens(self) -> None:
        rng, p = self.citizen_rng, self.profile
        cat = self.site.catalogue
        groups = self.site.priority.groups
        prefixes = [b.prefix for b in self.site.business_types]
        items = {pre: cat.items_of(pre) if p.use_items else () for pre in prefixes}
        item_scale = {}
        for pre, its in items.items():
            if its:
                item_scale[pre] = p.service[pre].mean_minutes / (sum(i.service_minutes for i in its) / len(its))

        def service_of(pre: str) -> tuple[str | None, float]:
            its = items.get(pre)
            if its:
                it = rng.choice(its)
                return it.code, draw_service(rng, p.service[pre], it.service_minutes * item_scale[pre])
            return None, draw_service(rng, p.service[pre])

        weights = {}
        for seg in p.arrivals:
            for pre, rate in seg.per_hour.items():
                weights[pre] = weights.get(pre, 0.0) + rate * (seg.end_hour - seg.start_hour)
                if rate <= 0:
                    continue
                t = self.hour(seg.start_hour)
                end = self.hour(seg.end_hour)
                while True:
                    t += rng.expovariate(rate / 3600.0)
                    if t >= end:
                        break
                    item, service = service_of(pre)
                    c = Citizen(arrival=t, business_type=pre, service=service, item=item)
                    if groups and rng.random() < p.priority_share:
                        c.priority_group = rng.choice(groups)
                    self.citizens.append(c)
        if p.appointments_per_hour > 0:
            self._make_appointments(weights, service_of)
        self.citizens.sort(key=lambda c: c.arrival)
        self._draw_behaviour(prefixes)

    def _make_appointments(self, weights: dict[str, float], service_of) -> None:
        """One-hour slots through the opening hours; citizens check in around their slot."""
        rng, p = self.citizen_rng, self.profile
        spans = self.site.hours_on(self.day.weekday())
        total = sum(weights.values())
        mix = [(pre, w / total) for pre, w in sorted(weights.items())]
        n = 0
        for s in spans:
            slot = s.start.hour + s.start.minute / 60
            end = s.end.hour + s.end.minute / 60
            while slot + 0.5 <= end:
                k = poisson(rng, p.appointments_per_hour * min(1.0, end - slot))
                for _ in range(k):
                    r, acc = rng.random(), 0.0
                    pre = mix[-1][0]
                    for q, share in mix:
                        acc += share
                        if r < acc:
                            pre = q
                            break
                    start = self.hour(slot)
                    arrival = start + rng.uniform(-15 * 60, 10 * 60)
                    arrival = min(max(arrival, self.hour(s.start.hour + s.start.minute / 60)), self.hour(end) - 60)
                    item, service = service_of(pre)
                    n += 1
                    self.citizens.append(Citizen(arrival=arrival, business_type=pre, service=service, item=item,
                                                 appointment=start, ref=f"apt-{n}"))
                slot += 1.0

    def _draw_behaviour(self, prefixes: list[str]) -> None:
        rng, p = self.citizen_rng, self.profile
        for c in self.citizens:
            # Behaviour is drawn for every citizen in the same order, so runs stay comparable.
            r_absent, r_back, r_transfer, r_hold = rng.random(), rng.random(), rng.random(), rng.random()
            away = rng.uniform(3 * 60, 20 * 60)
            if r_absent < p.absent_share:
                c.absent_until = c.arrival + away if r_back < 0.5 else INF
                if c.absent_until != INF:
                    c.absent_until = max(c.absent_until, c.arrival)
            if r_transfer < p.transfer_share and len(prefixes) > 1:
                c.transfer_to = rng.choice([q for q in prefixes if q != c.business_type])
                c.transfer_service = draw_service(rng, p.service[c.transfer_to])
            elif r_hold < p.hold_share:
                c.hold_away = rng.uniform(4 * 60, 12 * 60)
            self.push(c.arrival, ARRIVE, c, None)

    def push(self, at: float, kind: int, a, b) -> None:
        self.order += 1
        heapq.heappush(self.heap, (at, kind, self.order, a, b))

    # ---------------------------------------------------------------- the day
    def run(self) -> DayResult:
        began = wallclock.perf_counter()
        handlers = {SHIFT_START: self._shift_start, ARRIVE: self._arrive, AT_WINDOW: self._at_window,
                    RECALL: self._recall, FINISH: self._finish, TRANSFER: self._transfer, HOLD: self._hold,
                    BACK: self._back, RESUME: self._resume, SHIFT_END: self._shift_end}
        heap = self.heap
        reset = self.site.day_reset
        day_end = self.midnight + 86400.0 + reset.hour * 3600.0 + reset.minute * 60.0 - 1.0
        while heap:
            now, kind, _, a, b = heapq.heappop(heap)
            if now >= day_end:  # the service day is over: who still waits is counted unserved
                break
            self.now = now
            handlers[kind](a, b)
        end = self.now
        for clerk in self.clerks.values():
            if clerk.state != OFF:
                clerk.staffed += end - clerk.on_since
        return self._result(wallclock.perf_counter() - began)

    def do(self, command: str, **args) -> dict:
        self.commands += 1
        _, reply = self.engine.handle(command, args, self.now)
        return reply

    def at(self, clerk: Clerk, command: str, **args) -> dict:
        return self.do(command, window=clerk.number, clerk=clerk.name, **args)

    # ---------------------------------------------------------------- citizens
    def _arrive(self, c: Citizen, _) -> None:
        args = {"business_type": c.business_type, "item": c.item, "priority_group": c.priority_group}
        if c.appointment is not None:
            args["appointment"] = {"ref": c.ref, "start": c.appointment}
        reply = self.do("issue", **args)
        if not reply["ok"]:
            c.refused = reply["error"]["code"]
            return
        view = reply["ticket"]
        c.ticket = view["id"]
        self.by_ticket[c.ticket] = c
        if self.estimates:
            fc = self.engine.forecast(self.now)
            c.estimate = fc.wait(c.ticket, self.now)
            c.ahead = self.engine.waiting_count(c.business_type) - 1
            open_windows = sum(1 for n in self.serving[c.business_type]
                               if self.engine.windows[n].state not in (W_CLOSED, W_PAUSED))
            c.naive = naive_wait(c.ahead, self.profile.service[c.business_type].mean_minutes * 60.0, open_windows)
        self._offer(c.business_type)

    def _offer(self, prefix: str) -> None:
        """A ticket of `prefix` joined the line: a free window that serves it calls."""
        best, best_key = None, None
        for n in self.serving[prefix]:
            clerk = self.clerks[n]
            if clerk.state != IDLE:
                continue
            key = (clerk.serves.index(prefix), self.rng.random())
            if best_key is None or key < best_key:
                best, best_key = clerk, key
        if best is not None:
            self._call(best)

    def _back(self, c: Citizen, clerk: Clerk) -> None:
        """A held citizen is back with the paper."""
        if clerk.state == IDLE:
            self._call(clerk)

    # ---------------------------------------------------------------- clerks
    def _shift_start(self, number: int, index: int) -> None:
        clerk = self.clerks[number]
        start, end, overrun = clerk.shifts[index]
        clerk.end, clerk.overrun = end, overrun
        if clerk.state != OFF:
            return
        clerk.name = f"clerk{number}"
        reply = self.at(clerk, "sign_in")
        assert reply["ok"], reply
        clerk.state, clerk.on_since = IDLE, self.now
        self._call(clerk)

    def _shift_end(self, number: int, _) -> None:
        clerk = self.clerks[number]
        if clerk.end > self.now:  # a later shift already began
            return
        if clerk.state == IDLE:
            self._call(clerk)  # clears the line before a break, or signs out

    def _sign_out(self, clerk: Clerk) -> None:
        reply = self.at(clerk, "sign_out")
        assert reply["ok"], reply
        clerk.staffed += self.now - clerk.on_since
        clerk.state = OFF
        returned = [self.by_ticket[t] for t in clerk.held]
        clerk.held.clear()
        for c in returned:  # held tickets went back into line; the citizen is still away
            c.absent_until = max(c.absent_until, c.back_at)
            self._offer(c.business_type)

    def _call(self, clerk: Clerk) -> None:
        """The clerk is free: call someone, or go idle, or (after the shift) sign out."""
        now = self.now
        after_shift = now >= clerk.end
        if after_shift and (now >= clerk.end + clerk.overrun or clerk.overrun == 0.0):
            if not clerk.held:
                self._sign_out(clerk)
                return
        for tid in clerk.held:
            c = self.by_ticket[tid]
            if c.back_at <= now:
                clerk.held.remove(tid)
                reply = self.at(clerk, "call_back", ticket=tid)
                assert reply["ok"], reply
                self._called(clerk, tid, c)
                return
        if after_shift and now >= clerk.end + clerk.overrun:
            clerk.state = IDLE  # waits for its held citizens to come back
            return
        overdue = self._overdue(clerk) if self.monitor else None
        reply = self.at(clerk, "call_next")
        if not reply["ok"]:
            assert reply["error"]["code"] == "queue_empty", reply
            if after_shift and not clerk.held:
                self._sign_out(clerk)
            else:
                clerk.state = IDLE
            return
        tid = reply["ticket"]["id"]
        if overdue and tid not in overdue:
            self.violations += 1
        self._called(clerk, tid, self.by_ticket[tid])

    def _overdue(self, clerk: Clerk) -> set[str]:
        e, now = self.engine, self.now
        out = set()
        for p in clerk.serves:
            out.update(t.id for t in e.lines[p].values() if now - t.rank >= self.max_wait)
        out.update(t.id for t in e.targeted[clerk.number].values() if now - t.rank >= self.max_wait)
        return out

    def _called(self, clerk: Clerk, tid: str, c: Citizen) -> None:
        if clerk.state != BUSY:
            clerk.state, clerk.busy_since = BUSY, self.now
        clerk.ticket = tid
        if c.absent_until > self.now:
            self.push(self.now + self.profile.recall_seconds, RECALL, clerk, tid)
        else:
            lo, hi = self.profile.walk_seconds
            self.push(self.now + (self.rng.uniform(lo, hi) if hi > 0 else 0.0), AT_WINDOW, clerk, tid)

    def _recall(self, clerk: Clerk, tid: str) -> None:
        c = self.by_ticket[tid]
        if c.absent_until <= self.now:
            lo, hi = self.profile.walk_seconds
            self.push(self.now + self.rng.uniform(lo, hi), AT_WINDOW, clerk, tid)
            return
        reply = self.at(clerk, "recall")
        if reply["ok"]:
            self.push(self.now + self.profile.recall_seconds, RECALL, clerk, tid)
            return
        reply = self.at(clerk, "no_show")
        assert reply["ok"], reply
        self._free(clerk)
        if reply["ticket"]["state"] == "waiting":
            self._offer(c.business_type)
        if clerk.state == IDLE:
            self._call(clerk)

    def _at_window(self, clerk: Clerk, tid: str) -> None:
        c = self.by_ticket[tid]
        reply = self.at(clerk, "start")
        assert reply["ok"], reply
        if c.phase == 0 and c.transfer_to is not None:
            self.push(self.now + 0.3 * c.service, TRANSFER, clerk, tid)
        elif c.phase == 0 and c.hold_away > 0:
            self.push(self.now + 0.3 * c.service, HOLD, clerk, tid)
        else:
            rest = {0: c.service, 1: c.transfer_service, 2: 0.7 * c.service}[c.phase]
            self.push(self.now + rest, FINISH, clerk, tid)

    def _free(self, clerk: Clerk) -> None:
        clerk.busy += self.now - clerk.busy_since
        clerk.state, clerk.ticket = IDLE, None

    def _finish(self, clerk: Clerk, tid: str) -> None:
        reply = self.at(clerk, "finish")
        assert reply["ok"], reply
        clerk.served += 1
        self._free(clerk)
        if self.site.ratings_enabled and self.rng.random() < self.profile.rating_share:
            self.do("rate", ticket=tid, score=5 if self.rng.random() < 0.95 else self.rng.randint(1, 4))
        if self.now < clerk.end and self.rng.random() < self.profile.pause_per_service:
            if self.at(clerk, "pause", reason="break")["ok"]:
                clerk.state = PAUSED
                self.push(self.now + self.rng.expovariate(1.0 / (self.profile.pause_minutes * 60.0)),
                          RESUME, clerk, None)
                return
        self._call(clerk)

    def _resume(self, clerk: Clerk, _) -> None:
        reply = self.at(clerk, "resume")
        assert reply["ok"], reply
        clerk.state = IDLE
        self._call(clerk)

    def _transfer(self, clerk: Clerk, tid: str) -> None:
        c = self.by_ticket[tid]
        reply = self.at(clerk, "transfer", to_business_type=c.transfer_to)
        if not reply["ok"]:  # nobody serves that type again today: the clerk finishes the visit
            assert reply["error"]["code"] == "transfer_target_closed", reply
            c.transfer_to = None
            self.push(self.now + 0.7 * c.service, FINISH, clerk, tid)
            return
        c.phase = 1
        self._free(clerk)
        self._offer(c.transfer_to)
        if clerk.state == IDLE:
            self._call(clerk)

    def _hold(self, clerk: Clerk, tid: str) -> None:
        c = self.by_ticket[tid]
        reply = self.at(clerk, "hold")
        assert reply["ok"], reply
        c.phase = 2
        c.back_at = self.now + c.hold_away
        clerk.held.append(tid)
        self.push(c.back_at, BACK, c, clerk)
        self._free(clerk)
        self._call(clerk)

    # ---------------------------------------------------------------- results
    def _result(self, wall: float) -> DayResult:
        lo, hi = self.profile.measure or (-INF, INF)
        lo, hi = self.hour(lo), self.hour(hi)
        out = []
        for c in self.citizens:
            measured = lo <= c.arrival < hi
            if c.ticket is None:
                out.append(TicketResult(c.business_type, c.arrival, None, f"refused:{c.refused}", c.priority_group,
                                        c.appointment is not None, None, None, 0, measured))
                continue
            t = self.engine.tickets.get(c.ticket)
            if t is None:  # the day rolled over: should not happen inside one service day
                out.append(TicketResult(c.business_type, c.arrival, None, "lost", c.priority_group,
                                        c.appointment is not None, None, None, 0, measured))
                continue
            wait = None
            if t.first_called_at is not None:
                since = max(c.arrival, c.appointment) if c.appointment is not None else c.arrival
                wait = max(0.0, t.first_called_at - since)
            outcome = t.state if t.state in ("done", "missed", "cancelled") else "unserved"
            out.append(TicketResult(c.business_type, c.arrival, wait, outcome, c.priority_group,
                                    c.appointment is not None, c.estimate, c.naive, c.ahead, measured))
        windows = {n: {"busy_s": k.busy, "staffed_s": k.staffed, "served": k.served, "serves": list(k.serves)}
                   for n, k in self.clerks.items()}
        return DayResult(out, windows, self.commands, self.violations, wall, self.midnight,
                         len(self.citizens), sum(c.service for c in self.citizens), self.now)


def simulate(site: SiteConfig, profile: Profile, seed: int = 1, **kw) -> DayResult:
    return Simulation(site, profile, seed, **kw).run()
