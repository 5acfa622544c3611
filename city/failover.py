"""A transport over the nodes of the city bus: connected to one node, moving to the next when it is gone.

After a NATS node dies, MQTT connections to the cluster are refused for several seconds and the dead
node never answers; so a client of the city bus tries each node in turn. `FailoverTransport` holds one
`MqttTransport` at a time; when it has not been connected for `switch_after` seconds, it is dropped and
the next node is tried. Subscriptions are made again on every node; `on_connected` runs after each
(re)connect (a publisher of retained state republishes it there). A message published while no node is
connected may be lost with the transport that held it: publish retained state again in `on_connected`.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Sequence

from onewindow.broker import BrokerSettings
from onewindow.mqtt import MqttTransport
from onewindow.transport import Handler, Hook, Payload, call_hook

log = logging.getLogger("onewindow.city.failover")


def parse_nodes(text: str, username: str | None = None, password: str | None = None,
                ca: str | None = None) -> list[BrokerSettings]:
    """`mqtt://a:1883,mqtts://b:8883` (or space separated) -> one BrokerSettings per node (`ca`: the bus CA
    for mqtts://)."""
    urls = [u for u in text.replace(",", " ").split() if u]
    if not urls:
        raise ValueError("no city bus node given")
    return [BrokerSettings.from_url(u, username=username, password=password, ca=ca) for u in urls]


def safe_client_id(text: str) -> str:
    """Client ids on the city bus: only [A-Za-z0-9_-] (newer NATS refuses others, e.g. '.')."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in text)[:64]


class FailoverTransport:
    def __init__(self, nodes: Sequence[BrokerSettings], site: str, client_id: str, role: str = "client",
                 on_connected: Hook | None = None, *, presence: bool = True, switch_after: float = 2.0,
                 idle_interval: float = 1.0):
        if not nodes:
            raise ValueError("no city bus node given")
        self.nodes = list(nodes)
        self.site, self.client_id, self.role = site, safe_client_id(client_id), role
        self.on_connected = on_connected
        self.on_batch_end: Hook | None = None
        self.presence = presence
        self.switch_after = switch_after
        self.idle_interval = idle_interval
        self.index = 0
        self.switches = 0
        self._subs: list[tuple[str, Handler, int]] = []
        self._lock = threading.RLock()
        self._current: MqttTransport | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    # --- the transport interface -----------------------------------------------------------------
    def publish(self, topic: str, payload: Payload, qos: int = 1, retain: bool = False) -> None:
        current = self._current
        if current is not None:
            current.publish(topic, payload, qos=qos, retain=retain)

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1, timeout: float = 5.0) -> None:
        with self._lock:
            self._subs.append((topic_filter, handler, qos))
            current = self._current
        if current is not None:
            current.subscribe(topic_filter, handler, qos, timeout=timeout)

    def flush(self) -> None:
        current = self._current
        if current is not None:
            current.flush()

    @property
    def connected(self) -> bool:
        current = self._current
        return current is not None and current.connected

    @property
    def node(self) -> BrokerSettings:
        return self.nodes[self.index]

    def wait_connected(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopping.is_set():
            if self.connected:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return False

    # --- life cycle ------------------------------------------------------------------------------
    def start(self, timeout: float | None = 10.0) -> "FailoverTransport":
        if self._watcher is None:
            self._stopping.clear()
            self._open(self.index)
            self._watcher = threading.Thread(target=self._watch, daemon=True, name=f"failover-{self.client_id}")
            self._watcher.start()
        if timeout is not None and not self.wait_connected(timeout):
            raise ConnectionError(f"no city bus node accepted {self.client_id} within {timeout:.0f} s "
                                  "(still trying)")
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(5)
            self._watcher = None
        with self._lock:
            current, self._current = self._current, None
        if current is not None:
            current.stop()

    def __enter__(self) -> "FailoverTransport":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _open(self, index: int) -> None:
        t = MqttTransport(self.nodes[index], self.site, self.client_id, self.role,
                          on_connected=lambda: call_hook(self.on_connected, "on_connected"),
                          presence=self.presence, idle_interval=self.idle_interval,
                          on_batch_end=lambda: call_hook(self.on_batch_end, "on_batch_end"))
        with self._lock:
            for topic_filter, handler, qos in self._subs:
                t.subscribe(topic_filter, handler, qos)  # recorded; made on connect
            self._current, self.index = t, index
        t.start(timeout=None)

    def _watch(self) -> None:
        last_ok = time.monotonic()
        while not self._stopping.wait(0.2):
            if self.connected:
                last_ok = time.monotonic()
                continue
            if len(self.nodes) == 1 or time.monotonic() - last_ok < self.switch_after:
                continue
            with self._lock:
                old = self._current
            nxt = (self.index + 1) % len(self.nodes)
            log.warning("city bus node %s unreachable for %.0f s; trying %s", self.nodes[self.index].url,
                        self.switch_after, self.nodes[nxt].url)
            if old is not None:
                old.stop(timeout=0.5)
            if self._stopping.is_set():
                return
            self.switches += 1
            self._open(nxt)
            last_ok = time.monotonic()
