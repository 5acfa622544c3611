"""Reports for managers, computed from the stored event log (never from counters that can drift).

Pure: reads the `events` table of `queue_server/store.py` (one row per fact, every row with its
`site_id`), so many sites may share a database and a report covers exactly one of them.

    report = build_report(conn, "demo-county", "2026-11-01", "2026-11-30", target_minutes=30)
    report.summary["tickets"], report.business_types["A"]["wait_p90_min"], report.windows[3]
    to_csv(report, "business_types")        # one table as CSV text

Definitions (the same on every page and in every CSV):
- a ticket belongs to the service day it was issued on; per business type means the type at issue;
- wait: from issue to the first call (minutes); service: `service_seconds` of `service_finished`;
- percentiles are nearest-rank: p90 of n values is the ceil(0.9 n)-th smallest;
- served within the target: tickets called at least once whose wait <= `target_minutes`, over tickets
  called at least once;
- no-show share: tickets that ended as no-shows (`ticket_missed`) over tickets called at least once;
- window and clerk throughput: visits finished there (the clerk is the one who made the last call);
- follow-up cases (bad ratings, `queue_server/followups.py`): the cases opened in the period, with
  their two deadlines (first contact by `contact_due`, closed by `close_due`) met, missed or still
  running at `now`, folded by `followups.cases` from every later follow-up event of those cases.
"""
from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable

from queue_server import followups as fu

DEFAULT_TARGET_MINUTES = 30.0

# Only these event types feed a report; the SQL pulls the few fields each needs (json_extract is C).
REPORT_TYPES = ("ticket_issued", "ticket_called", "service_finished", "ticket_missed", "ticket_cancelled",
                "ticket_rated")

# `day, rowid` is the order of the (site_id, day) index, so SQLite needs no sort; within a site's day the
# rows were inserted in `seq` order (one writer, `Store.commit`), so it is the log's order.
_SQL = """
SELECT type, day, at, ts, ticket, window,
       CASE type WHEN 'ticket_issued' THEN json_extract(data, '$.business_type') END,
       CASE type WHEN 'ticket_issued' THEN json_extract(data, '$.item')
                 WHEN 'ticket_called' THEN json_extract(data, '$.clerk')
                 WHEN 'ticket_cancelled' THEN json_extract(data, '$.reason') END,
       CASE type WHEN 'service_finished' THEN json_extract(data, '$.service_seconds')
                 WHEN 'ticket_rated' THEN json_extract(data, '$.score') END
FROM events
WHERE site_id = ? AND day BETWEEN ? AND ? AND type IN ({types})
ORDER BY day, rowid
""".format(types=",".join(f"'{t}'" for t in REPORT_TYPES))
# Follow-up events of cases opened in the period come later (contact, closing): read from its first day on.
_FOLLOWUP_SQL = """
SELECT type, ts, day, ticket, window, data FROM events
WHERE site_id = ? AND day >= ? AND type IN ({types}) ORDER BY seq
""".format(types=",".join(f"'{t}'" for t in sorted(fu.EVENT_TYPES)))


class ReportError(ValueError):
    """A report asked for with bad arguments (dates, target)."""


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None for none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def distribution(values: Iterable[float], prefix: str, scale: float = 60.0) -> dict:
    """mean, p50 and p90 of `values` (seconds) in minutes (`scale`), rounded to 0.1."""
    v = sorted(values)
    v = [x / scale for x in v]
    out = {f"{prefix}_n": len(v)}
    out[f"{prefix}_mean_min"] = round(sum(v) / len(v), 2) if v else None
    for p in (50, 90):
        q = percentile(v, p)
        out[f"{prefix}_p{p}_min"] = None if q is None else round(q, 2)
    return out


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(slots=True)
class _Visit:
    day: str
    business_type: str
    item: str | None
    issued: float
    hour: int
    first_called: float | None = None
    clerk: str | None = None
    window: int | None = None
    ended: str | None = None  # served | no_show | cancelled
    service: float | None = None
    rating: int | None = None
    cancel_reason: str | None = None
    issued_at: str = ""  # local ISO time, as stored


