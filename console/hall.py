"""The console's one link to the hall: a single MQTT connection (its own client id and credential)
that sends commands through `QueueClient` and mirrors the hall's retained state with `StateMirror`.

Pages never talk MQTT. They get a snapshot and then every change as server-sent events: each
mirror change is handed to the asyncio queue of every open event stream (thread-safe, no polling).
The clerk page's count of services and average service time come from the window's retained state
(the server works them out from the whole day's log, so a console started at noon shows them whole).
"""
from __future__ import annotations

import asyncio
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
        self.closing = False
        self.mirror = StateMirror(transport, site_id)
        self.mirror.on_change(self._changed)

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
        snapshot = self.mirror.snapshot()
        out = [[list(k), v] for k, v in snapshot.items() if kinds is None or k[0] in kinds]
        if kinds is None or "stats" in kinds:
            out += [[["stats", k[1]], _stats(int(k[1]), v)] for k, v in snapshot.items()
                    if k[0] == "window" and str(k[1]).isdigit()]
        return out

    def service_stats(self, window: int) -> dict:
        return _stats(window, self.mirror.windows.get(window) or {})

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
        if key[0] == "window" and str(key[1]).isdigit():
            self._broadcast(("stats", str(key[1])), _stats(int(key[1]), value or {}))


def _stats(window: int, state: dict) -> dict:
    """The clerk page's figures of a window, from its retained state."""
    served = state.get("served_today") if isinstance(state, dict) else None
    return {"window": window, "services_seen": served if isinstance(served, int) else 0,
            "average_service_s": state.get("average_service_s") if isinstance(state, dict) else None}


def _put(q: asyncio.Queue, message: dict) -> None:
    try:
        q.put_nowait(message)
    except asyncio.QueueFull:  # a stalled page: its stream sends a fresh snapshot instead
        q.overflowed = True  # type: ignore[attr-defined]
