"""The manager's desk inside the console: alerts kept up to date, and control actions as commands.

`Desk(hall, ...)` feeds an `AlertBoard` from the hall's mirror (queues, presence, device status),
`event/print` and `event/log`; a small thread re-evaluates once a second (waits grow with time) and
at once on every change, writes what changed to the console's own SQLite (`AlertStore`) and pushes
the list to open manager pages as an `("alerts",)` change on the console's event stream.

Control actions are ordinary server commands with the manager's user name in `manager`, so the
queue's event log says who did what and when. The console decides nothing about the queue: window
actions go to the clerk signed in at the window (from the mirror), and the server may refuse.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from console.alert_store import AlertStore
from console.alerts import AlertBoard, AlertPolicy

log = logging.getLogger("onewindow.console")

# window action -> server command
WINDOW_ACTIONS = {"open": "sign_in", "pause": "pause", "resume": "resume", "close": "sign_out"}


class ActionRefused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Desk:
    def __init__(self, hall, *, log_db: str | Path | None = None, alerts_db: str | Path = ":memory:",
                 policy: AlertPolicy | None = None, clock=time.time, tick: float = 1.0):
        self.hall = hall
        self.log_db = None if log_db is None else str(log_db)
        self.clock = clock
        self.board = AlertBoard(policy or AlertPolicy())
        self.store = AlertStore(alerts_db)
        self.board.restore(self.store.load())
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._listed: list[dict] | None = None
        self.tick = tick
        self._cases: list[dict] = []
        self._clerks: dict[int, str | None] = {}  # window -> clerk, from our own commands' replies
        self._cases_at = 0.0
        self.cases_every = 60.0  # seconds between looks at the follow-up cases (overdue first contact)
        hall.mirror.on_change(lambda key, value: self._wake.set())
        hall.transport.subscribe(hall.topics.print_events, self._on_print)
        hall.transport.subscribe(hall.topics.log, self._on_log)
        hall.transport.subscribe(hall.topics.security, self._on_security)
        self._thread = threading.Thread(target=self._run, name="manager-alerts", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ alerts
    def _on_print(self, topic: str, payload: bytes) -> None:
        self._feed(topic, payload, self.board.on_print_event)

    def _on_security(self, topic: str, payload: bytes) -> None:
        self._feed(topic, payload, self.board.on_security_event)

    def _feed(self, topic: str, payload: bytes, take) -> None:
        """An event message (JSON) into the alert board, then a look at what changed."""
        import json
        try:
            data = json.loads(payload)
        except ValueError:
            log.warning("ignored a message on %s that is not JSON", topic)
            return
        with self._lock:
            take(data, self.clock())
        self._wake.set()

    def _on_log(self, topic: str, payload: bytes) -> None:
        import json
        try:
            events = json.loads(payload).get("events") or []
        except (ValueError, AttributeError):
            return
        with self._lock:
            self.board.on_log_events(events, self.clock())
        self._wake.set()

    def refresh(self) -> None:
        """Re-evaluate the conditions now; store and push what changed."""
        m = self.hall.mirror
        if time.monotonic() - self._cases_at >= self.cases_every and self.hall.broker_online:
            self._cases_at = time.monotonic()
            try:
                self._cases = self.follow_ups()
            except ActionRefused:
                pass  # the server is away: keep the last list
        with self._lock:
            self.board.evaluate(self.clock(), m.queues, m.presence, m.devices, self._cases)
            changed = self.board.changes()
            listed = self.board.alerts()
        if changed:
            try:
                self.store.save(changed)
            except Exception:  # the console keeps working; the log says the ack may not survive a restart
                log.exception("could not save %d alerts to the console's database", len(changed))
        if listed != self._listed:
            self._listed = listed
            self.hall._broadcast(("alerts",), {"alerts": listed})

    def _run(self) -> None:
        while not self.hall.closing:
            self._wake.wait(self.tick)
            self._wake.clear()
            try:
                self.refresh()
            except Exception:
                log.exception("alert evaluation failed")
        self.store.close()

    def alerts(self) -> list[dict]:
        with self._lock:
            return self.board.alerts()

    def ack(self, alert_id: str, user: str) -> dict:
        with self._lock:
            alert = self.board.ack(alert_id, user, self.clock())
        if alert is None:
            raise ActionRefused(404, "unknown_alert", "no such alert (it may have been cleared and acknowledged)")
        log.info("alert %s acknowledged by %s", alert_id, user)
        self.refresh()
        return alert.view()

    # ------------------------------------------------------------------ control
    def window_action(self, number: int, action: str, user: str, clerk: str | None = None,
                      reason: str | None = None) -> dict:
        if action not in WINDOW_ACTIONS:
            raise ActionRefused(404, "unknown_action", f"no window action {action}")
        w = self.hall.mirror.windows.get(number)
        if w is None:
            raise ActionRefused(404, "unknown_window", f"there is no window {number} at this site")
        args: dict[str, Any] = {"window": number, "manager": user}
        if action == "open":
            args["clerk"] = clerk or user
        else:
            # The clerk at the window as the mirror shows it; just after our own command the mirror may
            # not have caught up, so our last reply counts too. The server checks it either way.
            current = w.get("clerk") or self._clerks.get(number)
            if not current:
                raise ActionRefused(409, "window_closed", f"window {number} is closed")
            args["clerk"] = current
        if action == "pause":
            args["reason"] = reason or "manager"
        reply = self._command(WINDOW_ACTIONS[action], **args)
        if reply.get("window") == number and "state" in reply:
            self._clerks[number] = reply.get("clerk")
        return reply

    def set_business_type(self, prefix: str, open_: bool, user: str) -> dict:
        return self._command("set_business_type", business_type=prefix, open=open_, manager=user)

    def set_notice(self, text: str, user: str) -> dict:
        return self._command("set_notice", text=text, manager=user)

    def follow_up(self, case: str, action: str, user: str, **extra: Any) -> dict:
        """assign (owner), note (text), contact (text?), close (outcome, text?) a follow-up case."""
        return self._command("follow_up", case=case, action=action, manager=user,
                             **{k: v for k, v in extra.items() if v})

    def follow_ups(self) -> list[dict]:
        """Every follow-up case the server holds (any service day), from its `follow_ups` query."""
        from console.hall import HallUnavailable
        try:
            reply = self.hall.command("follow_ups", state="all")
        except HallUnavailable as exc:
            raise ActionRefused(503, "hall_unavailable", str(exc)) from None
        if not reply.get("ok"):
            err = reply.get("error") or {}
            raise ActionRefused(409, err.get("code", "refused"), err.get("message", ""))
        return reply.get("cases") or []

    def cancel(self, ticket: str, user: str) -> dict:
        return self._command("cancel", ticket=ticket, reason="manager", manager=user)

    def _command(self, command: str, **args: Any) -> dict:
        from console.hall import HallUnavailable
        try:
            reply = self.hall.command(command, **args)
        except HallUnavailable as exc:
            raise ActionRefused(503, "hall_unavailable", str(exc)) from None
        if not reply.get("ok"):
            err = reply.get("error") or {}
            raise ActionRefused(409, err.get("code", "refused"), err.get("message", ""))
        log.info("manager %s: %s %s", args.get("manager"), command,
                 {k: v for k, v in args.items() if k != "manager"})
        return reply
