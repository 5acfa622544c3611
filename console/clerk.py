"""The clerk page and its API: every action is for the signed-in clerk's own window.

`POST /api/clerk/{action}` takes only the action's own arguments; the window and the clerk always
come from the session, never from the page. The console decides nothing about the queue: it sends
the command and shows what the queue server answers (a refusal with its code and message).
"""
from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.app import error, json_body, ok, page, require, require_write
from console.hall import HallUnavailable

log = logging.getLogger("onewindow.console")

# action -> (server command, {argument: type}) ; the page may send only these arguments.
ACTIONS: dict[str, tuple[str, dict[str, type]]] = {
    "call_next": ("call_next", {}),
    "call": ("call", {"ticket": str}),
    "recall": ("recall", {}),
    "start": ("start", {}),
    "finish": ("finish", {}),
    "no_show": ("no_show", {}),
    "transfer": ("transfer", {"to_business_type": str, "to_window": int, "note": str}),
    "hold": ("hold", {"note": str}),
    "call_back": ("call_back", {"ticket": str}),
    "pause": ("pause", {"reason": str}),
    "resume": ("resume", {}),
    "rate": ("rate", {"ticket": str, "score": int}),
}
STATUS = {"forbidden": 403, "window_closed": 409}


def _clean(action: str, body: dict) -> dict[str, Any]:
    allowed = ACTIONS[action][1]
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValueError(f"{action} takes no {', '.join(unknown)}")
    args: dict[str, Any] = {}
    for key, kind in allowed.items():
        value = body.get(key)
        if value in (None, ""):
            continue
        if kind is int:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"{key} must be a number") from None
        elif not isinstance(value, str):
            raise ValueError(f"{key} must be text")
        else:
            value = value.strip()
            if key == "ticket":
                value = value.upper()
        args[key] = value
    return args


async def clerk_page(request: Request) -> Response:
    return page(request, "clerk.html", "clerk", "manager")


async def clerk_action(request: Request) -> Response:
    s = require_write(request, "clerk", "manager")
    action = request.path_params["action"]
    if action not in ACTIONS:
        return error(404, "unknown_action", f"no action {action}")
    if s.window is None:
        return error(403, "no_window", "sign in at a window first")
    try:
        args = _clean(action, await json_body(request))
    except ValueError as exc:
        return error(400, "bad_request", str(exc))
    hall = request.app.state.hall
    command = ACTIONS[action][0]
    if command == "rate":
        if "ticket" not in args:  # the visit this window just finished
            w = hall.mirror.windows.get(s.window) or {}
            if not w.get("awaiting_rating"):
                return error(409, "no_ticket", "no finished visit is waiting for a rating at this window")
            args["ticket"] = w["awaiting_rating"]
        args["window"] = s.window  # the server checks the visit was served here
    else:
        args.update(window=s.window, clerk=s.username)
    try:
        reply = await run_in_threadpool(hall.command, command, **args)
    except HallUnavailable as exc:
        return error(503, "hall_unavailable", str(exc))
    if not reply.get("ok"):
        err = reply.get("error") or {}
        log.info("window %s %s %s refused: %s", s.window, s.username, action, err.get("code"))
        return error(STATUS.get(err.get("code"), 409), err.get("code", "refused"), err.get("message", ""))
    return ok(reply)


async def clerk_stats(request: Request) -> Response:
    s = require(request, "clerk", "manager")
    if s.window is None:
        return error(403, "no_window", "sign in at a window first")
    return ok(request.app.state.hall.service_stats(s.window))


def routes() -> list[Route]:
    return [Route("/clerk", clerk_page), Route("/api/clerk/stats", clerk_stats),
            Route("/api/clerk/{action}", clerk_action, methods=["POST"])]
