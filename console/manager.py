"""The manager pages and their API: the live hall, control, alerts, reports (JSON, CSV, printable).

Roles: `viewer` reads everything here (live view, alerts, reports, CSV); `manager` (and `admin`) also
acts (windows, issuing, display notice, cancelling a ticket, acknowledging alerts). Clerks have no
access. Every action is a server command that carries the manager's user name (the event log's
audit trail); every POST needs the session's CSRF token.

    GET  /manager                                live view (HTML; state over /api/events)
    GET  /manager/reports, /manager/reports/print?day=YYYY-MM-DD
    GET  /api/manager/alerts                     POST /api/manager/alerts/ack   {"id": "..."}
    POST /api/manager/window/{n}/{open|pause|resume|close}   {"clerk"?, "reason"?}
    POST /api/manager/business_type/{prefix}     {"open": bool}
    POST /api/manager/notice                     {"text": "..."}   ("" clears)
    POST /api/manager/cancel                     {"ticket": "A012"}
    GET  /api/manager/followups?days=14          follow-up cases of bad ratings, newest first
    POST /api/manager/followups/{assign|note|contact|close}  {"case", "owner"|"text"|"outcome"}
    GET  /api/manager/audit?day= | month= | from=&to=    who did what and when (manager actions in the log)
    GET  /api/manager/report?day= | month= | from=&to=  [&target=30]
    GET  /api/manager/report.csv?...&table=business_types|items|windows|clerks|days|hours|ratings|summary|followups|tickets
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console import reports
from console.appointment_report import appointment_report
from console.app import SECURITY_HEADERS, error, json_body, ok, page, require, require_write
from console.manager_desk import ActionRefused, Desk

READ = ("viewer", "manager")
WRITE = ("manager",)
PREFIX_RE = re.compile(r"^[A-Z]$")
TICKET_RE = re.compile(r"^[A-Za-z0-9:_.\-]{1,100}$")


def desk_of(request: Request) -> Desk:
    return request.app.state.desk


def refused(exc: ActionRefused) -> Response:
    return error(exc.status, exc.code, exc.message)


# ------------------------------------------------------------------------------------ pages
async def live_page(request: Request) -> Response:
    return page(request, "manager.html", *READ)


async def reports_page(request: Request) -> Response:
    return page(request, "manager-reports.html", *READ)


async def print_page(request: Request) -> Response:
    return page(request, "manager-print.html", *READ)


# ------------------------------------------------------------------------------------ alerts
async def alerts(request: Request) -> Response:
    require(request, *READ)
    return ok({"alerts": desk_of(request).alerts()})


async def ack(request: Request) -> Response:
    s = require_write(request, *WRITE)
    alert_id = (await json_body(request)).get("id")
    if not isinstance(alert_id, str) or not alert_id:
        return error(400, "bad_request", 'give the alert\'s "id"')
    try:
        alert = await run_in_threadpool(desk_of(request).ack, alert_id, s.username)
    except ActionRefused as exc:
        return refused(exc)
    return ok({"ok": True, "alert": alert})


# ------------------------------------------------------------------------------------ control
async def window_action(request: Request) -> Response:
    s = require_write(request, *WRITE)
    body = await json_body(request)
    clerk, reason = body.get("clerk"), body.get("reason")
    if (clerk is not None and not isinstance(clerk, str)) or (reason is not None and not isinstance(reason, str)):
        return error(400, "bad_request", "clerk and reason are text")
    try:
        reply = await run_in_threadpool(desk_of(request).window_action, request.path_params["number"],
                                        request.path_params["action"], s.username,
                                        (clerk or "").strip() or None, (reason or "").strip()[:200] or None)
    except ActionRefused as exc:
        return refused(exc)
    return ok(reply)


async def business_type(request: Request) -> Response:
    s = require_write(request, *WRITE)
    prefix = request.path_params["prefix"]
    body = await json_body(request)
    if not PREFIX_RE.fullmatch(prefix) or not isinstance(body.get("open"), bool):
        return error(400, "bad_request", 'a business type letter and {"open": true|false}')
    try:
        reply = await run_in_threadpool(desk_of(request).set_business_type, prefix, body["open"], s.username)
    except ActionRefused as exc:
        return refused(exc)
    return ok(reply)


async def notice(request: Request) -> Response:
    s = require_write(request, *WRITE)
    text = (await json_body(request)).get("text")
    if not isinstance(text, str) or len(text) > 200:
        return error(400, "bad_request", "the notice is text of at most 200 characters")
    try:
        reply = await run_in_threadpool(desk_of(request).set_notice, text.strip(), s.username)
    except ActionRefused as exc:
        return refused(exc)
    return ok(reply)


async def cancel(request: Request) -> Response:
    s = require_write(request, *WRITE)
    ticket = (await json_body(request)).get("ticket")
    if not isinstance(ticket, str) or not TICKET_RE.fullmatch(ticket.strip()):
        return error(400, "bad_request", "give a ticket number (A012) or id")
    try:
        reply = await run_in_threadpool(desk_of(request).cancel, ticket.strip().upper()
                                        if ":" not in ticket else ticket.strip(), s.username)
    except ActionRefused as exc:
        return refused(exc)
    return ok(reply)


# ------------------------------------------------------------------------------------ reports
def _range(q) -> tuple[str, str]:
    if q.get("month"):
        return reports.month_range(q["month"])
    if q.get("day"):
        return q["day"], q["day"]
    if q.get("from"):
        return q["from"], q.get("to") or q["from"]
    today = datetime.now().date().isoformat()
    return today, today


def _report(request: Request, with_tickets: bool = False) -> reports.Report:
    db = desk_of(request).log_db
    if db is None:
        raise ActionRefused(503, "no_event_log", "the console was started without the queue's event log (--db)")
    q = request.query_params
    first, last = _range(q)
    try:
        target = float(q.get("target") or reports.DEFAULT_TARGET_MINUTES)
    except ValueError:
        raise reports.ReportError("the target is a number of minutes") from None
    try:
        conn = reports.open_readonly(db)
    except Exception as exc:
        raise ActionRefused(503, "no_event_log", f"the event log cannot be opened: {exc}") from None
    try:
        return reports.build_report(conn, request.app.state.hall.site_id, first, last, target_minutes=target,
                                    with_tickets=with_tickets)
    except reports.sqlite3.Error as exc:
        raise ActionRefused(503, "no_event_log", f"the event log cannot be read: {exc}") from None
    finally:
        conn.close()


async def report_json(request: Request) -> Response:
    require(request, *READ)
    try:
        r = await run_in_threadpool(_report, request)
        body = r.to_dict()
        body["appointments"] = await run_in_threadpool(_appointments, request, r.first_day, r.last_day)
    except reports.ReportError as exc:
        return error(400, "bad_request", str(exc))
    except ActionRefused as exc:
        return refused(exc)
    return ok(body)


def _appointments(request: Request, first: str, last: str) -> dict:
    """Bookings, no-show rate, booked vs walk-in waits of the period (console/appointment_report.py)."""
    conn = reports.open_readonly(desk_of(request).log_db)
    try:
        tz = (request.app.state.hall.mirror.site or {}).get("timezone") or "Asia/Shanghai"
        return appointment_report(conn, request.app.state.hall.site_id, first, last, tz)
    finally:
        conn.close()


async def report_csv(request: Request) -> Response:
    require(request, *READ)
    table = request.query_params.get("table", "business_types")
    if table not in reports.CSV_TABLES:
        return error(400, "bad_request", f"table is one of {', '.join(reports.CSV_TABLES)}")
    try:
        r = await run_in_threadpool(_report, request, table == "tickets")
    except reports.ReportError as exc:
        return error(400, "bad_request", str(exc))
    except ActionRefused as exc:
        return refused(exc)
    name = f"{r.site_id}-{r.first_day}" + ("" if r.last_day == r.first_day else f"-to-{r.last_day}") + f"-{table}.csv"
    # A byte-order mark so that spreadsheet programs read the Chinese names as UTF-8.
    return Response("\ufeff" + reports.to_csv(r, table), media_type="text/csv; charset=utf-8",
                    headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})


def _cases(request: Request, days: int) -> list[dict]:
    db = desk_of(request).log_db
    if db is None:
        raise ActionRefused(503, "no_event_log", "the console was started without the queue's event log (--db)")
    first = (datetime.now() - timedelta(days=days)).date().isoformat()
    try:
        conn = reports.open_readonly(db)
        try:
            cases = reports.follow_up_cases(conn, request.app.state.hall.site_id, first)
        finally:
            conn.close()
    except reports.sqlite3.Error as exc:
        raise ActionRefused(503, "no_event_log", f"the event log cannot be read: {exc}") from None
    keep = ("case", "number", "window", "clerk", "score", "reason", "opened_at", "contact_due", "close_due",
            "owner", "state", "outcome", "contact", "close")
    return [{k: c.get(k) for k in keep} for c in reversed(cases)]


async def followups(request: Request) -> Response:
    """Follow-up cases of bad ratings, newest first: from the server (every open case, and the closed ones
    of the last `days` days); when the server cannot answer, from the event log (opened in `days` days)."""
    require(request, *READ)
    try:
        days = min(366, max(1, int(request.query_params.get("days", "14"))))
    except ValueError:
        return error(400, "bad_request", "days is a whole number")
    since = (datetime.now() - timedelta(days=days)).date().isoformat()
    try:
        cases = await run_in_threadpool(desk_of(request).follow_ups)
        cases = [c for c in reversed(cases) if c.get("state") != "closed" or str(c.get("closed_at") or "") >= since]
        source = "server"
    except ActionRefused:
        try:
            cases, source = await run_in_threadpool(_cases, request, days), "log"
        except ActionRefused as exc:
            return refused(exc)
    return ok({"cases": cases, "source": source})


FOLLOW_UP_FIELDS = {"assign": ("owner",), "note": ("text",), "contact": ("text",), "close": ("outcome", "text")}


async def follow_up(request: Request) -> Response:
    s = require_write(request, *WRITE)
    action = request.path_params["action"]
    if action not in FOLLOW_UP_FIELDS:
        return error(404, "unknown_action", f"no follow-up action {action}")
    body = await json_body(request)
    case = body.get("case")
    extra = {k: body.get(k) for k in FOLLOW_UP_FIELDS[action]}
    if not isinstance(case, str) or not TICKET_RE.fullmatch(case) or \
            any(v is not None and (not isinstance(v, str) or len(v) > 200) for v in extra.values()):
        return error(400, "bad_request", "give the case id and text fields of at most 200 characters")
    extra = {k: v.strip() for k, v in extra.items() if isinstance(v, str) and v.strip()}
    try:
        reply = await run_in_threadpool(desk_of(request).follow_up, case, action, s.username, **extra)
    except ActionRefused as exc:
        return refused(exc)
    return ok(reply)


def _audit(request: Request) -> list[dict]:
    db = desk_of(request).log_db
    if db is None:
        raise ActionRefused(503, "no_event_log", "the console was started without the queue's event log (--db)")
    first, last = _range(request.query_params)
    reports.check_range(first, last)
    try:
        conn = reports.open_readonly(db)
        try:
            return reports.audit_trail(conn, request.app.state.hall.site_id, first, last)
        finally:
            conn.close()
    except reports.sqlite3.Error as exc:
        raise ActionRefused(503, "no_event_log", f"the event log cannot be read: {exc}") from None


async def audit(request: Request) -> Response:
    """Who did what and when (the manager actions in the event log), for a day, a month or a range."""
    require(request, *READ)
    try:
        rows = await run_in_threadpool(_audit, request)
    except reports.ReportError as exc:
        return error(400, "bad_request", str(exc))
    except ActionRefused as exc:
        return refused(exc)
    return ok({"actions": rows})


def routes() -> list[Route]:
    return [
        Route("/manager", live_page), Route("/manager/reports", reports_page),
        Route("/manager/reports/print", print_page),
        Route("/api/manager/alerts", alerts),
        Route("/api/manager/alerts/ack", ack, methods=["POST"]),
        Route("/api/manager/window/{number:int}/{action}", window_action, methods=["POST"]),
        Route("/api/manager/business_type/{prefix}", business_type, methods=["POST"]),
        Route("/api/manager/notice", notice, methods=["POST"]),
        Route("/api/manager/cancel", cancel, methods=["POST"]),
        Route("/api/manager/followups", followups),
        Route("/api/manager/followups/{action}", follow_up, methods=["POST"]),
        Route("/api/manager/audit", audit),
        Route("/api/manager/report", report_json), Route("/api/manager/report.csv", report_csv),
    ]
