"""The server side of the manager console: display notice, audited actions, the longest current wait."""
from __future__ import annotations

import json

import pytest

from queue_server.server import QueueServer
from queue_server.store import Store
from tests.report_fixture import Driver, RecordingTransport

SITE = "demo-county"


@pytest.fixture
def hall(tmp_path, county, clock):
    srv = QueueServer(county, Store(tmp_path / "q.db", SITE, county.timezone), RecordingTransport(), clock=clock)
    return srv, Driver(srv, clock, clock.now)


def retained(srv, suffix):
    return [p for t, p, r in srv.transport.published if r and t.endswith(suffix)][-1]


def test_a_manager_notice_reaches_the_hall_display_and_survives_a_restart(hall, tmp_path, county, clock):
    srv, d = hall
    d("set_notice", text="午休 12:00-13:30 暂停叫号", manager="zhao")
    assert retained(srv, "/state/display")["notice"] == "午休 12:00-13:30 暂停叫号"
    srv.store.close()  # one server per site and database: the first one stops
    again = QueueServer(county, Store(tmp_path / "q.db", SITE, county.timezone), RecordingTransport(), clock=clock)
    assert again.engine.display_view()["notice"] == "午休 12:00-13:30 暂停叫号"
    Driver(again, clock, clock.now)("set_notice", text="", manager="zhao")
    assert retained(again, "/state/display")["notice"] is None


def test_a_notice_over_200_characters_is_refused(hall):
    srv, d = hall
    with pytest.raises(AssertionError):
        d("set_notice", text="x" * 201)
    assert srv.transport.replies()[-1]["error"]["code"] == "bad_request"


def test_every_manager_action_is_in_the_event_log_with_who_when_what(hall):
    srv, d = hall
    d("issue", business_type="A")
    d.at(1)("sign_in", window=3, clerk="zhao", manager="zhao")
    d.at(2)("pause", window=3, clerk="zhao", reason="meeting", manager="zhao")
    d.at(3)("set_business_type", business_type="F", open=False, manager="zhao")
    d.at(4)("cancel", ticket="A001", reason="manager", manager="zhao")
    d.at(5)("pause", window=3, clerk="zhao")  # no manager: a clerk's own action (already paused: no event)
    rows = srv.store.conn.execute(
        "SELECT type, at, json_extract(data, '$.manager') FROM events WHERE type != 'day_started' ORDER BY seq").fetchall()
    assert [(r[0], r[2]) for r in rows] == [("ticket_issued", None), ("window_opened", "zhao"),
                                            ("window_paused", "zhao"), ("business_type_set", "zhao"),
                                            ("ticket_cancelled", "zhao")]
    assert rows[2][1].startswith("2026-11-23T09:02:00")


def test_the_queue_state_says_since_when_the_longest_waiting_ticket_waits(hall):
    srv, d = hall
    d("issue", business_type="A")
    d.at(3)("issue", business_type="A")
    d("sign_in", window=2, clerk="wang")
    assert retained(srv, "/state/queue/A")["longest_wait_since"].startswith("2026-11-23T09:00:00")
    d.at(4)("call", ticket="A001", window=2, clerk="wang")
    srv.clock.now += 1
    srv.process([])
    assert retained(srv, "/state/queue/A")["longest_wait_since"].startswith("2026-11-23T09:03:00")
    assert json.dumps(retained(srv, "/state/queue/B")).count("longest_wait_since") == 1
    assert retained(srv, "/state/queue/B")["longest_wait_since"] is None
