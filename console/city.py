"""The city view inside the console: every hall's live state on one page, by level, drill down to a hall,
and the city reports. For managers (and admins).

The console may not import the city tier (same layer), so the data comes in as two objects, built by
whoever starts the console with a city bus and a city store:

    routes = city_routes(live, report)    # live: city.live.CityLive; report(by, period) -> rows
    ConsoleRunner(..., routes=routes)     #   e.g. functools.partial(city.reports.city_report, store)

Pages and APIs: `/city` (the page), `/api/city/halls` (one row per hall), `/api/city/hall/{site}` (one
hall: its summary, windows, queues, devices), `/api/city/report?by=site|level|city&period=day|month`.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from console.app import SECURITY_HEADERS, error, ok, require

log = logging.getLogger("onewindow.console.city")

STATIC = Path(__file__).parent / "static"
ROLES = ("manager",)
REPORT_GROUPS = ("site", "level", "city")
REPORT_PERIODS = ("day", "month")


def city_routes(live, report: Callable[..., list[dict]] | None = None) -> list[Route]:
    async def page(request: Request) -> Response:
        require(request, *ROLES)
        return FileResponse(STATIC / "city.html", headers=SECURITY_HEADERS)

    async def halls(request: Request) -> Response:
        require(request, *ROLES)
        return ok({"ok": True, "halls": live.table()})

    async def hall(request: Request) -> Response:
        require(request, *ROLES)
        site = request.path_params["site"]
        summary = live.hall(site)
        if summary is None:
            return error(404, "unknown_site", f"the city bus has no hall {site!r}")
        m = live.mirror(site)
        return ok({"ok": True, "hall": summary, "windows": [m.windows[n] for n in sorted(m.windows)],
                   "queues": [m.queues[p] for p in sorted(m.queues)],
                   "devices": [m.devices[d] for d in sorted(m.devices)],
                   "presence": [m.presence[p] for p in sorted(m.presence)]})

    async def city_report(request: Request) -> Response:
        require(request, *ROLES)
        by, period = request.query_params.get("by", "site"), request.query_params.get("period", "day")
        if by not in REPORT_GROUPS or period not in REPORT_PERIODS:
            return error(400, "bad_request", f"by must be one of {REPORT_GROUPS}, period one of {REPORT_PERIODS}")
        if report is None:
            return error(503, "no_city_store", "this console has no city store")
        try:
            rows = await run_in_threadpool(report, by=by, period=period)
        except Exception as exc:  # the store is down: say so, never crash
            log.warning("city report failed: %s", exc)
            return error(503, "city_store_unavailable", "the city store cannot be reached; try again")
        return ok({"ok": True, "by": by, "period": period,
                   "rows": [{k: (str(v) if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows]})

    return [Route("/city", page), Route("/api/city/halls", halls), Route("/api/city/hall/{site}", hall),
            Route("/api/city/report", city_report)]
