"""Cancels that must reach the queue server: a voided ticket is cancelled for sure, even across a restart.

    outbox = CancelOutbox("/var/lib/onewindow/kiosk-1-cancels.jsonl", client.cancel)
    outbox.add("demo-county:2026-11-23:D001", "print_failed")   # written to disk before anything else
    outbox.flush(0.5)        # wait a little for the acknowledgement (the retries go on in the background)
    outbox.pending           # ticket ids not acknowledged yet

The file holds one JSON object a line: {"op": "cancel", "ticket", "reason", "request_id", "at"} when a
cancel is owed, {"op": "done", "ticket"} when the server acknowledged it. It is appended to and fsynced,
so a kiosk that restarts (or loses power) picks up every cancel still owed; it is compacted on load. One
background thread sends them, oldest first, retrying with growing pauses until the server acknowledges.
Each cancel keeps its request id across retries and restarts, so the server answers a repeat with its
first answer. A reply refusing the cancel because the ticket is already cancelled or unknown also counts
as acknowledged. Without a path the outbox lives in memory only (tests, tools).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger("onewindow.kiosk")

ALREADY_GONE = ("unknown_ticket", "wrong_state")
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass
class OwedCancel:
    ticket: str
    reason: str
    request_id: str
    at: str
    tries: int = 0
    next_try: float = 0.0


def acknowledged(reply: object) -> bool:
    """The server has the ticket cancelled: ok, or refused because it is already gone."""
    if not isinstance(reply, dict):
        return False
    return bool(reply.get("ok")) or (reply.get("error") or {}).get("code") in ALREADY_GONE


class CancelOutbox:
    def __init__(self, path: str | Path | None, send: Callable[..., dict], request_prefix: str = "kiosk",
                 clock: Callable[[], float] = time.monotonic, delays: tuple[float, ...] = RETRY_DELAYS):
        self.path = Path(path) if path else None
        self._send = send
        self._prefix = request_prefix
        self._clock = clock
        self._delays = delays
        self._owed: dict[str, OwedCancel] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._stopping = False
        self._thread: threading.Thread | None = None
        if self.path is not None:
            self._load()
        if self._owed:
            log.warning("kiosk: %d ticket cancel(s) still owed from before: %s", len(self._owed),
                        ", ".join(self._owed))
            self._start()

    # ------------------------------------------------------------------ public
    @property
    def pending(self) -> list[str]:
        with self._lock:
            return list(self._owed)

    def add(self, ticket: str, reason: str) -> None:
        """Owe the server a cancel of `ticket`: on disk first, then sent in the background."""
        entry = OwedCancel(ticket, reason, f"{self._prefix}-cancel-{uuid.uuid4().hex[:12]}",
                           time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        with self._lock:
            if ticket in self._owed:
                return
            self._append({"op": "cancel", "ticket": ticket, "reason": reason, "request_id": entry.request_id,
                          "at": entry.at})
            self._owed[ticket] = entry
        self._start()
        self._wake.set()

    def kick(self) -> None:
        """Try every owed cancel again now (e.g. the server answered something else just now)."""
        with self._lock:
            for entry in self._owed.values():
                entry.next_try = 0.0
        self._wake.set()

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` s until nothing is owed; True if nothing is."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._owed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
            return True

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    # ------------------------------------------------------------------ worker
    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="kiosk-cancel-outbox", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            now = self._clock()
            with self._lock:
                due = [e for e in self._owed.values() if e.next_try <= now]
                upcoming = [e.next_try for e in self._owed.values() if e.next_try > now]
            for entry in due:
                if self._stopping:
                    return
                self._try(entry)
            if not due:
                self._wake.wait(min(upcoming) - now if upcoming else None)

    def _try(self, entry: OwedCancel) -> None:
        try:
            reply = self._send(entry.ticket, entry.reason, request_id=entry.request_id)
        except Exception as exc:  # noqa: BLE001 - a lost link means: try again later
            reply = {"ok": False, "error": {"code": "unreachable", "message": str(exc)}}
        if acknowledged(reply):
            log.info("kiosk: cancelled unprinted ticket %s at the server", entry.ticket)
            with self._lock:
                self._append({"op": "done", "ticket": entry.ticket})
                self._owed.pop(entry.ticket, None)
                self._idle.notify_all()
            return
        entry.tries += 1
        delay = self._delays[min(entry.tries, len(self._delays)) - 1]
        entry.next_try = self._clock() + delay
        log.error("kiosk: could not cancel unprinted ticket %s (%s); try %d, next in %.1f s", entry.ticket,
                  (reply.get("error") or {}).get("message") or reply, entry.tries, delay)

    # ------------------------------------------------------------------ the file
    def _append(self, record: dict) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            log.error("kiosk: cannot write the cancel outbox %s: %s (the cancel is kept in memory)", self.path, exc)

    def _load(self) -> None:
        assert self.path is not None
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("kiosk: cannot read the cancel outbox %s: %s", self.path, exc)
            return
        for n, line in enumerate(text.splitlines(), 1):
            try:
                rec = json.loads(line)
                if rec["op"] == "cancel":
                    self._owed[rec["ticket"]] = OwedCancel(rec["ticket"], rec["reason"], rec["request_id"],
                                                           rec.get("at", ""))
                elif rec["op"] == "done":
                    self._owed.pop(rec["ticket"], None)
            except (ValueError, KeyError, TypeError):
                log.error("kiosk: cancel outbox %s line %d is damaged; skipped: %r", self.path, n, line[:80])
        self._compact()

    def _compact(self) -> None:
        assert self.path is not None
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                for e in self._owed.values():
                    f.write(json.dumps({"op": "cancel", "ticket": e.ticket, "reason": e.reason,
                                        "request_id": e.request_id, "at": e.at}, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            log.error("kiosk: cannot compact the cancel outbox %s: %s", self.path, exc)
