"""The MQTT transport: the one module that touches paho.

`MqttTransport` implements `onewindow.transport.Transport` against a broker (paho-mqtt 2.x, MQTT 3.1.1).
One thread per transport runs a select loop: it reads every message already waiting, hands each to
its handlers, calls `on_batch_end()` (also when it wakes with nothing to read, at least every
`idle_interval` seconds) and then writes what was published in one go. It sets TCP_NODELAY on every
new socket, reconnects by itself, resubscribes on every connect and then runs `on_connected` (the
server republishes its retained state there), and keeps a retained presence message
`onewindow/{site}/presence/{client_id}` = online, with a last will = offline.

Handlers and hooks run on the transport's thread: keep them short, or hand work to a queue. Publishing
from any other thread wakes the loop, which writes at once.

The in-process transport for tests (`LocalBroker`) lives in `onewindow.transport`.
"""
from __future__ import annotations

import logging
import select
import socket
import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from onewindow.broker import BrokerSettings
from onewindow.topics import Topics
from onewindow.transport import (Handler, Hook, LocalBroker, LocalTransport, Payload, Subscriptions, Transport,
                                 call_hook, encode, presence_payload, topic_matches)

__all__ = ["MqttTransport", "LocalBroker", "LocalTransport", "Transport", "Handler", "Payload", "topic_matches"]

log = logging.getLogger("onewindow.mqtt")


class _Client(paho.Client):
    """paho's client, reading its socket 64 KiB at a time.

    paho reads each packet in three or more `recv` calls (its type byte, its length byte by byte, its body),
    each a system call; this serves them from one read per wake-up (on the server under load: 6 system calls
    a command became one per batch). Bytes already read but not yet parsed are `buffered()`: select() cannot
    see them, so the loop asks. The buffer is dropped with the socket: nothing of one connection is ever
    parsed as part of the next."""

    READ_SIZE = 65536

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(max(bufsize, self.READ_SIZE))  # BlockingIOError, errors: as paho's
            if len(data) <= bufsize:
                self._rbuf, self._rpos = b"", 0
                return data  # what was asked for, or the end of the connection (b"")
            self._rbuf, self._rpos = data, 0
        out = self._rbuf[self._rpos:self._rpos + bufsize]
        self._rpos += len(out)
        return out

    def _sock_close(self) -> None:
        self._rbuf, self._rpos = b"", 0
        super()._sock_close()

    _PUBACK_SUCCESS = ReasonCode(PacketTypes.PUBACK)
    _PUBACK_PROPERTIES = Properties(PacketTypes.PUBACK)

    def _handle_pubackcomp(self, cmd) -> MQTTErrorCode:
        """A PUBACK of MQTT 3.1.1 is a message id and nothing else; paho 2 builds a reason code and an MQTT 5
        property set for each one (7 % of the server's time under load), the same every time: built once."""
        packet = self._in_packet["packet"]
        if cmd != "PUBACK" or self._protocol != paho.MQTTv311 or len(packet) != 2:
            return super()._handle_pubackcomp(cmd)
        mid = (packet[0] << 8) | packet[1]
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, self._PUBACK_SUCCESS, self._PUBACK_PROPERTIES)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def buffered(self) -> int:
        return len(self._rbuf) - self._rpos


