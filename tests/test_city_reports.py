"""City reports (from the daily summary) and the city's live table (from retained state)."""
from __future__ import annotations

from datetime import date

import pytest

from city.live import CityLive
from city.reports import aggregate, city_report, quantile_from_hist
from city.store import HIST_MINUTES, CityStore
from onewindow.topics import Topics
from onewindow.transport import LocalBroker
from tests.test_city_store import visit_events


def summary(site, level, day, tickets, waits_min, bad=0, ratings=0):
    hist = [0] * (HIST_MINUTES + 1)
    for w in waits_min:
        hist[min(int(w), HIST_MINUTES)] += 1
    return {"site_id": site, "name": site.upper(), "level": level, "day": day, "tickets": tickets,
            "called": len(waits_min), "served": len(waits_min), "missed": 0, "cancelled": 0,
            "wait_sum_s": 60.0 * sum(waits_min), "wait_p90_s": None, "wait_hist": hist,
            "ratings": ratings, "bad_ratings": bad}


def test_the_p90_of_merged_days_comes_from_their_minute_histograms():
    assert quantile_from_hist([0] * 10, 0.9) is None
    hist = [0] * 10
    hist[2], hist[8] = 9, 1   # nine waited 2-3 minutes, one 8-9
    assert quantile_from_hist(hist, 0.9) == pytest.approx(3.0)
    assert quantile_from_hist(hist, 0.95) == pytest.approx(8.5)


def test_a_month_by_level_adds_up_the_days_of_every_hall_of_that_level():
    rows = [summary("a", "county", date(2026, 11, 2), 3, [1, 2, 40], bad=1, ratings=2),
            summary("b", "county", date(2026, 11, 3), 2, [5, 50]),
            summary("c", "village", date(2026, 11, 3), 1, [0.5], ratings=4),
            summary("a", "county", date(2026, 12, 1), 1, [3])]
    report = aggregate(rows, by="level", period="month", target_minutes=30)
    assert [(r["period"], r["level"]) for r in report] == [("2026-11", "county"), ("2026-11", "village"),
                                                           ("2026-12", "county")]
    county = report[0]
    assert (county["tickets"], county["served"]) == (5, 5)
    assert county["mean_wait_min"] == pytest.approx((1 + 2 + 40 + 5 + 50) / 5, abs=0.05)
    assert county["within_target_pct"] == 60.0       # 3 of 5 waited under 30 minutes
    assert county["bad_review_rate_pct"] == 50.0
    assert report[1]["bad_review_rate_pct"] == 0.0
    whole = aggregate(rows, by="city", period="month")
    assert [r["tickets"] for r in whole] == [6, 1]
    with pytest.raises(ValueError):
        aggregate(rows, by="street")


def test_a_report_straight_from_the_city_store(city_db):
    with CityStore(city_db) as store:
        store.create_schema(today=date(2026, 11, 23))
        store.upsert_site("s1", "示范县大厅", "county")
        store.append("s1", visit_events("2026-11-23"))
        day = city_report(store, by="site", period="day")
        assert len(day) == 1
        row = day[0]
        assert (row["site"], row["name"], row["tickets"], row["served"], row["missed"]) == ("s1", "示范县大厅", 2, 1, 1)
        assert row["mean_wait_min"] == 12.5 and row["p90_wait_min"] == pytest.approx((300 + 0.9 * 900) / 60, abs=0.05)
        assert row["within_target_pct"] == 100.0 and row["bad_review_rate_pct"] == 100.0


def publish_hall(transport, site, level, waiting, windows, devices=()):
    t = Topics(site)
    transport.publish(t.site, {"v": 2, "site": site, "name": f"{site} hall", "level": level,
                               "service_day": "2026-11-23"}, retain=True)
    for prefix, n in waiting.items():
        transport.publish(t.queue(prefix), {"business_type": prefix, "waiting": n, "issued_today": n + 3,
                                            "estimated_wait_min": 4.0 * n, "open": True}, retain=True)
    for number, state in windows.items():
        transport.publish(t.window(number), {"window": number, "state": state, "served_today": 2}, retain=True)
    for device, state in devices:
        transport.publish(t.device_status(device), {"v": 1, "device": device, "kind": "kiosk", "state": state,
                                                    "parts": {"printer": "paper_out"}, "detail": "paper out"},
                          retain=True)


def test_the_live_table_lists_every_hall_by_level_with_its_queues_windows_and_alarms():
    broker = LocalBroker()
    hall = broker.transport("bridge", presence=False).start()
    publish_hall(hall, "v1", "village", {"A": 1}, {1: "serving"})
    publish_hall(hall, "c1", "county", {"A": 4, "B": 2}, {1: "serving", 2: "idle", 3: "closed"},
                 devices=[("kiosk-1", "degraded"), ("kiosk-2", "ok")])
    live = CityLive(broker.transport("city", presence=False).start())   # late: whole from retained state
    publish_hall(hall, "h1", "hospital", {"A": 0}, {1: "paused"})
    hall.publish(Topics("h1").presence("server-h1"), {"client": "server-h1", "role": "server", "state": "offline"},
                 retain=True)
    rows = live.table()
    assert [r["site"] for r in rows] == ["c1", "v1", "h1"]
    c1 = rows[0]
    assert (c1["waiting"], c1["issued_today"], c1["longest_wait_min"], c1["windows_open"], c1["served_today"]) == \
        (6, 12, 16.0, 2, 6)
    assert c1["windows"] == {"closed": 1, "idle": 1, "serving": 1}
    assert c1["alarms"] == [{"who": "kiosk-1", "state": "degraded", "detail": "paper out"}]
    assert rows[2]["alarms"] == [{"who": "server-h1", "state": "offline", "detail": "server"}]
    assert live.hall("nowhere") is None
    hall.publish(Topics("c1").queue("A"), {"business_type": "A", "waiting": 0, "issued_today": 7}, retain=True)
    assert live.hall("c1")["waiting"] == 2
