"""The MQTT transport: the one module that touches paho.

Everything else sees a three-method interface (as Frigate's communicators do):

    transport.publish(topic, payload, qos=1, retain=False)   # payload: bytes, str or JSON-able dict/list
    transport.subscribe(topic_filter, handler, qos=1)        # handler(topic: str, payload: bytes)
    transport.stop()

`MqttTransport` talks to a broker (paho-mqtt 2.x, MQTT 3.1.1). It sets TCP_NODELAY on every new socket,
reconnects by itself, resubscribes on every connect and then runs `on_connected` (the server
republishes its retained state there), and keeps a retained presence message
`onewindow/{site}/presence/{client_id}` = online, with a last will = offline.

`LocalBroker().transport(...)` gives transports with the same interface that deliver in-process, for
tests of handlers with no broker.

Handlers run on the transport's network thread: keep them short, or hand work to a queue.
"""
from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from onewindow.broker import BrokerSettings

log = logging.getLogger("onewindow.mqtt")

Handler = Callable[[str, bytes], None]
Payload = bytes | bytearray | str | dict | list


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching (`+` one level, `#` the rest), as the broker does it."""
    return paho.topic_matches_sub(topic_filter, topic)


def encode(payload: Payload) -> bytes:
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def presence_topic(site: str, client_id: str) -> str:
    return f"onewindow/{site}/presence/{client_id}"


def presence_payload(client_id: str, role: str, state: str) -> bytes:
    return encode({"v": 1, "client": client_id, "role": role, "state": state, "at": now_iso()})


class _Subscriptions:
    """Topic filters and their handlers; dispatch matches with MQTT wildcard rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, tuple[int, list[Handler]]] = {}

    def add(self, topic_filter: str, handler: Handler, qos: int) -> bool:
        """Record a handler; True if the filter is new (the broker must be told)."""
        with self._lock:
            old_qos, handlers = self._subs.get(topic_filter, (qos, []))
            self._subs[topic_filter] = (max(old_qos, qos), [*handlers, handler])
            return not handlers or qos > old_qos

    def remove(self, topic_filter: str) -> bool:
        with self._lock:
            return self._subs.pop(topic_filter, None) is not None

    def filters(self) -> list[tuple[str, int]]:
        with self._lock:
            return [(f, q) for f, (q, _) in self._subs.items()]

    def handlers(self, topic: str) -> list[Handler]:
        with self._lock:
            return [h for f, (_, hs) in self._subs.items() if topic_matches(f, topic) for h in hs]

    def dispatch(self, topic: str, payload: bytes) -> int:
        targets = self.handlers(topic)
        for handler in targets:
            try:
                handler(topic, payload)
            except Exception:
                log.exception("handler %r failed on a message on %s", handler, topic)
        return len(targets)


