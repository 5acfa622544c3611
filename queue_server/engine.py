"""The rules of the queue, in one place: a pure engine with no I/O, no clock and no threads.

`Engine.handle(command, args, now)` decides what a command means for the hall and returns the
events it caused (already applied) and the reply for the sender. `Engine.apply(event)` is the only
way state changes, so replaying the stored events of a service day rebuilds the exact state.

Events are plain dicts: {"type": ..., "at": seconds, "day": "YYYY-MM-DD", ...}. Their types and
fields are listed in docs/PROTOCOL.md ("Stored events").
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

from onewindow.config import SiteConfig
from queue_server import followups
from queue_server.calendar import HallCalendar
from queue_server.dispatch import Dispatch, Forecast
from queue_server.model import (
    CALLED, CANCELLED, DONE, HELD, LIVE_STATES, MISSED, SERVING, TERMINAL_STATES, WAITING,
    W_CALLING, W_CLOSED, W_IDLE, W_PAUSED, W_RATING, W_SERVING, Rejected, Ticket, WindowState,
)

RECENT_CALLS = 20
PRIOR_WEIGHT = 5.0  # how many observed services the catalogue's service time is worth
FORECAST_MAX_AGE = 30.0  # seconds a forecast is reused while only plain tickets join the end
BAD_RATING = 2  # ratings 1-2 (dissatisfied, very dissatisfied) are bad reviews
RATING_NAMES = {5: "very_satisfied", 4: "satisfied", 3: "basically_satisfied", 2: "dissatisfied",
                1: "very_dissatisfied"}


class Engine:
    """The state of one site's hall for the current service day, and the rules that change it."""

    def __init__(self, site: SiteConfig, always_open: bool = False):
        self.site = site
        self.calendar = HallCalendar(site)
        self.dispatch = Dispatch(site)
        self.always_open = always_open
        self.day: str | None = None
        self.tickets: dict[str, Ticket] = {}
        self.by_number: dict[str, str] = {}
        self.lines: dict[str, dict[str, Ticket]] = {b.prefix: {} for b in site.business_types}
        self.targeted: dict[int, dict[str, Ticket]] = {w.number: {} for w in site.windows}
        self.windows: dict[int, WindowState] = {w.number: WindowState(w.number) for w in site.windows}
        self.counters: dict[str, int] = {}
        self.issued: dict[str, int] = {}
        self.type_open: dict[str, bool] = {b.prefix: True for b in site.business_types}
        self.observed: dict[str, list[float]] = {}  # item code or business type -> [seconds, count]
        self.recent_calls: deque[dict] = deque(maxlen=RECENT_CALLS)
        self.ratings: dict[int, int] = {s: 0 for s in RATING_NAMES}
        self.notice: str | None = None  # the manager's notice on the hall displays, for this service day
        self.version = 0  # bumped by every applied event
        self.changed_windows: set[int] = set()
        self.changed_types: set[str] = set()
        self._forecast: Forecast | None = None
        self.cases = followups.CaseBook()  # follow-up cases of bad ratings, kept across service days

    # ------------------------------------------------------------------ entry points
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
                event["manager"] = args["manager"]
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
        except Rejected as rejected:
            return {"ok": False, "error": rejected.as_error()}
        return {"ok": False, "error": {"code": "unknown_command", "message": f"unknown query {command!r}"}}

    def apply(self, event: dict) -> None:
        self._appliers[event["type"]](self, event)
        self.version += 1

    # ------------------------------------------------------------------ helpers
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

    def _window(self, args: dict, clerk_required: bool = True) -> WindowState:
        number = args["window"]
        w = self.windows.get(number)
        if w is None:
            raise Rejected("unknown_window", f"there is no window {number} at this site")
        if clerk_required:
            if w.state == W_CLOSED:
                raise Rejected("window_closed", f"window {number} is closed: sign in first")
            if args.get("clerk") != w.clerk:
                raise Rejected("forbidden", f"window {number} is signed in by another clerk")
        return w

    def _find_ticket(self, ref: str) -> Ticket:
        t = self.tickets.get(ref)
        if t is None:
            tid = self.by_number.get(ref)
            t = self.tickets.get(tid) if tid else None
        if t is None:
            raise Rejected("unknown_ticket", f"no ticket {ref} today")
        return t

    def _current(self, w: WindowState, states: tuple[str, ...]) -> Ticket:
        if w.ticket is None:
            raise Rejected("no_ticket", f"window {w.number} has no ticket called or in service")
        t = self.tickets[w.ticket]
        if t.state not in states:
            raise Rejected("wrong_state", f"ticket {t.number} is {t.state}")
        return t

    def _require_free(self, w: WindowState) -> None:
        if w.state in (W_CALLING, W_SERVING):
            raise Rejected("window_busy", f"window {w.number} is {w.state} {self.tickets[w.ticket].number}: "
                                          "finish, transfer or hold it first")
        if w.state == W_PAUSED:
            raise Rejected("window_paused", f"window {w.number} is paused: resume first")

    def expected_service(self, t: Ticket) -> float:
        """Expected service seconds: today's observed mean for the item, blended with the catalogue."""
        item = self.site.catalogue.item(t.item) if t.item else None
        prior = (item.service_minutes if item else self.site.business_type(t.business_type).service_minutes) * 60
        obs = self.observed.get(t.item or t.business_type)
        if not obs:
            return prior
        return (prior * PRIOR_WEIGHT + obs[0]) / (PRIOR_WEIGHT + obs[1])

    def forecast(self, now: float) -> Forecast:
        fc = self._forecast
        if fc is None or not 0.0 <= now - fc.now <= FORECAST_MAX_AGE:
            waiting = [t for line in self.lines.values() for t in line.values()]
            waiting += [t for line in self.targeted.values() for t in line.values()]
            self._forecast = Forecast(self.dispatch, self.windows, self.tickets, waiting,
                                      self.expected_service, now)
        return self._forecast

    def _invalidate(self) -> None:
        self._forecast = None

    def waiting_count(self, prefix: str) -> int:
        return len(self.lines[prefix]) + sum(
            1 for line in self.targeted.values() for t in line.values() if t.business_type == prefix)

    # ------------------------------------------------------------------ commands (decide)
    def _issue(self, args: dict, now: float):
        prefix = args["business_type"]
        bt = self.site.business_type(prefix)
        if bt is None:
            raise Rejected("unknown_business_type", f"there is no business type {prefix} at this site")
        if not self.type_open[prefix]:
            raise Rejected("business_type_closed", f"{bt.name_en or bt.name} is not taking tickets now",
                           next_open=None)
        if not self.always_open and not self.calendar.within(now, bt.issue_hours):
            nxt = self.calendar.next_open(now, bt.issue_hours)
            raise Rejected("outside_hours", "tickets are issued only during opening hours",
                           next_open=self.calendar.iso(nxt) if nxt else None)
        if bt.daily_quota is not None and self.issued.get(prefix, 0) >= bt.daily_quota:
            nxt = self.calendar.next_open(now, bt.issue_hours, skip_today=True)
            raise Rejected("quota_reached", f"today's {bt.daily_quota} tickets for {bt.name_en or bt.name} "
                                            "are all taken", next_open=self.calendar.iso(nxt) if nxt else None)
        item = args.get("item")
        if item is not None:
            entry = self.site.catalogue.item(item)
            if entry is None or entry.business_type != prefix:
                raise Rejected("unknown_item", f"item {item} is not a {prefix} item of this site")
        group = args.get("priority_group")
        if group is not None and group not in self.site.priority.groups:
            raise Rejected("unknown_priority_group", f"priority group {group} is not served here")
        appointment = args.get("appointment")
        seq = self.counters.get(prefix, 0) + 1
        number = f"{prefix}{seq:03d}"
        tid = f"{self.site.site_id}:{self.day}:{number}"
        event = self._event("ticket_issued", now, ticket=tid, number=number, business_type=prefix, seq=seq,
                            item=item, priority_group=group, channel=args.get("channel", "kiosk"),
                            appointment_ref=appointment["ref"] if appointment else None,
                            appointment_start=appointment["start"] if appointment else None,
                            kiosk=args.get("kiosk"))

        def reply():
            return {"ticket": self.ticket_view(self.tickets[tid], now)}
        return [event], reply

    def _cancel(self, args: dict, now: float):
        t = self._find_ticket(args["ticket"])
        if t.state not in (WAITING, HELD, CALLED):
            raise Rejected("wrong_state", f"ticket {t.number} is {t.state} and cannot be cancelled")
        return [self._event("ticket_cancelled", now, ticket=t.id, reason=args.get("reason", "citizen"))], \
            {"ticket": t.id}

    def _sign_in(self, args: dict, now: float):
        w = self._window(args, clerk_required=False)
        if w.state != W_CLOSED:
            if w.clerk == args["clerk"]:
                return [], self.window_view(w)  # already signed in: idempotent
            raise Rejected("window_taken", f"window {w.number} is signed in by another clerk")
        return [self._event("window_opened", now, window=w.number, clerk=args["clerk"])], \
            lambda: self.window_view(w)

    def _sign_out(self, args: dict, now: float):
        w = self._window(args)
        if w.state in (W_CALLING, W_SERVING):
            self._require_free(w)
        return [self._event("window_closed", now, window=w.number, clerk=w.clerk, reason="sign_out")], \
            lambda: self.window_view(w)

    def _pause(self, args: dict, now: float):
        w = self._window(args)
        if w.state == W_PAUSED:
            return [], self.window_view(w)
        self._require_free(w)
        return [self._event("window_paused", now, window=w.number, reason=args.get("reason", ""))], \
            lambda: self.window_view(w)

    def _resume(self, args: dict, now: float):
        w = self._window(args)
        if w.state != W_PAUSED:
            return [], self.window_view(w)
        return [self._event("window_resumed", now, window=w.number)], lambda: self.window_view(w)

    def _call_next(self, args: dict, now: float):
        w = self._window(args)
        self._require_free(w)
        t = self.dispatch.choose(w.number, self._candidates(w.number), now)
        if t is None:
            raise Rejected("queue_empty", f"nobody is waiting for window {w.number}")
        return self._call_events(w, t, now, chosen="next")

    def _call(self, args: dict, now: float):
        w = self._window(args)
        self._require_free(w)
        t = self._find_ticket(args["ticket"])
        if t.state != WAITING:
            raise Rejected("wrong_state", f"ticket {t.number} is {t.state}, not waiting")
        served_here = (t.target_window == w.number if t.target_window is not None
                       else t.business_type in self.dispatch.serves[w.number])
        if not served_here:
            raise Rejected("not_served_here", f"window {w.number} does not serve ticket {t.number}")
        return self._call_events(w, t, now, chosen="specific")

    def _call_events(self, w: WindowState, t: Ticket, now: float, chosen: str):
        events = []
        if w.state == W_RATING and w.last_ticket:
            events.append(self._event("rating_skipped", now, window=w.number, ticket=w.last_ticket))
        events.append(self._event("ticket_called", now, ticket=t.id, number=t.number, window=w.number,
                                  clerk=w.clerk, chosen=chosen, waited=round(now - t.arrival, 1)))
        return events, lambda: {"ticket": self.ticket_view(t, now), "call": self.recent_calls[-1]}

    def _recall(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED,))
        if t.calls >= self.site.calls.max_calls:
            raise Rejected("recall_limit", f"ticket {t.number} has been called {t.calls} times: "
                                           "mark it as a no-show or start serving")
        return [self._event("ticket_recalled", now, ticket=t.id, number=t.number, window=w.number,
                            calls=t.calls + 1)], lambda: {"ticket": self.ticket_view(t, now),
                                                          "call": self.recent_calls[-1]}

    def _start(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED,))
        return [self._event("service_started", now, ticket=t.id, window=w.number)], \
            lambda: {"ticket": self.ticket_view(t, now)}

    def _finish(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED, SERVING))
        began = t.started_at if t.started_at is not None else now
        return [self._event("service_finished", now, ticket=t.id, window=w.number,
                            service_seconds=round(now - began, 1), item=t.item)], \
            lambda: {"ticket": self.ticket_view(t, now)}

    def _no_show(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED,))
        policy = self.site.calls
        if policy.missed == "requeue" and t.requeues < policy.max_requeues:
            # Back into its line with `requeue_places` people ahead of it (or last, if fewer wait).
            line = sorted(self.lines[t.business_type].values(), key=lambda x: (x.rank, x.seq))
            places = policy.requeue_places
            if not line:
                rank = t.rank
            elif len(line) <= places:
                rank = line[-1].rank + 0.001
            elif places == 0:
                rank = line[0].rank - 0.001
            else:
                rank = (line[places - 1].rank + line[places].rank) / 2.0
                if rank <= line[places - 1].rank:  # arrivals in the same instant
                    rank = line[places - 1].rank + 0.001
            return [self._event("ticket_requeued", now, ticket=t.id, number=t.number, window=w.number,
                                rank=rank, calls=t.calls)], lambda: {"ticket": self.ticket_view(t, now)}
        return [self._event("ticket_missed", now, ticket=t.id, number=t.number, window=w.number,
                            calls=t.calls)], lambda: {"ticket": self.ticket_view(t, now)}

    def _transfer(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED, SERVING))
        to_type, to_window = args.get("to_business_type"), args.get("to_window")
        if (to_type is None) == (to_window is None):
            raise Rejected("bad_request", "give exactly one of to_business_type or to_window")
        if to_type is not None and self.site.business_type(to_type) is None:
            raise Rejected("unknown_business_type", f"there is no business type {to_type} at this site")
        if to_window is not None:
            if to_window not in self.windows:
                raise Rejected("unknown_window", f"there is no window {to_window} at this site")
            if to_window == w.number:
                raise Rejected("bad_request", "a ticket cannot be transferred to its own window")
        return [self._event("ticket_transferred", now, ticket=t.id, number=t.number, window=w.number,
                            to_business_type=to_type, to_window=to_window, note=args.get("note", ""))], \
            lambda: {"ticket": self.ticket_view(t, now)}

    def _hold(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED, SERVING))
        return [self._event("ticket_held", now, ticket=t.id, number=t.number, window=w.number,
                            note=args.get("note", ""))], lambda: {"ticket": self.ticket_view(t, now)}

    def _call_back(self, args: dict, now: float):
        w = self._window(args)
        self._require_free(w)
        t = self._find_ticket(args["ticket"])
        if t.state != HELD or t.window != w.number:
            raise Rejected("not_held_here", f"ticket {t.number} is not held at window {w.number}")
        events = [self._event("ticket_called", now, ticket=t.id, number=t.number, window=w.number,
                              clerk=w.clerk, chosen="call_back", waited=round(now - t.arrival, 1))]
        return events, lambda: {"ticket": self.ticket_view(t, now), "call": self.recent_calls[-1]}

    def _rate(self, args: dict, now: float):
        t = self._find_ticket(args["ticket"])
        if t.state != DONE:
            raise Rejected("wrong_state", f"ticket {t.number} is {t.state}: only a finished visit is rated")
        if t.rating is not None:
            raise Rejected("already_rated", f"ticket {t.number} has already been rated")
        score = args["score"]
        if args.get("window") is not None and args["window"] != t.window:  # only that window's pad rates
            raise Rejected("not_served_here", f"ticket {t.number} was not served at window {args['window']}")
        rated = self._event("ticket_rated", now, ticket=t.id, window=t.window, score=score,
                            bad=score <= BAD_RATING, reason=args.get("reason"))
        case = followups.opened(rated, t.number, self.windows[t.window].clerk, self.calendar, self.site.follow_up_days)
        return [rated, *case], {"ticket": t.id, "rating": RATING_NAMES[score], "follow_up": bool(case)}

    def _set_business_type(self, args: dict, now: float):
        prefix = args["business_type"]
        if self.site.business_type(prefix) is None:
            raise Rejected("unknown_business_type", f"there is no business type {prefix} at this site")
        if self.type_open[prefix] == args["open"]:
            return [], {"business_type": prefix, "open": args["open"]}
        return [self._event("business_type_set", now, business_type=prefix, open=args["open"])], \
            {"business_type": prefix, "open": args["open"]}

    def _set_notice(self, args: dict, now: float):
        text = (args.get("text") or "").strip() or None
        if text == self.notice:
            return [], {"notice": text}
        return [self._event("notice_set", now, text=text)], {"notice": text}

    _deciders: dict[str, Callable] = {
        "issue": _issue, "cancel": _cancel, "sign_in": _sign_in, "sign_out": _sign_out, "pause": _pause,
        "resume": _resume, "call_next": _call_next, "call": _call, "recall": _recall, "start": _start,
        "finish": _finish, "no_show": _no_show, "transfer": _transfer, "hold": _hold,
        "call_back": _call_back, "rate": _rate, "set_business_type": _set_business_type,
        "set_notice": _set_notice,
        "follow_up": lambda self, args, now: self.cases.decide(args, now, self.day),
    }
    COMMANDS = frozenset(_deciders)
    QUERIES = frozenset({"ticket_status", "snapshot", "follow_ups"})

    def _candidates(self, window: int):
        for prefix in self.dispatch.serves[window]:
            yield from self.lines[prefix].values()
        yield from self.targeted[window].values()

    # ------------------------------------------------------------------ events (apply)
    def _leave_line(self, t: Ticket) -> None:
        if t.target_window is not None:
            self.targeted[t.target_window].pop(t.id, None)
        else:
            self.lines[t.business_type].pop(t.id, None)
        self.changed_types.add(t.business_type)

    def _join_line(self, t: Ticket) -> None:
        t.state, t.window, t.calls = WAITING, None, 0
        if t.target_window is not None:
            self.targeted[t.target_window][t.id] = t
        else:
            self.lines[t.business_type][t.id] = t
        self.changed_types.add(t.business_type)

    def _free_window(self, number: int, at: float, state: str = W_IDLE) -> None:
        w = self.windows[number]
        w.ticket = None
        w.state, w.since = state, at
        self.changed_windows.add(number)

    def _on_day_started(self, e: dict) -> None:
        self.day = e["day"]
        self.tickets.clear()
        self.by_number.clear()
        for line in self.lines.values():
            line.clear()
        for line in self.targeted.values():
            line.clear()
        for number in self.windows:
            self.windows[number] = WindowState(number, since=e["at"])
        self.counters.clear()
        self.issued.clear()
        self.observed.clear()
        self.recent_calls.clear()
        self.ratings = {s: 0 for s in RATING_NAMES}
        self.notice = None
        self.changed_windows.update(self.windows)
        self.changed_types.update(self.lines)
        self._invalidate()

    def _on_day_closed(self, e: dict) -> None:
        pass

    def _on_ticket_issued(self, e: dict) -> None:
        t = Ticket(id=e["ticket"], number=e["number"], business_type=e["business_type"], seq=e["seq"],
                   arrival=e["at"], rank=e["at"], item=e.get("item"), priority_group=e.get("priority_group"),
                   appointment_start=e.get("appointment_start"), appointment_ref=e.get("appointment_ref"),
                   channel=e.get("channel", "kiosk"))
        self.tickets[t.id] = t
        self.by_number[t.number] = t.id
        self.counters[t.business_type] = t.seq
        self.issued[t.business_type] = self.issued.get(t.business_type, 0) + 1
        self.lines[t.business_type][t.id] = t
        self.changed_types.add(t.business_type)
        fc = self._forecast
        if fc is not None and t.priority_group is None and t.appointment_start is None:
            fc.add(t)  # a plain ticket joins the end of the forecast: no need to recompute it
        else:
            self._invalidate()

    def _on_ticket_cancelled(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        if t.state == WAITING:
            self._leave_line(t)
        elif t.state == HELD:
            self.windows[t.window].held.remove(t.id)
            self.changed_windows.add(t.window)
        elif t.state in (CALLED, SERVING):
            self._free_window(t.window, e["at"])
        t.state, t.end_reason, t.finished_at = CANCELLED, e.get("reason"), e["at"]
        self.changed_types.add(t.business_type)
        self._invalidate()

    def _on_window_opened(self, e: dict) -> None:
        w = self.windows[e["window"]]
        w.clerk = e["clerk"]
        self._free_window(w.number, e["at"])
        self._invalidate()

    def _on_window_closed(self, e: dict) -> None:
        w = self.windows[e["window"]]
        for tid in w.held:  # held tickets go back into line, keeping their place
            t = self.tickets[tid]
            if t.state == HELD:
                self._join_line(t)
        w.held.clear()
        for t in list(self.targeted[w.number].values()):  # so do tickets transferred to this window
            self.targeted[w.number].pop(t.id)
            t.target_window = None
            self._join_line(t)
        w.clerk, w.pause_reason, w.last_ticket = None, None, None
        self._free_window(w.number, e["at"], W_CLOSED)
        self._invalidate()

    def _on_window_paused(self, e: dict) -> None:
        w = self.windows[e["window"]]
        w.pause_reason = e.get("reason") or None
        self._free_window(w.number, e["at"], W_PAUSED)
        self._invalidate()

    def _on_window_resumed(self, e: dict) -> None:
        self.windows[e["window"]].pause_reason = None
        self._free_window(e["window"], e["at"])
        self._invalidate()

    def _on_ticket_called(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        w = self.windows[e["window"]]
        if t.state == WAITING:
            self._leave_line(t)
        elif t.state == HELD:
            w.held.remove(t.id)
        t.state, t.window, t.calls, t.called_at = CALLED, w.number, 1, e["at"]
        t.target_window = None
        if t.first_called_at is None:
            t.first_called_at = e["at"]
        w.ticket, w.state, w.since, w.last_ticket = t.id, W_CALLING, e["at"], None
        self.changed_windows.add(w.number)
        self.changed_types.add(t.business_type)
        self._record_call(t, w, e["at"], recall=False)
        self._invalidate()

    def _record_call(self, t: Ticket, w: WindowState, at: float, recall: bool) -> None:
        name = self.site.window(w.number).name
        self.recent_calls.append({
            "ticket": t.id, "number": t.number, "window": w.number, "window_name": name,
            "calls": t.calls, "recall": recall, "at": at,
            "text_zh": f"请 {t.number} 号到 {w.number} 号窗口办理",
            "text_en": f"Number {t.number}, please go to window {w.number}",
        })

    def _on_ticket_recalled(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        t.calls = e["calls"]
        t.called_at = e["at"]
        w = self.windows[t.window]
        self.changed_windows.add(w.number)
        self._record_call(t, w, e["at"], recall=True)

    def _on_service_started(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        t.state, t.started_at = SERVING, e["at"]
        w = self.windows[t.window]
        w.state, w.since = W_SERVING, e["at"]
        self.changed_windows.add(w.number)
        self._invalidate()

    def _on_service_finished(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        if t.started_at is None:
            t.started_at = e["at"]
        t.state, t.finished_at, t.end_reason = DONE, e["at"], "served"
        w = self.windows[t.window]
        w.served += 1
        key = t.item or t.business_type
        obs = self.observed.setdefault(key, [0.0, 0])
        obs[0] += e["service_seconds"]
        obs[1] += 1
        if self.site.ratings_enabled:
            self._free_window(w.number, e["at"], W_RATING)
            w.last_ticket = t.id
        else:
            self._free_window(w.number, e["at"])
        self.changed_types.add(t.business_type)
        self._invalidate()

    def _on_ticket_missed(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        self._free_window(t.window, e["at"])
        t.state, t.finished_at, t.end_reason = MISSED, e["at"], "no_show"
        self.changed_types.add(t.business_type)
        self._invalidate()

    def _on_ticket_requeued(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        self._free_window(t.window, e["at"])
        t.rank = e["rank"]
        t.requeues += 1
        self._join_line(t)
        self._invalidate()

    def _on_ticket_transferred(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        self._free_window(t.window, e["at"])
        t.transfers += 1
        t.started_at = None
        if e.get("to_business_type"):
            self.changed_types.add(t.business_type)
            t.business_type, t.item, t.target_window = e["to_business_type"], None, None
        else:
            t.target_window = e["to_window"]
        self._join_line(t)
        self._invalidate()

    def _on_ticket_held(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        w = self.windows[t.window]
        self._free_window(w.number, e["at"])
        t.state = HELD
        w.held.append(t.id)
        self._invalidate()

    def _on_ticket_rated(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        t.rating = e["score"]
        self.ratings[e["score"]] += 1
        w = self.windows.get(t.window)
        if w is not None and w.state == W_RATING and w.last_ticket == t.id:
            w.last_ticket = None
            self._free_window(w.number, e["at"])

    def _on_rating_skipped(self, e: dict) -> None:
        self.windows[e["window"]].last_ticket = None

    def _on_business_type_set(self, e: dict) -> None:
        self.type_open[e["business_type"]] = e["open"]
        self.changed_types.add(e["business_type"])

    def _on_notice_set(self, e: dict) -> None:
        self.notice = e.get("text") or None
        self.changed_windows.update(self.windows)  # so the server republishes state/display

    _appliers: dict[str, Callable] = {
        "day_started": _on_day_started, "day_closed": _on_day_closed, "ticket_issued": _on_ticket_issued,
        "ticket_cancelled": _on_ticket_cancelled, "window_opened": _on_window_opened,
        "window_closed": _on_window_closed, "window_paused": _on_window_paused,
        "window_resumed": _on_window_resumed, "ticket_called": _on_ticket_called,
        "ticket_recalled": _on_ticket_recalled, "service_started": _on_service_started,
        "service_finished": _on_service_finished, "ticket_missed": _on_ticket_missed,
        "ticket_requeued": _on_ticket_requeued, "ticket_transferred": _on_ticket_transferred,
        "ticket_held": _on_ticket_held, "ticket_rated": _on_ticket_rated, "rating_skipped": _on_rating_skipped,
        "business_type_set": _on_business_type_set, "notice_set": _on_notice_set,
        **dict.fromkeys(followups.EVENT_TYPES, lambda self, e: self.cases.apply(e)),  # queue_server/followups.py
    }
    EVENT_TYPES = frozenset(_appliers)

    # ------------------------------------------------------------------ views (what clients see)
    def ticket_view(self, t: Ticket, now: float) -> dict:
        view = {"id": t.id, "number": t.number, "business_type": t.business_type, "item": t.item,
                "state": t.state, "priority_group": t.priority_group, "service_day": self.day,
                "issued_at": self.calendar.iso(t.arrival), "window": t.window}
        if t.state == WAITING:
            fc = self.forecast(now)
            wait = fc.wait(t.id, now)
            view["ahead"] = fc.ahead.get(t.id, 0)
            view["estimated_wait_min"] = None if wait is None else round(wait / 60.0, 1)
        return view

    def window_view(self, w: WindowState) -> dict:
        cfg = self.site.window(w.number)
        current = self.tickets.get(w.ticket) if w.ticket else None
        return {
            "window": w.number, "name": cfg.name, "state": w.state, "clerk": w.clerk,
            "serves": list(cfg.serves), "since": self.calendar.iso(w.since) if w.since else None,
            "ticket": None if current is None else {"id": current.id, "number": current.number,
                                                    "business_type": current.business_type,
                                                    "calls": current.calls},
            "held": [self.tickets[tid].number for tid in w.held],
            "pause_reason": w.pause_reason, "served_today": w.served,
            "awaiting_rating": self.tickets[w.last_ticket].number if w.last_ticket else None,
        }

    def queue_view(self, prefix: str, now: float) -> dict:
        bt = self.site.business_type(prefix)
        fc = self.forecast(now)
        waiting = self.waiting_count(prefix)
        head = []
        for t in fc.order.get(prefix, ()):  # the forecast's order is the calling order
            if t.state == WAITING and t.business_type == prefix:
                head.append(t.number)
                if len(head) == 5:
                    break
        wait = fc.peek(prefix, now)
        oldest = min((t.arrival for t in self.lines[prefix].values()), default=None)
        for line in self.targeted.values():
            for t in line.values():
                if t.business_type == prefix and (oldest is None or t.arrival < oldest):
                    oldest = t.arrival
        return {
            "business_type": prefix, "name": bt.name, "name_en": bt.name_en, "open": self.type_open[prefix],
            "waiting": waiting, "next": head,
            "issued_today": self.issued.get(prefix, 0),
            "quota_left": None if bt.daily_quota is None else max(0, bt.daily_quota - self.issued.get(prefix, 0)),
            "estimated_wait_min": None if wait is None else round(wait / 60.0, 1),
            "longest_wait_since": None if oldest is None else self.calendar.iso(oldest),
            "windows_open": sum(1 for w in self.windows.values()
                                if w.state not in (W_CLOSED, W_PAUSED) and prefix in self.dispatch.serves[w.number]),
        }

    def display_view(self) -> dict:
        calls = [{k: (self.calendar.iso(v) if k == "at" else v) for k, v in c.items()} for c in self.recent_calls]
        calls.reverse()
        return {
            "site": self.site.site_id, "name": self.site.name, "service_day": self.day,
            "calls": calls[:10], "notice": self.notice,
            "windows": [{"window": w.number, "name": self.site.window(w.number).name, "state": w.state,
                         "number": self.tickets[w.ticket].number if w.ticket else None}
                        for w in self.windows.values()],
        }

    def snapshot(self, now: float) -> dict:
        return {
            "service_day": self.day,
            "windows": [self.window_view(w) for w in self.windows.values()],
            "queues": [self.queue_view(p, now) for p in self.lines],
            "display": self.display_view(),
            "ratings": {RATING_NAMES[s]: n for s, n in self.ratings.items()},
        }

    def take_changes(self) -> tuple[set[int], set[str]]:
        """Windows and business types changed since the last call (what to republish)."""
        w, t = self.changed_windows, self.changed_types
        self.changed_windows, self.changed_types = set(), set()
        return w, t

    # ------------------------------------------------------------------ invariants (for tests)
    def check_invariants(self) -> None:
        at_window: dict[str, int] = {}
        for w in self.windows.values():
            if w.ticket is not None:
                assert w.ticket not in at_window, f"{w.ticket} at two windows"
                at_window[w.ticket] = w.number
                t = self.tickets[w.ticket]
                assert t.state in (CALLED, SERVING) and t.window == w.number, (t, w)
                assert w.state in (W_CALLING, W_SERVING), w
            else:
                assert w.state not in (W_CALLING, W_SERVING), w
            for tid in w.held:
                assert self.tickets[tid].state == HELD and self.tickets[tid].window == w.number
        numbers: set[str] = set()
        waiting = 0
        for t in self.tickets.values():
            assert t.number not in numbers, f"number {t.number} issued twice"
            numbers.add(t.number)
            if t.state in (CALLED, SERVING):
                assert at_window.get(t.id) == t.window, t
            if t.state == WAITING:
                waiting += 1
                where = self.targeted[t.target_window] if t.target_window is not None else self.lines[t.business_type]
                assert t.id in where, t
            if t.state in TERMINAL_STATES:
                assert t.finished_at is not None
        assert waiting == sum(len(x) for x in self.lines.values()) + sum(len(x) for x in self.targeted.values())
        assert sum(self.issued.values()) == len(self.tickets)
