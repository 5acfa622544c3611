"""Floods on a locked-down site: a client with a valid credential sends 100,000 bad commands; an honest
console keeps issuing and is answered within a second; retained state stays whole; a kiosk issuing
faster than people can is throttled and reported. A flooding device is not listened to for a while
(the server unsubscribes its command topic, so the broker drops its messages)."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest

from onewindow.topics import Topics
from queue_server import budget
from tests.support import wait_until
from tests.test_lockdown import SITE, Site

T = Topics(SITE)
FLOOD = 100_000


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


FLOODER = """
import json, sys, time
import paho.mqtt.client as paho
host, port, user, password, topic, reply, n = sys.argv[1:8]
c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=user + "-flood", protocol=paho.MQTTv311)
c.username_pw_set(user, password)
c.max_queued_messages_set(0)
c.connect(host, int(port))
c.loop_start()
junk = [b'{"v": 2, "reply_to": "x", "request_id": 7', b"\\x00\\xff garbage \\n12:00 INFO forged",
        json.dumps({"v": 2, "request_id": "r", "reply_to": reply, "business_type": "ZZ"}).encode()]
for i in range(int(n)):
    c.publish(topic, junk[i % 3], qos=0)
time.sleep(0.5)
c.loop_stop()
c.disconnect()
"""


def _flood(site: Site, user: str, n: int) -> subprocess.Popen:
    """Another machine on the hall's network, with a stolen kiosk credential: its own process."""
    s = site.broker.settings_for(user)
    return subprocess.Popen([sys.executable, "-c", FLOODER, s.host, str(s.port), user, s.password,
                             T.cmd("issue", user), T.reply(user), str(n)])


def test_an_honest_issue_is_answered_within_a_second_during_a_flood(site, caplog, monkeypatch):
    monkeypatch.setattr(budget, "QUARANTINE_SECONDS", 2.0)
    caplog.set_level(logging.INFO, logger="onewindow.server")
    honest = site.client("console")
    honest.timeout, honest.attempts = 5.0, 1  # one attempt: a lost request fails here, a slow one below
    assert honest.issue("A")["ok"]  # warm
    latencies, started = [], time.perf_counter()
    flooder = _flood(site, "kiosk-2", FLOOD)
    while flooder.poll() is None or len(latencies) < 20:
        t0 = time.perf_counter()
        reply = honest.issue("A")
        latencies.append(time.perf_counter() - t0)
        assert reply["ok"], reply
        time.sleep(0.02)
    flood_seconds = time.perf_counter() - started
    assert flooder.wait(30) == 0
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    stats = site.server.stats
    print(f"\nflood: {FLOOD:,} bad commands in {flood_seconds:.1f} s; honest issues {len(latencies)}, "
          f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
          f"max {latencies[-1] * 1000:.1f} ms; server: bad {stats['bad']:,}, dropped {stats.get('dropped', 0):,}")
    # The target is 1 s (measured here: p99 0.2-0.45 s, max 0.4-1.9 s); on a loaded machine allow 3 s.
    assert p99 < 3.0, latencies[-5:]
    # The server stopped listening to the flooder: the broker dropped most of it before it arrived.
    assert "kiosk-2 floods the server: not listening to it" in caplog.text
    assert stats["bad"] + stats.get("dropped", 0) < FLOOD / 2, stats
    # (it may have been shut out more than once while the flood lasted) every quarantine ends:
    assert wait_until(lambda: caplog.text.count("listening to kiosk-2 again")
                      == caplog.text.count("kiosk-2 floods the server"), 15), caplog.text[-2000:]
    kiosk = site.client("kiosk-2")
    kiosk.timeout, kiosk.attempts = 3.0, 3
    assert kiosk.issue("A")["ok"]  # after the quarantine, the kiosk is served again
    lines = [r.getMessage() for r in caplog.records if "kiosk-2" in r.getMessage() and r.levelno >= logging.WARNING]
    assert len(lines) < 60, len(lines)  # a summary, not 100,000 lines
    assert all("\n" not in line and "\x00" not in line for line in lines)
    # Retained state is whole: the queue of A shows every waiting ticket, none lost in the flood.
    seen: list = []
    site.transport("display-1").subscribe(T.queue("A"), lambda t, p: seen.append(json.loads(p)))
    waiting = sum(1 for t in site.server.engine.lines["A"].values())
    assert wait_until(lambda: seen and seen[-1]["waiting"] == waiting, 5), (seen[-1:], waiting)


def test_a_kiosk_issuing_faster_than_people_is_throttled_and_reported(site, caplog):
    caplog.set_level(logging.WARNING, logger="onewindow.server")
    to_manager, to_kiosk = [], []
    site.transport("manager").subscribe(T.security, lambda t, p: to_manager.append(json.loads(p)))
    site.transport("kiosk-2").subscribe(T.security, lambda t, p: to_kiosk.append(p))  # the ACL says no
    kiosk = site.client("kiosk-1")
    replies = [kiosk.issue("B") for _ in range(10)]
    ok = [r for r in replies if r["ok"]]
    throttled = [r for r in replies if not r["ok"]]
    assert len(ok) == 6 and all(r["error"]["code"] == "throttled" and r["error"]["retry_after"] > 0
                                for r in throttled)
    assert "kiosk kiosk-1 issues tickets faster than people can" in caplog.text
    assert site.client("kiosk-2").issue("B")["ok"]  # another kiosk is not affected
    assert site.client("console").issue("B")["ok"]  # nor the counter
    # Reported to the manager at once (one report, then at most one a minute), never to a kiosk.
    assert wait_until(lambda: to_manager, 5)
    report = to_manager[0]
    assert (report["kind"], report["sender"], report["role"]) == ("throttled", "kiosk-1", "kiosk")
    assert report["count"] >= 1 and "faster than people" in report["detail"]
    time.sleep(0.5)
    assert len(to_manager) == 1 and to_kiosk == []
