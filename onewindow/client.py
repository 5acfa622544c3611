"""Request/reply for kiosks, clerk consoles and other clients of the queue server.

MQTT 3.1.1 has no reply topics of its own, so every request carries `reply_to` and `request_id`
in its payload. A request that gets no reply in time is sent again with the SAME request id: the
server answers a retry with its first reply, so a retried issue never makes a second ticket.
"""
from __future__ import annotations

import itertools
import json
import os
import threading
from typing import Any

from onewindow import PROTOCOL_VERSION
from onewindow.topics import Topics
from onewindow.transport import dumps


def boot_nonce() -> str:
    """Six random letters that tell this process's request ids from an earlier run's.

    Letters only: a hex nonce can be all digits, and digits joined by the dashes of a request id
    ("kiosk-1-139176-10000") look like a phone number to the server's personal-data filter."""
    return "".join("abcdefghijklmnopqrstuvwxyz"[b % 26] for b in os.urandom(6))


class RequestTimeout(Exception):
    """No reply after every retry; the request may or may not have been carried out."""

    def __init__(self, command: str, request_id: str, attempts: int):
        super().__init__(f"no reply to {command} (request {request_id}) after {attempts} attempts")
        self.command = command
        self.request_id = request_id


def identity_of(transport, client_id: str) -> str:
    """The name a client is known by on the bus: its broker user name if it has one, else its client id."""
    settings = getattr(transport, "settings", None)
    return getattr(settings, "username", None) or client_id


class _Pending:
    __slots__ = ("event", "reply")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: dict | None = None


class QueueClient:
    """Send commands to a site's queue server over a transport and wait for the replies."""

    def __init__(self, transport, site_id: str, client_id: str, timeout: float = 2.0, attempts: int = 3):
        self.transport = transport
        self.topics = Topics(site_id)
        self.client_id = client_id
        # Who the server sees: the broker user name when the transport has one (the ACL lets a client
        # publish commands and read replies only under its own user name), else the client id.
        self.identity = identity_of(transport, client_id)
        self.reply_to = self.topics.reply(self.identity)
        self.timeout = timeout
        self.attempts = attempts
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._boot = boot_nonce()
        transport.subscribe(self.reply_to, self._on_reply)

    def new_request_id(self) -> str:
        return f"{self.client_id}-{self._boot}-{next(self._counter)}"

    def _on_reply(self, topic: str, payload: bytes) -> None:
        try:
            reply = json.loads(payload)
            rid = reply.get("request_id")
        except (ValueError, AttributeError):
            return
        with self._lock:
            pending = self._pending.get(rid)
        if pending is not None:
            pending.reply = reply
            pending.event.set()

    def request(self, command: str, request_id: str | None = None, timeout: float | None = None,
                attempts: int | None = None, **args: Any) -> dict:
        """Send `command` and return the server's reply (a dict with `ok`, and `error` when refused)."""
        rid = request_id or self.new_request_id()
        args = {k: v for k, v in args.items() if v is not None}  # an absent option is left out, not null
        payload = dumps({"v": PROTOCOL_VERSION, "request_id": rid, "reply_to": self.reply_to, **args})
        pending = _Pending()
        with self._lock:
            self._pending[rid] = pending
        tries = attempts or self.attempts
        try:
            for _ in range(tries):
                self.transport.publish(self.topics.cmd(command, self.identity), payload, qos=1)
                if pending.event.wait(timeout or self.timeout):
                    return pending.reply
            raise RequestTimeout(command, rid, tries)
        finally:
            with self._lock:
                self._pending.pop(rid, None)

    def publish_event(self, kind: str, payload: dict) -> None:
        """Publish an event of this client's on its kind's topic ("print" -> onewindow/{site}/event/print)."""
        self.transport.publish(self.topics.event(kind), dumps({"v": PROTOCOL_VERSION, **payload}), qos=1)

    # Convenience wrappers, named after what the caller does.
    def issue(self, business_type: str, **args: Any) -> dict:
        return self.request("issue", business_type=business_type, **args)

    def cancel(self, ticket: str, reason: str = "citizen", **args: Any) -> dict:
        return self.request("cancel", ticket=ticket, reason=reason, **args)

    def window(self, command: str, window: int, clerk: str, **args: Any) -> dict:
        return self.request(command, window=window, clerk=clerk, **args)
