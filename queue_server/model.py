"""The things in a hall the engine keeps track of: tickets and windows.

Times are seconds since the epoch (floats) passed in by the caller; the engine has no clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Ticket states. The first four are live; the last three are terminal.
WAITING, CALLED, SERVING, HELD = "waiting", "called", "serving", "held"
DONE, MISSED, CANCELLED = "done", "missed", "cancelled"
LIVE_STATES = frozenset({WAITING, CALLED, SERVING, HELD})
TERMINAL_STATES = frozenset({DONE, MISSED, CANCELLED})

# Window states, as a display or a manager sees them.
W_CLOSED, W_IDLE, W_CALLING, W_SERVING, W_RATING, W_PAUSED = (
    "closed", "idle", "calling", "serving", "rating", "paused")


class Rejected(Exception):
    """A command the engine refuses: a stable `code` for programs and a `message` for people."""

    def __init__(self, code: str, message: str, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def as_error(self) -> dict:
        error = {"code": self.code, "message": self.message}
        error.update(self.details)
        return error


@dataclass(slots=True)
class Ticket:
    id: str
    number: str
    business_type: str
    seq: int  # the number's counter value within its business type and service day
    arrival: float  # when it was issued; never changes (a transfer keeps it)
    rank: float  # place in line: arrival, or a later value after a missed-call requeue
    item: str | None = None
    priority_group: str | None = None
    appointment_start: float | None = None  # the booked slot, for checked-in appointments
    appointment_ref: str | None = None
    channel: str = "kiosk"
    not_before: float | None = None  # issued while no window served it: called after this time
    state: str = WAITING
    window: int | None = None  # the window it is called/served/held at
    target_window: int | None = None  # transferred to one window: only that window may call it
    calls: int = 0  # calls in the current calling (the first call plus recalls)
    requeues: int = 0
    transfers: int = 0
    waited: float = 0.0  # seconds waited in line before the current visit (rank to call)
    first_called_at: float | None = None
    called_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    end_reason: str | None = None
    rating: int | None = None


@dataclass(slots=True)
class WindowState:
    number: int
    state: str = W_CLOSED
    clerk: str | None = None
    ticket: str | None = None  # the ticket being called or served
    last_ticket: str | None = None  # the ticket just finished (rating state)
    held: list[str] = field(default_factory=list)
    pause_reason: str | None = None
    since: float = 0.0  # when the current state began
    served: int = 0  # tickets finished today
    service_seconds: float = 0.0  # their services' length, summed (the clerk's average service time)