@dataclass
class Report:
    site_id: str
    first_day: str
    last_day: str
    target_minutes: float
    summary: dict = field(default_factory=dict)
    business_types: dict[str, dict] = field(default_factory=dict)
    items: dict[str, dict] = field(default_factory=dict)
    windows: dict[int, dict] = field(default_factory=dict)
    clerks: dict[str, dict] = field(default_factory=dict)
    days: dict[str, dict] = field(default_factory=dict)
    hours: dict[int, dict] = field(default_factory=dict)
    ratings: dict[int, int] = field(default_factory=dict)
    followups: dict = field(default_factory=dict)
    tickets: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"site": self.site_id, "from": self.first_day, "to": self.last_day,
                "target_minutes": self.target_minutes, "summary": self.summary,
                "business_types": self.business_types, "items": self.items,
                "windows": {str(k): v for k, v in self.windows.items()}, "clerks": self.clerks,
                "days": self.days, "hours": {str(k): v for k, v in self.hours.items()},
                "ratings": {str(k): v for k, v in self.ratings.items()}, "followups": self.followups}


def check_range(first_day: str, last_day: str) -> None:
    try:
        a, b = date.fromisoformat(first_day), date.fromisoformat(last_day)
    except (TypeError, ValueError):
        raise ReportError("dates must be YYYY-MM-DD") from None
    if b < a:
        raise ReportError("the last day comes before the first")
    if (b - a).days > 366:
        raise ReportError("a report covers at most a year")


def month_range(month: str) -> tuple[str, str]:
    """"2026-11" -> ("2026-11-01", "2026-11-30")."""
    try:
        first = date.fromisoformat(month + "-01")
    except (TypeError, ValueError):
        raise ReportError("a month is YYYY-MM") from None
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first.isoformat(), date.fromordinal(nxt.toordinal() - 1).isoformat()


def build_report(conn: sqlite3.Connection, site_id: str, first_day: str, last_day: str | None = None,
                 target_minutes: float = DEFAULT_TARGET_MINUTES, now: float | None = None,
                 with_tickets: bool = False) -> Report:
    """The report of one site over service days first_day..last_day (inclusive). `now` (epoch
    seconds) decides whether an unanswered follow-up is already late; default: the clock."""
    last_day = last_day or first_day
    check_range(first_day, last_day)
    if not (isinstance(target_minutes, (int, float)) and 0 < target_minutes <= 24 * 60):
        raise ReportError("the target is minutes between 0 and 1440")
    visits: dict[str, _Visit] = {}
    calls_at: dict[int, int] = {}
    for type_, day, at, ts, ticket, window, btype, text, number in conn.execute(
            _SQL, (site_id, first_day, last_day)):
        if type_ == "ticket_issued":
            hour = at[11:13]
            visits[ticket] = _Visit(day, btype or "?", text, ts, int(hour) if hour.isdigit() else -1, issued_at=at)
            continue
        v = visits.get(ticket)
        if v is None:  # issued before the range (a day boundary): not this report's ticket
            continue
        if type_ == "ticket_called":
            calls_at[window] = calls_at.get(window, 0) + 1
            if v.first_called is None:
                v.first_called = ts
            v.clerk, v.window = text, window
        elif type_ == "service_finished":
            v.ended, v.window = "served", window
            v.service = float(number) if isinstance(number, (int, float)) else None
        elif type_ == "ticket_missed":
            v.ended = "no_show"
        elif type_ == "ticket_cancelled":
            v.ended, v.cancel_reason = "cancelled", text
        elif type_ == "ticket_rated" and isinstance(number, int) and 1 <= number <= 5:
            v.rating = number
    report = Report(site_id, first_day, last_day, float(target_minutes))
    _fill(report, visits, calls_at)
    report.followups = _followups(conn, site_id, first_day, last_day, now)
    if with_tickets:
        report.tickets = [_ticket_row(tid, v) for tid, v in visits.items()]
    return report


