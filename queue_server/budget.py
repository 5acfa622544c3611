"""Per-sender budgets: a flood from one client must not starve the others, and a kiosk cannot issue
tickets faster than people walk up to it.

- `TokenBuckets(rate, burst)`: each sender (its user name, from the command topic) may send `burst`
  messages at once and `rate` per second after that. The server checks it for every message before it
  even parses it, on the transport's thread: a message over budget costs a dict lookup and is counted,
  never logged one by one (`SenderLog` writes the summary). On a site with roles the server listens
  to each device on a topic of its own; one over its budget is unsubscribed for `QUARANTINE_SECONDS`,
  so the broker drops its flood instead of queueing it ahead of everyone else's commands. Bad input is answered at most
  `BAD_REPLIES_PER_SECOND` times a second per sender: a flood earns no flood of replies that would sit in
  the server's outgoing queue ahead of honest replies.
- The kiosk throttle is the same bucket for `issue` from kiosks, with a person's pace: a ticket every
  few seconds. Over it, the kiosk gets `throttled` (with `retry_after` seconds) and the log says so.
"""
from __future__ import annotations

from typing import Callable

MESSAGES_PER_SECOND = 500.0   # per device (kiosk, display, window): far above an honest one, far below a flood
MESSAGE_BURST = 1000.0
PROGRAM_MESSAGES_PER_SECOND = 5000.0  # consoles and managers (many clerks through one name), open sites
PROGRAM_MESSAGE_BURST = 10000.0
BAD_REPLIES_PER_SECOND = 20.0  # error replies to one sender's bad input; beyond, it is only counted
BAD_REPLY_BURST = 100.0
QUARANTINE_SECONDS = 10.0  # a device over its budget is not listened to (unsubscribed) this long
KIOSK_ISSUES_PER_MINUTE = 20.0  # a person takes ~10 s at a kiosk; two kiosks' worth of hurry is plenty
KIOSK_ISSUE_BURST = 6.0


class TokenBuckets:
    MAX_SENDERS = 50_000

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, list[float]] = {}  # sender -> [tokens, last time]

    def allow(self, sender: str, cost: float = 1.0) -> bool:
        now = self.clock()
        bucket = self._buckets.get(sender)
        if bucket is None:
            if len(self._buckets) >= self.MAX_SENDERS:
                self._buckets.clear()  # a name-spraying flood: start over rather than grow
            bucket = self._buckets[sender] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= cost:
            bucket[0] = tokens - cost
            return True
        bucket[0] = tokens
        return False

    def retry_after(self, sender: str, cost: float = 1.0) -> float:
        bucket = self._buckets.get(sender)
        if bucket is None or bucket[0] >= cost:
            return 0.0
        return (cost - bucket[0]) / self.rate
