"""The MQTT transport: reconnection, resubscription, TCP_NODELAY, presence and last will, wildcards;
and the in-process transport that stands in for it in handler tests."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from onewindow.mqtt import LocalBroker, MqttTransport, topic_matches
from tests.broker_fixture import broker  # noqa: F401
from tests.support import wait_until

ROOT = Path(__file__).resolve().parent.parent
SITE = "demo-county"


class Inbox:
    """Collects (topic, payload) and lets a test wait for a matching message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._cond = threading.Condition()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self._cond:
            self.messages.append((topic, payload))
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 5.0):
        with self._cond:
            found = self._cond.wait_for(lambda: next((m for m in self.messages if predicate(*m)), None), timeout)
        return found


def presence(payload: bytes) -> dict:
    return json.loads(payload)


def nodelay(t: MqttTransport) -> int:
    return t.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_after_a_broker_restart_the_transport_reconnects_resubscribes_and_keeps_tcp_nodelay(broker):
    inbox, hook_calls = Inbox(), []
    t = MqttTransport(broker.settings, SITE, "display-1", role="display",
                      on_connected=lambda: hook_calls.append(time.monotonic()))
    t.subscribe(f"onewindow/{SITE}/state/#", inbox)
    with t.start(), MqttTransport(broker.settings, SITE, "sender", presence=False) as sender:
        assert nodelay(t)
        broker.restart()
        assert wait_until(lambda: t.connects == 2 and t.connected, 10)
        assert nodelay(t), "TCP_NODELAY must be set again on the new socket"
        assert len(hook_calls) == 2  # on_connected runs after each (re)subscription
        assert sender.wait_connected(10)
        sender.publish(f"onewindow/{SITE}/state/windows", b"after restart")
        assert inbox.wait_for(lambda topic, p: p == b"after restart")


def test_the_transport_comes_back_after_the_broker_is_killed(broker):
    inbox = Inbox()
    t = MqttTransport(broker.settings, SITE, "kiosk-1", role="kiosk")
    t.subscribe(f"onewindow/{SITE}/reply/kiosk-1", inbox)
    with t.start():
        generation = broker.generation
        broker.kill()
        broker.wait_ready(generation)
        assert wait_until(lambda: t.connects == 2 and t.connected, 10)
        t.publish(f"onewindow/{SITE}/reply/kiosk-1", {"ok": True})
        assert inbox.wait_for(lambda topic, p: json.loads(p) == {"ok": True})


def test_presence_is_online_while_connected_and_offline_after_a_clean_stop(broker):
    watcher = Inbox()
    with MqttTransport(broker.settings, SITE, "watcher", presence=False) as w:
        w.subscribe(f"onewindow/{SITE}/presence/+", watcher)
        kiosk = MqttTransport(broker.settings, SITE, "kiosk-7", role="kiosk").start()
        online = watcher.wait_for(lambda topic, p: topic.endswith("/kiosk-7") and presence(p)["state"] == "online")
        assert online and presence(online[1])["role"] == "kiosk" and presence(online[1])["v"] == 1
        kiosk.stop()
        assert watcher.wait_for(lambda topic, p: presence(p)["client"] == "kiosk-7"
                                and presence(p)["state"] == "offline")
    # retained: someone arriving later learns the kiosk is offline
    late = Inbox()
    with MqttTransport(broker.settings, SITE, "late", presence=False) as t:
        t.subscribe(f"onewindow/{SITE}/presence/kiosk-7", late)
        got = late.wait_for(lambda topic, p: True)
        assert got and presence(got[1])["state"] == "offline"


