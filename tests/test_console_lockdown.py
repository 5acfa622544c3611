"""The console and the device bridge on a locked-down site: a real Mosquitto with passwords and the ACL
from the device registry, and a server that checks roles. The console acts with its own credential
(role console); a bridge with a window device's credential acts for that window only."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from broker import security
from broker.mosquitto import ManagedBroker
from clerk.bridge import Bridge
from clerk.config import parse
from console.accounts import Accounts
from console.runner import ConsoleRunner
from hardware.fakes.pads import FakePadBus
from onewindow.broker import free_port
from onewindow.client import QueueClient
from onewindow.mqtt import MqttTransport
from queue_server.roles import Roles
from queue_server.server import QueueServer
from queue_server.store import Store
from tests.console_support import PASSWORD
from tests.support import county_site, wait_until


@pytest.fixture(scope="module")
def site():
    s = county_site()
    d = Path(tempfile.mkdtemp(prefix="onewindow-console-lock-"))
    d.chmod(0o755)
    files = security.generate(s, d / "security")
    broker = ManagedBroker(d / "broker", security=files, autosave_seconds=1).start()
    server_id = security.server_user(s.site_id)
    server_t = MqttTransport(broker.settings_for(server_id), s.site_id, server_id, role="server", idle_interval=0.1)
    server = QueueServer(s, Store(d / "q.db", s.site_id, s.timezone), server_t, always_open=True,
                         roles=Roles.from_devices(security.registry(s), server_id))
    server.start()
    server_t.start()
    accounts = Accounts(d / "users.db")
    accounts.add("wang", "clerk", password=PASSWORD)
    accounts.close()
    console = ConsoleRunner(broker.settings_for("console"), s.site_id, d / "users.db", port=free_port(),
                            client_id="console-hall").start()
    assert console.transport.wait_connected(10)
    kiosk_t = MqttTransport(broker.settings_for("kiosk-1"), s.site_id, "kiosk-1", role="kiosk").start(10)
    bus = FakePadBus(d / "ttyPADS").start()
    pads = {"call": bus.add_call_pad(1), "stranger": bus.add_call_pad(2)}
    config = parse({"bridge": {"id": "window-3", "port": str(d / "ttyPADS"), "poll_interval": 0.2},
                    "pad": [{"address": 1, "kind": "call", "window": 3},
                            {"address": 2, "kind": "call", "window": 4}]})  # misconfigured: not its window
    bridge_t = MqttTransport(broker.settings_for("window-3"), s.site_id, "window-3", role="bridge")
    bridge = Bridge(config, bridge_t, s.site_id)
    bridge_t.start(10)
    bridge.start()

    class Site:
        pass
    x = Site()
    x.console, x.server, x.pads, x.bridge = console, server, pads, bridge
    x.kiosk = QueueClient(kiosk_t, s.site_id, "kiosk-1")
    yield x
    bridge.stop()
    for t in (bridge_t, kiosk_t):
        t.stop()
    console.stop()
    server_t.stop()
    server.store.close()
    bus.stop()
    broker.stop()
    shutil.rmtree(d, ignore_errors=True)


def test_the_console_signs_a_clerk_in_and_calls_under_its_own_credential(site):
    number = site.kiosk.issue("A")["ticket"]["number"]
    with httpx.Client(base_url=site.console.url, timeout=10) as c:
        me = c.post("/api/login", json={"username": "wang", "password": PASSWORD, "window": 3})
        assert me.status_code == 200, me.text
        r = c.post("/api/clerk/call_next", json={}, headers={"X-CSRF-Token": me.json()["csrf"]})
        assert r.status_code == 200, r.text
        assert r.json()["ticket"]["number"] == number
        ok = c.post("/api/clerk/finish", json={}, headers={"X-CSRF-Token": me.json()["csrf"]})
        assert ok.status_code == 200, ok.text


def test_a_bridge_acts_for_its_own_window_and_is_refused_for_another(site):
    assert wait_until(lambda: (site.console.hall.mirror.windows.get(3) or {}).get("clerk") == "wang")
    number = site.kiosk.issue("A")["ticket"]["number"]
    site.pads["call"].press("call")
    assert wait_until(lambda: site.pads["call"].display == f"{number} CALL 1"), site.pads["call"].display
    # A pad of window 4 on window 3's bridge (a wiring mistake): the server refuses what it sends.
    assert site.console.hall.command("sign_in", window=4, clerk="li")["ok"]
    assert wait_until(lambda: site.pads["stranger"].display == "IDLE"), site.pads["stranger"].display
    site.kiosk.issue("B")
    site.pads["stranger"].press("call")
    assert wait_until(lambda: site.pads["stranger"].display == "NOT YOU"), site.pads["stranger"].display
    assert site.server.engine.windows[4].state == "idle"


def test_the_bridge_status_reaches_the_console_through_the_acl(site):
    assert wait_until(lambda: "window-3" in site.console.hall.mirror.devices, timeout=10)
    status = site.console.hall.mirror.devices["window-3"]
    assert status["kind"] == "bridge" and status["parts"]["pad-1"] in ("ok", "offline")
