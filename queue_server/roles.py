"""Who may do what: the sender of a command (its MQTT user name, which the broker's ACL puts in the
command topic) mapped to a role, and the commands each role may send. Pure: no I/O.

    role      may send                                                   for
    kiosk     issue, cancel (its own tickets), ticket_status, check_in,   -
              booking_status
    display   nothing (reads retained state and calls only)               -
    window    window commands, rate, ticket_status, snapshot              its own window(s) only
    console   window commands, issue, cancel, rate, ticket_status,        any window (the console
              snapshot, appointment commands and queries (booking          signs its clerks in itself)
              page, clerk booking at the counter), not check_in
    manager   every command, set_business_type and notices included       any window
    server    nothing: the server does not command itself                 -

A window device's `window` argument must be one of its windows; a rating from it must be for a visit
served at one of its windows (or it names none and the device has one window: then that one).
An unknown sender gets `forbidden` like a kiosk asking to call a ticket. See docs/SECURITY.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

WINDOW_COMMANDS = frozenset({"sign_in", "sign_out", "pause", "resume", "call_next", "call", "recall", "start",
                             "finish", "no_show", "transfer", "hold", "call_back"})
BOOKING_COMMANDS = frozenset({"book", "change_booking", "cancel_booking", "appointment_slots", "booking_status",
                              "bookings"})
ROLE_COMMANDS: dict[str, frozenset[str] | None] = {
    "kiosk": frozenset({"issue", "cancel", "ticket_status", "check_in", "booking_status"}),
    "display": frozenset(),
    "window": WINDOW_COMMANDS | {"rate", "ticket_status", "snapshot"},
    "console": WINDOW_COMMANDS | {"issue", "cancel", "rate", "ticket_status", "snapshot"} | BOOKING_COMMANDS,
    "manager": None,  # every command
    "server": frozenset(),
}


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


@dataclass(frozen=True)
class Member:
    id: str
    role: str
    windows: tuple[int, ...] = ()


class Roles:
    """The site's registry as the server uses it: `check(sender, command, args)` -> None or a Refusal."""

    def __init__(self, members: Iterable[Member], ticket_window: Callable[[str], int | None] = lambda t: None,
                 ticket_kiosk: Callable[[str], str | None] = lambda t: None):
        self.members = {m.id: m for m in members}
        self.ticket_window = ticket_window  # where a ticket was served (set by the server: engine lookup)
        self.ticket_kiosk = ticket_kiosk  # which kiosk issued it ("" none; None: no such ticket)

    @classmethod
    def from_devices(cls, devices, server_id: str) -> "Roles":
        return cls([Member(server_id, "server"), *(Member(d.id, d.role, tuple(d.windows)) for d in devices)])

    def role_of(self, sender: str) -> str | None:
        member = self.members.get(sender)
        return member.role if member else None

    def check(self, sender: str, command: str, args: dict) -> Refusal | None:
        member = self.members.get(sender)
        if member is None:
            return Refusal("forbidden", f"{sender} is not a device of this site")
        allowed = ROLE_COMMANDS.get(member.role, frozenset())
        if allowed is not None and command not in allowed:
            return Refusal("forbidden", f"a {member.role} may not send {command}")
        if member.role == "kiosk" and command == "cancel":
            issuer = self.ticket_kiosk(args["ticket"])
            if issuer is not None and issuer != sender:
                return Refusal("forbidden", "a kiosk may cancel only the tickets it issued")
        if member.role != "window":
            return None
        window = args.get("window")
        if command == "rate":
            served = self.ticket_window(args["ticket"])
            if window is None and len(member.windows) == 1:
                window = args["window"] = member.windows[0]
            if served is not None and served != window:
                return Refusal("forbidden", f"{sender} may rate visits of window "
                                            f"{', '.join(map(str, member.windows))} only")
        if window is not None and window not in member.windows:
            return Refusal("forbidden", f"{sender} acts for window {', '.join(map(str, member.windows))} "
                                        f"only, not window {window}")
        if window is None and command in WINDOW_COMMANDS | {"rate"}:
            return Refusal("forbidden", f"{sender} must name its window")
        return None
