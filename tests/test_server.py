"""The server's own duties, in-process: retries, durability before replies, failures, many sites."""
from __future__ import annotations

import json
import logging
import sqlite3

import pytest

from onewindow import PROTOCOL_VERSION
from onewindow.mqtt import LocalBroker
from onewindow.topics import Topics
from queue_server.server import QueueServer
from queue_server.store import Store

SITE = "demo-county"


class Hall:
    """A server on an in-process broker, driven the way production drives it: a kiosk publishes
    commands, the transport delivers them as a batch and runs the server's batch at its end."""

    def __init__(self, site, store, clock, bus=None, on_publish=None, **options):
        self.bus = bus or LocalBroker()
        self.transport = self.bus.transport(f"server-{site.site_id}", "server", site.site_id, presence=False)
        self.server = QueueServer(site, store, self.transport.start(), clock=clock, **options)
        self.server.start()
        self.kiosk = self.bus.transport(f"kiosk-{site.site_id}", "kiosk", site.site_id, presence=False).start()
        self.published: list[tuple[str, dict, bool]] = []
        deliver = self.transport.publish

        def publish(topic, payload, qos=1, retain=False):  # what the server sends, as it sends it
            if on_publish is not None:
                on_publish(topic, payload)
            self.published.append((topic, json.loads(payload), retain))
            deliver(topic, payload, qos, retain)
        self.transport.publish = publish

    def send(self, *messages):
        """Publish the messages so that they arrive as one batch."""
        with self.bus.held():
            for topic, payload in messages:
                self.kiosk.publish(topic, payload)

    def replies(self):
        return [p for t, p, _ in self.published if "/reply/" in t]

    def retained(self):
        return {t: p for t, p, r in self.published if r}


def command(name, site=SITE, client="k1", **args):
    rid = args.pop("request_id", None) or f"{name}-{id(args)}-{len(args)}-{sorted(args.items())}"[:60]
    rid = "".join(ch if ch.isalnum() or ch in "_.:-" else "-" for ch in rid)
    body = {"v": PROTOCOL_VERSION, "request_id": rid, "reply_to": Topics(site).reply(client), **args}
    return (Topics(site).cmd(name, client), json.dumps(body).encode())


def store(tmp_path, site, name="q.db"):
    return Store(tmp_path / name, site.site_id, site.timezone)


@pytest.fixture
def hall(tmp_path, county, clock):
    return Hall(county, store(tmp_path, county), clock)


def test_a_retried_request_gets_the_first_reply_byte_for_byte(hall):
    hall.send(command("issue", request_id="same", business_type="A"))
    hall.send(command("issue", request_id="same", business_type="A"))
    first, second = hall.replies()
    assert first == second and first["ticket"]["number"] == "A001"
    assert hall.server.stats["duplicates"] == 1
    assert len(hall.server.engine.tickets) == 1


def test_replies_leave_only_after_the_batch_is_on_disk(tmp_path, county, clock):
    seen_on_disk = []

    def check(topic, payload):
        if "/reply/" in topic:
            rid = json.loads(payload)["request_id"]
            db = sqlite3.connect(tmp_path / "q.db")
            seen_on_disk.append(db.execute("SELECT count(*) FROM requests WHERE request_id = ?",
                                           (rid,)).fetchone()[0])
            db.close()

    hall = Hall(county, store(tmp_path, county), clock, on_publish=check)
    hall.send(*[command("issue", request_id=f"r{i}", business_type="A") for i in range(20)])
    assert seen_on_disk == [1] * 20
    assert hall.server.stats["batches"] == 1  # the twenty came as one batch: one transaction


def test_a_failed_write_refuses_the_batch_and_memory_does_not_run_ahead_of_the_disk(hall):
    hall.send(command("issue", request_id="before", business_type="A"))

    def broken(*args, **kwargs):
        from queue_server.store import StoreError
        raise StoreError("disk full")
    hall.server.store.commit = broken
    hall.send(command("issue", request_id="during", business_type="A"))
    reply = hall.replies()[-1]
    assert reply["ok"] is False and reply["error"]["code"] == "store_unavailable"
    assert len(hall.server.engine.tickets) == 1
    del hall.server.store.commit  # the disk is back
    hall.send(command("issue", request_id="during", business_type="A"))
    assert hall.replies()[-1]["ticket"]["number"] == "A002"


