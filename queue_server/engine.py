"""The rules of the queue, in one place: a pure engine with no I/O, no clock and no threads.

`Engine.handle(command, args, now)` decides what a command means for the hall and returns the
events it caused (already applied) and the reply for the sender. `Engine.apply(event)` is the only
way state changes, so replaying the stored events of a service day rebuilds the exact state.
`Engine.tick(now)` lets time pass: the day rolls over at the site's daily reset.

The rules are split by concept: tickets (`queue_server/tickets.py`), windows (`windows.py`), who is
called next and when (`dispatch.py`), what clients see (`views.py`); this module holds the state,
the entry points and the service day.

Events are plain dicts: {"type": ..., "at": seconds, "day": "YYYY-MM-DD", ...}. Their types and
fields are listed in docs/PROTOCOL.md ("Stored events").
"""
from __future__ import annotations

from collections import deque
from typing import Any

from onewindow.config import SiteConfig
from queue_server import followups
from queue_server.appointments import Book
from queue_server.booking_rules import APPOINTMENT_COMMANDS, APPOINTMENT_EVENTS, APPOINTMENT_QUERIES, BookingRules
from queue_server.calendar import HallCalendar
from queue_server.dispatch import Dispatch, Forecast
from queue_server.model import LIVE_STATES, W_CLOSED, Rejected, Ticket, WindowState
from queue_server.tickets import RATING_NAMES, TicketRules
from queue_server.views import Views
from queue_server.windows import WindowRules

RECENT_CALLS = 20
PRIOR_WEIGHT = 5.0  # how many observed services the catalogue's service time is worth
FORECAST_MAX_AGE = 30.0  # seconds a forecast is reused while only plain tickets join the end
PRIORITY_WINDOW = 3600.0  # the forecast expects priority citizens at the rate of the last hour

COMMANDS = ("issue", "cancel", "sign_in", "sign_out", "pause", "resume", "call_next", "call", "recall", "start",
            "finish", "no_show", "transfer", "hold", "call_back", "rate", "set_business_type", "set_notice",
            "follow_up") + APPOINTMENT_COMMANDS
EVENTS = ("day_started", "day_closed", "ticket_issued", "ticket_cancelled", "window_opened", "window_closed",
          "window_paused", "window_resumed", "ticket_called", "ticket_recalled", "service_started",
          "service_finished", "ticket_missed", "ticket_requeued", "ticket_transferred", "ticket_held",
          "ticket_rated", "rating_skipped", "business_type_set", "notice_set") + APPOINTMENT_EVENTS


