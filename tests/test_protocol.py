"""The wire protocol through a real Mosquitto: request/reply, calls, retained state, broker restarts,
and a storm of malformed payloads."""
from __future__ import annotations

import json
import random
import re
import threading
import time

import pytest

from onewindow import PROTOCOL_VERSION
from onewindow.client import QueueClient
from onewindow.mqtt import MqttTransport
from tests.server_process import ServerProcess
from tests.support import wait_until

SITE = "demo-county"


class Watcher:
    """A subscriber that keeps the latest message of every topic it sees."""

    def __init__(self, broker, topic_filter, client_id):
        self.latest: dict[str, dict] = {}
        self.all: list[tuple[str, dict]] = []
        self.changed = threading.Condition()
        self.transport = MqttTransport(broker.settings, SITE, client_id, role="display")
        self.transport.subscribe(topic_filter, self._on)
        self.transport.start()

    def _on(self, topic, payload):
        data = json.loads(payload)
        with self.changed:
            self.latest[topic] = data
            self.all.append((topic, data))
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self.latest):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
        return True

    def stop(self):
        self.transport.stop()


@pytest.fixture
def site_up(tmp_path, broker):
    server = ServerProcess(broker.url, tmp_path / "queue.db").start()
    transports = []

    def client(name, role="kiosk"):
        t = MqttTransport(broker.settings, SITE, name, role=role).start()
        transports.append(t)
        return QueueClient(t, SITE, name)

    yield broker, server, client
    for t in transports:
        t.stop()
    server.stop()


def window_state(n):
    return f"onewindow/{SITE}/state/window/{n}"


def test_a_kiosk_a_clerk_and_a_display_work_together_over_mqtt(site_up):
    broker, server, client = site_up
    display = Watcher(broker, f"onewindow/{SITE}/#", "display-1")
    kiosk, clerk = client("kiosk-1"), client("clerk-3", role="clerk")
    ticket = kiosk.issue("A", item="CB-01")["ticket"]
    assert ticket["number"] == "A001" and ticket["ahead"] == 0
    assert clerk.window("sign_in", 3, "wang")["state"] == "idle"
    call = clerk.window("call_next", 3, "wang")
    assert call["ticket"]["number"] == "A001"
    assert display.wait_for(lambda s: s.get(window_state(3), {}).get("state") == "calling")
    calls = [d for t, d in display.all if t == f"onewindow/{SITE}/event/call"]
    assert calls and calls[-1]["text_zh"] == "请 A001 号到 3 号窗口办理"
    assert display.wait_for(lambda s: s.get(f"onewindow/{SITE}/state/display", {}).get("calls"))
    # A refused command gets a clear error, not silence.
    refused = clerk.window("call_next", 3, "li")
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    presence = display.latest.get(f"onewindow/{SITE}/presence/server-{SITE}")
    assert presence and presence["state"] == "online"
    display.stop()


def test_a_late_subscriber_is_whole_at_once_even_after_a_broker_crash(site_up):
    broker, server, client = site_up
    kiosk, clerk = client("kiosk-1"), client("clerk-2", role="clerk")
    for prefix in "AAB":
        kiosk.issue(prefix)
    clerk.window("sign_in", 2, "wang")
    clerk.window("call_next", 2, "wang")

    broker.kill()  # SIGKILL: whatever mosquitto had not saved is gone; the supervisor restarts it
    deadline = time.monotonic() + 15
    while True:  # the server reconnects by itself and takes commands again
        try:
            reply = kiosk.request("issue", business_type="B", timeout=1.0, attempts=1)
            break
        except Exception:
            assert time.monotonic() < deadline, "the server did not come back after the broker restart"
    assert reply["ok"] and reply["ticket"]["number"] == "B002"
    assert server.wait_for_log("reconnect")

    late = Watcher(broker, f"onewindow/{SITE}/state/#", "display-late")
    assert late.wait_for(lambda s: s.get(window_state(2), {}).get("state") == "calling"
                         and s.get(f"onewindow/{SITE}/state/queue/B", {}).get("waiting") == 2
                         and f"onewindow/{SITE}/state/site" in s and f"onewindow/{SITE}/state/display" in s
                         and len([t for t in s if "/state/window/" in t]) == 12, timeout=5)
    assert late.latest[window_state(2)]["ticket"]["number"] == "A001"
    assert late.latest[f"onewindow/{SITE}/state/queue/A"]["next"] == ["A002"]
    assert late.latest[f"onewindow/{SITE}/state/site"]["business_types"][0]["prefix"] == "A"
    late.stop()