def test_an_engine_failure_is_an_internal_error_reply_not_a_dead_server(hall, monkeypatch, caplog):
    engine = type(hall.server.engine)
    monkeypatch.setattr(engine, "_deciders", dict(engine._deciders, cancel=lambda *a: 1 / 0))
    with caplog.at_level(logging.ERROR):
        hall.send(command("cancel", ticket="A001"), command("issue", business_type="B"))
    errors, ok = hall.replies()
    assert errors["error"]["code"] == "internal_error"
    assert ok["ok"] and ok["ticket"]["number"] == "B001"
    assert "failed inside the engine" in caplog.text


def test_a_restarted_server_has_the_same_hall(tmp_path, county, clock):
    first = Hall(county, store(tmp_path, county), clock)
    first.send(*[command("issue", business_type=p, request_id=f"i{n}") for n, p in enumerate("AABCA")])
    first.send(command("sign_in", window=2, clerk="wang"), command("call_next", window=2, clerk="wang"))
    first.server.store.close()  # one server per site and database: the first one has stopped
    again = Hall(county, store(tmp_path, county), clock)
    assert again.server.engine.snapshot(clock()) == first.server.engine.snapshot(clock())
    again.send(command("issue", business_type="A", request_id="i0"))  # a retry from before the restart
    assert again.replies()[-1]["ticket"]["number"] == "A001"


def test_two_sites_share_one_broker_and_one_database_without_mixing(tmp_path, county, village, clock):
    bus = LocalBroker()
    hall = Hall(county, store(tmp_path, county, "city.db"), clock, bus=bus)
    point = Hall(village, store(tmp_path, village, "city.db"), clock, bus=bus)
    hall.send(command("issue", business_type="A", request_id="x1"))
    point.send(command("issue", site="demo-village", business_type="A", request_id="x1"))
    assert [r["ticket"]["id"] for r in hall.replies()] == ["demo-county:2026-11-23:A001"]
    assert [r["ticket"]["id"] for r in point.replies()] == ["demo-village:2026-11-23:A001"]
    rows = sqlite3.connect(tmp_path / "city.db").execute(
        "SELECT site_id, id, ticket FROM events WHERE type = 'ticket_issued'").fetchall()
    assert {r[0] for r in rows} == {"demo-county", "demo-village"}
    assert len({r[1] for r in rows}) == 2
    point.server.store.close()
    again = QueueServer(village, store(tmp_path, village, "city.db"), bus.transport(), clock=clock)
    assert list(again.engine.by_number) == ["A001"] and len(again.engine.tickets) == 1


def test_a_command_topic_of_another_site_is_ignored(hall, caplog):
    hall.send(command("issue", site="elsewhere", business_type="A"))  # not delivered: not subscribed
    hall.server.process([command("issue", site="elsewhere", business_type="A")])  # had it come anyway
    assert hall.replies() == [] and "not a command topic" in caplog.text
    assert hall.server.stats["commands"] == 0


def test_an_unknown_command_and_an_oversized_payload_get_error_replies(hall):
    big = command("issue", request_id="big", business_type="A", item="x" * 9000)
    hall.send(command("issu", request_id="typo", business_type="A"), big)
    assert [(r["request_id"], r["error"]["code"]) for r in hall.replies()] == [("typo", "unknown_command"),
                                                                             ("big", "too_large")]


def test_a_call_in_a_reply_and_on_event_call_carries_iso_local_time(hall):
    hall.send(command("issue", business_type="A"), command("sign_in", window=2, clerk="wang"))
    hall.send(command("call_next", window=2, clerk="wang"))
    call = hall.replies()[-1]["call"]
    event = next(p for t, p, _ in hall.published if t == f"onewindow/{SITE}/event/call")
    assert call["at"] == event["at"] == "2026-11-23T09:00:00+08:00"


def test_the_new_service_day_is_published_to_late_joiners(hall, clock):
    hall.send(command("issue", business_type="A", request_id="d1"))
    assert hall.retained()[f"onewindow/{SITE}/state/site"]["service_day"] == "2026-11-23"
    clock.advance(86400)
    hall.send(command("issue", business_type="A", request_id="d2"))
    assert hall.retained()[f"onewindow/{SITE}/state/site"]["service_day"] == "2026-11-24"
    assert hall.replies()[-1]["ticket"]["number"] == "A001"


