"""The kiosk on a locked-down site (passwords, ACL, TLS): with its own credential it sees the hall,
takes a number, publishes its device status, and hears the server's presence, so it goes out of
service when the server is gone and comes back by itself."""
from __future__ import annotations

import json

import pytest

from hardware.fakes.printer import FakePrinter
from hardware.printing.config import printer_from_url
from hardware.printing.station import PrintStation
from kiosk.runtime import KioskRuntime
from kiosk.settings import KioskSettings
from onewindow.mqtt import MqttTransport
from tests.support import wait_until
from tests.test_lockdown import SITE, Site


@pytest.fixture
def locked():
    site = Site()
    printer = FakePrinter(paper_mm=80, transport="tcp", name="locked").start()
    station = PrintStation(printer_from_url(printer.url, printer_id="main"), poll_interval=0.2).start()
    transport = MqttTransport(site.broker.settings_for("kiosk-1", tls=True), SITE, "kiosk-1", role="kiosk")
    rt = KioskRuntime(site.site, KioskSettings(id="kiosk-1"), transport, stations=[station], outbox_path=None,
                      run=lambda fn, *a: fn(*a)).start()
    yield site, rt, printer
    rt.stop()
    station.stop()
    printer.stop()
    site.close()


def test_a_kiosk_with_its_own_credential_serves_and_reports(locked):
    site, rt, printer = locked
    p = rt.presenter
    assert wait_until(lambda: p.screen().name == "home", 10), p.health()
    statuses = site.listen("manager", f"onewindow/{SITE}/device/+/status")
    assert wait_until(lambda: any(s["device"] == "kiosk-1" and s["state"] == "ok" for _, s in statuses), 10)
    p.tap("type:B")
    p.tap("take")
    assert p.screen().name == "result" and p.screen().big == "B001"
    printer.wait_idle()
    assert printer.find("B001") is not None
    p.tap("done")
    assert rt.mirror.presence[f"server-{SITE}"]["state"] == "online"  # the ACL lets a kiosk read it
    site.server_transport.stop()  # the server goes away: its presence says offline
    assert wait_until(lambda: p.screen().name == "out_of_service", 10)
    assert wait_until(lambda: any(s["state"] == "out_of_service" and s["parts"]["server"] == "offline"
                                  for _, s in statuses), 10), (p.health(), [s for _, s in statuses][-2:])
