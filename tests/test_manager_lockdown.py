"""The manager pages on a locked-down site: a real Mosquitto with passwords and the ACL from the device
registry, and a server that checks roles. A console connected as the `manager` device may control the
hall; one connected with the `console` role (the clerk console's credential) is refused, in words."""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from broker import security
from broker.mosquitto import ManagedBroker
from console.accounts import Accounts
from console.runner import ConsoleRunner
from onewindow.broker import free_port
from onewindow.mqtt import MqttTransport
from queue_server.roles import Roles
from queue_server.server import QueueServer
from queue_server.store import Store
from tests.console_support import PASSWORD
from tests.support import county_site, wait_until


@pytest.fixture(scope="module")
def site():
    s = county_site()
    d = Path(tempfile.mkdtemp(prefix="onewindow-manager-lock-"))
    d.chmod(0o755)
    files = security.generate(s, d / "security")
    broker = ManagedBroker(d / "broker", security=files).start()
    server_id = security.server_user(s.site_id)
    server_t = MqttTransport(broker.settings_for(server_id), s.site_id, server_id, role="server", idle_interval=0.1)
    server = QueueServer(s, Store(d / "q.db", s.site_id, s.timezone), server_t, always_open=True,
                         roles=Roles.from_devices(security.registry(s), server_id))
    server.start()
    server_t.start()
    accounts = Accounts(d / "users.db")
    accounts.add("zhao", "manager", password=PASSWORD)
    accounts.close()
    consoles = {}
    for user in ("manager", "console"):
        consoles[user] = ConsoleRunner(broker.settings_for(user), s.site_id, d / "users.db", port=free_port(),
                                       client_id=f"{user}-office",
                                       manager={"log_db": d / "q.db", "alerts_db": d / f"{user}-alerts.db"}).start()
        assert consoles[user].transport.wait_connected(10)
    kiosk_t = MqttTransport(broker.settings_for("kiosk-1"), s.site_id, "kiosk-1", role="kiosk").start(10)

    class Site:
        pass
    x = Site()
    x.consoles, x.server, x.kiosk_t, x.site = consoles, server, kiosk_t, s
    yield x
    kiosk_t.stop()
    for c in consoles.values():
        c.stop()
    server_t.stop()
    server.store.close()
    broker.stop()
    shutil.rmtree(d, ignore_errors=True)


@contextmanager
def manager_session(console):
    with httpx.Client(base_url=console.url, timeout=10) as c:
        r = c.post("/api/login", json={"username": "zhao", "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf"]
        yield c


def test_a_console_with_the_manager_credential_controls_the_hall(site):
    console = site.consoles["manager"]
    assert wait_until(lambda: console.hall.mirror.site is not None, 10)  # the ACL lets it read the state
    with manager_session(console) as c:
        r = c.post("/api/manager/notice", json={"text": "系统维护 Maintenance"})
        assert r.status_code == 200 and r.json()["notice"] == "系统维护 Maintenance"
        r = c.post("/api/manager/window/5/open", json={"clerk": "qian"})
        assert r.status_code == 200 and r.json()["state"] == "idle"
        assert c.post("/api/manager/window/5/pause", json={}).json()["state"] == "paused"
        assert c.post("/api/manager/business_type/F", json={"open": False}).json()["open"] is False
        assert c.get("/api/manager/followups").json()["source"] == "server"  # the follow_ups query is allowed
    assert site.server.engine.notice == "系统维护 Maintenance" and site.server.engine.type_open["F"] is False


def test_the_manager_console_sees_a_kiosks_printer_running_out_of_paper(site):
    import json
    from onewindow import PROTOCOL_VERSION
    from onewindow.topics import Topics
    status = {"v": PROTOCOL_VERSION, "device": "kiosk-1", "kind": "kiosk", "state": "degraded",
              "parts": {"printer": "paper_out"}}
    site.kiosk_t.publish(Topics(site.site.site_id).device_status("kiosk-1"), json.dumps(status), qos=1, retain=True)
    desk = site.consoles["manager"].app.state.desk
    assert wait_until(lambda: any(a["kind"] == "paper_out" for a in desk.alerts()), 10)


def test_a_console_with_the_clerk_console_credential_is_refused_manager_actions(site):
    with manager_session(site.consoles["console"]) as c:
        r = c.post("/api/manager/notice", json={"text": "not allowed"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "forbidden"
        r = c.post("/api/manager/business_type/A", json={"open": False})
        assert r.status_code == 409 and r.json()["error"]["code"] == "forbidden"
    assert site.server.engine.type_open["A"] is True and site.server.engine.notice != "not allowed"
