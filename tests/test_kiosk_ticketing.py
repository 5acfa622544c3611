"""The kiosk never shows a ticket as issued when it was not printed.

A fake queue server (in memory) and fake printers on real ptys: each printer fault ends in a ticket
printed on the fallback printer or voided at the server, a print_failed event, and a kiosk that answered
within two seconds.
"""
from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
import zxingcpp

from hardware.fakes.printer import FakePrinter
from hardware.printing.checkdigit import parse_ticket_code
from hardware.printing.config import printer_from_url
from hardware.printing.station import PrintStation
from kiosk.ticketing import TicketDesk
from tests.support import county_site, wait_until

FAULTS = {
    "paper out before the job": lambda p: setattr(p, "paper_out", True),
    "cover open": lambda p: setattr(p, "cover_open", True),
    "printer silent": lambda p: setattr(p, "silent", True),
    "device unplugged": lambda p: p.unplug(),
}
EXPECTED_REASON = {"paper out before the job": "paper_out",
                   "cover open": "cover_open", "printer silent": "no_answer", "device unplugged": "unplugged"}
HANG_LIMIT = 4.0  # "does not hang": a job waiting out its deadline takes longer; loose for a loaded machine


site = county_site


class FakeQueueClient:
    """The queue server as the kiosk sees it: issue, cancel, events — in memory."""

    def __init__(self, refuse: dict | None = None, unreachable: bool = False):
        self.refuse = refuse
        self.unreachable = unreachable
        self.cancel_fails = False
        self.issued: list[dict] = []
        self.cancelled: list[tuple[str, str]] = []
        self.events: list[tuple[str, dict]] = []
        self.request_ids: list[str] = []
        self.counters: dict[str, int] = {}

    def issue(self, business_type, item=None, priority_group=None, request_id=None):
        self.request_ids.append(request_id)
        if self.unreachable:
            raise TimeoutError("no reply to issue after 3 attempts")
        if self.refuse:
            return {"ok": False, "error": self.refuse}
        n = self.counters[business_type] = self.counters.get(business_type, 0) + 1
        number = f"{business_type}{n:03d}"
        ticket = {"id": f"demo-county:2026-11-23:{number}", "number": number, "business_type": business_type,
                  "item": item, "issued_at": "2026-11-23T09:01:02+08:00", "service_day": "2026-11-23",
                  "ahead": 4, "estimated_wait_min": 12.0, "priority_group": priority_group}
        self.issued.append(ticket)
        return {"ok": True, "ticket": ticket}

    def cancel(self, ticket_id, reason, request_id=None):
        self.request_ids.append(request_id)
        if self.cancel_fails:
            raise TimeoutError("no reply to cancel")
        self.cancelled.append((ticket_id, reason))
        return {"ok": True, "ticket": ticket_id}

    def publish_event(self, topic_suffix, payload):
        json.dumps(payload)  # it must be sendable
        self.events.append((topic_suffix, payload))


class Hall:
    """A kiosk with a primary and (optionally) a fallback printer, each a fake on a pty."""

    def __init__(self, fallback: bool, primary_paper: int = 80, fallback_paper: int = 58, transport: str = "pty",
                 speed_mm_s: float | None = None, config_speed: float | None = None, **client_args):
        fake = dict(transport=transport, speed_mm_s=speed_mm_s)
        self.primary = FakePrinter(primary_paper, name="primary", **fake).start()
        self.spare = FakePrinter(fallback_paper, name="spare", **fake).start() if fallback else None
        speed = {"speed_mm_s": config_speed} if config_speed else {}
        self.stations = [PrintStation(printer_from_url(self.primary.url, primary_paper, printer_id="k1-main",
                                                       **speed), poll_interval=60).start()]
        if self.spare:
            self.stations.append(PrintStation(printer_from_url(self.spare.url, fallback_paper, printer_id="k1-spare",
                                                               **speed), poll_interval=60).start())
        self.client = FakeQueueClient(**client_args)
        self.desk = TicketDesk(site(), self.client, self.stations[0], self.stations[1] if fallback else None,
                               kiosk_id="kiosk-1", now=lambda: datetime(2026, 11, 23, 9, 1, 2, tzinfo=site().tz))

    def take(self, business_type="D", item="HB:2036023002", lang="zh"):
        started = time.monotonic()
        outcome = self.desk.take_ticket(business_type, item=item, lang=lang)
        outcome.took = time.monotonic() - started
        for p in (self.primary, self.spare):
            if p is not None and not p.unplugged:
                p.wait_idle(quiet=0.03)
        return outcome

    def close(self):
        self.desk.close()
        for st in self.stations:
            st.stop()
        for p in (self.primary, self.spare):
            if p is not None:
                p.stop()


@pytest.fixture
def hall():
    h = Hall(fallback=False)
    yield h
    h.close()


@pytest.fixture
def hall_with_spare():
    h = Hall(fallback=True)
    yield h
    h.close()


@pytest.fixture
def network_hall(request):
    """Network printers (status answers queue behind print data) printing at 200 mm/s, with a spare."""
    h = Hall(fallback=True, transport="tcp", speed_mm_s=200, config_speed=getattr(request, "param", None))
    yield h
    h.close()


def tickets_on(printer: FakePrinter) -> list[str]:
    return [parse_ticket_code(r.text) for r in zxingcpp.read_barcodes(printer.roll_image())
            if r.text.startswith("demo-county:")]


def test_a_citizen_gets_a_ticket_and_the_items_notice_slip(hall):
    outcome = hall.take()
    assert outcome.issued and outcome.printer == "k1-main" and outcome.slip_printed
    assert outcome.message("zh") == "请取走您的号票：D001"
    assert tickets_on(hall.primary) == ["demo-county:2026-11-23:D001"]
    assert hall.primary.cuts() == 2  # ticket, then slip
    text = hall.primary.text()
    assert "一次性告知单" in text and "住院费用手工（零星）报销" in text
    assert hall.client.cancelled == [] and hall.client.events == []
    assert hall.client.request_ids[0].startswith("kiosk-1-")


def test_an_english_ticket_without_an_item_has_no_slip(hall):
    outcome = hall.take("B", item=None, lang="en")
    assert outcome.issued and outcome.slip_printed is None
    assert "People ahead of you: 4" in hall.primary.text() and hall.primary.cuts() == 1


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_printer_fault_without_a_fallback_voids_the_ticket(hall, fault):
    FAULTS[fault](hall.primary)
    outcome = hall.take()
    assert not outcome.issued and outcome.status == "print_failed"
    assert outcome.reason == EXPECTED_REASON[fault] and outcome.voided
    assert outcome.took < HANG_LIMIT, f"the kiosk hung {outcome.took:.2f} s on {fault}"
    assert hall.client.cancelled == [("demo-county:2026-11-23:D001", "print_failed")]
    [(topic, event)] = hall.client.events
    assert topic == "print" and event["kind"] == "print_failed" and event["outcome"] == "voided"
    assert (event["kiosk"], event["printer"], event["reason"], event["number"]) == \
        ("kiosk-1", "k1-main", EXPECTED_REASON[fault], "D001")
    assert "联系现场工作人员" in outcome.message("zh") and "ask a member of staff" in outcome.message("en")
    if fault != "device unplugged":
        assert tickets_on(hall.primary) == []  # no whole ticket came out


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_printer_fault_with_a_fallback_reprints_the_ticket_there(hall_with_spare, fault):
    h = hall_with_spare
    FAULTS[fault](h.primary)
    outcome = h.take()
    assert outcome.issued and outcome.printer == "k1-spare" and outcome.slip_printed
    assert outcome.took < HANG_LIMIT, f"the kiosk hung {outcome.took:.2f} s on {fault}"
    assert tickets_on(h.spare) == ["demo-county:2026-11-23:D001"]
    assert h.spare.find("D001").width == 4  # 58 mm spare: laid out for its own paper
    assert all(r.dots <= 384 for r in h.spare.printed() if hasattr(r, "dots"))
    assert h.client.cancelled == []
    [(_, event)] = h.client.events
    assert (event["outcome"], event["printer"], event["reason"]) == ("reprinted", "k1-main", EXPECTED_REASON[fault])


def test_when_both_printers_fail_the_ticket_is_voided_within_the_limit(hall_with_spare):
    h = hall_with_spare
    h.primary.silent = True
    h.spare.silent = True
    outcome = h.take()
    assert outcome.status == "print_failed" and outcome.took < HANG_LIMIT
    assert outcome.failures == [("k1-main", "no_answer"), ("k1-spare", "no_answer")]
    [(_, event)] = h.client.events
    assert event["outcome"] == "voided" and event["fallback"] == {"printer": "k1-spare", "reason": "no_answer"}
    assert h.client.cancelled == [("demo-county:2026-11-23:D001", "print_failed")]


def test_a_refused_ticket_prints_a_refusal_slip_with_the_next_opening(hall):
    hall.client.refuse = {"code": "outside_hours", "message": "tickets are issued only during opening hours",
                          "next_open": "2026-11-24T08:30:00+08:00"}
    outcome = hall.take()
    assert outcome.status == "refused" and outcome.reason == "outside_hours" and outcome.refusal_printed
    text = hall.primary.text()
    assert "暂不能取号" in text and "现在不在取号时间内" in text and "2026-11-24 08:30" in text
    assert "2026-11-24 08:30" in outcome.message("zh") and "not issued at this time" in outcome.message("en")
    assert hall.client.cancelled == [] and tickets_on(hall.primary) == []


def test_a_closed_business_type_without_a_next_opening(hall):
    hall.client.refuse = {"code": "business_type_closed", "message": "closed", "next_open": None}
    outcome = hall.take("F", item=None, lang="en")
    assert outcome.status == "refused" and outcome.refusal_printed
    assert "This business type is closed today." in hall.primary.text()
    assert "Please ask staff when tickets are issued again." in hall.primary.text()


def test_a_refusal_slip_that_cannot_print_still_shows_the_refusal(hall):
    hall.client.refuse = {"code": "quota_reached", "message": "gone", "next_open": None}
    hall.primary.paper_out = True
    outcome = hall.take()
    assert outcome.status == "refused" and outcome.refusal_printed is False and outcome.took < HANG_LIMIT
    assert hall.client.events[0][1]["document"] == "refusal_slip"


def test_an_unreachable_server_prints_nothing_and_says_so(hall):
    hall.client.unreachable = True
    outcome = hall.take()
    assert outcome.status == "unavailable" and not outcome.issued
    assert "无法连接" in outcome.message("zh") and hall.primary.lines() == []


def test_a_cancel_that_cannot_reach_the_server_is_retried_before_the_next_ticket(hall):
    hall.client.cancel_fails = True
    hall.primary.paper_out = True
    assert hall.take().status == "print_failed"
    assert hall.desk.pending_cancels == ["demo-county:2026-11-23:D001"]
    hall.client.cancel_fails = False
    hall.primary.paper_out = False
    outcome = hall.take()
    assert outcome.issued and outcome.ticket["number"] == "D002"
    assert wait_until(lambda: hall.desk.pending_cancels == [], 3)
    assert hall.client.cancelled == [("demo-county:2026-11-23:D001", "print_failed")]


def test_a_slip_that_fails_after_the_ticket_printed_keeps_the_ticket(hall):
    hall.primary.paper_runs_out_after = 700  # enough for the ticket, not for the slip
    outcome = hall.take()
    assert outcome.issued and outcome.slip_printed is False
    assert "告知单未能打印" in outcome.message("zh")
    assert hall.client.cancelled == []
    [(_, event)] = hall.client.events
    assert (event["document"], event["outcome"]) == ("notice_slip", "not_printed")


def test_events_carry_no_personal_data(hall):
    hall.primary.cover_open = True
    hall.take()
    [(_, event)] = hall.client.events
    assert set(event) <= {"v", "kind", "kiosk", "printer", "reason", "reason_text", "document", "ticket",
                          "number", "outcome", "fallback"}


def test_a_kiosk_without_any_printer_voids_at_once():
    client = FakeQueueClient()
    desk = TicketDesk(site(), client, None, kiosk_id="kiosk-9")
    outcome = desk.take_ticket("A", item="CB-01")
    assert outcome.status == "print_failed" and outcome.elapsed < HANG_LIMIT
    assert client.cancelled == [("demo-county:2026-11-23:A001", "print_failed")]


def test_a_job_still_printing_when_the_kiosk_stops_waiting_counts_as_timed_out_and_maybe_printed():
    from hardware.printing.station import PrintJob
    from kiosk.ticketing import _reason

    job = PrintJob(b"x", "k1", state="printing")
    assert job.cancel() is False and _reason(job) == "timeout" and not job.unprinted  # too late to stop it
    queued = PrintJob(b"x", "k1")
    assert queued.cancel("timeout") and _reason(queued) == "timeout" and queued.unprinted


def test_paper_running_out_mid_ticket_is_uncertain_and_not_printed_again_on_the_spare(hall_with_spare):
    h = hall_with_spare
    h.primary.paper_runs_out_after = 120
    outcome = h.take()
    assert outcome.status == "uncertain" and outcome.reason == "paper_out" and outcome.printer == "k1-main"
    assert h.spare.lines() == [] and h.client.cancelled == [] and outcome.slip_printed is None
    assert "D001" in outcome.message("zh")


def test_a_slow_network_printer_issues_one_ticket_not_a_void_and_a_second_copy(network_hall):
    h = network_hall
    outcome = h.take(item=None)
    assert outcome.issued and outcome.printer == "k1-main"
    assert tickets_on(h.primary) == ["demo-county:2026-11-23:D001"] and h.spare.lines() == []
    assert h.client.cancelled == [] and h.client.events == []


@pytest.mark.parametrize("network_hall", [200], indirect=True)  # the configured speed sets the deadline
def test_a_printer_silent_just_after_the_ticket_is_reported_uncertain_and_never_printed_twice(network_hall):
    h = network_hall
    h.primary.after_cut(1, silent=True)
    outcome = h.take()
    assert outcome.status == "uncertain" and not outcome.issued and not outcome.voided
    assert outcome.ticket["number"] == "D001" and outcome.reason == "no_answer"
    assert "D001" in outcome.message("zh") and "D001" in outcome.message("en")
    assert tickets_on(h.primary) == ["demo-county:2026-11-23:D001"]
    assert h.spare.lines() == [] and h.client.cancelled == []  # no second copy, no void of a printed ticket
    [(_, event)] = h.client.events
    assert (event["outcome"], event["printer"], event["number"]) == ("uncertain", "k1-main", "D001")


# ---------------------------------------------------------------- the cancel outbox

class FlakyCancels:
    """The server's cancel as a kiosk sees it: unreachable `down` times, then acknowledging."""

    def __init__(self, down: int = 0, lose_replies: int = 0):
        self.down, self.lose_replies = down, lose_replies
        self.calls: list[tuple[str, str]] = []
        self.done: set[str] = set()

    def __call__(self, ticket_id, reason, request_id=None):
        self.calls.append((ticket_id, request_id))
        if self.down > 0:
            self.down -= 1
            raise TimeoutError("no reply to cancel")
        if ticket_id in self.done:
            return {"ok": False, "error": {"code": "wrong_state", "message": "already cancelled"}}
        self.done.add(ticket_id)
        if self.lose_replies > 0:  # the server did it, but the reply was lost on the way back
            self.lose_replies -= 1
            raise TimeoutError("reply lost")
        return {"ok": True}


