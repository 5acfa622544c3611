"""The city store (PostgreSQL): each event once, the mark in the same transaction, monthly partitions,
the daily summary."""
from __future__ import annotations

import json
from datetime import date

import pytest

from city.store import HIST_MINUTES, CityStore, CityStoreError
from queue_server.store import new_event_id


def event(seq: int, type_: str, ticket: str | None = None, day: str = "2026-11-23", minute: int = 0, **data):
    return {"id": new_event_id(), "seq": seq, "day": day, "at": f"{day}T09:{minute:02d}:00.000+08:00",
            "type": type_, "ticket": ticket, "window": data.pop("window", None), "request_id": f"r{seq}",
            "data": json.dumps(data)}


def visit_events(day: str = "2026-11-23") -> list[dict]:
    """Two tickets: A001 waits 5 min, is served and rated 1 (bad); A002 waits 20 min and is missed."""
    a1, a2 = f"s1:{day}:A001", f"s1:{day}:A002"
    kinds = [("day_started", None, {}), ("ticket_issued", a1, {"business_type": "A"}),
             ("ticket_issued", a2, {"business_type": "A"}), ("ticket_called", a1, {"waited": 300.0, "window": 1}),
             ("service_finished", a1, {"window": 1}), ("ticket_rated", a1, {"score": 1, "bad": True}),
             ("ticket_called", a2, {"waited": 1200.0, "window": 1}), ("ticket_recalled", a2, {"waited": 1300.0}),
             ("ticket_missed", a2, {"window": 1})]
    return [event(i + 1, k, t, day=day, minute=i, **d) for i, (k, t, d) in enumerate(kinds)]


@pytest.fixture
def store(city_db):
    s = CityStore(city_db)
    s.create_schema(today=date(2026, 11, 23))
    yield s
    s.close()


def test_the_schema_is_created_once_and_again_without_harm(store):
    store.create_schema(today=date(2026, 11, 23))
    assert store.partitions() == ["events_2026_11", "events_2026_12"]
    assert store.count() == 0 and store.mark("s1") == 0


def test_a_batch_sent_twice_is_stored_once_and_the_mark_moves_with_it(store):
    rows = visit_events()
    assert store.append("s1", rows[:5]) == (5, 5)
    assert store.append("s1", rows[:5]) == (5, 0)     # the bridge died before it heard the commit
    assert store.append("s1", rows) == (9, 4)
    assert store.count("s1") == 9
    assert store.event_ids("s1") == [r["id"] for r in rows]
    assert store.marks() == {"s1": (9, 9)}


def test_a_batch_that_cannot_be_stored_leaves_no_event_and_no_mark(store):
    rows = visit_events()
    rows[3] = {**rows[3], "data": "{not json"}
    with pytest.raises(CityStoreError):
        store.append("s1", rows)
    assert store.count() == 0 and store.mark("s1") == 0
    assert store.append("s1", visit_events()[:2]) == (2, 2)  # the store reconnects by itself


def test_a_new_month_gets_its_partition_when_its_first_event_comes(store):
    store.append("s1", [event(1, "day_started", day="2027-02-01")])
    assert "events_2027_02" in store.partitions()
    assert store.count() == 1


def test_the_daily_summary_counts_tickets_waits_and_bad_ratings(store):
    store.upsert_site("s1", "示范县大厅", "county")
    store.append("s1", visit_events("2026-11-23"))
    store.append("s1", [dict(e, seq=e["seq"] + 100) for e in visit_events("2026-11-24")])
    assert store.refresh_summary() == 2
    assert store.refresh_summary() == 0  # nothing new
    rows = store.summary_rows(start=date(2026, 11, 23), end=date(2026, 11, 24))
    assert len(rows) == 1
    row = rows[0]
    assert (row["name"], row["level"], row["tickets"], row["called"], row["served"], row["missed"]) == \
        ("示范县大厅", "county", 2, 2, 1, 1)
    assert (row["ratings"], row["bad_ratings"], row["wait_sum_s"]) == (1, 1, 1500.0)
    assert len(row["wait_hist"]) == HIST_MINUTES + 1
    assert row["wait_hist"][5] == 1 and row["wait_hist"][20] == 1 and sum(row["wait_hist"]) == 2
    assert row["wait_p90_s"] == pytest.approx(300 + 0.9 * 900)


def test_a_day_appended_to_after_a_refresh_is_refreshed_again(store):
    rows = visit_events()
    store.append("s1", rows[:4])
    store.refresh_summary()
    assert store.summary_rows()[0]["served"] == 0
    store.append("s1", rows[4:])
    assert store.refresh_summary() == 1
    assert store.summary_rows()[0]["served"] == 1


def test_the_store_comes_back_after_postgresql_restarts(store, pg_cluster):
    store.append("s1", visit_events()[:3])
    pg_cluster.kill()
    with pytest.raises(CityStoreError):
        store.append("s1", visit_events()[3:])
    pg_cluster.start()
    assert store.mark("s1") == 3  # what was committed before the crash is there
    assert store.append("s1", visit_events()[3:])[0] == 9
