"""The city console: the console's sign-in and its city pages, over the city bus and the city store.

`console/` may not import the city tier (same layer once), so the city page (`console.city.city_routes`)
takes its data as arguments; this module (one layer up) builds them and serves them:

    with CityConsole(parse_nodes("mqtt://a:1883,mqtt://b:1883", "city", pw), "dbname=onewindow_city",
                     "var/console-users.db", port=8090) as c:
        ...                                  # c.url: /login, /city, /api/city/...

The city console has no hall broker, so the hall's own pages (clerk, manager, ticket page, event stream)
are not served: only sign-in (without a window), the city page and its APIs (halls, one hall, reports).
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
from typing import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from city.failover import FailoverTransport
from city.live import CityLive
from city.reports import city_report
from city.store import CityStore
from console import app as base
from console.accounts import Accounts
from console.city import city_routes
from console.hall import HallUnavailable
from console.runner import WebRunner
from console.sessions import DEFAULT_TTL, SessionSigner
from onewindow.broker import BrokerSettings

log = logging.getLogger("onewindow.city.console")


class NoHall:
    """What the console's sign-in asks of a hall, for a console that serves none."""
    site_id = "city"
    closing = False
    broker_online = False

    def command(self, *args, **kwargs):
        raise HallUnavailable("the city console serves no hall: sign in without a window")


def locked_report(store: CityStore):
    """`city_report` on one store connection, one request at a time (a CityStore is not thread-safe)."""
    lock = threading.Lock()

    def report(by: str, period: str) -> list[dict]:
        with lock:
            return city_report(store, by=by, period=period)
    return report


async def home(request: Request) -> Response:
    return RedirectResponse("/login" if base.session_of(request) is None else "/city", status_code=303)


async def no_windows(request: Request) -> Response:
    return base.ok({"site": "城市 City", "windows": []})


def create_city_app(live, report, accounts: Accounts, signer: SessionSigner, *,
                    secure_cookies: bool = False) -> Starlette:
    """Sign-in (the console's own handlers), the city page and its APIs; `/manager` (a manager's home
    after signing in) leads to `/city`."""
    app = Starlette(routes=[
        Route("/", home), Route("/manager", home), Route("/login", base.login_page),
        Route("/api/login", base.login, methods=["POST"]), Route("/api/logout", base.logout, methods=["POST"]),
        Route("/api/me", base.me), Route("/api/windows", no_windows),
        *city_routes(live, report),
        Mount("/static", StaticFiles(directory=base.STATIC), name="static"),
    ], exception_handlers={HTTPException: base.http_error})
    app.state.hall, app.state.accounts, app.state.signer = NoHall(), accounts, signer
    app.state.secure_cookies = secure_cookies
    app.state.throttle = base.LoginThrottle()
    return app


class CityConsole(WebRunner):
    """The city bus (each node in turn), the city store, the users file and the web app."""

    name = "city console"

    def __init__(self, nodes: Sequence[BrokerSettings], city_db: str | None, users: str | os.PathLike, *,
                 host: str = "127.0.0.1", port: int = 8090, client_id: str = "city-console",
                 secret: bytes | None = None, session_ttl: float = DEFAULT_TTL, secure_cookies: bool = False):
        self.transport = FailoverTransport(nodes, "city", client_id, role="city-console", presence=False)
        self.live = CityLive(self.transport)
        self.store = CityStore(city_db) if city_db else None
        report = locked_report(self.store) if self.store is not None else None
        self.accounts = Accounts(users)
        self.signer = SessionSigner(secret or secrets.token_bytes(32), ttl=session_ttl)
        self._serve_app(create_city_app(self.live, report, self.accounts, self.signer,
                                        secure_cookies=secure_cookies), host, port, lifespan="off")

    def close(self) -> None:
        super().close()
        if self.store is not None:
            self.store.close()

