"""The server's own duties, in-process: retries, durability before replies, failures, many sites."""
from __future__ import annotations

import json
import logging
import sqlite3

import pytest

from onewindow import PROTOCOL_VERSION, config
from queue_server.server import QueueServer
from queue_server.store import Store

SITE = "demo-county"


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

    def retained(self):
        return {t: p for t, p, r in self.published if r}


def command(name, site=SITE, client="k1", **args):
    rid = args.pop("request_id", None) or f"{name}-{id(args)}-{len(args)}-{sorted(args.items())}"[:60]
    rid = "".join(ch if ch.isalnum() or ch in "_.:-" else "-" for ch in rid)
    body = {"v": PROTOCOL_VERSION, "request_id": rid, "reply_to": f"onewindow/{site}/reply/{client}", **args}
    return (f"onewindow/{site}/cmd/{client}/{name}", json.dumps(body).encode())


@pytest.fixture
def server(tmp_path, county, clock):
    transport = RecordingTransport()
    srv = QueueServer(county, Store(tmp_path / "q.db", SITE, county.timezone), transport, clock=clock)
    return srv, transport


def test_a_retried_request_gets_the_first_reply_byte_for_byte(server):
    srv, transport = server
    srv.process([command("issue", request_id="same", business_type="A")])
    srv.process([command("issue", request_id="same", business_type="A")])
    first, second = transport.replies()
    assert first == second and first["ticket"]["number"] == "A001"
    assert srv.stats["duplicates"] == 1
    assert len(srv.engine.tickets) == 1


def test_replies_leave_only_after_the_batch_is_on_disk(tmp_path, county, clock):
    seen_on_disk = []

    class CheckingTransport(RecordingTransport):
        def publish(self, topic, payload, qos=1, retain=False):
            if "/reply/" in topic:
                rid = json.loads(payload)["request_id"]
                db = sqlite3.connect(tmp_path / "q.db")
                seen_on_disk.append(db.execute("SELECT count(*) FROM requests WHERE request_id = ?",
                                               (rid,)).fetchone()[0])
                db.close()
            super().publish(topic, payload, qos, retain)

    srv = QueueServer(county, Store(tmp_path / "q.db", SITE, county.timezone), CheckingTransport(), clock=clock)
    srv.process([command("issue", request_id=f"r{i}", business_type="A") for i in range(20)])
    assert seen_on_disk == [1] * 20


def test_a_failed_write_refuses_the_batch_and_memory_does_not_run_ahead_of_the_disk(server, caplog):
    srv, transport = server
    srv.process([command("issue", request_id="before", business_type="A")])

    def broken(*args, **kwargs):
        from queue_server.store import StoreError
        raise StoreError("disk full")
    srv.store.commit = broken
    srv.process([command("issue", request_id="during", business_type="A")])
    reply = transport.replies()[-1]
    assert reply["ok"] is False and reply["error"]["code"] == "store_unavailable"
    assert len(srv.engine.tickets) == 1
    del srv.store.commit  # the disk is back
    srv.process([command("issue", request_id="during", business_type="A")])
    assert transport.replies()[-1]["ticket"]["number"] == "A002"


def test_an_engine_failure_is_an_internal_error_reply_not_a_dead_server(server, monkeypatch, caplog):
    srv, transport = server
    monkeypatch.setattr(type(srv.engine), "_deciders", dict(type(srv.engine)._deciders,
                                                            cancel=lambda *a: 1 / 0))
    with caplog.at_level(logging.ERROR):
        srv.process([command("cancel", ticket="A001"), command("issue", business_type="B")])
    errors, ok = transport.replies()
    assert errors["error"]["code"] == "internal_error"
    assert ok["ok"] and ok["ticket"]["number"] == "B001"
    assert "failed inside the engine" in caplog.text