class MqttTransport:
    """A connection to an MQTT broker with presence, resubscription and automatic reconnection.

    `loop="thread"` (default) runs paho's own network thread (`loop_start`); handlers run there.
    `loop="select"` runs one thread that reads every message already waiting, dispatches them, then
    calls `on_batch_end()` and writes what the handlers published in one go: a server that batches
    its work (one SQLite transaction per batch) needs no queue, no second thread and no wake-ups;
    replies published from the handlers or `on_batch_end` leave without a thread hand-off.
    """

    def __init__(self, settings: BrokerSettings, site: str, client_id: str, role: str = "client",
                 on_connected: Callable[[], None] | None = None, *, presence: bool = True,
                 keepalive: int = 30, loop: str = "thread", on_batch_end: Callable[[], None] | None = None,
                 max_batch: int = 256, idle_interval: float = 1.0):
        if loop not in ("thread", "select"):
            raise ValueError("loop must be 'thread' or 'select'")
        self.settings, self.site, self.client_id, self.role = settings, site, client_id, role
        self.on_connected = on_connected
        self.on_batch_end = on_batch_end
        self.presence = presence
        self.loop_mode, self.max_batch = loop, max_batch
        self.idle_interval = idle_interval  # select mode: on_batch_end runs at least this often
        self._subs = _Subscriptions()
        self._connected = threading.Event()  # connected, subscribed and on_connected has run
        self._stopping = False
        self._pending_subacks: dict[int, threading.Event] = {}
        self._resubscribe_mid: int | None = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._suback_lock = threading.Lock()
        self._wake_r = self._wake_w = None
        if loop == "select":
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_w.setblocking(False)
        self.connects = 0

        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311,
                        clean_session=True)
        if settings.username:
            c.username_pw_set(settings.username, settings.password)
        c.reconnect_delay_set(min_delay=0.5, max_delay=5)  # type: ignore[arg-type]
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)  # unlimited: keep QoS 1 messages across a reconnect
        c.on_pre_connect = self._on_pre_connect
        c.on_socket_open = self._on_socket_open
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        self._client = c
        self._keepalive = keepalive

    # --- the interface ---------------------------------------------------------------------------
    def publish(self, topic: str, payload: Payload, qos: int = 1, retain: bool = False) -> None:
        info = self._client.publish(topic, encode(payload), qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS and info.rc != MQTTErrorCode.MQTT_ERR_NO_CONN:
            log.warning("publish to %s failed: %s", topic, paho.error_string(info.rc))

    def flush(self) -> None:
        """Select mode, on the loop's own thread: write what is queued now instead of after the batch
        (a server sends its replies before it spends time on state updates). Elsewhere a no-op."""
        c = self._client
        if self.loop_mode == "select" and self._on_network_thread() and c.socket() is not None:
            if c.want_write():
                c.loop_write()

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1, timeout: float = 5.0) -> None:
        """Call `handler(topic, payload)` for every message matching `topic_filter`.

        When connected, waits (from any thread but the network thread) until the broker confirms.
        """
        if not self._subs.add(topic_filter, handler, qos) or not self._connected.is_set():
            return  # already subscribed, or the next connect subscribes it
        if self._on_network_thread():
            self._client.subscribe(topic_filter, qos)
            return
        with self._suback_lock:  # the SUBACK callback waits until the event is registered
            rc, mid = self._client.subscribe(topic_filter, qos)
            done = self._pending_subacks[mid] = threading.Event()
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and not done.wait(timeout):
            log.warning("the broker did not confirm the subscription to %s within %.0f s", topic_filter, timeout)

    def unsubscribe(self, topic_filter: str) -> None:
        if self._subs.remove(topic_filter):
            self._client.unsubscribe(topic_filter)

    def stop(self, timeout: float = 2.0) -> None:
        """Publish presence offline (if connected), disconnect cleanly and stop the network thread."""
        if self._stopping:
            return
        if self.presence and self._client.is_connected():
            info = self._client.publish(self._presence_topic, presence_payload(self.client_id, self.role,
                                        "offline"), qos=1, retain=True)
            if self.loop_mode == "thread":
                try:
                    info.wait_for_publish(timeout)
                except (RuntimeError, ValueError):
                    pass
        self._stopping = True
        if self.loop_mode == "thread":
            self._client.disconnect()
            self._client.loop_stop()
        elif self._thread is not None:
            self._wake()
            self._thread.join(timeout + 1)  # the select loop flushes, disconnects and exits
        self._connected.clear()

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float | None = 10.0) -> "MqttTransport":
        """Connect in the background; wait up to `timeout` s for connected-and-subscribed.

        Raises ConnectionError if not connected by then (it keeps trying in the background);
        `timeout=None` returns at once. Starting a started transport only waits.
        """
        if not self._started:
            self._started = True
            self._launch()
        if timeout is not None and not self.wait_connected(timeout):
            raise ConnectionError(f"could not connect to the MQTT broker at {self.settings.url} within "
                                  f"{timeout:.0f} s (still trying)")
        return self

    def _launch(self) -> None:
        self._stopping = False
        if self.presence:
            self._client.will_set(self._presence_topic, presence_payload(self.client_id, self.role, "offline"),
                                  qos=1, retain=True)
        if self.loop_mode == "thread":
            self._client.connect_async(self.settings.host, self.settings.port, keepalive=self._keepalive)
            self._client.loop_start()
        else:
            self._thread = threading.Thread(target=self._select_loop, daemon=True,
                                            name=f"mqtt-{self.client_id}")
            self._thread.start()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def socket(self) -> socket.socket | None:
        """The current socket to the broker (for diagnostics and tests)."""
        return self._client.socket()

    def __enter__(self) -> "MqttTransport":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def _presence_topic(self) -> str:
        return presence_topic(self.site, self.client_id)

    def _on_network_thread(self) -> bool:
        t = self._thread if self.loop_mode == "select" else self._client._thread
        return threading.current_thread() is t

    # --- paho callbacks (network thread) ---------------------------------------------------------
    def _on_pre_connect(self, client, userdata) -> None:
        if self.presence:  # refresh the will's timestamp for this connection
            client.will_set(self._presence_topic, presence_payload(self.client_id, self.role, "offline"),
                            qos=1, retain=True)

    @staticmethod
    def _nodelay(sock) -> None:
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_socket_open(self, client, userdata, sock) -> None:
        self._nodelay(sock)  # before CONNECT leaves

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("the broker at %s refused the connection: %s", self.settings.url, reason_code)
            return
        self._nodelay(client.socket())  # again, whatever opened the socket
        self.connects += 1
        log.info("connected to %s as %s%s", self.settings.url, self.client_id,
                 "" if self.connects == 1 else f" (reconnect {self.connects - 1})")
        if self.presence:
            client.publish(self._presence_topic, presence_payload(self.client_id, self.role, "online"),
                           qos=1, retain=True)
        filters = self._subs.filters()
        if filters:
            rc, self._resubscribe_mid = client.subscribe(filters)
        else:
            self._ready()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        for rc in reason_codes:
            if rc.is_failure:
                log.error("the broker refused a subscription (message id %d): %s", mid, rc)
        if mid == self._resubscribe_mid:
            self._resubscribe_mid = None
            self._ready()
        with self._suback_lock:
            event = self._pending_subacks.pop(mid, None)
        if event is not None:
            event.set()

    def _ready(self) -> None:
        if self.on_connected is not None:
            try:
                self.on_connected()
            except Exception:
                log.exception("on_connected hook failed")
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if not self._stopping:
            log.warning("lost the connection to the broker at %s (%s); reconnecting", self.settings.url,
                        reason_code)

    def _on_message(self, client, userdata, message) -> None:
        self._subs.dispatch(message.topic, message.payload)

    # --- loop="select": one thread reads, dispatches a batch, then writes ------------------------
    def _wake(self, *_args) -> None:
        if self._wake_w is not None and threading.current_thread() is not self._thread:
            try:
                self._wake_w.send(b"\0")
            except (BlockingIOError, OSError):
                pass

    def _select_loop(self) -> None:
        c = self._client
        c.on_socket_register_write = self._wake  # publish() only queues; this loop writes
        delay = 0.1
        while not self._stopping:
            if c.socket() is None:
                try:
                    c.connect(self.settings.host, self.settings.port, keepalive=self._keepalive)
                    delay = 0.1
                except OSError as exc:
                    log.warning("cannot reach the broker at %s (%s); retrying in %.1f s", self.settings.url,
                                exc, delay)
                    self._wake_r.settimeout(delay)
                    try:
                        self._wake_r.recv(64)
                    except OSError:
                        pass
                    delay = min(delay * 2, 5.0)
                    continue
            try:
                self._select_once(c)
            except (OSError, ValueError) as exc:  # the socket went away under us
                log.debug("socket error: %s", exc)
            if c.socket() is None:
                self._connected.clear()
        if c.socket() is not None:  # stopping: flush what is queued, then disconnect cleanly
            deadline = time.monotonic() + 1.0
            while c.want_write() and c.socket() is not None and time.monotonic() < deadline:
                select.select([], [c.socket()], [], 0.1)
                c.loop_write()
            c.disconnect()
            if c.socket() is not None:
                c.loop_write()

    def _select_once(self, c: paho.Client) -> None:
        sock = c.socket()
        readable, _, _ = select.select([sock, self._wake_r], [sock] if c.want_write() else [], [],
                                       self.idle_interval)
        if self._wake_r in readable:
            self._wake_r.setblocking(False)
            try:
                self._wake_r.recv(4096)
            except BlockingIOError:
                pass
        if sock in readable:
            for _ in range(self.max_batch):  # every message already waiting, up to max_batch
                if c.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS or c.socket() is None:
                    break
                if not select.select([sock], [], [], 0)[0]:
                    break

        # After every wake (messages, a wake-up or the idle interval): the batch's work, then one write pass.
        if self.on_batch_end is not None and c.socket() is not None:
            try:
                self.on_batch_end()
            except Exception:
                log.exception("on_batch_end failed")
        if c.socket() is not None and c.want_write():
            c.loop_write()
        if c.socket() is not None:
            c.loop_misc()