def test_a_late_joiner_is_whole_from_the_retained_state_alone(hall):
    hall.transport.tick()  # the transport's idle wake-up: the server publishes its state at once
    late = hall.bus.transport("display-9", "display", SITE, presence=False).start()
    seen = {}
    late.subscribe(f"onewindow/{SITE}/state/#", lambda topic, payload: seen.setdefault(topic, json.loads(payload)))
    assert {f"onewindow/{SITE}/state/{name}" for name in ("site", "catalogue", "display")} <= set(seen)
    assert len([t for t in seen if "/state/window/" in t]) == len(hall.server.site.windows)


def test_stored_events_carry_site_time_and_a_unique_id(hall):
    hall.send(command("issue", business_type="A", request_id="e1"))
    rows = hall.server.store.conn.execute("SELECT id, site_id, at, type, request_id FROM events ORDER BY seq").fetchall()
    assert [r[3] for r in rows] == ["day_started", "ticket_issued"]
    assert all(r[1] == SITE and r[2].endswith("+08:00") for r in rows)
    assert rows[1][0][14] == "7" and rows[0][0] < rows[1][0]  # UUIDv7 layout, time-ordered
    assert rows[1][4] == "e1"


def test_the_server_checkpoints_the_log_so_the_wal_stays_small(tmp_path, county, clock, monkeypatch):
    import queue_server.store as store_module
    monkeypatch.setattr(store_module, "CHECKPOINT_SECONDS", 0.0)  # 2,000 tickets in well under a second
    # "crash" durability: the same WAL and checkpoints without an fsync per ticket
    log = Store(tmp_path / "q.db", county.site_id, county.timezone, durability="crash")
    hall = Hall(county, log, clock, always_open=True)
    sizes = []
    for round_ in range(3):
        for i in range(1000):
            hall.send(command("issue", business_type="ABCDE"[i % 5], request_id=f"w{round_}-{i}"))
        sizes.append((tmp_path / "q.db-wal").stat().st_size)
    # The WAL file starts again from its beginning once it passes CATCH_UP_FRAMES pages (16 MB): it stays
    # within a few times that however many tickets come (without the catch-up: ~40 MB a thousand, growing).
    bound = 3 * store_module.CATCH_UP_FRAMES * 4096
    assert max(sizes) < bound, f"the WAL keeps growing: {sizes}"
    count = hall.server.store.conn.execute("SELECT count(*) FROM events WHERE type = 'ticket_issued'")
    assert count.fetchone()[0] == 3000


def test_crash_durability_writes_without_fsync_and_syncs_the_wal_each_second(tmp_path, county, monkeypatch):
    import queue_server.store as store_module
    clock = [1000.0]
    monkeypatch.setattr(store_module.time, "monotonic", lambda: clock[0])
    power = Store(tmp_path / "p.db", county.site_id, county.timezone)
    crash = Store(tmp_path / "c.db", county.site_id, county.timezone, durability="crash")
    assert power.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: fsync at each commit
    assert crash.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: the OS has it
    event = {"type": "day_started", "at": 1.7e9, "day": "2026-12-01"}
    for s in (power, crash):
        s.commit([(event, "r1")], [("r1", "open", 1.7e9, True, "{}")])
    clock[0] += 0.5
    assert not crash.checkpoint_due() and not power.checkpoint_due()
    clock[0] += 0.6  # a second after the last checkpoint, with rows written since: the WAL must reach the disk
    assert crash.checkpoint_due() and not power.checkpoint_due()
    crash.checkpoint()
    assert not crash.checkpoint_due()
    # However many rows a heavy load writes, a checkpoint at most once a second (their fsyncs flush the device)
    many = [({**event, "type": "ticket_issued", "ticket": f"t{i}"}, f"q{i}") for i in range(600)]
    power.commit(many, [])
    assert power._rows_since_checkpoint >= power.checkpoint_rows and power.checkpoint_due()
    power.checkpoint()
    power.commit(many, [])
    clock[0] += 0.5
    assert not power.checkpoint_due()
    clock[0] += 0.6
    assert power.checkpoint_due()
    with pytest.raises(ValueError, match="durability"):
        Store(tmp_path / "x.db", county.site_id, county.timezone, durability="fast")
    power.close()
    crash.close()