def test_a_restarted_server_has_the_same_hall(tmp_path, county, clock):
    first = QueueServer(county, Store(tmp_path / "q.db", SITE, county.timezone), RecordingTransport(), clock=clock)
    first.process([command("issue", business_type=p, request_id=f"i{n}") for n, p in enumerate("AABCA")])
    first.process([command("sign_in", window=2, clerk="wang"), command("call_next", window=2, clerk="wang")])
    first.store.close()  # one server per site and database: the first one has stopped
    again = QueueServer(county, Store(tmp_path / "q.db", SITE, county.timezone), RecordingTransport(), clock=clock)
    assert again.engine.snapshot(clock()) == first.engine.snapshot(clock())
    transport = again.transport
    again.process([command("issue", business_type="A", request_id="i0")])  # a retry from before the restart
    assert transport.replies()[-1]["ticket"]["number"] == "A001"


def test_two_sites_share_one_database_without_mixing(tmp_path, county, village, clock):
    db = tmp_path / "city.db"
    hall = QueueServer(county, Store(db, county.site_id, county.timezone), RecordingTransport(), clock=clock)
    point = QueueServer(village, Store(db, village.site_id, village.timezone), RecordingTransport(), clock=clock)
    hall.process([command("issue", business_type="A", request_id="x1")])
    point.process([command("issue", site="demo-village", business_type="A", request_id="x1")])
    assert point.transport.replies()[-1]["ticket"]["id"] == "demo-village:2026-11-23:A001"
    rows = sqlite3.connect(db).execute("SELECT site_id, id, ticket FROM events WHERE type = 'ticket_issued'").fetchall()
    assert {r[0] for r in rows} == {"demo-county", "demo-village"}
    assert len({r[1] for r in rows}) == 2
    point.store.close()
    again = QueueServer(village, Store(db, village.site_id, village.timezone), RecordingTransport(), clock=clock)
    assert list(again.engine.by_number) == ["A001"] and len(again.engine.tickets) == 1


def test_a_command_for_another_site_is_ignored(server, caplog):
    srv, transport = server
    srv.process([command("issue", site="elsewhere", business_type="A")])
    assert transport.replies() == [] and "not a command topic" in caplog.text


def test_the_new_service_day_is_published_to_late_joiners(server, clock):
    srv, transport = server
    srv.process([command("issue", business_type="A", request_id="d1")])
    assert transport.retained()[f"onewindow/{SITE}/state/site"]["service_day"] == "2026-11-23"
    clock.advance(86400)
    srv.process([command("issue", business_type="A", request_id="d2")])
    assert transport.retained()[f"onewindow/{SITE}/state/site"]["service_day"] == "2026-11-24"
    assert transport.replies()[-1]["ticket"]["number"] == "A001"


def test_stored_events_carry_site_time_and_a_unique_id(server):
    srv, _ = server
    srv.process([command("issue", business_type="A", request_id="e1")])
    rows = srv.store.conn.execute("SELECT id, site_id, at, type, request_id FROM events ORDER BY seq").fetchall()
    assert [r[3] for r in rows] == ["day_started", "ticket_issued"]
    assert all(r[1] == SITE and r[2].endswith("+08:00") for r in rows)
    assert rows[1][0][14] == "7" and rows[0][0] < rows[1][0]  # UUIDv7 layout, time-ordered
    assert rows[1][4] == "e1"


def test_the_server_checkpoints_the_log_so_the_wal_stays_small(tmp_path, county, clock):
    srv = QueueServer(county, Store(tmp_path / "q.db", SITE, county.timezone), RecordingTransport(), clock=clock,
                      always_open=True)
    sizes = []
    for round_ in range(2):
        for i in range(1000):
            srv.process([command("issue", business_type="ABCDE"[i % 5], request_id=f"w{round_}-{i}")])
        sizes.append((tmp_path / "q.db-wal").stat().st_size)
    # The WAL file is reused after each checkpoint: a second thousand tickets do not make it grow.
    assert sizes[1] <= sizes[0] * 1.2, f"the WAL keeps growing: {sizes}"
    assert srv.store.conn.execute("SELECT count(*) FROM events WHERE type = 'ticket_issued'").fetchone()[0] == 2000
