"""The city's live view: every hall's retained state from the city bus, one `StateMirror` per hall.

    live = CityLive(transport)          # a FailoverTransport over the city bus nodes (or any transport)
    live.table()                        # one row per hall, by level: waiting, longest wait, windows, alarms
    live.hall("demo-county")            # one hall's summary; live.mirror(site) for all of its state

One subscription per kind for the whole city (`onewindow/+/state/#`, `presence/+`, `device/+/status`);
each message goes to its hall's mirror, so a hall is read the way the hall's own clients read it.
"""
from __future__ import annotations

import threading
import time
from collections import Counter

from onewindow.mirror import StateMirror
from onewindow.topics import ROOT, Topics

LEVELS = ("city", "county", "township", "village", "hospital", "pharmacy", "bank")


class _HallFeed:
    """What a hall's StateMirror subscribes to: messages of that hall, handed over by CityLive."""

    def __init__(self) -> None:
        self.handlers: list = []

    def subscribe(self, topic_filter, handler, qos: int = 1, timeout: float = 5.0) -> None:
        self.handlers.append(handler)

    def deliver(self, topic: str, payload: bytes) -> None:
        for handler in self.handlers:
            handler(topic, payload)  # each mirror handler ignores what is not its own kind


class CityLive:
    def __init__(self, transport):
        self._lock = threading.Lock()
        self._halls: dict[str, tuple[_HallFeed, StateMirror]] = {}
        self.last_update: dict[str, float] = {}
        self.transport = transport
        every = Topics("+")
        for topic_filter in (every.state_filter, every.presence_filter, every.device_status_filter):
            # QoS 0: NATS delivers it straight, not through a JetStream consumer that may sit on a dead node
            transport.subscribe(topic_filter, self._on_message, qos=0)

    def _on_message(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) < 3 or parts[0] != ROOT:
            return
        site = parts[1]
        with self._lock:
            entry = self._halls.get(site)
            if entry is None:
                feed = _HallFeed()
                entry = self._halls[site] = (feed, StateMirror(feed, site))
            self.last_update[site] = time.time()
        entry[0].deliver(topic, payload)

    # --- reading ---------------------------------------------------------------------------------
    def sites(self) -> list[str]:
        with self._lock:
            return sorted(self._halls)

    def mirror(self, site: str) -> StateMirror | None:
        with self._lock:
            entry = self._halls.get(site)
        return entry[1] if entry else None

    def hall(self, site: str) -> dict | None:
        """One hall's summary: what a city manager scans for."""
        m = self.mirror(site)
        if m is None:
            return None
        info = m.site or {}
        queues, windows = m.queues, m.windows
        states = Counter(w.get("state", "closed") for w in windows.values())
        waits = [q["estimated_wait_min"] for q in queues.values() if isinstance(q.get("estimated_wait_min"), (int, float))]
        return {
            "site": site, "name": info.get("name", site), "level": info.get("level", "county"),
            "service_day": info.get("service_day"),
            "waiting": sum(int(q.get("waiting") or 0) for q in queues.values()),
            "issued_today": sum(int(q.get("issued_today") or 0) for q in queues.values()),
            "longest_wait_min": max(waits) if waits else None,
            "queues": {p: {"waiting": q.get("waiting"), "estimated_wait_min": q.get("estimated_wait_min"),
                           "open": q.get("open")} for p, q in sorted(queues.items())},
            "windows_open": sum(n for s, n in states.items() if s != "closed"),
            "windows": dict(sorted(states.items())),
            "served_today": sum(int(w.get("served_today") or 0) for w in windows.values()),
            "alarms": self.alarms(m),
            "updated": self.last_update.get(site),
        }

    @staticmethod
    def alarms(m: StateMirror) -> list[dict]:
        """Devices not ok, and clients whose presence says offline (the server, the city bridge, ...)."""
        out = [{"who": d.get("device", key), "state": d.get("state"), "detail": d.get("detail", "")}
               for key, d in sorted(m.devices.items()) if d.get("state") not in (None, "ok")]
        out += [{"who": key, "state": "offline", "detail": p.get("role", "")}
                for key, p in sorted(m.presence.items()) if p.get("state") == "offline"]
        return out

    def table(self) -> list[dict]:
        """Every hall, by level (city, county, township, village, hospital, pharmacy, bank), then id."""
        rows = [r for r in (self.hall(s) for s in self.sites()) if r is not None]
        order = {level: i for i, level in enumerate(LEVELS)}
        return sorted(rows, key=lambda r: (order.get(r["level"], len(LEVELS)), r["site"]))