class Engine(TicketRules, WindowRules, Views, BookingRules):
    """The state of one site's hall for the current service day, and the rules that change it."""

    def __init__(self, site: SiteConfig, always_open: bool = False):
        self.site = site
        self.calendar = HallCalendar(site)
        self.dispatch = Dispatch(site)
        self.serving: dict[str, list[int]] = {b.prefix: [w.number for w in site.windows if b.prefix in w.serves]
                                              for b in site.business_types}
        self.always_open = always_open
        self.estimates = True  # ticket views carry the forecast (a simulation not reading them saves the work)
        self.day: str | None = None
        self.tickets: dict[str, Ticket] = {}
        self.by_number: dict[str, str] = {}
        self.lines: dict[str, dict[str, Ticket]] = {b.prefix: {} for b in site.business_types}
        self.targeted: dict[int, dict[str, Ticket]] = {w.number: {} for w in site.windows}
        self.out_of_order: set[str] = set()  # lines not in (rank, seq) order (after requeues, transfers)
        self.windows: dict[int, WindowState] = {w.number: WindowState(w.number) for w in site.windows}
        self.counters: dict[str, int] = {}
        self.issued: dict[str, int] = {}
        self.type_open: dict[str, bool] = {b.prefix: True for b in site.business_types}
        self.observed: dict[str, list[float]] = {}  # item code or business type -> [seconds, count]
        self.observed_pace: dict[str, list[float]] = {}  # business type -> [seconds, catalogue seconds, count]
        self.lost_time = [0.0, 0]  # seconds windows spent calling or paused today, visits finished today
        self.recent_calls: deque[dict] = deque(maxlen=RECENT_CALLS)
        self.ratings: dict[int, int] = {s: 0 for s in RATING_NAMES}
        self.notice: str | None = None  # the manager's notice on the hall displays, for this service day
        self.version = 0  # bumped by every applied event
        self.changed_windows: set[int] = set()
        self.changed_types: set[str] = set()
        self._forecast: Forecast | None = None
        self._open_cache: dict[str, int] | None = None  # WindowRules.open_windows
        self.priority_recent: list[Ticket] = []  # priority and appointment tickets of the last hour (forecast)
        self.cases = followups.CaseBook()  # follow-up cases of bad ratings, kept across service days
        self.book = Book(site, self.calendar)  # appointments: kept across service days
        self._appointments_due = float("inf")  # when the book next has no-shows or identities to purge

    def handle(self, command: str, args: dict[str, Any], now: float) -> tuple[list[dict], dict]:
        """Decide and apply one command. Returns (events, reply); a refusal is a reply with ok=False."""
        events = self._roll_over(now)
        decide = self._deciders.get(command)
        if decide is None:
            return events, {"ok": False, "error": {"code": "unknown_command",
                                                   "message": f"unknown command {command!r}"}}
        try:
            new_events, reply = decide(self, args, now)
        except Rejected as rejected:
            return events, {"ok": False, "error": rejected.as_error()}
        if args.get("manager"):  # a manager acted (console): the audit trail names them in each event
            for event in new_events:
                event.setdefault("manager", args["manager"])
        for event in new_events:
            self.apply(event)
        events.extend(new_events)
        reply = reply() if callable(reply) else reply
        reply["ok"] = True
        return events, reply

    def query(self, command: str, args: dict[str, Any], now: float) -> dict:
        """Answer a read-only command (no events, nothing to store)."""
        try:
            if command == "ticket_status":
                t = self._find_ticket(args["ticket"])
                return {"ok": True, "ticket": self.ticket_view(t, now)}
            if command == "snapshot":
                return {"ok": True, **self.snapshot(now)}
            if command == "follow_ups":
                return {"ok": True, "cases": self.cases.view(now, args.get("state"), self.calendar.iso)}
            if command in APPOINTMENT_QUERIES:
                return self._appointment_query(command, args, now)
        except Rejected as rejected:
            return {"ok": False, "error": rejected.as_error()}
        return {"ok": False, "error": {"code": "unknown_command", "message": f"unknown query {command!r}"}}

    def tick(self, now: float) -> list[dict]:
        """Let time pass with no command: at the daily reset the day rolls over (events applied and
        returned, for the caller to store and publish), and booked slots that ended without a check-in
        become no-shows. Nothing happens before the first day began."""
        if self.day is None:
            return []
        events = self._roll_over(now) if self.calendar.service_day(now) != self.day else []
        booked = self._appointment_tick(now)
        for e in booked:
            self.apply(e)
        return events + booked

    def apply(self, event: dict) -> None:
        self._appliers[event["type"]](self, event)
        self.version += 1

    def _event(self, kind: str, now: float, **data) -> dict:
        data["type"] = kind
        data["at"] = now
        data["day"] = self.day
        return data

    def _roll_over(self, now: float) -> list[dict]:
        day = self.calendar.service_day(now)
        if day == self.day:
            return []
        events: list[dict] = []
        if self.day is not None:
            for t in self.tickets.values():
                if t.state in LIVE_STATES:
                    events.append(self._event("ticket_cancelled", now, ticket=t.id, reason="day_closed"))
            for w in self.windows.values():
                if w.state != W_CLOSED:
                    events.append(self._event("window_closed", now, window=w.number, clerk=w.clerk,
                                              reason="day_closed"))
            events.append(self._event("day_closed", now))
        for e in events:
            self.apply(e)
        started = {"type": "day_started", "at": now, "day": day}
        self.apply(started)
        events.append(started)
        return events

    def catalogue_service(self, t: Ticket) -> float:
        """The catalogue's service seconds for the ticket's item (else its business type's)."""
        item = self.site.catalogue.item(t.item) if t.item else None
        return (item.service_minutes if item else self.site.business_type(t.business_type).service_minutes) * 60

    def expected_service(self, t: Ticket) -> float:
        """Expected service seconds: the catalogue's figure for the item, scaled by how today's visits of
        its business type compare with their catalogue figures, then blended with today's observed mean
        for the item itself (a counter's pace shows in all its items long before in each one)."""
        prior = self.catalogue_service(t)
        pace = self.observed_pace.get(t.business_type)
        if pace:  # [seconds observed, catalogue seconds of the same visits, visits]
            typical = pace[1] / pace[2]
            prior *= (pace[0] + PRIOR_WEIGHT * typical) / (pace[1] + PRIOR_WEIGHT * typical)
        obs = self.observed.get(t.item or t.business_type)
        if not obs:
            return prior
        return (prior * PRIOR_WEIGHT + obs[0]) / (PRIOR_WEIGHT + obs[1])

    def window_time(self, t: Ticket) -> float:
        """Expected seconds a window gives a visit: its expected service plus today's time per visit
        spent calling (the citizen walking up, recalls of absent ones) and paused."""
        lost, visits = self.lost_time
        return self.expected_service(t) + lost / (visits + PRIOR_WEIGHT)

    def forecast(self, now: float) -> Forecast:
        fc = self._forecast
        if fc is None or not 0.0 <= now - fc.now <= FORECAST_MAX_AGE:
            waiting = [t for line in self.lines.values() for t in line.values()]
            waiting += [t for line in self.targeted.values() for t in line.values()]
            plans = {n: self.work_plan(n, now) for n in self.windows}
            self._forecast = Forecast(self.dispatch, self.windows, self.tickets, waiting,
                                      self.window_time, now, plans, self._coming(now))
        return self._forecast

    def _coming(self, now: float) -> dict[str, tuple[float, float]]:
        """Citizens still to come who may be called ahead of those already waiting, at the last hour's
        pace: "priority" (within their head start) and "booked" (appointments checked in at their slot,
        ahead of every walk-in) -> (tickets per second, mean expected service seconds)."""
        recent = [t for t in self.priority_recent if now - t.arrival <= PRIORITY_WINDOW]
        self.priority_recent = recent
        kinds: dict[str, list[float]] = {}  # kind -> [tickets, work]
        for t in recent:
            kind = "booked" if t.appointment_start is not None else "priority"
            acc = kinds.setdefault(kind, [0, 0.0])
            acc[0] += 1
            acc[1] += self.expected_service(t)
        return {k: (n / PRIORITY_WINDOW, work / n) for k, (n, work) in kinds.items()}

    def _invalidate(self) -> None:
        self._forecast = None

    def _on_day_started(self, e: dict) -> None:
        self.day = e["day"]
        self.tickets.clear()
        self.priority_recent = []
        self.by_number.clear()
        for line in self.lines.values():
            line.clear()
        self.out_of_order.clear()
        for line in self.targeted.values():
            line.clear()
        for number in self.windows:
            self.windows[number] = WindowState(number, since=e["at"])
        self._open_cache = None
        self.counters.clear()
        self.issued.clear()
        self.observed.clear()
        self.observed_pace.clear()
        self.lost_time = [0.0, 0]
        self.recent_calls.clear()
        self.ratings = {s: 0 for s in RATING_NAMES}
        self.notice = None
        self.changed_windows.update(self.windows)
        self.changed_types.update(self.lines)
        self._invalidate()

    def _on_day_closed(self, e: dict) -> None:
        pass

    def _set_notice(self, args: dict, now: float):
        """A manager's notice for the hall displays (`state/display` `notice`); "" clears it."""
        text = (args.get("text") or "").strip() or None
        if text == self.notice:
            return [], {"notice": text}
        return [self._event("notice_set", now, text=text)], {"notice": text}

    def _on_notice_set(self, e: dict) -> None:
        self.notice = e.get("text") or None
        self.changed_windows.update(self.windows)  # so the server republishes state/display

    # Follow-up cases of bad ratings: decided and folded in queue_server/followups.py.
    def _follow_up(self, args: dict, now: float):
        return self.cases.decide(args, now, self.day)

    def _on_follow_up(self, e: dict) -> None:
        self.cases.apply(e)


Engine._deciders = {name: getattr(Engine, f"_{name}") for name in COMMANDS}
Engine._deciders["issue"] = Engine._issue_on_service_day  # walk-ins refused on appointment-only days
Engine._appliers = {name: getattr(Engine, f"_on_{name}") for name in EVENTS}
Engine._appliers.update(dict.fromkeys(followups.EVENT_TYPES, Engine._on_follow_up))
Engine.EVENT_TYPES = frozenset(EVENTS) | followups.EVENT_TYPES
