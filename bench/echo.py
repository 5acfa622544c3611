"""The echo responder's parts: a bare paho client on its own thread, and the answering logic.

Used by `bench.mqtt_load echo` to measure the broker with no server logic (docs: bench/README.md).
"""
from __future__ import annotations

import json
import queue
import socket
import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from onewindow.broker import BrokerSettings
from onewindow import PROTOCOL_VERSION


class ThreadedClient:
    """A bare paho client on its own network thread (loop_start), subscribed to one filter."""

    def __init__(self, settings: BrokerSettings, client_id: str, topic_filter: str, qos: int, handle):
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        if settings.username:
            c.username_pw_set(settings.username, settings.password)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        subscribed = threading.Event()
        c.on_socket_open = lambda client, userdata, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.on_connect = lambda client, userdata, flags, rc, props: client.subscribe(topic_filter, qos)
        c.on_subscribe = lambda *args: subscribed.set()
        c.on_message = lambda client, userdata, msg: handle(msg.topic, msg.payload)
        c.connect(settings.host, settings.port, keepalive=60)
        c.loop_start()
        if not subscribed.wait(10):
            raise ConnectionError(f"no subscription at {settings.url} within 10 s")
        self._client = c

    def publish(self, topic: str, payload, qos: int = 1) -> None:
        self._client.publish(topic, payload, qos=qos)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class Echo:
    """Answers requests `{"v":2,"request_id":..,"reply_to":..}` with `{"v":2,"request_id":..,"ok":true}`,
    optionally writing each batch to SQLite first (a server's cost)."""

    def __init__(self, qos: int, db_path: str | None):
        self.qos = qos
        self.transport = None
        self.pending: list[bytes] = []
        self.db = None
        if db_path is not None:
            import sqlite3
            self.db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
            self.db.execute("pragma journal_mode=wal")
            self.db.execute("pragma synchronous=normal")
            self.db.execute("create table request (request_id text primary key, reply_to text, at real)")

    def answer(self, batch: list[bytes]) -> None:
        replies, rows = [], []
        for payload in batch:
            try:
                req = json.loads(payload)
                rows.append((req["request_id"], req["reply_to"], time.time()))
                replies.append((req["reply_to"], json.dumps({"v": PROTOCOL_VERSION, "request_id": req["request_id"], "ok": True})))
            except (ValueError, KeyError, TypeError):
                continue
        if self.db is not None and rows:
            self.db.execute("begin")
            self.db.executemany("insert or replace into request values (?, ?, ?)", rows)
            self.db.execute("commit")
        for topic, body in replies:
            self.transport.publish(topic, body, qos=self.qos)

    def collect(self, topic: str, payload: bytes) -> None:
        self.pending.append(payload)

    def end_of_batch(self) -> None:
        batch = self.pending[:]
        self.pending.clear()
        self.answer(batch)

    def work_from(self, inbox: queue.Queue, stop: threading.Event) -> None:
        """The worker pattern: take what is queued (up to 256) and answer it as one batch."""
        while not stop.is_set():
            try:
                batch = [inbox.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < 256:
                try:
                    batch.append(inbox.get_nowait())
                except queue.Empty:
                    break
            self.answer(batch)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
