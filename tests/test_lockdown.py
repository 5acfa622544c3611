"""Who may say what, checked against a real Mosquitto started with the generated configuration
(passwords, ACL, TLS) and a server that checks roles. Every refusal is shown next to a control: the
same observer does receive the legitimate message, so "nothing arrived" means "dropped"."""
from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from broker import security
from broker.mosquitto import ManagedBroker
from onewindow import PROTOCOL_VERSION
from onewindow.client import QueueClient
from onewindow.mqtt import MqttTransport
from onewindow.topics import Topics
from queue_server.roles import Roles
from queue_server.server import QueueServer
from queue_server.store import Store
from tests.secure_broker import Probe
from tests.support import county_site, wait_until

SITE = "demo-county"
T = Topics(SITE)


class Site:
    def __init__(self):
        self.site = county_site()
        self.dir = Path(tempfile.mkdtemp(prefix="onewindow-lockdown-"))
        self.dir.chmod(0o755)
        self.files = security.generate(self.site, self.dir / "security")
        self.broker = ManagedBroker(self.dir / "broker", security=self.files, autosave_seconds=1).start()
        self.transports: list = []
        self.ids = itertools.count(1)  # thread-safe in CPython: clients made from many threads at once
        server_id = security.server_user(SITE)
        self.server_transport = MqttTransport(self.broker.settings_for(server_id), SITE, server_id, role="server",
                                              idle_interval=0.1)
        roles = Roles.from_devices(security.registry(self.site), server_id)
        self.server = QueueServer(self.site, Store(self.dir / "q.db", SITE, self.site.timezone),
                                  self.server_transport, always_open=True, roles=roles)
        self.server.start()
        self.server_transport.start()

    def transport(self, user: str, tls: bool = True, client_id: str | None = None) -> MqttTransport:
        # Each connection its own client id (one client id per connection, as MQTT demands); the user name
        # is what the ACL and the server go by.
        client_id = client_id or f"{user}-{next(self.ids)}"
        t = MqttTransport(self.broker.settings_for(user, tls=tls), SITE, client_id, presence=False)
        self.transports.append(t.start())
        return t

    def client(self, user: str, tls: bool = True) -> QueueClient:
        return QueueClient(self.transport(user, tls), SITE, user, timeout=1.0, attempts=2)

    def listen(self, user: str, topic_filter: str) -> list:
        got: list = []
        self.transport(user).subscribe(topic_filter, lambda t, p: got.append((t, json.loads(p))))
        return got

    def close(self):
        for t in self.transports:
            t.stop()
        self.server_transport.stop()
        self.server.store.close()
        self.broker.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def hall():
    site = Site()
    yield site
    site.close()


def _raw(hall, user: str, topic: str, body: dict) -> None:
    hall.transport(user, client_id=f"{user}-raw-{time.monotonic_ns()}").publish(topic, json.dumps(body), qos=1)


def test_a_kiosk_issues_over_tls_and_the_ticket_names_the_kiosk(hall):
    kiosk = hall.client("kiosk-1")
    reply = kiosk.issue("A")
    assert reply["ok"], reply
    rows = hall.server.store.conn.execute(
        "SELECT json_extract(data, '$.kiosk') FROM events WHERE type = 'ticket_issued'").fetchall()
    assert ("kiosk-1",) in rows


@pytest.mark.parametrize("user, command, args", [
    ("kiosk-1", "call_next", {"window": 1, "clerk": "wang"}),
    ("kiosk-1", "set_business_type", {"business_type": "A", "open": False}),
    ("kiosk-1", "rate", {"ticket": "A001", "score": 1}),
    ("display-1", "issue", {"business_type": "A"}),
    ("window-3", "set_business_type", {"business_type": "A", "open": False}),
    ("console", "set_business_type", {"business_type": "A", "open": False}),
    ("window-3", "sign_in", {"window": 4, "clerk": "li"}),
])
def test_what_a_role_may_not_do_is_refused_as_forbidden(hall, user, command, args):
    reply = hall.client(user).request(command, **args)
    assert not reply["ok"] and reply["error"]["code"] == "forbidden", reply


