"""The kiosk's ticket flow: issue, print, and never a double ticket nor a lying paper.

    desk = TicketDesk(site, client, printer=PrintStation(...), fallback=PrintStation(...), kiosk_id="kiosk-1",
                      outbox_path=var_dir / "kiosk-1-cancels.jsonl")
    outcome = desk.take_ticket("A", item="CB-01", lang="zh")
    outcome.status        # issued | refused | print_failed | uncertain | unavailable
    outcome.message("zh") # what the screen says
    desk.printer_states() # {"k1-main": "ok" | "paper_low" | "paper_out" | "cover_open" | "offline" | "unknown"}
    desk.close()          # stops the cancel outbox's sender

Flow: ask the queue server for a ticket; print it on the kiosk's printer; then the item's one-time notice
slip. The ticket's fate comes from what the printer really did (see `hardware.printing.station`):
- printed: the citizen holds the ticket (`issued`).
- known not printed (the printer refused before any byte reached it): the next printer (the fallback)
  prints it; if none can, the ticket is cancelled at the server (reason "print_failed") through a durable
  outbox that retries until the server acknowledges, also across a kiosk restart (`print_failed`).
- uncertain (bytes went out, the printer did not confirm in time or reported a fault afterwards): the
  number is NOT printed on another printer and NOT cancelled; the screen shows the number and asks the
  citizen to see staff if no ticket came out (`uncertain`). Never a second copy of a number.
When the server refuses (outside hours, quota reached, business type closed), a refusal slip says why and
when tickets are issued again. Events carry the kiosk, printer, reason and ticket — no personal data.

API changes in #17 (compatible): status "uncertain"; `TicketOutcome.uncertain`; `take_ticket(...,
on_ticket=callback)` (called when the ticket is printed, before the notice slip); `outbox_path` and
`outbox` arguments; `close()`; `printer_states()`; `pending_cancels` now reads the outbox; the wait for a
job is derived from its size and the printer's speed (`PrintStation.job_seconds`), `cancel_wait` is how
long take_ticket waits for the first cancel attempt before leaving it to the outbox.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Protocol

from hardware.printing import layouts
from hardware.printing.connections import REASONS
from hardware.printing.station import PrintJob, PrintStation
from hardware.printing.status import printer_states
from kiosk.ticketing_outbox import CancelOutbox

log = logging.getLogger("onewindow.kiosk")


class QueueClient(Protocol):
    """What the kiosk needs from the queue server (the lead's MQTT client implements it)."""

    def issue(self, business_type: str, item: str | None = None, priority_group: str | None = None,
              request_id: str = ...) -> dict:
        """{"ok": true, "ticket": {...}} or {"ok": false, "error": {"code", "message", "next_open"}}."""

    def cancel(self, ticket_id: str, reason: str, request_id: str = ...) -> dict: ...

    def publish_event(self, topic_suffix: str, payload: dict) -> None: ...


SCREEN = {
    "issued": ("请取走您的号票：{number}", "Please take your ticket: {number}"),
    "issued_no_slip": ("请取走您的号票：{number}。告知单未能打印，请向工作人员索取。",
                       "Please take your ticket: {number}. The notice slip could not be printed; "
                       "please ask staff for one."),
    "print_failed": ("打印机故障，未能出号，请联系现场工作人员。",
                     "The printer is not working, so no ticket was issued. Please ask a member of staff."),
    "uncertain": ("您的号码是 {number}。打印机未能确认号票已打出；如未拿到完整的号票，请记下号码并联系现场工作人员。",
                  "Your number is {number}. The printer could not confirm that your ticket printed; if you have "
                  "no whole ticket, please note the number and ask a member of staff."),
    "unavailable": ("排队系统暂时无法连接，请联系现场工作人员。",
                    "The queue system cannot be reached just now. Please ask a member of staff."),
}


@dataclass
class TicketOutcome:
    """What happened, for the kiosk screen and the logs."""

    status: str                       # issued | refused | print_failed | uncertain | unavailable
    ticket: dict | None = None        # the server's ticket (issued, or issued then voided)
    printer: str | None = None        # the printer that printed the ticket
    slip_printed: bool | None = None  # None: no item chosen, or slips disabled
    reason: str | None = None         # refusal code or printer fault reason
    detail: str = ""
    next_open: str | None = None
    refusal_printed: bool | None = None
    voided: bool = False              # the ticket was cancelled at the server (or is queued to be)
    elapsed: float = 0.0
    failures: list = field(default_factory=list)  # [(printer id, reason)] for each printer that failed

    @property
    def issued(self) -> bool:
        """True only when the citizen holds a printed ticket."""
        return self.status == "issued"

    @property
    def uncertain(self) -> bool:
        """The ticket is valid at the server but the printer did not confirm it printed."""
        return self.status == "uncertain"

    def message(self, lang: str = "zh") -> str:
        i = 1 if lang == "en" else 0
        number = (self.ticket or {}).get("number", "")
        if self.status == "issued":
            return SCREEN["issued" if self.slip_printed is not False else "issued_no_slip"][i].format(number=number)
        if self.status == "refused":
            known = layouts.REFUSALS.get(self.reason or "")
            text = known[i] if known else (self.detail or self.reason or "")
            if self.next_open:
                when = self.next_open.replace("T", " ")[:16]
                text += (" 下次可取号时间：" if i == 0 else " Tickets again from: ") + when
            return text
        return SCREEN[self.status][i].format(number=number)


class TicketDesk:
    """The ticket flow of one kiosk. Thread-safe: one take_ticket at a time."""

    def __init__(self, site: Any, client: QueueClient, printer: PrintStation | None,
                 fallback: PrintStation | None = None, kiosk_id: str = "kiosk", print_slips: bool = True,
                 now: Callable[[], datetime] | None = None, cancel_wait: float = 0.5,
                 outbox_path: str | None = None, outbox: CancelOutbox | None = None):
        self.site = site
        self.client = client
        self.printers = [p for p in (printer, fallback) if p is not None]
        self.kiosk_id = kiosk_id
        self.print_slips = print_slips
        self.now = now or (lambda: datetime.now(site.tz))
        self.cancel_wait = cancel_wait
        self._lock = threading.Lock()
        self._on_ticket: Callable[[TicketOutcome], None] | None = None
        self.outbox = outbox or CancelOutbox(outbox_path, client.cancel, request_prefix=kiosk_id)

    # ------------------------------------------------------------------ the flow
    def take_ticket(self, business_type: str, item: str | None = None, priority_group: str | None = None,
                    lang: str = "zh", on_ticket: Callable[[TicketOutcome], None] | None = None) -> TicketOutcome:
        """Issue and print a ticket (and the item's notice slip). `on_ticket(outcome)` is called as soon as
        the printed ticket is in the citizen's hand, before the notice slip prints, so a screen can show the
        number at once; the returned outcome adds `slip_printed`."""
        with self._lock:
            self._on_ticket = on_ticket
            started = time.monotonic()
            if self.outbox.pending:
                self.outbox.kick()
            outcome = self._take(business_type, item, priority_group, lang)
            outcome.elapsed = time.monotonic() - started
            log.info("kiosk %s: %s %s%s (%.2f s)", self.kiosk_id, outcome.status,
                     (outcome.ticket or {}).get("number", business_type),
                     f" [{outcome.reason}]" if outcome.reason else "", outcome.elapsed)
            return outcome

    def _take(self, business_type: str, item: str | None, priority_group: str | None, lang: str) -> TicketOutcome:
        if self.printers and not any(st.status.ok for st in self.printers):
            # Every printer reported a fault at its last check: look again now, and issue no ticket
            # that cannot be printed (a voided number is a number a citizen may have seen on screen).
            fresh = [st.check_status() for st in self.printers]
            if not any(f.ok for f in fresh):
                reason = fresh[0].problem
                self._event("ticket", self.printers[0].id, reason, None, "not_issued",
                            [(st.id, f.problem) for st, f in zip(self.printers, fresh)])
                return TicketOutcome("print_failed", reason=reason, detail="no working printer: no ticket issued",
                                     failures=[(st.id, f.problem) for st, f in zip(self.printers, fresh)])
        args = {k: v for k, v in (("item", item), ("priority_group", priority_group)) if v is not None}
        try:
            reply = self.client.issue(business_type, request_id=self._request_id(), **args)
        except Exception as exc:  # noqa: BLE001 - a broken link must end in a screen message, not a crash
            log.error("kiosk %s: cannot reach the queue server: %s", self.kiosk_id, exc)
            return TicketOutcome("unavailable", reason="server_unreachable", detail=str(exc))
        if not isinstance(reply, dict):
            return TicketOutcome("unavailable", reason="server_unreachable", detail=f"bad reply {reply!r}")
        if not reply.get("ok"):
            return self._refused(reply.get("error") or {}, business_type, lang)
        ticket = reply.get("ticket") or {}
        return self._print_ticket(ticket, lang)

    def _refused(self, error: dict, business_type: str, lang: str) -> TicketOutcome:
        code = str(error.get("code") or "refused")
        next_open = error.get("next_open")
        outcome = TicketOutcome("refused", reason=code, detail=str(error.get("message") or ""), next_open=next_open)
        now = self.now()
        for station in self.printers:
            try:
                doc = layouts.refusal_slip(self.site, code, now, message=outcome.detail, next_open=next_open,
                                           business_type=business_type, lang=lang, paper=station.profile.paper_mm)
            except Exception as exc:  # noqa: BLE001
                log.error("kiosk %s: cannot lay out a refusal slip: %s", self.kiosk_id, exc)
                break
            job = self._print(station, doc)
            outcome.refusal_printed = job.ok
            if job.ok:
                break
            outcome.failures.append((station.id, _reason(job)))
            self._event("refusal_slip", station.id, _reason(job), None, "not_printed")
            if not job.unprinted:
                break  # it may have come out: one slip, not two
        return outcome

    def _print_ticket(self, ticket: dict, lang: str) -> TicketOutcome:
        outcome = TicketOutcome("issued", ticket=ticket)
        printed_on: PrintStation | None = None
        for station in self.printers:
            try:
                doc = layouts.ticket(self.site, ticket, lang, station.profile.paper_mm)
            except Exception as exc:  # noqa: BLE001 - bad ticket data must not leave a phantom ticket
                log.error("kiosk %s: cannot lay out ticket %s: %s", self.kiosk_id, ticket.get("number"), exc)
                outcome.failures.append((station.id, "render_error"))
                break
            job = self._print(station, doc)
            if job.ok:
                printed_on = station
                break
            outcome.failures.append((station.id, _reason(job)))
            if not job.unprinted:  # it may have printed: never the same number on a second printer
                return self._uncertain(outcome, station, ticket)
        if not self.printers:
            outcome.failures.append((None, "unplugged"))
        first_printer, first_reason = outcome.failures[0] if outcome.failures else (None, None)
        if printed_on is None:
            outcome.status = "print_failed"
            outcome.reason = first_reason
            outcome.detail = "; ".join(f"{p}: {r}" for p, r in outcome.failures)
            outcome.voided = True
            self._cancel(ticket.get("id"))
            self._event("ticket", first_printer, first_reason, ticket, "voided", outcome.failures)
            return outcome
        outcome.printer = printed_on.id
        if outcome.failures:
            self._event("ticket", first_printer, first_reason, ticket, "reprinted", outcome.failures)
        item = self.site.catalogue.item(ticket.get("item") or "") if ticket.get("item") else None
        if self._on_ticket is not None:
            try:
                self._on_ticket(outcome)
            except Exception:  # noqa: BLE001 - a screen's callback must not stop the slip
                log.exception("kiosk %s: on_ticket callback failed", self.kiosk_id)
        if item is not None and self.print_slips:
            failed = {p for p, _ in outcome.failures}
            outcome.slip_printed = self._print_slip(item, printed_on, lang, ticket, failed)
        return outcome

    def _uncertain(self, outcome: TicketOutcome, station: PrintStation, ticket: dict) -> TicketOutcome:
        """Bytes of the ticket reached `station` but it did not confirm: report it, keep the ticket valid."""
        outcome.status = "uncertain"
        outcome.printer = station.id
        outcome.reason = outcome.failures[-1][1]
        outcome.detail = "; ".join(f"{p}: {r}" for p, r in outcome.failures)
        log.warning("kiosk %s: ticket %s may or may not have printed on %s (%s): not reprinted, not cancelled",
                    self.kiosk_id, ticket.get("number"), station.id, outcome.reason)
        self._event("ticket", station.id, outcome.reason, ticket, "uncertain")
        return outcome

    def _print_slip(self, item: Any, first: PrintStation, lang: str, ticket: dict, failed: set) -> bool:
        """The notice slip, on the printer that printed the ticket, else (if it surely did not print there) on
        another one still working."""
        now = self.now()
        for station in [first] + [p for p in self.printers if p is not first and p.id not in failed]:
            try:
                doc = layouts.notice_slip(self.site, item, now, lang, station.profile.paper_mm)
            except Exception as exc:  # noqa: BLE001
                log.error("kiosk %s: cannot lay out the notice slip of %s: %s", self.kiosk_id, item.code, exc)
                return False
            job = self._print(station, doc)
            if job.ok:
                return True
            self._event("notice_slip", station.id, _reason(job), ticket, "not_printed")
            if not job.unprinted:
                return False  # it may have come out: one slip, not two
        return False

    # ------------------------------------------------------------------ helpers
    def _print(self, station: PrintStation, doc) -> PrintJob:
        """Print and wait for the job's fate; a job the station has not picked up in time is cancelled
        (not printed), one it has not finished in time is left uncertain."""
        job = station.submit(doc)
        job.wait(station.job_seconds(job) + 0.5)
        return job

    def printer_states(self) -> dict[str, str]:
        """Each printer's part of the kiosk's device status (cached, never blocks)."""
        return printer_states(self.printers)

    def close(self) -> None:
        self.outbox.close()

    def _request_id(self) -> str:
        return f"{self.kiosk_id}-{uuid.uuid4().hex[:12]}"

    def _cancel(self, ticket_id: str | None) -> None:
        """Owe the server a cancel (durably), and give it `cancel_wait` s to go through now."""
        if not ticket_id:
            return
        self.outbox.add(ticket_id, "print_failed")
        if not self.outbox.flush(self.cancel_wait):
            log.warning("kiosk %s: cancelling %s is taking long; the outbox keeps trying", self.kiosk_id, ticket_id)

    @property
    def pending_cancels(self) -> list[str]:
        return self.outbox.pending

    def _event(self, document: str, printer: str | None, reason: str | None, ticket: dict | None,
               outcome: str, failures: list | None = None) -> None:
        payload = {
            "v": 1, "kind": "print_failed", "kiosk": self.kiosk_id, "printer": printer, "reason": reason,
            "reason_text": REASONS.get(reason or "", ("", ""))[1] or None,
            "document": document, "ticket": (ticket or {}).get("id"), "number": (ticket or {}).get("number"),
            "outcome": outcome,
        }
        if failures and len(failures) > 1:
            payload["fallback"] = {"printer": failures[1][0], "reason": failures[1][1]}
        try:
            self.client.publish_event("print", payload)
        except Exception as exc:  # noqa: BLE001
            log.error("kiosk %s: could not publish print_failed event: %s", self.kiosk_id, exc)


def _reason(job: PrintJob) -> str:
    """Why a job did not print; a job still printing when the kiosk stopped waiting timed out (its fate
    is uncertain: it may yet finish)."""
    if job.reason:
        return job.reason
    return "timeout" if job.state == "printing" else "printer_error"