class LocalBroker:
    """An in-process stand-in for the broker: retained messages, wildcard subscriptions, in order.

    Delivery happens on the publishing thread, after the current delivery finishes (no recursion).
    """

    def __init__(self) -> None:
        self.retained: dict[str, bytes] = {}
        self._lock = threading.RLock()
        self._clients: list[LocalTransport] = []
        self._queue: deque[tuple[list[Handler], str, bytes]] = deque()
        self._delivering = False

    def transport(self, client_id: str = "local", role: str = "client", site: str = "local",
                  on_connected: Callable[[], None] | None = None, presence: bool = True) -> "LocalTransport":
        return LocalTransport(self, client_id, role, site, on_connected, presence)

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
                    self._queue.append((handlers, topic, payload))
        self._drain()

    def _deliver_retained(self, client: "LocalTransport", topic_filter: str, handler: Handler) -> None:
        with self._lock:
            for topic, payload in self.retained.items():
                if topic_matches(topic_filter, topic):
                    self._queue.append(([handler], topic, payload))
        self._drain()

    def _drain(self) -> None:
        with self._lock:
            if self._delivering:
                return
            self._delivering = True
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self._delivering = False
                        return
                    handlers, topic, payload = self._queue.popleft()
                for handler in handlers:
                    try:
                        handler(topic, payload)
                    except Exception:
                        log.exception("handler %r failed on a message on %s", handler, topic)
        except BaseException:
            with self._lock:
                self._delivering = False
            raise