def test_a_window_device_acts_for_its_own_window(hall):
    pad = hall.client("window-3")
    assert pad.window("sign_in", 3, "zhang")["ok"]
    assert hall.client("kiosk-2").issue("A")["ok"]
    called = pad.window("call_next", 3, "zhang")
    assert called["ok"], called
    assert pad.window("start", 3, "zhang")["ok"] and pad.window("finish", 3, "zhang")["ok"]
    ticket = called["ticket"]["number"]
    assert not hall.client("window-5").request("rate", ticket=ticket, score=1, window=5)["ok"]
    assert hall.client("window-5").request("rate", ticket=ticket, score=1)["error"]["code"] == "forbidden"
    assert pad.request("rate", ticket=ticket, score=5)["ok"]  # its own window's visit: fills in window 3
    assert pad.window("sign_out", 3, "zhang")["ok"]


def test_the_console_acts_for_any_window_and_the_manager_closes_a_business_type(hall):
    console = hall.client("console")
    assert console.window("sign_in", 7, "chen")["ok"] and console.window("sign_out", 7, "chen")["ok"]
    manager = hall.client("manager")
    assert manager.request("set_business_type", business_type="F", open=False)["ok"]
    assert manager.request("set_business_type", business_type="F", open=True)["ok"]


def test_a_command_published_under_another_name_is_dropped_by_the_broker(hall):
    before = dict(hall.server.stats)
    body = {"v": PROTOCOL_VERSION, "request_id": "forged-1", "reply_to": T.reply("window-4"), "window": 4,
            "clerk": "evil"}
    _raw(hall, "window-3", T.cmd("sign_in", "window-4"), body)  # window-3 poses as window-4
    _raw(hall, "kiosk-2", T.cmd("issue", "kiosk-1"), {**body, "request_id": "forged-2",
                                                     "reply_to": T.reply("kiosk-1"), "business_type": "A"})
    control = hall.client("window-4").window("sign_in", 4, "li")  # the real window-4 after them
    assert control["ok"] and control["clerk"] == "li", control
    stats = hall.server.stats
    assert stats["commands"] == before["commands"] + 1 and stats["bad"] == before["bad"]
    assert hall.client("window-4").window("sign_out", 4, "li")["ok"]


def test_only_the_server_answers_and_only_the_addressee_reads_a_reply(hall):
    spy = hall.listen("kiosk-2", T.reply("kiosk-1"))          # reading another's replies: denied
    sniff = hall.listen("display-1", f"onewindow/{SITE}/cmd/#")  # reading commands: denied
    kiosk1 = hall.transport("kiosk-1", client_id="kiosk-1-watch")
    seen: list = []
    kiosk1.subscribe(T.reply("kiosk-1"), lambda t, p: seen.append(json.loads(p)))
    fake = {"v": PROTOCOL_VERSION, "request_id": "kiosk-1-x-1", "ok": True, "ticket": {"number": "Z999"}}
    for user in ("kiosk-2", "window-3", "console", "manager", "display-1"):
        _raw(hall, user, T.reply("kiosk-1"), fake)            # answering as the server: dropped
    reply = hall.client("kiosk-1").issue("B")                  # control: the real server's reply
    assert reply["ok"]
    assert wait_until(lambda: any(r.get("ticket", {}).get("number") == reply["ticket"]["number"] for r in seen))
    time.sleep(0.3)
    assert not any(r.get("ticket", {}).get("number") == "Z999" for r in seen)
    assert spy == [] and sniff == []


def test_only_the_server_publishes_state_and_calls(hall):
    watched: list = []
    display = hall.transport("display-1", client_id="display-1-watch")
    display.subscribe(f"onewindow/{SITE}/state/queue/C", lambda t, p: watched.append(("state", json.loads(p))))
    display.subscribe(T.calls, lambda t, p: watched.append(("call", json.loads(p))))
    hall.transport("manager", client_id="manager-watch").subscribe(  # displays may not read the log
        T.log, lambda t, p: watched.append(("log", json.loads(p))))
    wait_until(lambda: watched, 2)  # the retained queue state, from the server
    watched.clear()
    forged_state = {"v": PROTOCOL_VERSION, "waiting": 0, "forged": True}
    for user in ("kiosk-1", "window-3", "console", "manager"):
        hall.transport(user, client_id=f"{user}-forger").publish(T.queue("C"), json.dumps(forged_state), retain=True)
        hall.transport(user, client_id=f"{user}-caller").publish(T.calls, json.dumps({"v": 2, "forged": True}))
        hall.transport(user, client_id=f"{user}-logger").publish(T.log, json.dumps({"v": 2, "forged": True}))
    pad = hall.client("window-6")                             # control: a real call makes all three
    assert hall.client("kiosk-1").issue("C")["ok"]
    assert pad.window("sign_in", 6, "wu")["ok"] and pad.window("call_next", 6, "wu")["ok"]
    assert wait_until(lambda: {k for k, _ in watched} == {"state", "call", "log"}, 5), watched
    assert not any(p.get("forged") for _, p in watched)
    late: list = []
    hall.transport("display-1", client_id="display-1-late").subscribe(
        T.queue("C"), lambda t, p: late.append(json.loads(p)))
    assert wait_until(lambda: late, 3) and not late[-1].get("forged")  # the retained state is the server's
    for step in ("start", "finish", "sign_out"):
        assert pad.window(step, 6, "wu")["ok"], step


