"""The console application (Starlette): sign-in, sessions, access rules, CSRF, server-sent events.

Every page and API needs a session (401 without one, 403 for a role without the right) except the
sign-in page, its script and style. Every state-changing request (POST) carries the session's CSRF
token in `X-CSRF-Token`; signing in itself takes JSON only and checks `Origin`, which a cross-site
form cannot forge. Pages added by other modules use `require()` and `require_write()` the same way:

    async def page(request):
        session = require(request, "manager")          # raises 401/403
    create_app(..., routes=[Route("/manager", page)])
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Iterable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console.accounts import Accounts
from console.hall import Hall, HallUnavailable
from console.sessions import COOKIE, Session, SessionSigner
from onewindow.transport import dumps

log = logging.getLogger("onewindow.console")

STATIC = Path(__file__).parent / "static"
WINDOW_ROLES = ("clerk", "manager")  # who may sign in at a window (admin always may)
LOGIN_FAILURES = 5  # failed sign-ins per name and address in LOGIN_WINDOW seconds before a pause
LOGIN_WINDOW = 300.0
KEEPALIVE = 15.0
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}
# What each role's event stream carries (None: everything the mirror holds).
STREAM_KINDS = {"clerk": frozenset({"site", "window", "queue", "display", "stats"})}


def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": False, "error": {"code": code, "message": message, **extra}}, status_code=status,
                        headers=SECURITY_HEADERS)


def ok(body: dict) -> JSONResponse:
    return JSONResponse(body, headers=SECURITY_HEADERS)


def session_of(request: Request) -> Session | None:
    return request.app.state.signer.read(request.cookies.get(COOKIE))


def require(request: Request, *roles: str) -> Session:
    """The request's session if its role is one of `roles` (or admin; none given: any role)."""
    s = session_of(request)
    if s is None:
        raise HTTPException(401, "sign in first")
    if roles and s.role not in roles and s.role != "admin":
        raise HTTPException(403, "your account may not use this")
    return s


def require_write(request: Request, *roles: str) -> Session:
    """`require`, plus the CSRF token every state-changing request must carry."""
    s = require(request, *roles)
    if not request.app.state.signer.check_csrf(s, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")
    return s


async def json_body(request: Request) -> dict:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, "send JSON")
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def page(request: Request, name: str, *roles: str) -> Response:
    """An HTML page for a signed-in user with one of `roles`; otherwise 401/403 with a way to sign in."""
    s = session_of(request)
    if s is None:
        return HTMLResponse('<!doctype html><meta http-equiv="refresh" content="0; url=/login">'
                            '<p>Sign in first: <a href="/login">sign in</a></p>', status_code=401,
                            headers=SECURITY_HEADERS)
    if roles and s.role not in roles and s.role != "admin":
        return HTMLResponse('<!doctype html><p>Your account may not open this page. <a href="/">Back</a></p>',
                            status_code=403, headers=SECURITY_HEADERS)
    return FileResponse(STATIC / name, headers=SECURITY_HEADERS)


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {dumps(data)}\n\n"


# --------------------------------------------------------------------------- sign-in
class LoginThrottle:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.failures: dict[str, deque] = defaultdict(deque)

    def blocked(self, key: str) -> bool:
        q = self.failures[key]
        while q and q[0] < self.clock() - LOGIN_WINDOW:
            q.popleft()
        return len(q) >= LOGIN_FAILURES

    def failed(self, key: str) -> None:
        if len(self.failures) > 10_000:  # a flood of made-up names must not grow memory without end
            self.failures.clear()
        self.failures[key].append(self.clock())

    def succeeded(self, key: str) -> None:
        self.failures.pop(key, None)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # not a browser (browsers send Origin with every POST)
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


async def login(request: Request) -> Response:
    if not _same_origin(request):
        return error(403, "cross_site", "sign in from the console's own page")
    body = await json_body(request)
    username, password, pin = body.get("username"), body.get("password"), body.get("pin")
    window = body.get("window")
    if not isinstance(username, str) or not (isinstance(password, str) or isinstance(pin, str)):
        return error(400, "bad_request", "give a user name and a password or PIN")
    if window not in (None, "") and not (isinstance(window, int) and not isinstance(window, bool)):
        try:
            window = int(window)
        except (TypeError, ValueError):
            return error(400, "bad_request", "the window is a number")
    window = window or None
    state = request.app.state
    key = f"{username}|{request.client.host if request.client else '-'}"
    if state.throttle.blocked(key):
        return error(429, "too_many_attempts", "too many failed sign-ins: wait five minutes")
    user = await run_in_threadpool(state.accounts.verify, username, password or None, None if password else pin)
    if user is None:
        state.throttle.failed(key)
        log.info("failed sign-in for %r", username[:40])
        return error(401, "bad_credentials", "wrong user name, password or PIN")
    state.throttle.succeeded(key)
    if window is not None:
        if not user.has_role(*WINDOW_ROLES):
            return error(403, "forbidden", "this account may not work at a window")
        try:
            reply = await run_in_threadpool(state.hall.command, "sign_in", window=window, clerk=user.username)
        except HallUnavailable as exc:
            return error(503, "hall_unavailable", str(exc))
        if not reply.get("ok"):
            return error(409, reply["error"]["code"], reply["error"]["message"])
    elif user.role == "clerk":
        return error(400, "window_required", "choose the window you work at")
    cookie, s = state.signer.issue(user.username, user.role, user.name, window)
    log.info("%s signed in%s", user.username, f" at window {window}" if window else "")
    resp = ok({"ok": True, **_me(request, s)})
    resp.set_cookie(COOKIE, cookie, max_age=int(state.signer.ttl), httponly=True, samesite="strict",
                    secure=state.secure_cookies, path="/")
    return resp