def _group_stats(visits: list[_Visit], target_s: float) -> dict:
    """One group's figures, in one pass over its visits (a month holds ~50k)."""
    waits, services = [], []
    within = served = no_show = cancelled = rated = rating_sum = bad = 0
    for v in visits:
        if v.first_called is not None:
            wait = v.first_called - v.issued
            waits.append(wait)
            within += wait <= target_s
        ended = v.ended
        if ended == "served":
            served += 1
        elif ended == "no_show":
            no_show += 1
        elif ended == "cancelled":
            cancelled += 1
        if v.service is not None:
            services.append(v.service)
        if v.rating is not None:
            rated += 1
            rating_sum += v.rating
            bad += v.rating <= 2
    called = len(waits)
    out = {"tickets": len(visits), "served": served, "no_shows": no_show, "cancelled": cancelled,
           "called": called, "within_target": within, "within_target_share": share(within, called),
           "no_show_share": share(no_show, called)}
    out.update(distribution(waits, "wait"))
    out.update(distribution(services, "service"))
    out["ratings"] = rated
    out["rating_mean"] = round(rating_sum / rated, 2) if rated else None
    out["bad_ratings"] = bad
    return out


def _grouped(visits: Iterable[_Visit], key) -> dict:
    groups: dict = {}
    for v in visits:
        k = key(v)
        if k is not None:
            groups.setdefault(k, []).append(v)
    return groups


def _fill(report: Report, visits: dict[str, _Visit], calls_at: dict[int, int]) -> None:
    target_s = report.target_minutes * 60.0
    allv = list(visits.values())
    report.summary = _group_stats(allv, target_s)
    report.summary["days_with_tickets"] = len({v.day for v in allv})
    for name, key in (("business_types", lambda v: v.business_type), ("items", lambda v: v.item or "-"),
                      ("days", lambda v: v.day), ("hours", lambda v: v.hour)):
        groups = _grouped(allv, key)
        setattr(report, name, {k: _group_stats(groups[k], target_s) for k in sorted(groups)})
    item_type = {v.item: v.business_type for v in allv if v.item}
    for k, stats in report.items.items():
        stats["business_type"] = item_type.get(k)
    served = [v for v in allv if v.ended == "served"]
    for name, key in (("windows", lambda v: v.window), ("clerks", lambda v: v.clerk)):
        groups = _grouped(served, key)
        table = {}
        for k in sorted(groups):
            services = [v.service for v in groups[k] if v.service is not None]
            rated = [v.rating for v in groups[k] if v.rating is not None]
            row = {"served": len(groups[k])}
            row.update(distribution(services, "service"))
            row["rating_mean"] = round(sum(rated) / len(rated), 2) if rated else None
            row["bad_ratings"] = sum(1 for r in rated if r <= 2)
            table[k] = row
        setattr(report, name, table)
    for number, n in calls_at.items():
        report.windows.setdefault(number, {"served": 0})["calls"] = n
    report.windows = dict(sorted(report.windows.items()))
    report.ratings = {s: 0 for s in (5, 4, 3, 2, 1)}
    for v in allv:
        if v.rating is not None:
            report.ratings[v.rating] = report.ratings.get(v.rating, 0) + 1


def follow_up_cases(conn: sqlite3.Connection, site_id: str, first_day: str, last_day: str = "9999-12-31",
                    now: float | None = None) -> list[dict]:
    """The follow-up cases opened on service days first_day..last_day, as `followups.cases` folds them
    (owner, notes, contact and closing deadlines met / missed / running at `now`), oldest first."""
    events = []
    for type_, ts, day, ticket, window, raw in conn.execute(_FOLLOWUP_SQL, (site_id, first_day)):
        try:
            e = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(e, dict):
            continue
        e.update(type=type_, at=ts)
        if type_ == fu.OPENED:
            if not first_day <= day <= last_day:
                continue
            e.setdefault("ticket", ticket)  # the log keeps these two in their own columns
            e.setdefault("window", window)
        events.append(e)
    return fu.cases(events, datetime.now().timestamp() if now is None else now)


