"""A fixture day for reports, made by driving the real queue server with a fake clock.

Monday 23 November 2026 at the sample county hall (window 2: clerk wang, window 4: clerk li), plus a
Tuesday ticket and a village point's ticket in the same database. The expected report numbers are
worked out by hand in tests/test_reports.py from this script:

  min after 09:00  what happens
  0    issue A001 (CB-01), B001 (CX-01), A002 (CB-01), B002 (no item); wang signs in at 2, li at 4
  5    window 2 calls A001                         (A001 waited 5 min)
  6    A001 starts; 10 finishes (4 min), rated 5
  12   window 4 calls B001, starts; 15 finishes (3 min), rated 1 (a bad rating)
  20   window 4 calls B002                         (waited 20 min); 21 starts; 31 finishes (10 min)
  40   window 2 calls A002                         (waited 40 min: over a 30 min target)
  41, 41.5 recalled (3 calls); 42 no-show: A002 is requeued (county policy); 45 called again,
       46, 46.5 recalled; 47 no-show: missed (void)
  45   issue D001; 50 cancelled by the citizen (never called)
  65   issue A003 (10:05); 85 window 2 calls it    (waited 20 min); starts; 93 finishes (8 min), rated 4
  Tue 09:00 issue A001; wang signs in at 2; 09:10 calls (10 min), starts; 09:15 finishes (5 min)
  village point, Monday 09:00: issue A001 (another site in the same database: never in these reports)
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

from onewindow import PROTOCOL_VERSION
from onewindow.topics import Topics
from queue_server.server import QueueServer
from queue_server.store import Store

MONDAY = "2026-11-23"
TUESDAY = "2026-11-24"


class RecordingTransport:
    on_connected = None

    def __init__(self):
        self.published: list[tuple[str, dict, bool]] = []

    def subscribe(self, topic_filter, handler):
        self.handler = handler

    def publish(self, topic, payload, qos=1, retain=False):
        self.published.append((topic, json.loads(payload), retain))

    def replies(self):
        return [p for t, p, _ in self.published if "/reply/" in t]

    def flush(self):
        pass


class Driver:
    """Sends commands to a server in-process; every reply must be ok."""

    _ids = itertools.count(1)

    def __init__(self, server: QueueServer, clock, start: float):
        self.server, self.clock, self.start = server, clock, start
        self.topics = Topics(server.site.site_id)

    def at(self, minutes: float) -> "Driver":
        self.clock.now = self.start + minutes * 60.0
        return self

    def __call__(self, name: str, **args) -> dict:
        body = {"v": PROTOCOL_VERSION, "request_id": f"fx-{next(self._ids)}", "reply_to": self.topics.reply("fixture"), **args}
        self.server.process([(self.topics.cmd(name, "fixture"), json.dumps(body).encode())])
        reply = self.server.transport.replies()[-1]
        assert reply["ok"], (name, args, reply)
        return reply


def build_fixture_day(db: Path, county, village, clock) -> None:
    monday_9 = clock.now
    hall = QueueServer(county, Store(db, county.site_id, county.timezone), RecordingTransport(), clock=clock)
    d = Driver(hall, clock, monday_9)
    w2 = dict(window=2, clerk="wang")
    w4 = dict(window=4, clerk="li")
    d.at(0)
    d("issue", business_type="A", item="CB-01")
    d("issue", business_type="B", item="CX-01")
    d("issue", business_type="A", item="CB-01")
    d("issue", business_type="B")
    d("sign_in", **w2)
    d("sign_in", **w4)
    d.at(5)("call", ticket="A001", **w2)
    d.at(6)("start", **w2)
    d.at(10)("finish", **w2)
    d("rate", ticket="A001", score=5)
    d.at(12)("call", ticket="B001", **w4)
    d("start", **w4)
    d.at(15)("finish", **w4)
    d("rate", ticket="B001", score=1)
    d.at(20)("call", ticket="B002", **w4)
    d.at(21)("start", **w4)
    d.at(31)("finish", **w4)
    d.at(40)("call", ticket="A002", **w2)
    d.at(41)("recall", **w2)
    d.at(41.5)("recall", **w2)  # the third call: now a no-show may be marked
    d.at(42)("no_show", **w2)
    d.at(45)("call", ticket="A002", **w2)
    d("issue", business_type="D")
    d.at(46)("recall", **w2)
    d.at(46.5)("recall", **w2)
    d.at(47)("no_show", **w2)
    d.at(50)("cancel", ticket="D001")
    d.at(65)("issue", business_type="A")
    d.at(85)("call", ticket="A003", **w2)
    d("start", **w2)
    d.at(93)("finish", **w2)
    d("rate", ticket="A003", score=4)
    d.at(24 * 60)("issue", business_type="A")  # Tuesday 09:00
    d("sign_in", **w2)
    d.at(24 * 60 + 10)("call", ticket="A001", **w2)
    d("start", **w2)
    d.at(24 * 60 + 15)("finish", **w2)
    hall.store.close()
    point = QueueServer(village, Store(db, village.site_id, village.timezone), RecordingTransport(), clock=clock)
    Driver(point, clock, monday_9).at(0)("issue", business_type="A")
    point.store.close()
    clock.now = monday_9