def test_anonymous_clients_and_wrong_passwords_cannot_connect(hall):
    b = hall.broker

    class B:  # what Probe needs from a broker
        port, tls_port, files = b.port, b.tls_port, hall.files

        @staticmethod
        def password(user):
            return hall.files.password(user)
    for user, password, tls in ((None, None, False), (None, None, True), ("kiosk-1", "guess", True),
                                ("kiosk-1", hall.files.password("kiosk-2"), False), ("root", "root", False)):
        probe = Probe(B, user, password, tls=tls)
        assert not probe.connect(), (user, tls)
        probe.close()
    probe = Probe(B, "kiosk-1", tls=True)  # control
    assert probe.connect()
    probe.close()


def test_a_second_server_for_the_same_site_on_the_same_broker_is_refused(hall, tmp_path):
    server_file = hall.files.device_file(security.server_user(SITE))
    out = subprocess.run([sys.executable, "-m", "cli", "server", "--broker", hall.broker.url, "--db",
                          str(tmp_path / "other.db"), "--credentials", str(server_file), "--always-open"],
                         capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 1, out.stdout + out.stderr[-2000:]
    assert "another queue server of site demo-county" in out.stdout
    assert hall.client("kiosk-1").issue("A")["ok"]  # the first one was not disturbed


def test_a_kiosk_cancels_only_the_tickets_it_issued(hall):
    mine = hall.client("kiosk-1").issue("E")["ticket"]["number"]
    theirs = hall.client("console").issue("E")["ticket"]["number"]
    other = hall.client("kiosk-2")
    assert other.cancel(mine)["error"]["code"] == "forbidden"
    assert other.cancel(theirs)["error"]["code"] == "forbidden"
    assert hall.client("kiosk-1").cancel(mine)["ok"]           # its own
    assert hall.client("console").cancel(theirs)["ok"]          # the counter may cancel any


def test_a_server_without_credentials_says_so_and_stops(hall, tmp_path):
    out = subprocess.run([sys.executable, "-m", "cli", "server", "--broker", hall.broker.url, "--db",
                          str(tmp_path / "x.db"), "--always-open"], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 1 and "refused the server's connection" in out.stdout, out.stdout + out.stderr[-800:]
    assert "--credentials" in out.stdout


def test_a_rotated_password_works_after_a_reload_and_the_old_one_does_not(hall):
    from tests.secure_broker import Probe

    class B:
        port, tls_port, files = hall.broker.port, hall.broker.tls_port, hall.files
    old = hall.files.password("display-1")
    security.generate(hall.site, hall.files.directory, rotate=("display-1",))
    new = hall.files.password("display-1")
    assert new != old and hall.files.password("kiosk-1") is not None
    hall.broker.reload()
    time.sleep(0.5)
    for password, expected in ((old, False), (new, True)):
        probe = Probe(B, "display-1", password, tls=True)
        assert probe.connect() is expected, password == new
        probe.close()


def test_no_personal_data_in_retained_state(hall):
    from queue_server.commands import contains_personal_data
    retained: dict = {}
    hall.transport("manager").subscribe(f"onewindow/{SITE}/#", lambda t, p: retained.__setitem__(t, p))
    time.sleep(1.0)
    assert len(retained) > 20
    assert not [t for t, p in retained.items() if contains_personal_data(p.decode("utf-8", "replace"))]
