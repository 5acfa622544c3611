"""The appointment figures of the manager's reports, computed from the stored event log.

Pure: reads the `events` table of `queue_server/store.py` for one site.

    appointment_report(conn, "demo-county", "2026-11-01", "2026-11-30", "Asia/Shanghai")

Definitions:
- a booking belongs to the local day of its slot (not the day it was made); its outcome is the last of
  `appointment_cancelled`, `appointment_checked_in` (`late`: a walk-in ticket), `appointment_no_show`;
  still `booked` while its slot has not ended;
- no-show rate: no-shows over bookings that reached their slot (checked in, late or no-show);
- booked wait: from the later of the check-in and the slot's start to the first call of a ticket that
  carries an appointment; walk-in wait: from issue to the first call of every other ticket (minutes);
- percentiles are nearest-rank, as in the other reports.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

from console.reports import percentile

_BOOK_SQL = """SELECT type, data FROM events WHERE site_id = ? AND type IN ('appointment_booked',
    'appointment_changed', 'appointment_cancelled', 'appointment_checked_in', 'appointment_no_show') ORDER BY seq"""
_TICKET_SQL = """SELECT type, ts, ticket, json_extract(data, '$.appointment_start') FROM events
    WHERE site_id = ? AND day BETWEEN ? AND ? AND type IN ('ticket_issued', 'ticket_called') ORDER BY seq"""


def _waits(values: list[float]) -> dict:
    values = sorted(v / 60.0 for v in values)
    return {"n": len(values), "mean_min": round(sum(values) / len(values), 1) if values else None,
            "p50_min": _round(percentile(values, 50)), "p90_min": _round(percentile(values, 90))}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _bookings(conn: sqlite3.Connection, site_id: str, first_day: str, last_day: str, tz: ZoneInfo) -> dict:
    slots: dict[str, tuple[float, str]] = {}  # code -> (slot start, outcome)
    channels: dict[str, str] = {}
    for kind, data in conn.execute(_BOOK_SQL, (site_id,)):
        d = json.loads(data)
        code = d["code"]
        if kind == "appointment_booked":
            slots[code], channels[code] = (d["start"], "booked"), d.get("channel", "online")
        elif code in slots:
            start, outcome = slots[code]
            if kind == "appointment_changed":
                slots[code] = (d["start"], outcome)
            else:
                outcome = {"appointment_cancelled": "cancelled", "appointment_no_show": "no_show"}.get(
                    kind, "late" if d.get("late") else "checked_in")
                slots[code] = (start, outcome)
    out = {"bookings": 0, "booked": 0, "cancelled": 0, "checked_in": 0, "late": 0, "no_show": 0, "by_channel": {}}
    for code, (start, outcome) in slots.items():
        if not first_day <= datetime.fromtimestamp(start, tz).date().isoformat() <= last_day:
            continue
        out["bookings"] += 1
        out[outcome] += 1
        out["by_channel"][channels[code]] = out["by_channel"].get(channels[code], 0) + 1
    reached = out["checked_in"] + out["late"] + out["no_show"]
    out["no_show_rate"] = round(out["no_show"] / reached, 3) if reached else None
    return out


def appointment_report(conn: sqlite3.Connection, site_id: str, first_day: str, last_day: str,
                       timezone: str = "Asia/Shanghai") -> dict:
    """Bookings and their outcomes, the no-show rate, and booked vs walk-in waits for [first_day, last_day]."""
    report = _bookings(conn, site_id, first_day, last_day, ZoneInfo(timezone))
    issued: dict[str, tuple[float, float | None]] = {}
    booked, walk_in = [], []
    for kind, ts, ticket, slot in conn.execute(_TICKET_SQL, (site_id, first_day, last_day)):
        if kind == "ticket_issued":
            issued[ticket] = (ts, slot)
        elif ticket in issued:
            at, slot = issued.pop(ticket)  # the first call only
            if slot is None:
                walk_in.append(ts - at)
            else:
                booked.append(max(0.0, ts - max(at, slot)))
    report["booked_wait"], report["walk_in_wait"] = _waits(booked), _waits(walk_in)
    return report
