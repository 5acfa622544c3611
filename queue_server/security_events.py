"""Refusals a manager should hear about, not only the log: a kiosk issuing faster than people can
(`throttled`), a device flooding the server (`flood`: its messages dropped, then not listened to for a
while), a client asking for what its role may not do (`forbidden`).

Counted per sender and kind; the first of a kind from a sender is reported at once, then at most one
summary a minute while it goes on, on `onewindow/{site}/event/security` (docs/PROTOCOL.md), which the
manager's console turns into alerts. Only fixed words and device names travel: never a payload.
"""
from __future__ import annotations

from typing import Callable

KINDS = ("throttled", "flood", "forbidden")
REPORT_EVERY = 60.0  # seconds between two reports of one sender's one kind
MAX_SENDERS = 1000  # a storm of made-up names is summed under one entry past this


class SecurityEvents:
    def __init__(self, monotonic: Callable[[], float], every: float = REPORT_EVERY):
        self.monotonic = monotonic
        self.every = every
        self._pending: dict[tuple[str, str], list] = {}  # (sender, kind) -> [count, detail]
        self._last: dict[tuple[str, str], float] = {}

    def note(self, sender: str, kind: str, detail: str, count: int = 1) -> None:
        key = (sender, kind)
        if key not in self._pending and len(self._pending) >= MAX_SENDERS:
            key = ("(many)", kind)
        entry = self._pending.setdefault(key, [0, detail])
        entry[0] += count
        entry[1] = detail

    def due(self) -> list[dict]:
        """Reports to publish now (without `v`, `at`: the server adds them)."""
        if not self._pending:
            return []
        now = self.monotonic()
        out = []
        for key, (count, detail) in list(self._pending.items()):
            if now - self._last.get(key, -1e18) >= self.every:
                out.append({"kind": key[1], "sender": key[0], "count": count, "detail": detail,
                            "period_s": round(min(now - self._last[key], 1e9), 1) if key in self._last else 0})
                self._last[key] = now
                del self._pending[key]
        if len(self._last) > 4 * MAX_SENDERS:  # forget who was reported long ago
            self._last = {k: t for k, t in self._last.items() if now - t < self.every}
        return out