def _followups(conn: sqlite3.Connection, site_id: str, first_day: str, last_day: str,
               now: float | None) -> dict:
    """Follow-up cases opened in the period: how many, closed, and each deadline met / missed / running."""
    cases = follow_up_cases(conn, site_id, first_day, last_day, now)
    out = {"opened": len(cases), "closed": sum(1 for c in cases if c.get("state") == "closed")}
    for deadline in ("contact", "close"):
        counts = {k: sum(1 for c in cases if c.get(deadline) == k) for k in ("met", "missed", "running")}
        for k, n in counts.items():
            out[f"{deadline}_{k}"] = n
        out[f"{deadline}_met_share"] = share(counts["met"], counts["met"] + counts["missed"])
    return out


def _ticket_row(tid: str, v: _Visit) -> dict:
    wait = None if v.first_called is None else round((v.first_called - v.issued) / 60.0, 2)
    return {"ticket": tid, "day": v.day, "business_type": v.business_type, "item": v.item or "",
            "issued_at": v.issued_at, "wait_min": wait,
            "service_min": None if v.service is None else round(v.service / 60.0, 2),
            "window": v.window, "clerk": v.clerk or "", "ended": v.ended or "open",
            "cancel_reason": v.cancel_reason or "", "rating": v.rating}


def audit_trail(conn: sqlite3.Connection, site_id: str, first_day: str, last_day: str,
                limit: int = 500) -> list[dict]:
    """What managers did (events stored with `manager`, follow-up actions with `by`), newest first:
    who, when, what, and the window, ticket or case it was about."""
    rows = conn.execute(
        "SELECT at, type, window, ticket, data, coalesce(json_extract(data, '$.manager'), json_extract(data, '$.by')) "
        "FROM events WHERE site_id = ? AND day BETWEEN ? AND ? AND (json_extract(data, '$.manager') IS NOT NULL "
        "OR json_extract(data, '$.by') IS NOT NULL) ORDER BY day DESC, rowid DESC LIMIT ?",
        (site_id, first_day, last_day, limit)).fetchall()
    out = []
    for at, type_, window, ticket, raw, who in rows:
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}
        detail = {k: v for k, v in data.items() if k in ("reason", "open", "business_type", "text", "owner",
                                                          "outcome", "clerk") and v not in (None, "")}
        out.append({"at": at, "who": who, "what": type_, "window": window,
                    "ticket": ticket.rsplit(":", 1)[-1] if isinstance(ticket, str) else None, "detail": detail})
    return out


# ------------------------------------------------------------------------------------------ CSV
CSV_TABLES = ("summary", "business_types", "items", "windows", "clerks", "days", "hours", "ratings",
              "followups", "tickets")
KEY_NAMES = {"business_types": "business_type", "items": "item", "windows": "window", "clerks": "clerk",
             "days": "day", "hours": "hour"}


def to_csv(report: Report, table: str = "business_types") -> str:
    """One table of the report as CSV text (UTF-8; a spreadsheet opens it directly)."""
    if table not in CSV_TABLES:
        raise ReportError(f"no table {table!r}; choose from {', '.join(CSV_TABLES)}")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    head = ["site", "from", "to"]
    meta = [report.site_id, report.first_day, report.last_day]
    if table in ("summary", "followups"):
        data = report.summary if table == "summary" else report.followups
        w.writerow(head + ["metric", "value"])
        if table == "summary":
            w.writerow(meta + ["target_minutes", report.target_minutes])
        for k, value in data.items():
            w.writerow(meta + [k, "" if value is None else value])
    elif table == "ratings":
        w.writerow(head + ["score", "ratings"])
        for score, n in report.ratings.items():
            w.writerow(meta + [score, n])
    elif table == "tickets":
        cols = list(_ticket_row("", _Visit("", "", None, 0.0, 0)))
        w.writerow(head + cols)
        for row in report.tickets:
            w.writerow(meta + ["" if row[c] is None else row[c] for c in cols])
    else:
        rows: dict = getattr(report, table)
        cols: list[str] = []
        for stats in rows.values():
            cols += [c for c in stats if c not in cols]
        w.writerow(head + [KEY_NAMES[table]] + cols)
        for k, stats in rows.items():
            w.writerow(meta + [k] + ["" if stats.get(c) is None else stats.get(c) for c in cols])
    return out.getvalue()


def open_readonly(path: str) -> sqlite3.Connection:
    """A read-only connection to a site's log (reports never write)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn
