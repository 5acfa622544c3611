"""A kiosk with a (fake) thermal printer against the real server through Mosquitto: a ticket the
printer could not print is voided at the server, and the manager hears of it."""
from __future__ import annotations

import json
import threading
import time

import pytest

from hardware.fakes.printer import FakePrinter
from hardware.printing.config import printer_from_url
from hardware.printing.station import PrintStation
from kiosk.ticketing import TicketDesk
from onewindow import config
from onewindow.client import QueueClient
from onewindow.mqtt import MqttTransport
from tests.server_process import ServerProcess

SITE = "demo-county"


@pytest.fixture
def kiosk(tmp_path, broker):
    server = ServerProcess(broker.url, tmp_path / "queue.db").start()
    printer = FakePrinter(paper_mm=80, transport="tcp", name="kiosk-1").start()
    station = PrintStation(printer_from_url(printer.url, printer_id="main")).start()
    transport = MqttTransport(broker.settings, SITE, "kiosk-1", role="kiosk").start()
    client = QueueClient(transport, SITE, "kiosk-1")
    events: list[dict] = []
    got = threading.Event()
    watcher = MqttTransport(broker.settings, SITE, "manager", role="manager").start()
    watcher.subscribe(f"onewindow/{SITE}/event/print", lambda t, p: (events.append(json.loads(p)), got.set()))
    site = config.load(config.sample_path())
    desk = TicketDesk(site, client, station, kiosk_id="kiosk-1")
    yield desk, printer, client, events, got
    for closer in (watcher.stop, transport.stop, station.stop, printer.stop, server.stop):
        closer()


def test_a_printed_ticket_is_issued_and_reads_right_on_paper(kiosk):
    desk, printer, client, events, _ = kiosk
    outcome = desk.take_ticket("D", item="HB:2036023002")
    assert outcome.status == "issued" and outcome.slip_printed
    printer.wait_idle()
    assert printer.find("D001") is not None
    assert printer.find("一次性告知单") is not None
    status = client.request("ticket_status", ticket="D001")
    assert status["ticket"]["state"] == "waiting"


def test_paper_out_voids_the_ticket_at_the_server_and_tells_the_manager(kiosk):
    desk, printer, client, events, got = kiosk
    printer.paper_out = True
    started = time.monotonic()
    outcome = desk.take_ticket("A")
    assert time.monotonic() - started < 4.0  # no hang: a print job that waited for paper would take its whole deadline
    assert outcome.status == "print_failed" and outcome.voided
    assert got.wait(3)
    assert events[0]["kind"] == "print_failed" and events[0]["reason"] == "paper_out"
    assert events[0]["outcome"] == "voided" and events[0]["kiosk"] == "kiosk-1"
    deadline = time.monotonic() + 3
    while client.request("ticket_status", ticket="A001")["ticket"]["state"] != "cancelled":
        assert time.monotonic() < deadline, "the unprinted ticket was not voided at the server"
        time.sleep(0.05)
    # While the printer is known to be out of paper, the kiosk asks for no more tickets.
    again = desk.take_ticket("A")
    assert again.status == "print_failed" and again.ticket is None
    deadline = time.monotonic() + 3
    while len(events) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert events[1]["outcome"] == "not_issued" and events[1]["ticket"] is None
    printer.paper_out = False  # staff put in a new roll
    assert desk.take_ticket("A").ticket["number"] == "A002"


class UnreachableForCancels:
    """The kiosk's queue client while the link drops just after the ticket was issued."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def cancel(self, *args, **kwargs):
        raise TimeoutError("no reply to cancel")


def test_a_voided_ticket_is_cancelled_at_the_server_after_a_kiosk_restart(kiosk, tmp_path):
    desk, printer, client, _, _ = kiosk
    outbox = tmp_path / "var" / "kiosk-1-cancels.jsonl"
    site = desk.site
    before = TicketDesk(site, UnreachableForCancels(client), desk.printers[0], kiosk_id="kiosk-1",
                        cancel_wait=0.1, outbox_path=str(outbox))
    printer.paper_out = True
    assert before.take_ticket("A").status == "print_failed"
    assert before.pending_cancels and client.request("ticket_status", ticket="A001")["ticket"]["state"] == "waiting"
    before.close()  # the kiosk restarts
    after = TicketDesk(site, client, desk.printers[0], kiosk_id="kiosk-1", outbox_path=str(outbox))
    try:
        assert after.outbox.flush(5)
        assert client.request("ticket_status", ticket="A001")["ticket"]["state"] == "cancelled"
    finally:
        after.close()


def test_a_slow_network_printer_gets_one_ticket_and_the_server_keeps_it(kiosk):
    desk, _, client, events, _ = kiosk
    slow = FakePrinter(paper_mm=80, transport="tcp", name="slow", speed_mm_s=150, status_behind_data=True).start()
    station = PrintStation(printer_from_url(slow.url, printer_id="slow")).start()
    try:
        outcome = TicketDesk(desk.site, client, station, kiosk_id="kiosk-1").take_ticket("B")
        assert outcome.status == "issued" and slow.cuts() == 1
        assert client.request("ticket_status", ticket="B001")["ticket"]["state"] == "waiting"
        assert events == []
    finally:
        station.stop()
        slow.stop()