def test_a_voided_ticket_is_cancelled_for_sure_even_after_a_kiosk_restart(tmp_path):
    from kiosk.ticketing_outbox import CancelOutbox

    path = tmp_path / "var" / "kiosk-1-cancels.jsonl"
    down = FlakyCancels(down=10 ** 6)  # the server cannot be reached before the restart
    before = CancelOutbox(path, down, delays=(0.01,))
    before.add("demo-county:2026-11-23:D001", "print_failed")
    assert not before.flush(0.1) and before.pending == ["demo-county:2026-11-23:D001"]
    before.close()  # the kiosk is switched off
    server = FlakyCancels(down=2, lose_replies=1)
    after = CancelOutbox(path, server, delays=(0.01,))
    try:
        assert after.flush(3) and after.pending == []
        first_request = down.calls[0][1]
        assert {rid for _, rid in server.calls} == {first_request}  # one request id across retries and restarts
        assert server.done == {"demo-county:2026-11-23:D001"} and len(server.calls) == 4
    finally:
        after.close()
    again = CancelOutbox(path, server)
    assert again.pending == [] and path.read_text() == ""  # compacted: nothing owed any more
    again.close()


def test_a_damaged_outbox_line_is_skipped_not_fatal(tmp_path):
    from kiosk.ticketing_outbox import CancelOutbox

    path = tmp_path / "cancels.jsonl"
    path.write_text('{"op": "cancel", "ticket": "T1", "reason": "print_failed", "request_id": "r1"}\n{"op": "can\n')
    box = CancelOutbox(path, FlakyCancels(down=10 ** 6), delays=(5,))
    try:
        assert box.pending == ["T1"]
    finally:
        box.close()


def test_the_kiosk_owes_the_cancel_on_disk_before_it_answers(tmp_path):
    client = FakeQueueClient()
    client.cancel_fails = True
    desk = TicketDesk(site(), client, None, kiosk_id="kiosk-9", cancel_wait=0.05,
                      outbox_path=str(tmp_path / "cancels.jsonl"))
    try:
        assert desk.take_ticket("A").status == "print_failed"
        assert "demo-county:2026-11-23:A001" in (tmp_path / "cancels.jsonl").read_text()
        assert desk.pending_cancels == ["demo-county:2026-11-23:A001"]
    finally:
        desk.close()


def test_the_screen_hears_of_the_printed_ticket_before_the_slip_prints(hall):
    seen = []

    def on_ticket(outcome):
        seen.append((outcome.status, outcome.ticket["number"], outcome.slip_printed, hall.primary.cuts()))

    outcome = hall.desk.take_ticket("D", item="HB:2036023002", on_ticket=on_ticket)
    assert seen == [("issued", "D001", None, 1)]  # the ticket is cut, the slip not yet sent
    assert outcome.slip_printed is True


def test_a_slip_cut_short_by_the_paper_is_not_printed_again_on_the_spare(hall_with_spare):
    h = hall_with_spare
    h.primary.paper_runs_out_after = 700  # the ticket prints whole, the slip runs out half way
    outcome = h.take()
    assert outcome.issued and outcome.printer == "k1-main" and outcome.slip_printed is False
    assert h.spare.lines() == [] and h.client.cancelled == []


def test_a_ticket_issued_during_the_lunch_break_prints_when_it_will_be_called(hall):
    issue = hall.client.issue

    def lunch_issue(*args, **kwargs):
        reply = issue(*args, **kwargs)
        reply["ticket"]["called_after"] = "2026-11-23T13:30:00+08:00"
        return reply

    hall.client.issue = lunch_issue
    assert hall.take(item=None).issued
    assert hall.primary.find("13:30 后叫号") is not None