class LocalTransport:
    """The MqttTransport interface, delivered in-process through a LocalBroker."""

    def __init__(self, broker: LocalBroker, client_id: str, role: str, site: str,
                 on_connected: Callable[[], None] | None, presence: bool):
        self.broker, self.client_id, self.role, self.site = broker, client_id, role, site
        self.on_connected, self.presence = on_connected, presence
        self._subs = _Subscriptions()
        self.connected = False

    def start(self, timeout: float | None = None) -> "LocalTransport":
        with self.broker._lock:
            self.broker._clients.append(self)
        self.connected = True
        if self.presence:
            self.publish(presence_topic(self.site, self.client_id),
                         presence_payload(self.client_id, self.role, "online"), retain=True)
        if self.on_connected:
            self.on_connected()
        return self

    def publish(self, topic: str, payload: Payload, qos: int = 1, retain: bool = False) -> None:
        self.broker._publish(topic, encode(payload), retain)

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1, timeout: float = 5.0) -> None:
        self._subs.add(topic_filter, handler, qos)
        if self.connected:
            self.broker._deliver_retained(self, topic_filter, handler)

    def unsubscribe(self, topic_filter: str) -> None:
        self._subs.remove(topic_filter)

    def stop(self) -> None:
        if not self.connected:
            return
        if self.presence:
            self.publish(presence_topic(self.site, self.client_id),
                         presence_payload(self.client_id, self.role, "offline"), retain=True)
        with self.broker._lock:
            self.broker._clients.remove(self)
        self.connected = False

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self.connected

    def __enter__(self) -> "LocalTransport":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
