"""Follow-up cases for bad ratings: pure rules, no I/O, no clock (times are passed in).

A rating of 1 or 2 (dissatisfied, very dissatisfied) opens a case with two deadlines: first contact
with the citizen within `follow_up_contact_days` working days (default 1) and closing it within
`follow_up_close_days` (default 5), each due at the end of opening hours of that working day. A
working day is a day the site has opening hours. The case is stored as a `follow_up_opened` event in
the event log next to the `ticket_rated` event that caused it; `cases()` folds the stored events
(opened, assigned, noted, contacted, closed) into each case's current state for the manager console.

The engine keeps a `CaseBook` across service days: the `follow_up` command (assign an owner, add a
note, record the first contact, close with an outcome) is decided here, and the `follow_ups` query
lists the cases with each deadline `met`, `missed` or `running`.
"""
from __future__ import annotations

from datetime import datetime, time as dtime, timedelta
from typing import Any, Iterable

from queue_server.model import Rejected

BAD_RATING = 2
OPENED, ASSIGNED, NOTED, CONTACTED, CLOSED = ("follow_up_opened", "follow_up_assigned", "follow_up_noted",
                                             "follow_up_contacted", "follow_up_closed")
EVENT_TYPES = frozenset({OPENED, ASSIGNED, NOTED, CONTACTED, CLOSED})
ACTIONS = {"assign": ASSIGNED, "note": NOTED, "contact": CONTACTED, "close": CLOSED}
STATES = ("open", "contacted", "closed")


def due_after(calendar, at: float, working_days: int) -> float:
    """The end of opening hours on the `working_days`-th working day after `at`'s day (0: that day)."""
    site = calendar.site
    d = calendar.local(at).date()
    counted = 0
    for _ in range(400):
        if counted >= working_days:
            break
        d += timedelta(days=1)
        if site.hours_on(d.weekday()):
            counted += 1
    spans = site.hours_on(d.weekday())
    end = max((s.end for s in spans), default=dtime(23, 59))
    return max(calendar.at(d, end), at)


def opened(rated: dict, number: str, clerk: str | None, calendar, days: tuple[int, int] = (1, 5)) -> list[dict]:
    """The `follow_up_opened` event for a `ticket_rated` event, or [] when the rating is not bad."""
    if rated["score"] > BAD_RATING:
        return []
    at = rated["at"]
    return [{"type": OPENED, "at": at, "day": rated["day"], "case": rated["ticket"], "ticket": rated["ticket"],
             "number": number, "window": rated.get("window"), "clerk": clerk, "score": rated["score"],
             "reason": rated.get("reason"),
             "contact_due": calendar.iso(due_after(calendar, at, days[0])),
             "close_due": calendar.iso(due_after(calendar, at, days[1]))}]


def _time(value: Any) -> datetime | None:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value).astimezone()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


class CaseBook:
    """Every follow-up case the log holds, folded from its events; decides the `follow_up` command."""

    def __init__(self) -> None:
        self.cases: dict[str, dict] = {}

    def apply(self, e: dict) -> None:
        kind = e.get("type")
        if kind == OPENED:
            self.cases[e["case"]] = {
                "case": e["case"], "ticket": e.get("ticket"), "number": e.get("number"), "window": e.get("window"),
                "clerk": e.get("clerk"), "score": e.get("score"), "reason": e.get("reason"), "opened_at": e.get("at"),
                "contact_due": e.get("contact_due"), "close_due": e.get("close_due"), "owner": None, "notes": [],
                "contacted_at": None, "closed_at": None, "outcome": None, "state": "open"}
            return
        case = self.cases.get(e.get("case"))
        if case is None or kind not in EVENT_TYPES:
            return
        if kind == ASSIGNED:
            case["owner"] = e.get("owner")
        elif kind == NOTED:
            case["notes"].append({"at": e.get("at"), "by": e.get("by"), "text": e.get("text")})
        elif kind == CONTACTED:
            case["contacted_at"] = case["contacted_at"] or e.get("at")
            if case["state"] == "open":
                case["state"] = "contacted"
        elif kind == CLOSED:
            case["closed_at"], case["outcome"], case["state"] = e.get("at"), e.get("outcome"), "closed"

    def decide(self, args: dict, now: float, day: str | None) -> tuple[list[dict], dict]:
        """One `follow_up` action: the event to store and the reply, or Rejected."""
        case = self.cases.get(args["case"])
        if case is None:
            raise Rejected("unknown_case", f"there is no follow-up case {args['case']}")
        action = args["action"]
        if case["state"] == "closed":
            raise Rejected("case_closed", f"follow-up case {case['number']} is closed already")
        need = {"assign": "owner", "note": "text", "close": "outcome"}.get(action)
        if need and not args.get(need):
            raise Rejected("bad_request", f"{need}: is required to {action} a case")
        event = {"type": ACTIONS[action], "at": now, "day": day, "case": case["case"], "ticket": case["ticket"],
                 "by": args["manager"]}
        for key in ("owner", "text", "outcome"):
            if args.get(key) is not None:
                event[key] = args[key]
        return [event], (lambda: {"case": self.view_one(case["case"], now)})

    def view_one(self, case_id: str, now: Any = None, iso=None) -> dict:
        case = dict(self.cases[case_id])
        case["notes"] = list(case["notes"])
        now_t = _time(now)
        case["contact"] = _deadline(case["contacted_at"] or case["closed_at"], case["contact_due"], now_t)
        case["close"] = _deadline(case["closed_at"], case["close_due"], now_t)
        if iso is not None:  # seconds -> ISO local times for the wire
            for key in ("opened_at", "contacted_at", "closed_at"):
                if isinstance(case[key], (int, float)):
                    case[key] = iso(case[key])
            case["notes"] = [dict(n, at=iso(n["at"]) if isinstance(n["at"], (int, float)) else n["at"])
                             for n in case["notes"]]
        return case

    def view(self, now: Any = None, state: str | None = None, iso=None) -> list[dict]:
        return [self.view_one(k, now, iso) for k, c in self.cases.items() if state in (None, "all", c["state"])]


def cases(events: Iterable[dict], now: float | str | None = None) -> list[dict]:
    """Every case in `events` (stored or event/log form, in order) with its state and deadlines met,
    missed or still running at `now`. Events of other types are skipped."""
    book = CaseBook()
    for e in events:
        book.apply(e)
    return book.view(now)


def _deadline(done_at: Any, due: Any, now: datetime | None) -> str:
    """"met", "missed" or "running" (not done and not yet due, or `now` unknown)."""
    due_t, done_t = _time(due), _time(done_at)
    if due_t is None:
        return "running"
    if done_t is not None:
        return "met" if done_t <= due_t else "missed"
    return "missed" if now is not None and now > due_t else "running"
