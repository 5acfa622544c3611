"""The transport every process talks through, and the in-process one that stands in for MQTT in tests.

One small interface (as Frigate's communicators have), implemented by `onewindow.mqtt.MqttTransport`
(a broker) and by `LocalTransport` (a `LocalBroker` in this process):

    transport.publish(topic, payload, qos=1, retain=False)   # payload: bytes, str or JSON-able dict/list
    transport.subscribe(topic_filter, handler, qos=1)        # handler(topic: str, payload: bytes)
    transport.on_connected = hook                            # after every (re)connect and resubscription
    transport.on_batch_end = hook                            # after each batch of delivered messages
    transport.flush()                                        # send what is published so far, now
    transport.stop()

Messages arrive in batches: the handlers see every message that was waiting, one by one, then
`on_batch_end()` runs once. A server collects commands in its handler and does the batch's work
(one SQLite transaction) in `on_batch_end`; both transports drive it the same way.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import deque
from datetime import datetime
from typing import Any, Callable, Protocol

import orjson

from onewindow.topics import Topics

log = logging.getLogger("onewindow.transport")

Handler = Callable[[str, bytes], None]
Hook = Callable[[], None]
Payload = bytes | bytearray | str | dict | list


class Transport(Protocol):
    on_connected: Hook | None
    on_batch_end: Hook | None

    def publish(self, topic: str, payload: Payload, qos: int = 1, retain: bool = False) -> None: ...

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None: ...

    def flush(self) -> None: ...

    def stop(self) -> None: ...


def dumps(obj: Any) -> str:
    """Compact JSON as it goes on the wire: UTF-8 text kept as is, no spaces (orjson: the server writes
    two of these per command, and the standard library's encoder was a fifth of its own work)."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")
    except orjson.JSONEncodeError:  # what orjson refuses (an integer past 64 bits) the standard library writes
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def encode(payload: Payload) -> bytes:
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return dumps(payload).encode("utf-8")


def local_now_iso() -> str:
    """Now, as ISO local time with its UTC offset (the hall's clock), to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def presence_payload(client_id: str, role: str, state: str) -> bytes:
    return encode({"v": 1, "client": client_id, "role": role, "state": state, "at": local_now_iso()})


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching (`+` one level, `#` this level and below), as the broker does it."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels = topic.split("/")
    for i, part in enumerate(topic_filter.split("/")):
        if part == "#":
            return True
        if i >= len(levels) or (part != "+" and part != levels[i]):
            return False
    return len(topic_filter.split("/")) == len(levels)


def call_hook(hook: Hook | None, name: str) -> None:
    if hook is not None:
        try:
            hook()
        except Exception:  # never let a transport's thread die; the log says what happened
            log.exception("%s hook failed", name)


class Subscriptions:
    """Topic filters and their handlers; dispatch matches with MQTT wildcard rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, tuple[int, list[Handler]]] = {}
        self._cache: dict[str, list[Handler]] = {}  # topic -> handlers: topics repeat, filters are many

    def add(self, topic_filter: str, handler: Handler, qos: int) -> bool:
        """Record a handler; True if the broker must be told (a new filter, or a higher QoS)."""
        with self._lock:
            self._cache.clear()
            old_qos, handlers = self._subs.get(topic_filter, (qos, []))
            self._subs[topic_filter] = (max(old_qos, qos), [*handlers, handler])
            return not handlers or qos > old_qos

    def filters(self) -> list[tuple[str, int]]:
        with self._lock:
            return [(f, q) for f, (q, _) in self._subs.items()]

    def remove(self, topic_filter: str) -> bool:
        """Forget a filter; True if it was there (the broker must be told)."""
        with self._lock:
            self._cache.clear()
            return self._subs.pop(topic_filter, None) is not None

    def handlers(self, topic: str) -> list[Handler]:
        with self._lock:
            found = self._cache.get(topic)
            if found is None:
                found = [h for f, (_, hs) in self._subs.items() if topic_matches(f, topic) for h in hs]
                if len(self._cache) >= 4096:
                    self._cache.clear()
                self._cache[topic] = found
            return found

    def dispatch(self, topic: str, payload: bytes, handlers: list[Handler] | None = None) -> int:
        targets = self.handlers(topic) if handlers is None else handlers
        for handler in targets:
            try:
                handler(topic, payload)
            except Exception:
                log.exception("handler %r failed on a message on %s", handler, topic)
        return len(targets)


