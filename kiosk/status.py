"""The kiosk's health: whether it can serve, and its retained device status for the manager.

    {"v": 1, "device": "kiosk-1", "kind": "kiosk", "at": "2026-11-23T09:01:02+08:00",
     "state": "ok" | "degraded" | "out_of_service",
     "parts": {"printer": "ok" | "paper_low" | "paper_out" | "offline" | "cover_open" | "unknown",
               "printers": {"main": "ok", "spare": "paper_out"},
               "scanner": "ok" | "offline" | "none", "idcard": ..., "broker": "ok" | "offline",
               "server": "ok" | "offline"},
     "detail": "words"}

Published retained on `Topics.device_status(device)` whenever it changes (no personal data in it).
"""
from __future__ import annotations

from dataclasses import dataclass

from hardware.printing.status import printer_states
from onewindow.devices import status_payload


@dataclass(frozen=True)
class Health:
    problem: str | None          # None | "printer" | "server" | "starting"
    printer_problem: str | None  # the first printer's problem when every printer is out of order
    parts: dict
    state: str                   # ok | degraded | out_of_service
    detail: str


def health(printers: list, connected: bool, server_online: bool | None, have_site: bool,
           devices: dict[str, str | None]) -> Health:
    """`printers`: PrintStations; `server_online`: the server's presence (None: not heard of yet);
    `devices`: {"scanner": "ok"|"offline"|None, "idcard": ...} (None: not fitted)."""
    per = printer_states(printers)  # ok | paper_low | paper_out | cover_open | offline | unknown
    parts: dict = {"printer": next(iter(per.values()), "offline"), "printers": per,
                   "broker": "ok" if connected else "offline",
                   "server": "ok" if server_online else ("offline" if server_online is False else "unknown")}
    for name, state in devices.items():
        parts[name] = state or "none"
    problem, printer_problem, detail = None, None, "serving"
    if printers and all(p.status.problem is not None for p in printers):
        problem, printer_problem = "printer", printers[0].status.problem
        detail = "every printer is out of order: " + ", ".join(f"{k} {v}" for k, v in per.items())
    elif not printers:
        problem, printer_problem, detail = "printer", "unplugged", "no printer configured"
    elif not connected or server_online is False:
        problem, detail = "server", "the queue server cannot be reached"
    elif not have_site:
        problem, detail = "starting", "waiting for the site's state from the queue server"
    if problem:
        state = "out_of_service"
    elif any(v != "ok" for v in per.values()) or any(parts[n] == "offline" for n in devices):
        # a printer not answering its status yet ("unknown") is not known to be fine: degraded
        state, detail = "degraded", "serving; " + ", ".join(
            [f"printer {k} {v}" for k, v in per.items() if v != "ok"]
            + [f"{n} offline" for n in devices if parts[n] == "offline"])
    else:
        state = "ok"
    return Health(problem, printer_problem, parts, state, detail)


def payload(device: str, h: Health, at: str) -> dict:
    return status_payload(device, "kiosk", h.state, h.parts, h.detail, at)
