"""The console's one link to the hall: a single MQTT connection (its own client id and credential)
that sends commands through `QueueClient` and mirrors the hall's retained state with `StateMirror`.

Pages never talk MQTT. They get a snapshot and then every change as server-sent events: each
mirror change is handed to the asyncio queue of every open event stream (thread-safe, no polling).
The console also keeps each window's service times of the day from `event/log` (the clerk page's
average service time); the count of services comes from the window state itself.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

from onewindow.client import QueueClient, RequestTimeout
from onewindow.mirror import StateMirror
from onewindow.topics import Topics

log = logging.getLogger("onewindow.console")

Key = tuple[str, ...]


class HallUnavailable(Exception):
    """The broker or the queue server did not answer: nothing is known to have changed."""


class Hall:
    def __init__(self, transport, site_id: str, client_id: str, timeout: float = 1.5, attempts: int = 2):
        self.transport = transport
        self.site_id = site_id
        self.client_id = client_id
        self.topics = Topics(site_id)
        self.client = QueueClient(transport, site_id, client_id, timeout=timeout, attempts=attempts)
        self._lock = threading.Lock()
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self._service: dict[int, list[float]] = {}  # window -> [seconds, count] of today's services
        self._service_day: str | None = None
        self.closing = False
        self.mirror = StateMirror(transport, site_id)
        self.mirror.on_change(self._changed)
        transport.subscribe(self.topics.log, self._on_log)

    # --- commands ------------------------------------------------------------------------------
    @property
    def broker_online(self) -> bool:
        return bool(getattr(self.transport, "connected", True))

    def command(self, command: str, **args: Any) -> dict:
        """Send one command and return the server's reply; HallUnavailable when nobody answers."""
        if not self.broker_online:
            raise HallUnavailable("the console is not connected to the hall's message broker")
        try:
            return self.client.request(command, **args)
        except RequestTimeout:
            raise HallUnavailable("the queue server did not answer; nothing is known to have changed") from None

    # --- state for pages -------------------------------------------------------------------------
    def entries(self, kinds: frozenset[str] | None = None) -> list[list]:
        out = [[list(k), v] for k, v in self.mirror.snapshot().items() if kinds is None or k[0] in kinds]
        with self._lock:
            out += [[["stats", str(w)], self._stats_value(w)] for w in self._service]
        return out

    def service_stats(self, window: int) -> dict:
        with self._lock:
            return self._stats_value(window)

    def _stats_value(self, window: int) -> dict:
        seconds, count = self._service.get(window, (0.0, 0))
        return {"window": window, "services_seen": int(count),
                "average_service_s": round(seconds / count, 1) if count else None}

    # --- listeners (server-sent event streams) ---------------------------------------------------
    def listen(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=10_000)
        with self._lock:
            self._listeners.append((loop, q))
        return q

    def unlisten(self, q: asyncio.Queue) -> None:
        with self._lock:
            self._listeners = [(lp, x) for lp, x in self._listeners if x is not q]

    def _broadcast(self, key: Key, value: Any) -> None:
        message = {"key": list(key), "value": value}
        with self._lock:
            listeners = list(self._listeners)
        for loop, q in listeners:
            try:
                loop.call_soon_threadsafe(_put, q, message)
            except RuntimeError:  # that page's loop has closed
                self.unlisten(q)

    def _changed(self, key: Key, value: Any) -> None:
        self._broadcast(key, value)

    def _on_log(self, topic: str, payload: bytes) -> None:
        try:
            events = json.loads(payload).get("events") or []
        except (ValueError, AttributeError):
            log.warning("ignored an event/log message that is not a JSON object")
            return
        touched = set()
        with self._lock:
            for e in events:
                if not isinstance(e, dict):
                    continue
                day = e.get("day")
                if day and day != self._service_day:  # a new service day: start counting again
                    self._service_day = day
                    touched |= set(self._service)
                    self._service.clear()
                if e.get("type") == "service_finished" and isinstance(e.get("window"), int):
                    acc = self._service.setdefault(e["window"], [0.0, 0])
                    acc[0] += float(e.get("service_seconds") or 0.0)
                    acc[1] += 1
                    touched.add(e["window"])
        for w in touched:
            self._broadcast(("stats", str(w)), self.service_stats(w))


def _put(q: asyncio.Queue, message: dict) -> None:
    try:
        q.put_nowait(message)
    except asyncio.QueueFull:  # a stalled page: its stream sends a fresh snapshot instead
        q.overflowed = True  # type: ignore[attr-defined]