def test_the_last_will_marks_a_crashed_client_offline(broker):
    watcher = Inbox()
    code = ("import sys, time; from onewindow.broker import BrokerSettings; from onewindow.mqtt import MqttTransport;"
            f"MqttTransport(BrokerSettings.from_url(sys.argv[1]), '{SITE}', 'clerk-3', role='clerk').start();"
            "print('up', flush=True); time.sleep(30)")
    with MqttTransport(broker.settings, SITE, "watcher", presence=False) as w:
        w.subscribe(f"onewindow/{SITE}/presence/clerk-3", watcher)
        proc = subprocess.Popen([sys.executable, "-c", code, broker.url], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "up"
            assert watcher.wait_for(lambda topic, p: presence(p)["state"] == "online")
            proc.kill()  # no DISCONNECT: the broker publishes the will
        finally:
            proc.kill()
            proc.wait()
        offline = watcher.wait_for(lambda topic, p: presence(p)["state"] == "offline")
        assert offline and presence(offline[1])["role"] == "clerk"


def test_wildcards_match_whole_levels_through_the_broker(broker):
    inbox = Inbox()
    with MqttTransport(broker.settings, SITE, "display", presence=False) as t, \
            MqttTransport(broker.settings, SITE, "sender", presence=False) as s:
        t.subscribe(f"onewindow/{SITE}/reply/k1", inbox)
        t.subscribe(f"onewindow/{SITE}/window/+/state", inbox)
        for topic in (f"onewindow/{SITE}/reply/xk1", f"onewindow/{SITE}/x/reply/k1",
                      f"onewindow/{SITE}/window/3/state", f"onewindow/{SITE}/window/3/x/state",
                      f"onewindow/{SITE}/reply/k1"):
            s.publish(topic, topic)
        assert inbox.wait_for(lambda topic, p: topic.endswith("/reply/k1") and "/x/" not in topic)
        time.sleep(0.2)
        assert sorted(topic for topic, _ in inbox.messages) == [f"onewindow/{SITE}/reply/k1",
                                                               f"onewindow/{SITE}/window/3/state"]


@pytest.mark.parametrize("topic_filter, topic, matches", [
    ("onewindow/+/cmd/#", "onewindow/demo/cmd/issue", True),
    ("onewindow/+/cmd/#", "onewindow/demo/cmd", True),
    ("onewindow/+/cmd/#", "onewindow/demo/cmdx/issue", False),
    ("onewindow/demo/reply/k1", "onewindow/demo/reply/xk1", False),
    ("reply/k1", "onewindow/demo/reply/k1", False),  # a suffix is not a match
    ("onewindow/+/presence/+", "onewindow/demo/presence/kiosk-1", True),
    ("onewindow/+/presence/+", "onewindow/demo/presence/kiosk-1/x", False),
])
def test_topic_matching_follows_mqtt_rules(topic_filter, topic, matches):
    assert topic_matches(topic_filter, topic) is matches


def test_a_failing_handler_does_not_stop_delivery(broker):
    inbox = Inbox()

    def broken(topic, payload):
        raise RuntimeError("bug in a handler")

    with MqttTransport(broker.settings, SITE, "server", presence=False) as t:
        t.subscribe(f"onewindow/{SITE}/cmd/#", broken)
        t.subscribe(f"onewindow/{SITE}/cmd/#", inbox)
        t.publish(f"onewindow/{SITE}/cmd/issue", b"1")
        t.publish(f"onewindow/{SITE}/cmd/issue", b"2")
        assert inbox.wait_for(lambda topic, p: p == b"2")
        assert [p for _, p in inbox.messages] == [b"1", b"2"]


def test_the_loop_hands_over_each_batch_and_sends_what_other_threads_publish_promptly(broker):
    batches, current = [], []

    def end_of_batch():
        if current:
            batches.append(list(current))
            current.clear()

    t = MqttTransport(broker.settings, SITE, "server", presence=False, on_batch_end=end_of_batch)
    t.subscribe(f"onewindow/{SITE}/cmd/issue", lambda topic, p: current.append(p))
    kiosk = MqttTransport(broker.settings, SITE, "kiosk", presence=False, idle_interval=30)
    with t.start(), kiosk.start():
        t0 = time.monotonic()
        for i in range(200):
            kiosk.publish(f"onewindow/{SITE}/cmd/issue", str(i))  # from this thread: must wake the loop
        assert wait_until(lambda: sum(map(len, batches)) == 200, 20)
        assert time.monotonic() - t0 < 20  # not waiting for the kiosk loop's 30 s idle wake-up
        assert [p for b in batches for p in b] == [str(i).encode() for i in range(200)]


def test_messages_read_in_one_go_are_all_delivered_at_once(broker):
    """The transport reads the socket 64 KiB at a time: a burst arrives in one read, more messages than one
    batch holds, and none of them may wait in the buffer for the next wake-up (here 30 s away)."""
    got = Inbox()
    t = MqttTransport(broker.settings, SITE, "server", presence=False, idle_interval=30, max_batch=16)
    t.subscribe(f"onewindow/{SITE}/cmd/#", got)
    with t.start(), MqttTransport(broker.settings, SITE, "kiosk", presence=False) as kiosk:
        for burst in range(3):
            for i in range(100):
                kiosk.publish(f"onewindow/{SITE}/cmd/issue", f"{burst}-{i}", qos=0)
            assert got.wait_for(lambda topic, p: p == f"{burst}-99".encode(), 5), f"burst {burst} stuck"
        assert [p for _, p in got.messages] == [f"{b}-{i}".encode() for b in range(3) for i in range(100)]
    assert t._client.buffered() == 0


def test_every_message_acknowledged_by_the_broker_is_forgotten(broker):
    """QoS 1: the transport keeps a message until its PUBACK (resent after a reconnect), then drops it."""
    t = MqttTransport(broker.settings, SITE, "server", presence=False)
    with t.start():
        for i in range(500):
            t.publish(f"onewindow/{SITE}/event/log", str(i), qos=1)
        assert wait_until(lambda: not t._client._out_messages, 10), f"{len(t._client._out_messages)} unacknowledged"
        assert t._client._inflight_messages == 0


def test_the_read_buffer_goes_with_its_connection():
    """Bytes read on one connection are never parsed as part of the next."""
    from paho.mqtt.enums import CallbackAPIVersion
    from onewindow.mqtt import _Client
    c = _Client(CallbackAPIVersion.VERSION2, client_id="t")
    old, old_peer = socket.socketpair()
    c._sock = old
    old_peer.sendall(b"ABCDEFGH")
    assert c._sock_recv(2) == b"AB" and c.buffered() == 6  # one read took all; served two at a time
    assert c._sock_recv(3) == b"CDE" and c.buffered() == 3
    c._sock_close()  # the connection is lost with "FGH" unread
    assert c.buffered() == 0
    new, new_peer = socket.socketpair()
    c._sock = new
    new_peer.sendall(b"Z")
    assert c._sock_recv(1) == b"Z"
    new_peer.close()
    assert c._sock_recv(1) == b""  # the end of a connection reads as it did
    for s in (old_peer, new):
        s.close()


def test_start_fails_clearly_when_no_broker_answers():
    from onewindow.broker import BrokerSettings, free_port
    t = MqttTransport(BrokerSettings(port=free_port()), SITE, "lonely", presence=False)
    with pytest.raises(ConnectionError, match="could not connect to the MQTT broker at mqtt://127.0.0.1:"):
        t.start(timeout=0.5)
    t.stop()


# --- the in-process transport ----------------------------------------------------------------------

def test_local_transports_deliver_by_wildcard_and_keep_retained_messages():
    bus = LocalBroker()
    server, display = bus.transport("server", "server", SITE), bus.transport("display-1", "display", SITE)
    inbox = Inbox()
    with server, display:
        server.publish(f"onewindow/{SITE}/state/windows", {"open": [1, 2]}, retain=True)
        display.subscribe(f"onewindow/{SITE}/state/#", inbox)  # gets the retained state at once
        server.publish(f"onewindow/{SITE}/statex", b"no")
        assert [(t, json.loads(p)) for t, p in inbox.messages] == [(f"onewindow/{SITE}/state/windows",
                                                                    {"open": [1, 2]})]
        online = json.loads(bus.retained[f"onewindow/{SITE}/presence/display-1"])
        assert online["state"] == "online"
        assert datetime.fromisoformat(online["at"]).utcoffset() == datetime.now().astimezone().utcoffset()
    assert json.loads(bus.retained[f"onewindow/{SITE}/presence/display-1"])["state"] == "offline"


def test_a_local_reply_published_from_a_handler_arrives_after_the_handler_returns():
    bus = LocalBroker()
    order = []
    with bus.transport("server", site=SITE) as server, bus.transport("kiosk", site=SITE) as kiosk:
        def handle_issue(topic, payload):
            server.publish(f"onewindow/{SITE}/reply/kiosk", b"A001")
            order.append("handler done")

        server.subscribe(f"onewindow/{SITE}/cmd/issue", handle_issue)
        kiosk.subscribe(f"onewindow/{SITE}/reply/kiosk", lambda t, p: order.append(p.decode()))
        kiosk.publish(f"onewindow/{SITE}/cmd/issue", b"{}")
    assert order == ["handler done", "A001"]


def test_local_delivery_comes_in_batches_as_the_mqtt_loop_delivers_them():
    bus = LocalBroker()
    seen = []
    with bus.transport("server", site=SITE) as server, bus.transport("kiosk", site=SITE) as kiosk:
        server.on_batch_end = lambda: seen.append("end")
        server.subscribe(f"onewindow/{SITE}/cmd/+", lambda topic, payload: seen.append(payload.decode()))
        kiosk.publish(f"onewindow/{SITE}/cmd/issue", b"1")
        with bus.held():
            kiosk.publish(f"onewindow/{SITE}/cmd/issue", b"2")
            kiosk.publish(f"onewindow/{SITE}/cmd/issue", b"3")
            assert seen == ["1", "end"]  # held back until the block ends
        server.tick()
    assert seen == ["1", "end", "2", "3", "end", "end"]
