"""A citizen's ticket page: `/t/{ticket id}`, the address in the QR code on the paper ticket.

Public (no sign-in) on the hall's network, and it shows one ticket only: its number, business type,
state, how many are ahead, the expected wait and, once called, the window. Nothing personal (not even
the priority group) and nothing of other tickets. The answer comes from the queue server
(`ticket_status`); the page updates live over `/api/t/{id}/events` whenever its business type's
queue changes, the display calls this ticket or its window changes (at most twice a second), and every 30 s anyway
(estimates move with time). At most MAX_STREAMS pages are followed at once.

An id that is not a ticket of this site today answers a plain 404.
"""
from __future__ import annotations

import asyncio
import re
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from console.app import SECURITY_HEADERS, STATIC, ok, sse
from console.hall import HallUnavailable

FINAL = ("done", "missed", "cancelled")
MIN_INTERVAL = 0.5
REFRESH = 30.0
MAX_STREAMS = 300  # open ticket pages at once (a public page must not exhaust the console)
_open_streams = [0]
SHOWN = ("number", "business_type", "state", "ahead", "estimated_wait_min", "window", "service_day")


def _id_re(site_id: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(site_id)}:\d{{4}}-\d{{2}}-\d{{2}}:[A-Z]\d{{3,5}}$")


def not_found() -> Response:
    return PlainTextResponse("404 Not Found", status_code=404, headers=SECURITY_HEADERS)


def public_view(hall, ticket: dict) -> dict:
    """Only what a citizen holding this ticket may see."""
    view = {k: ticket.get(k) for k in SHOWN}
    issued = ticket.get("issued_at")
    view["issued_time"] = issued[11:16] if isinstance(issued, str) and len(issued) >= 16 else None
    after = ticket.get("called_after")  # no window serving it is open now: called from this time on
    view["called_after"] = after[11:16] if isinstance(after, str) and len(after) >= 16 else None
    site = hall.mirror.site or {}
    bt = next((b for b in site.get("business_types", []) if b.get("prefix") == ticket.get("business_type")), {})
    view["business_type_name"], view["business_type_name_en"] = bt.get("name"), bt.get("name_en")
    win = next((w for w in site.get("windows", []) if w.get("window") == ticket.get("window")), None)
    view["window_name"] = win.get("name") if win and ticket.get("state") == "called" else None
    if ticket.get("state") not in ("called", "serving"):
        view["window"] = None
    view["site_name"], view["site_name_en"] = site.get("name"), site.get("name_en")
    return view


async def _status(request: Request, ticket_id: str) -> dict | None:
    """The public view of a ticket of this site today; None when there is none. Raises HallUnavailable."""
    hall = request.app.state.hall
    if not _id_re(hall.site_id).fullmatch(ticket_id):
        return None
    reply = await run_in_threadpool(hall.command, "ticket_status", ticket=ticket_id)
    if not reply.get("ok") or (reply.get("ticket") or {}).get("id") != ticket_id:
        return None
    return public_view(hall, reply["ticket"])


async def ticket_html(request: Request) -> Response:
    try:
        if await _status(request, request.path_params["ticket_id"]) is None:
            return not_found()
    except HallUnavailable:
        return PlainTextResponse("503 the queue server cannot be reached; try again in a minute", status_code=503,
                                 headers=SECURITY_HEADERS)
    return FileResponse(STATIC / "ticket.html", headers=SECURITY_HEADERS)


async def ticket_json(request: Request) -> Response:
    try:
        view = await _status(request, request.path_params["ticket_id"])
    except HallUnavailable:
        return PlainTextResponse("503", status_code=503, headers=SECURITY_HEADERS)
    return not_found() if view is None else ok(view)


def _concerns(message: dict, view: dict, window: int | None) -> bool:
    """Does this change of the hall concern the ticket? Its business type's queue (people ahead,
    estimates), a display call of this very ticket, or its window (start, finish, let go)."""
    key = message.get("key") or []
    value = message.get("value") or {}
    if key == ["queue", view["business_type"]]:
        return True
    if key == ["display"]:
        calls = value.get("calls") or [{}]
        return calls[0].get("number") == view["number"]
    if key and key[0] == "window":
        return view["number"] in ((value.get("ticket") or {}).get("number"), value.get("awaiting_rating")) \
            or (window is not None and window == value.get("window"))
    return False


async def _follow(request: Request, ticket_id: str, view: dict):
    """The event stream of one ticket: its view now, then each time it changes, until it is over."""
    hall = request.app.state.hall
    last, last_query, window = view, time.monotonic(), view.get("window")
    q = hall.listen(asyncio.get_running_loop())
    _open_streams[0] += 1
    try:
        yield sse("ticket", view)
        while not hall.closing and last["state"] not in FINAL:
            dirty = False
            try:
                dirty = _concerns(await asyncio.wait_for(q.get(), 1.0), last, window)
                while not q.empty():
                    dirty = _concerns(q.get_nowait(), last, window) or dirty
            except asyncio.TimeoutError:
                pass
            now = time.monotonic()
            if not dirty and now - last_query < REFRESH:
                continue
            if now - last_query < MIN_INTERVAL:
                await asyncio.sleep(MIN_INTERVAL - (now - last_query))
            last_query = time.monotonic()
            try:
                fresh = await _status(request, ticket_id)
            except HallUnavailable:
                yield sse("offline", {})
                continue
            if fresh is None:  # the service day ended
                yield sse("gone", {})
                return
            if fresh != last:
                last, window = fresh, fresh.get("window") or window
                yield sse("ticket", fresh)
    finally:
        hall.unlisten(q)
        _open_streams[0] -= 1


async def ticket_events(request: Request) -> Response:
    ticket_id = request.path_params["ticket_id"]
    try:
        view = await _status(request, ticket_id)
    except HallUnavailable:
        return PlainTextResponse("503", status_code=503, headers=SECURITY_HEADERS)
    if view is None:
        return not_found()
    if _open_streams[0] >= MAX_STREAMS:
        return PlainTextResponse("503 too many open ticket pages; try again soon", status_code=503,
                                 headers={**SECURITY_HEADERS, "Retry-After": "30"})
    return StreamingResponse(_follow(request, ticket_id, view), media_type="text/event-stream",
                             headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"})


def routes() -> list[Route]:
    return [Route("/t/{ticket_id}", ticket_html), Route("/api/t/{ticket_id}", ticket_json),
            Route("/api/t/{ticket_id}/events", ticket_events)]
