"""Printer status from DLE EOT 1, 2 and 4, read with short timeouts.

All three queries go out together and the answers are read within one timeout (300 ms by default), so
a silent printer costs the kiosk that long and no more. Every answer byte of a real printer has bit 1
and bit 4 set and bits 0 and 7 clear (`b & 0x93 == 0x12`); anything else is a garbled reply.

    DLE EOT 1 (printer):        bit 3  offline
    DLE EOT 2 (offline cause):  bit 2  cover open      bit 5  stopped: paper end   bit 6  error
    DLE EOT 4 (paper sensor):   bits 2,3 near end     bits 5,6 paper end
    GS r 1 (paper sensor, in order with the data): bits 0,1 near end   bits 2,3 paper end   (bits 4, 7 clear)

`confirm` is asked after a job: GS r 1 is answered only once the printer has processed everything sent
before it, so an answer within the job's deadline means the job went through the printer (a network
printer that queues even DLE EOT behind print data is covered too). No answer is `no_answer`, which the
station reports as an uncertain job, never as a job that did not print.

`part_state(status)` says what the kiosk's device status shows for a printer: ok | paper_low | paper_out |
cover_open | offline | unknown ("unknown" when the printer cannot be asked or its answer is not understood).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from hardware.printing import escpos as cmd
from hardware.printing.connections import Connection, PrinterFault

QUERY = cmd.status_query(1) + cmd.status_query(2) + cmd.status_query(4)


@dataclass(frozen=True)
class PrinterStatus:
    """What a printer said about itself. `problem` is None when it can print (a REASONS key otherwise)."""

    problem: str | None
    paper: str = "unknown"   # ok | low | out | unknown
    cover_open: bool = False
    online: bool = False
    raw: bytes = b""
    checked_at: float = 0.0  # monotonic seconds; 0 = never checked
    detail: str = ""
    answered: bool = True    # False: nobody could ask (not checked yet, a device file, status = false)

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def paper_low(self) -> bool:
        return self.paper == "low"


UNKNOWN = PrinterStatus(problem=None, detail="not checked yet", answered=False)

PART_STATES = ("ok", "paper_low", "paper_out", "cover_open", "offline", "unknown")
_PART_OF_PROBLEM = {"paper_out": "paper_out", "cover_open": "cover_open", "offline": "offline",
                    "printer_error": "offline", "no_answer": "offline", "unplugged": "offline",
                    "write_timeout": "offline", "bad_reply": "unknown"}


def part_state(status: PrinterStatus) -> str:
    """The printer's part of a device status: ok | paper_low | paper_out | cover_open | offline | unknown."""
    if status.problem is not None:
        return _PART_OF_PROBLEM.get(status.problem, "offline")
    if not status.answered:
        return "unknown"
    return "paper_low" if status.paper_low else "ok"


def printer_states(stations) -> dict[str, str]:
    """Per printer id, its device-status part (from each station's cached status; never blocks)."""
    return {st.id: part_state(st.status) for st in stations}


def decode(raw: bytes, at: float = 0.0) -> PrinterStatus:
    """Decode the three answer bytes (DLE EOT 1, 2, 4)."""
    if len(raw) != 3 or any(b & 0x93 != 0x12 for b in raw):
        return PrinterStatus("bad_reply", raw=raw, checked_at=at, detail=f"unexpected status bytes {raw.hex(' ')}")
    s1, s2, s4 = raw
    offline = bool(s1 & 0x08)
    cover = bool(s2 & 0x04)
    paper_end = bool(s4 & 0x60) or bool(s2 & 0x20)
    near_end = bool(s4 & 0x0C)
    paper = "out" if paper_end else ("low" if near_end else "ok")
    problem = None
    if cover:
        problem = "cover_open"
    elif paper_end:
        problem = "paper_out"
    elif s2 & 0x40:
        problem = "printer_error"
    elif offline:
        problem = "offline"
    return PrinterStatus(problem, paper, cover, not offline, raw, at)


def query(conn: Connection, timeout: float, clock=time.monotonic) -> PrinterStatus:
    """Ask the printer for its status; never waits longer than `timeout` (plus a 20 ms grace for extra bytes)."""
    if not conn.can_read:
        return PrinterStatus(None, checked_at=clock(), detail="this connection cannot read status", answered=False)
    try:
        conn.drain()
        conn.write(QUERY, timeout)
        raw = conn.read(3, timeout)
        if len(raw) == 3:
            extra = conn.read(8, 0.02)
            raw += extra
    except PrinterFault as exc:
        return PrinterStatus(exc.reason, checked_at=clock(), detail=exc.detail)
    if not raw:
        return PrinterStatus("no_answer", checked_at=clock(), detail=f"no status answer within {timeout * 1000:.0f} ms")
    return decode(raw, clock())


def confirm(conn: Connection, deadline: float, timeout: float, sync: bool = True,
            clock=time.monotonic) -> tuple[bool, PrinterStatus]:
    """After a job: (printed, status). Waits up to `deadline` s for the printer to have processed the job.

    With `sync`, GS r 1 goes out behind the job: an answer without paper end proves the job went through
    (printed), whatever the DLE EOT asked next says about the printer now (that is for the next job).
    Without it, the DLE EOT answer is awaited for the whole deadline (enough for printers that queue it
    behind data) and the job counts as printed if the printer is still fit."""
    if not conn.can_read:
        return True, PrinterStatus(None, checked_at=clock(), detail="this connection cannot read status",
                                   answered=False)
    if not sync:
        st = query(conn, deadline, clock)
        if st.problem == "no_answer":
            st = PrinterStatus("no_answer", checked_at=clock(), detail=f"no status answer within {deadline:.1f} s")
        return st.ok, st
    try:
        conn.write(cmd.SYNC_STATUS, timeout)
        until = time.monotonic() + deadline
        raw = conn.read(1, deadline)
        while raw and raw[0] & 0x93 == 0x12 and time.monotonic() < until:  # a late DLE EOT answer: skip it
            raw = conn.read(1, until - time.monotonic())
    except PrinterFault as exc:
        return False, PrinterStatus(exc.reason, checked_at=clock(), detail=exc.detail)
    if not raw:
        return False, PrinterStatus("no_answer", checked_at=clock(), detail=f"no answer within {deadline:.1f} s")
    if raw[0] & 0x90:
        return False, PrinterStatus("bad_reply", raw=raw, checked_at=clock(),
                                    detail=f"unexpected GS r answer {raw.hex()}")
    if raw[0] & 0x0C:
        return False, PrinterStatus("paper_out", "out", raw=raw, checked_at=clock(),
                                    detail="paper ran out during the job")
    st = query(conn, timeout, clock)
    if st.problem in ("no_answer", "bad_reply"):  # slow or garbled now, but the job went through
        st = PrinterStatus(None, "low" if raw[0] & 0x03 else "ok", online=True, raw=raw, checked_at=clock(),
                           detail=f"printed (GS r 1 answered); DLE EOT after it: {st.detail}")
    return True, st
