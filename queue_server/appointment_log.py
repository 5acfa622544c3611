"""The appointment book in the event log: bookings outlive the service day they were made on, so a
restart replays the appointment events of earlier days before the latest day's events; and a booking's
protected identity (`holder`) is removed from the stored rows once the engine has forgotten it
(`appointment_holders_purged`). Works on a `queue_server.store.Store`'s connection.
"""
from __future__ import annotations

import json
import logging

from queue_server.booking_rules import APPOINTMENT_EVENTS

log = logging.getLogger("onewindow.appointments")

REPLAY_DAYS = 3660  # at most this far back (the book's own purge keeps what matters far younger)


def earlier_events(store, before_day: str | None, now: float) -> list[dict]:
    """Appointment events of the days before `before_day` (None: every day), in log order."""
    marks = ",".join("?" * len(APPOINTMENT_EVENTS))
    sql = (f"SELECT type, ts, day, ticket, data FROM events WHERE site_id = ? AND type IN ({marks}) "
           "AND ts >= ?" + (" AND day < ?" if before_day else "") + " ORDER BY seq")
    params = [store.site_id, *APPOINTMENT_EVENTS, now - REPLAY_DAYS * 86400.0]
    if before_day:
        params.append(before_day)
    out = []
    for type_, ts, day, ticket, data in store.conn.execute(sql, params):
        event = json.loads(data)
        event.update(type=type_, at=ts, day=day)
        if ticket is not None:
            event["ticket"] = ticket
        out.append(event)
    return out


def forget_holders(store, events) -> None:
    """After a batch is stored: drop `holder` from the stored bookings the engine has just purged."""
    codes = [c for e in events if e.get("type") == "appointment_holders_purged" for c in e["codes"]]
    if not codes:
        return
    try:
        with store.conn:
            store.conn.executemany(
                "UPDATE events SET data = json_remove(data, '$.holder') WHERE site_id = ? AND "
                "type = 'appointment_booked' AND json_extract(data, '$.code') = ?",
                [(store.site_id, c) for c in codes])
        log.info("forgot the protected identity of %d past bookings", len(codes))
    except Exception as exc:  # the engine has forgotten them; the next purge run retries nothing: say so
        log.error("could not remove the identity of %d purged bookings from the log: %s", len(codes), exc)


def public_event(event: dict) -> dict:
    """An event as the event/log topic shows it: without the protected identity."""
    if "holder" in event:
        event = {k: v for k, v in event.items() if k != "holder"}
    return event