def malformed_payloads(rng: random.Random, command: str, reply_to: str):
    """(payload, has_valid_reply_to) pairs that are each invalid by construction."""
    good = {"v": PROTOCOL_VERSION, "request_id": "r-1", "reply_to": reply_to, "business_type": "A", "window": 1,
            "clerk": "wang", "ticket": "A001", "score": 5, "open": True}
    text = json.dumps(good)
    yield text[: rng.randint(0, len(text) - 1)].encode(), False  # truncated JSON
    yield bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300))), False  # random bytes
    yield json.dumps(rng.choice([[], 3, "x", None, [good]])).encode(), False  # not an object
    bad = dict(good, request_id=f"bad-{rng.getrandbits(40)}")
    field = rng.choice(["v", "request_id", "window", "clerk", "ticket", "score", "business_type", "open",
                        "extra", "id_number"])
    if field == "v":
        bad["v"] = rng.choice([0, 1, 3, "2", None])
    elif field == "request_id":
        bad["request_id"] = rng.choice(["", "a" * 65, "has space", 7])
        yield json.dumps(bad).encode(), True
        return
    elif field == "extra":
        bad["unexpected_field"] = 1
    elif field == "id_number":
        bad["note"] = "citizen 110101199003071234"
    else:
        bad[field] = rng.choice([-1, 10**6, "", [], {"x": 1}, 3.5, "Z" * 300])
    if command in ("snapshot",) and field not in ("v", "extra", "id_number"):
        bad["unexpected_field"] = 1  # snapshot takes no arguments: any field is bad
    yield json.dumps(bad).encode(), True
    yield json.dumps(dict(good, reply_to=rng.choice(["elsewhere/topic", "onewindow/other-site/reply/x",
                                                      f"onewindow/{SITE}/reply/a/b", 5]))).encode(), False


def test_thousands_of_malformed_payloads_on_every_command_topic_leave_the_server_answering(site_up):
    broker, server, client = site_up
    from queue_server.commands import SCHEMAS
    rng = random.Random(7)
    fuzzer = client("fuzzer")
    replies: list[dict] = []
    done = threading.Event()
    fuzzer.transport.subscribe(f"onewindow/{SITE}/reply/fuzz", lambda t, p: replies.append(json.loads(p)))
    sent = with_reply = 0
    while sent < 2000:
        for command in SCHEMAS:
            for payload, answerable in malformed_payloads(rng, command, f"onewindow/{SITE}/reply/fuzz"):
                fuzzer.transport.publish(f"onewindow/{SITE}/cmd/fuzz/{command}", payload, qos=1)
                sent += 1
                with_reply += answerable
                if sent > 900:
                    time.sleep(0.0025)  # within the per-sender budget (500 a second after 1,000 at once)
    fuzzer.transport.publish(f"onewindow/{SITE}/cmd/fuzz/no_such_command", b"{}", qos=1)
    # A valid request on the same connection, after all of them: its reply means all were handled.
    fuzzer.transport.publish(f"onewindow/{SITE}/cmd/fuzz/ticket_status", json.dumps(
        {"v": PROTOCOL_VERSION, "request_id": "final", "reply_to": f"onewindow/{SITE}/reply/fuzz",
         "ticket": "A001"}), qos=1)
    assert wait_until(lambda: any(r.get("request_id") == "final" for r in replies), 15)
    replies[:] = [r for r in replies if r.get("request_id") != "final"]
    # The server still answers a valid request afterwards.
    reply = client("kiosk-after").issue("A")
    assert reply["ok"] and reply["ticket"]["number"] == "A001"
    # Bad input is answered at most 20 times a second (100 at once) per sender, and a sender over its
    # message budget is dropped before parsing: replies are errors, some, never more than the answerable.
    assert wait_until(lambda: len(replies) >= min(with_reply, 100), 10), (len(replies), with_reply)
    assert len(replies) <= with_reply
    assert all(r["ok"] is False and r["error"]["code"] and r["error"]["message"] for r in replies)
    # Every message is accounted for in the server's stats (bad, or dropped over budget), and the log
    # holds a few lines per sender, not one per bad command.
    server.stop()
    stats = next(line for line in server.lines if "stopping:" in line)
    counts = {k: int(v) for k, v in re.findall(r"'(bad|dropped)': (\d+)", stats)}
    assert counts.get("bad", 0) + counts.get("dropped", 0) == sent + 1, (stats, sent)
    assert counts.get("dropped", 0) == 0  # paced within the budget: every one was parsed and refused
    assert sum(1 for line in server.lines if "bad " in line) < 100  # not one line per bad command
    assert not any("110101199003071234" in line for line in server.lines), "an ID number reached the log"
    assert server.proc.returncode == 0  # it stopped when asked, it did not die of the input