class LocalBroker:
    """An in-process stand-in for the broker: retained messages, wildcard subscriptions, in order.

    Delivery happens on the publishing thread (one thread delivers at a time, never recursively): every
    message waiting goes to its handlers, then each transport that received one runs `on_batch_end`,
    as the MQTT transport's loop does after each read. `held()` keeps messages back and delivers them
    as one batch when it ends.
    """

    def __init__(self) -> None:
        self.retained: dict[str, bytes] = {}
        self._lock = threading.RLock()
        self._clients: list[LocalTransport] = []
        self._queue: deque[tuple[LocalTransport, list[Handler], str, bytes]] = deque()
        self._delivering = False
        self._holds = 0

    def transport(self, client_id: str = "local", role: str = "client", site: str = "local",
                  on_connected: Hook | None = None, presence: bool = True) -> "LocalTransport":
        return LocalTransport(self, client_id, role, site, on_connected, presence)

    def held(self) -> "_Hold":
        """`with broker.held(): ...` publishes inside arrive together, as one batch."""
        return _Hold(self)

    def _publish(self, topic: str, payload: bytes, retain: bool) -> None:
        with self._lock:
            if retain:
                if payload:
                    self.retained[topic] = payload
                else:
                    self.retained.pop(topic, None)
            for client in self._clients:
                handlers = client._subs.handlers(topic)
                if handlers:
                    self._queue.append((client, handlers, topic, payload))
        self._drain()

    def _deliver_retained(self, client: "LocalTransport", topic_filter: str, handler: Handler) -> None:
        with self._lock:
            for topic, payload in self.retained.items():
                if topic_matches(topic_filter, topic):
                    self._queue.append((client, [handler], topic, payload))
        self._drain()

    def _drain(self) -> None:
        with self._lock:
            if self._delivering or self._holds:
                return
            self._delivering = True
        try:
            while self._deliver_batch():
                pass
        finally:
            with self._lock:
                self._delivering = False

    def _deliver_batch(self) -> bool:
        """Deliver every message waiting now, then the batch-end hooks; False when none was waiting."""
        with self._lock:
            batch, self._queue = list(self._queue), deque()
        if not batch:
            return False
        receivers: dict[int, LocalTransport] = {}
        for client, handlers, topic, payload in batch:
            client._subs.dispatch(topic, payload, handlers)
            receivers.setdefault(id(client), client)
        for client in receivers.values():
            call_hook(client.on_batch_end, "on_batch_end")
        return True


class _Hold:
    def __init__(self, broker: LocalBroker):
        self.broker = broker

    def __enter__(self) -> LocalBroker:
        with self.broker._lock:
            self.broker._holds += 1
        return self.broker

    def __exit__(self, *exc) -> None:
        with self.broker._lock:
            self.broker._holds -= 1
        self.broker._drain()


class LocalTransport:
    """The transport interface, delivered in-process through a LocalBroker."""

    def __init__(self, broker: LocalBroker, client_id: str, role: str, site: str,
                 on_connected: Hook | None, presence: bool):
        self.broker, self.client_id, self.role, self.site = broker, client_id, role, site
        self.on_connected, self.presence = on_connected, presence
        self.on_batch_end: Hook | None = None
        self._subs = Subscriptions()
        self.connected = False

    @property
    def _presence_topic(self) -> str:
        return Topics(self.site).presence(self.client_id)

    def start(self, timeout: float | None = None) -> "LocalTransport":
        with self.broker._lock:
            self.broker._clients.append(self)
        self.connected = True
        if self.presence:
            self.publish(self._presence_topic, presence_payload(self.client_id, self.role, "online"), retain=True)
        call_hook(self.on_connected, "on_connected")
        return self

    def publish(self, topic: str, payload: Payload, qos: int = 1, retain: bool = False) -> None:
        self.broker._publish(topic, encode(payload), retain)

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1, timeout: float = 5.0) -> None:
        self._subs.add(topic_filter, handler, qos)
        if self.connected:
            self.broker._deliver_retained(self, topic_filter, handler)

    def unsubscribe(self, topic_filter: str) -> None:
        self._subs.remove(topic_filter)

    def flush(self) -> None:
        """Nothing to do: what is published is delivered as soon as the current delivery ends."""

    def tick(self) -> None:
        """An empty batch: `on_batch_end` runs with no message (the MQTT loop's idle wake-up)."""
        with self.broker._lock:
            self.broker._queue.append((self, [], "", b""))
        self.broker._drain()

    def stop(self) -> None:
        if not self.connected:
            return
        if self.presence:
            self.publish(self._presence_topic, presence_payload(self.client_id, self.role, "offline"), retain=True)
        with self.broker._lock:
            self.broker._clients.remove(self)
        self.connected = False

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self.connected

    def __enter__(self) -> "LocalTransport":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
