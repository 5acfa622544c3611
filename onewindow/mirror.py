"""A client-side mirror of a site's retained state (`onewindow/{site}/state/#`, `presence/#`, `device/#`).

Every client that shows the hall (kiosk, hall display, consoles, the demo view) reads it from here
instead of matching topics by hand:

    mirror = StateMirror(transport, site_id)      # subscribes at once
    mirror.on_change(lambda key, value: ...)      # key: ("window", "3"), ("queue", "A"), ("site",), ...
    mirror.site, mirror.catalogue, mirror.display # latest payloads (dicts) or None
    mirror.windows[3], mirror.queues["A"]         # one window / one business type
    mirror.presence["kiosk-1"], mirror.devices["kiosk-1"]

A retained message with an empty payload deletes the entry (MQTT's way to clear a retained topic).
A payload that is not a JSON object is logged and ignored; the previous value stays.
Callbacks run on the transport's thread: keep them short (a UI schedules its redraw from there).
"""
from __future__ import annotations

import json
import logging
import threading
from typing import Any, Callable

from onewindow.topics import Topics

log = logging.getLogger("onewindow.mirror")

Key = tuple[str, ...]
Listener = Callable[[Key, Any], None]


class StateMirror:
    """The latest retained state of one site, kept up to date from the transport."""

    def __init__(self, transport, site_id: str, *, presence: bool = True, devices: bool = True):
        self.topics = Topics(site_id)
        self.site_id = site_id
        self._lock = threading.Lock()
        self._values: dict[Key, dict] = {}
        self._listeners: list[Listener] = []
        self.updates = 0
        transport.subscribe(self.topics.state_filter, self._on_message)
        if presence:
            transport.subscribe(self.topics.presence_filter, self._on_message)
        if devices:
            transport.subscribe(self.topics.device_status_filter, self._on_message)

    # --- reading -------------------------------------------------------------------------------
    def get(self, *key: str) -> dict | None:
        with self._lock:
            return self._values.get(tuple(key))

    def items(self, kind: str) -> dict[str, dict]:
        """Every entry of one kind, by its second key part: items("window") -> {"3": {...}}."""
        with self._lock:
            return {k[1]: v for k, v in self._values.items() if len(k) == 2 and k[0] == kind}

    @property
    def site(self) -> dict | None:
        return self.get("site")

    @property
    def catalogue(self) -> dict | None:
        return self.get("catalogue")

    @property
    def display(self) -> dict | None:
        return self.get("display")

    @property
    def windows(self) -> dict[int, dict]:
        return {int(k): v for k, v in self.items("window").items() if k.isdigit()}

    @property
    def queues(self) -> dict[str, dict]:
        return self.items("queue")

    @property
    def presence(self) -> dict[str, dict]:
        return self.items("presence")

    @property
    def devices(self) -> dict[str, dict]:
        return self.items("device")

    def snapshot(self) -> dict[Key, dict]:
        with self._lock:
            return dict(self._values)

    # --- listening -----------------------------------------------------------------------------
    def on_change(self, listener: Listener) -> None:
        """Call `listener(key, value)` on every change (value None: deleted). Called at once for
        every entry already known, so a late listener is whole too."""
        with self._lock:
            self._listeners.append(listener)
            known = list(self._values.items())
        for key, value in known:
            self._notify(listener, key, value)

    # --- the transport side ----------------------------------------------------------------------
    def key_of(self, topic: str) -> Key | None:
        """("window", "3") for .../state/window/3, ("presence", "kiosk-1"), ("device", "kiosk-1")."""
        root = self.topics.root + "/"
        if not topic.startswith(root):
            return None
        parts = topic[len(root):].split("/")
        if parts[0] == "state" and len(parts) >= 2:
            return tuple(parts[1:])
        if parts[0] == "presence" and len(parts) == 2:
            return ("presence", parts[1])
        if parts[0] == "device" and len(parts) == 3 and parts[2] == "status":
            return ("device", parts[1])
        return None

    def _on_message(self, topic: str, payload: bytes) -> None:
        key = self.key_of(topic)
        if key is None:
            return
        value: dict | None
        if not payload:
            value = None
        else:
            try:
                value = json.loads(payload)
            except ValueError:
                log.warning("ignored a retained message on %s that is not JSON", topic)
                return
            if not isinstance(value, dict):
                log.warning("ignored a retained message on %s that is not a JSON object", topic)
                return
        with self._lock:
            if value is None:
                if self._values.pop(key, None) is None:
                    return
            else:
                if self._values.get(key) == value:
                    return
                self._values[key] = value
            self.updates += 1
            listeners = list(self._listeners)
        for listener in listeners:
            self._notify(listener, key, value)

    @staticmethod
    def _notify(listener: Listener, key: Key, value: Any) -> None:
        try:
            listener(key, value)
        except Exception:
            log.exception("a state listener failed on %s", "/".join(key))