def _me(request: Request, s: Session) -> dict:
    state = request.app.state
    return {"user": s.username, "name": s.name, "role": s.role, "window": s.window, "site": state.hall.site_id,
            "csrf": state.signer.csrf_token(s), "expires": s.expires, "home": _home(s)}


def _home(s: Session) -> str:
    if s.window is not None:
        return "/clerk"
    return "/manager" if s.role != "clerk" else "/login"


async def logout(request: Request) -> Response:
    s = require_write(request)
    state = request.app.state
    note = None
    if s.window is not None:
        try:
            reply = await run_in_threadpool(state.hall.command, "sign_out", window=s.window, clerk=s.username)
            if not reply.get("ok"):
                note = reply["error"]["message"]
        except HallUnavailable as exc:
            note = str(exc)
    state.signer.revoke(s)
    resp = ok({"ok": True, "window_note": note})
    resp.delete_cookie(COOKIE, path="/")
    return resp


async def me(request: Request) -> Response:
    return ok(_me(request, require(request)))


async def home(request: Request) -> Response:
    s = session_of(request)
    return RedirectResponse("/login" if s is None else _home(s), status_code=303)


async def login_page(request: Request) -> Response:
    return FileResponse(STATIC / "login.html", headers=SECURITY_HEADERS)


async def windows_for_login(request: Request) -> Response:
    """The windows to choose from on the sign-in page (numbers and names only; public by design)."""
    site = request.app.state.hall.mirror.site or {}
    return ok({"site": site.get("name"), "windows": [{"window": w.get("window"), "name": w.get("name")}
                                                     for w in site.get("windows", [])]})


# --------------------------------------------------------------------------- state
async def state_snapshot(request: Request) -> Response:
    s = require(request)
    hall = request.app.state.hall
    return ok({"broker": hall.broker_online, "entries": hall.entries(STREAM_KINDS.get(s.role))})


async def events(request: Request) -> Response:
    """Server-sent events: `snapshot` first, then `change` for every change, `broker` when the
    console's broker connection comes or goes, `expired` when the session ends."""
    s = require(request)
    hall: Hall = request.app.state.hall
    kinds = STREAM_KINDS.get(s.role)
    signer = request.app.state.signer
    q = hall.listen(asyncio.get_running_loop())

    async def stream():
        try:
            online = hall.broker_online
            yield sse("snapshot", {"broker": online, "entries": hall.entries(kinds)})
            quiet = 0.0
            while not hall.closing:
                try:
                    message = await asyncio.wait_for(q.get(), 1.0)
                except asyncio.TimeoutError:
                    message = None
                    quiet += 1.0
                out = []
                if getattr(q, "overflowed", False):  # changes were dropped: start again from the whole state
                    while not q.empty():
                        q.get_nowait()
                    q.overflowed, message = False, None
                    out.append(sse("snapshot", {"broker": hall.broker_online, "entries": hall.entries(kinds)}))
                while message is not None:
                    if kinds is None or message["key"][0] in kinds:
                        out.append(sse("change", message))
                    message = q.get_nowait() if not q.empty() else None
                if hall.broker_online != online:
                    online = hall.broker_online
                    out.append(sse("broker", {"online": online}))
                if signer.read(request.cookies.get(COOKIE)) is None:
                    out.append(sse("expired", {}))
                    yield "".join(out)
                    return
                if not out and quiet >= KEEPALIVE:
                    out.append(": keep-alive\n\n")
                if out:
                    quiet = 0.0
                    yield "".join(out)
        finally:
            hall.unlisten(q)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"})


async def http_error(request: Request, exc: HTTPException) -> Response:
    code = {401: "not_signed_in", 403: "forbidden", 415: "bad_request", 400: "bad_request"}.get(exc.status_code, "error")
    return error(exc.status_code, code, str(exc.detail))


def create_app(hall: Hall, accounts: Accounts, signer: SessionSigner, *, secure_cookies: bool = False,
               routes: Iterable[Route] = (), on_close=None, manager: dict | None = None) -> Starlette:
    from console import booking, clerk, manager as manager_pages, ticket_page  # the pages' routes (same package)
    from console.manager_desk import Desk

    @asynccontextmanager
    async def lifespan(app):
        yield
        hall.closing = True  # open event streams end within a second
        if on_close is not None:
            on_close()

    app = Starlette(routes=[
        Route("/", home), Route("/login", login_page),
        Route("/api/login", login, methods=["POST"]), Route("/api/logout", logout, methods=["POST"]),
        Route("/api/me", me), Route("/api/windows", windows_for_login),
        Route("/api/state", state_snapshot), Route("/api/events", events),
        *clerk.routes(), *manager_pages.routes(), *ticket_page.routes(), *booking.routes(), *routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ], exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.state.hall, app.state.accounts, app.state.signer = hall, accounts, signer
    app.state.secure_cookies = secure_cookies
    app.state.throttle = LoginThrottle()
    app.state.desk = Desk(hall, **(manager or {}))  # alerts and control for the manager pages
    return app
