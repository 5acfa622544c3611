"""One take-a-number intent = one request id, whatever happens in between.

`KioskClient` wraps the queue client the TicketDesk talks to. While an intent is open, every `issue`
goes out with the intent's request id (a double tap, a retry after a lost reply, a reconnect: the
server answers the same request id with its first reply, so the citizen gets one ticket) and with the
intent's extras (an appointment check-in, the kiosk's id). Everything else passes through.
`on_issued(intent, ticket)` runs as soon as the server's ticket is in, before the desk prints it, so the
screen can show the number while the ticket prints (and withdraw it if the printer fails).

The ticket that comes back loses its `priority_group` before the desk lays it out: the priority
group is decided on the kiosk from an ID card and must not be printed on the paper a citizen carries.
"""
from __future__ import annotations

import itertools
from collections import deque
import threading
from dataclasses import dataclass, field
from typing import Any

from onewindow.client import boot_nonce

_boot = boot_nonce()
_counter = itertools.count(1)


@dataclass
class Intent:
    """What the citizen asked for when they tapped "take a number"."""

    business_type: str
    item: str | None = None
    priority_group: str | None = None
    appointment: dict | None = None
    request_id: str = ""
    attempts: int = 0
    extras: dict = field(default_factory=dict)

    @staticmethod
    def new_id(kiosk_id: str) -> str:
        return f"{kiosk_id}-t{_boot}-{next(_counter)}"[:64]


class KioskClient:
    """The TicketDesk's queue client, with the open intent's request id and extras applied to `issue`."""

    def __init__(self, client: Any, kiosk_id: str, on_issued: Any = None):
        self.client = client
        self.kiosk_id = kiosk_id
        self.on_issued = on_issued  # on_issued(intent, ticket): the server issued it; printing starts now
        self._intent: Intent | None = None
        self._lock = threading.Lock()
        self.issued_request_ids: deque[str] = deque(maxlen=200)  # the latest, for tests and diagnostics

    def begin(self, intent: Intent) -> None:
        with self._lock:
            self._intent = intent

    def end(self) -> None:
        with self._lock:
            self._intent = None

    def issue(self, business_type: str, request_id: str | None = None, **args: Any) -> dict:
        with self._lock:
            intent = self._intent
        if intent is not None:
            request_id = intent.request_id
            intent.attempts += 1
            if intent.appointment:
                args["appointment"] = dict(intent.appointment)
        args.setdefault("channel", "kiosk")
        args.setdefault("kiosk", self.kiosk_id)
        self.issued_request_ids.append(request_id or "")
        reply = self.client.issue(business_type, request_id=request_id, **args)
        if isinstance(reply, dict) and isinstance(reply.get("ticket"), dict):
            reply = {**reply, "ticket": {k: v for k, v in reply["ticket"].items() if k != "priority_group"}}
            if reply.get("ok") and intent is not None and self.on_issued is not None:
                self.on_issued(intent, reply["ticket"])
        return reply

    def __getattr__(self, name: str) -> Any:  # cancel, request, publish_event, ...
        return getattr(self.client, name)
