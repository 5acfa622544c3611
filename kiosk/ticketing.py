"""The kiosk's ticket flow: issue, print, and never show a ticket as issued when it was not printed.

    desk = TicketDesk(site, client, printer=PrintStation(...), fallback=PrintStation(...), kiosk_id="kiosk-1")
    outcome = desk.take_ticket("A", item="CB-01", lang="zh")
    outcome.status        # issued | refused | print_failed | unavailable
    outcome.message("zh") # what the screen says

Flow: ask the queue server for a ticket; print it on the kiosk's printer, else on its fallback printer;
then print the item's one-time notice slip. If no printer printed the ticket, the ticket is cancelled at
the server (reason "print_failed"), a `print_failed` event goes out, and the screen says to ask staff.
When the server refuses (outside hours, quota reached, business type closed), a refusal slip says why and
when tickets are issued again. Printer faults are found by short status timeouts, so a dead printer costs
the citizen well under two seconds. Events carry the kiosk, printer, reason and ticket — no personal data.
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
    "unavailable": ("排队系统暂时无法连接，请联系现场工作人员。",
                    "The queue system cannot be reached just now. Please ask a member of staff."),
}


@dataclass
class TicketOutcome:
    """What happened, for the kiosk screen and the logs."""

    status: str                       # issued | refused | print_failed | unavailable
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
        return SCREEN[self.status][i]


class TicketDesk:
    """The ticket flow of one kiosk. Thread-safe: one take_ticket at a time."""

    def __init__(self, site: Any, client: QueueClient, printer: PrintStation | None,
                 fallback: PrintStation | None = None, kiosk_id: str = "kiosk", print_slips: bool = True,
                 now: Callable[[], datetime] | None = None, cancel_wait: float = 0.5):
        self.site = site
        self.client = client
        self.printers = [p for p in (printer, fallback) if p is not None]
        self.kiosk_id = kiosk_id
        self.print_slips = print_slips
        self.now = now or (lambda: datetime.now(site.tz))
        self.cancel_wait = cancel_wait
        self._lock = threading.Lock()
        self._pending_cancels: list[str] = []  # ticket ids still to cancel (the server was unreachable)

    # ------------------------------------------------------------------ the flow
    def take_ticket(self, business_type: str, item: str | None = None, priority_group: str | None = None,
                    lang: str = "zh") -> TicketOutcome:
        with self._lock:
            started = time.monotonic()
            self._retry_cancels()
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
        if item is not None and self.print_slips:
            failed = {p for p, _ in outcome.failures}
            outcome.slip_printed = self._print_slip(item, printed_on, lang, ticket, failed)
        return outcome

    def _print_slip(self, item: Any, first: PrintStation, lang: str, ticket: dict, failed: set) -> bool:
        """The notice slip, on the printer that printed the ticket, else on another one still working."""
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
        return False

    # ------------------------------------------------------------------ helpers
    def _print(self, station: PrintStation, doc) -> PrintJob:
        job = station.submit(doc)
        job.wait(self._deadline(station, job))
        return job

    @staticmethod
    def _deadline(station: PrintStation, job: PrintJob) -> float:
        """How long a job may take before it counts as failed: two status reads plus sending the bytes."""
        return 2 * station.timeout + _transfer_seconds(station, job) + 0.3

    def _request_id(self) -> str:
        return f"{self.kiosk_id}-{uuid.uuid4().hex[:12]}"

    def _cancel(self, ticket_id: str | None) -> None:
        if not ticket_id:
            return
        done = threading.Event()
        result: dict = {}

        def run() -> None:
            try:
                result["reply"] = self.client.cancel(ticket_id, "print_failed", request_id=self._request_id())
            except Exception as exc:  # noqa: BLE001
                result["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, name=f"cancel-{ticket_id}", daemon=True).start()
        if not done.wait(self.cancel_wait):
            log.warning("kiosk %s: cancelling %s is taking long; it continues in the background",
                        self.kiosk_id, ticket_id)
            return
        reply = result.get("reply")
        if "error" in result or not isinstance(reply, dict) or not (reply.get("ok") or _already_gone(reply)):
            log.error("kiosk %s: could not cancel unprinted ticket %s (%s); will retry", self.kiosk_id, ticket_id,
                      result.get("error") or reply)
            self._pending_cancels.append(ticket_id)
        else:
            log.info("kiosk %s: cancelled unprinted ticket %s", self.kiosk_id, ticket_id)

    def _retry_cancels(self) -> None:
        pending, self._pending_cancels = self._pending_cancels, []
        for ticket_id in pending:
            self._cancel(ticket_id)

    @property
    def pending_cancels(self) -> list[str]:
        return list(self._pending_cancels)

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
    """Why a job did not print; a job still printing when the kiosk stopped waiting timed out (it may yet
    finish: a late duplicate is acceptable, a citizen left without paper is not)."""
    if job.reason:
        return job.reason
    return "timeout" if job.state == "printing" else "printer_error"


def _transfer_seconds(station: PrintStation, job: PrintJob) -> float:
    ep = station.config.endpoint
    baud = ep.options.get("baudrate") if ep.scheme == "serial" else None
    return len(job.data) * 10 / baud * 1.2 if baud else 0.2


def _already_gone(reply: dict) -> bool:
    """A cancel refused because the ticket is already cancelled/unknown needs no retry."""
    code = (reply.get("error") or {}).get("code")
    return code in ("unknown_ticket", "wrong_state")