class MqttTransport:
    """A connection to an MQTT broker with presence, resubscription and automatic reconnection."""

    def __init__(self, settings: BrokerSettings, site: str, client_id: str, role: str = "client",
                 on_connected: Hook | None = None, *, presence: bool = True, keepalive: int = 30,
                 on_batch_end: Hook | None = None, max_batch: int = 256, idle_interval: float = 1.0,
                 retry_max: float = 5.0):
        self.settings, self.site, self.client_id, self.role = settings, site, client_id, role
        self.on_connected = on_connected
        self.on_batch_end = on_batch_end
        self.presence = presence
        self._max_batch = max_batch
        self._idle_interval = idle_interval  # on_batch_end runs at least this often
        self._retry_max = retry_max  # longest wait between connection attempts (a hall display: 1 s)
        # Presence under the broker user name when there is one: the ACL lets a client write only its own.
        self._presence_topic = Topics(site).presence(settings.username or client_id)
        self._subs = Subscriptions()
        self._connected = threading.Event()  # connected, subscribed and on_connected has run
        self._stopping = False
        self._pending_subacks: dict[int, threading.Event] = {}
        self._resubscribe_mid: int | None = None
        self._thread: threading.Thread | None = None
        self._suback_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self.connects = 0
        self.refused: str | None = None  # why the broker refused the last connection attempt, if it did

        c = _Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311,
                    clean_session=True)
        if settings.username:
            c.username_pw_set(settings.username, settings.password)
        if settings.tls:  # mqtts://: the broker's certificate must chain to the site CA (or the system's)
            c.tls_set(ca_certs=settings.ca)
        c.reconnect_delay_set(min_delay=0.5, max_delay=5)  # type: ignore[arg-type]
        c.max_inflight_messages_set(0)  # no cap: a cap makes paho scan every message in flight at each PUBACK
        c.max_queued_messages_set(0)  # unlimited: keep QoS 1 messages across a reconnect
        c.on_pre_connect = self._on_pre_connect
        c.on_socket_register_write = self._wake  # publish() only queues; the loop writes
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
        """On the loop's own thread: write what is queued now instead of after the batch (a server sends
        its replies before it spends time on state updates). From other threads the loop writes anyway."""
        c = self._client
        if self._on_network_thread() and c.socket() is not None and c.want_write():
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
        """Stop receiving `topic_filter` (the broker stops routing it here: a server shuts out a flood)."""
        if self._subs.remove(topic_filter) and self._connected.is_set():
            self._client.unsubscribe(topic_filter)

    def stop(self, timeout: float = 2.0) -> None:
        """Publish presence offline (if connected), disconnect cleanly and stop the network thread."""
        if self._stopping:
            return
        if self.presence and self._client.is_connected():
            self._client.publish(self._presence_topic, presence_payload(self.client_id, self.role, "offline"),
                                 qos=1, retain=True)
        self._stopping = True
        if self._thread is not None:
            self._wake()
            self._thread.join(timeout + 1)  # the loop flushes, disconnects and exits
        self._connected.clear()
        if self._thread is None or not self._thread.is_alive():
            self._wake_r.close()
            self._wake_w.close()

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float | None = 10.0) -> "MqttTransport":
        """Connect in the background; wait up to `timeout` s for connected-and-subscribed.

        Raises ConnectionError if not connected by then (it keeps trying in the background);
        `timeout=None` returns at once. Starting a started transport only waits.
        """
        if self._thread is None:
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
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"mqtt-{self.client_id}")
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

    def _on_network_thread(self) -> bool:
        return threading.current_thread() is self._thread

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
            self.refused = str(reason_code)  # e.g. "Not authorized": wrong or missing credentials
            log.error("the broker at %s refused the connection: %s", self.settings.url, reason_code)
            return
        self.refused = None
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
        call_hook(self.on_connected, "on_connected")
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if not self._stopping:
            log.warning("lost the connection to the broker at %s (%s); reconnecting", self.settings.url,
                        reason_code)

    def _on_message(self, client, userdata, message) -> None:
        self._subs.dispatch(message.topic, message.payload)

    # --- the loop: one thread reads, dispatches a batch, then writes ------------------------------
    def _wake(self, *_args) -> None:
        if self._wake_w is not None and threading.current_thread() is not self._thread:
            try:
                self._wake_w.send(b"\0")
            except (BlockingIOError, OSError):
                pass

    def _loop(self) -> None:
        c = self._client
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
                    delay = min(delay * 2, self._retry_max)
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

    def _buffered(self, sock) -> bool:
        """Bytes read from the socket and not yet parsed (ours, or TLS records already decrypted into the SSL
        buffer), which select() cannot see."""
        if self._client.buffered():
            return True
        pending = getattr(sock, "pending", None)
        return bool(pending and pending())

    def _select_once(self, c: _Client) -> None:
        sock = c.socket()
        readable, _, _ = select.select([sock, self._wake_r], [sock] if c.want_write() else [], [],
                                       0 if self._buffered(sock) else self._idle_interval)
        if self._buffered(sock) and sock not in readable:
            readable = [*readable, sock]
        if self._wake_r in readable:
            self._wake_r.setblocking(False)
            try:
                self._wake_r.recv(4096)
            except BlockingIOError:
                pass
        if sock in readable:
            for _ in range(self._max_batch):  # every message already waiting, up to max_batch
                if c.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS or c.socket() is None:
                    break
                if not self._buffered(sock) and not select.select([sock], [], [], 0)[0]:
                    break

        # After every wake (messages, a wake-up or the idle interval): the batch's work, then one write pass.
        if c.socket() is not None:
            call_hook(self.on_batch_end, "on_batch_end")
        if c.socket() is not None and c.want_write():
            c.loop_write()
        if c.socket() is not None:
            c.loop_misc()
