"""Report numbers against the hand-computed fixture day (tests/report_fixture.py has the script)."""
from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from console import reports
from tests.report_fixture import MONDAY, TUESDAY, build_fixture_day

SITE = "demo-county"


@pytest.fixture(scope="module")
def log_db(tmp_path_factory, county, village):
    from tests.conftest import Clock
    db = tmp_path_factory.mktemp("reports") / "hall.db"
    build_fixture_day(db, county, village, Clock())
    return db


@pytest.fixture
def conn(log_db):
    c = reports.open_readonly(str(log_db))
    yield c
    c.close()


def monday(conn, **kw):
    return reports.build_report(conn, SITE, MONDAY, **kw)


def test_tickets_per_business_type_and_item(conn):
    r = monday(conn)
    # Monday: A001 A002 A003 B001 B002 D001.
    assert r.summary["tickets"] == 6
    assert {k: v["tickets"] for k, v in r.business_types.items()} == {"A": 3, "B": 2, "D": 1}
    # CB-01: A001, A002; CX-01: B001; no item: B002, A003, D001.
    assert {k: v["tickets"] for k, v in r.items.items()} == {"CB-01": 2, "CX-01": 1, "-": 3}
    assert r.items["CB-01"]["business_type"] == "A"
    assert (r.summary["served"], r.summary["no_shows"], r.summary["cancelled"]) == (4, 1, 1)


def test_wait_and_service_distributions(conn):
    s = monday(conn).summary
    # Waits to the first call (min): A001 5, B001 12, B002 20, A003 20, A002 40 (its first call).
    # mean 97/5 = 19.4; nearest rank p50 = 3rd of 5 = 20; p90 = ceil(4.5) = 5th = 40.
    assert (s["wait_n"], s["wait_mean_min"], s["wait_p50_min"], s["wait_p90_min"]) == (5, 19.4, 20, 40)
    # Services (min): B001 3, A001 4 (from start 6 to 10), A003 8, B002 10 (from start 21 to 31).
    # mean 25/4 = 6.25; p50 = 2nd of 4 = 4; p90 = ceil(3.6) = 4th = 10.
    assert (s["service_n"], s["service_mean_min"], s["service_p50_min"], s["service_p90_min"]) == (4, 6.25, 4, 10)


def test_per_business_type_figures(conn):
    a = monday(conn).business_types["A"]
    # A waits 5, 20, 40: mean 21.67, p50 2nd = 20, p90 3rd = 40; services 4, 8: mean 6, p50 4, p90 8.
    assert (a["wait_mean_min"], a["wait_p50_min"], a["wait_p90_min"]) == (21.67, 20, 40)
    assert (a["service_mean_min"], a["service_p50_min"], a["service_p90_min"]) == (6, 4, 8)
    # 2 of 3 called within 30 min; A002 was a no-show: 1 of 3 called.
    assert (a["within_target_share"], a["no_show_share"]) == (0.6667, 0.3333)
    d = monday(conn).business_types["D"]
    assert d["called"] == 0 and d["wait_mean_min"] is None and d["within_target_share"] is None


def test_share_within_the_target_and_no_shows(conn):
    # 4 of the 5 called tickets waited 30 min or less (A002 waited 40); one no-show of 5 called.
    s = monday(conn).summary
    assert (s["within_target_share"], s["no_show_share"]) == (0.8, 0.2)
    # With a 15 min target only A001 (5) and B001 (12) make it: 2 of 5.
    assert monday(conn, target_minutes=15).summary["within_target_share"] == 0.4


def test_window_and_clerk_throughput(conn):
    r = monday(conn)
    # Window 2 (wang) finished A001 (4 min) and A003 (8 min); it called A001, A002 twice, A003: 4 calls.
    # Window 4 (li) finished B001 (3 min) and B002 (10 min) after 2 calls.
    assert r.windows[2]["served"] == 2 and r.windows[2]["service_mean_min"] == 6 and r.windows[2]["calls"] == 4
    assert r.windows[4]["served"] == 2 and r.windows[4]["service_mean_min"] == 6.5 and r.windows[4]["calls"] == 2
    assert {k: v["served"] for k, v in r.clerks.items()} == {"li": 2, "wang": 2}
    assert r.windows[4]["bad_ratings"] == 1 and r.windows[2]["rating_mean"] == 4.5


def test_ratings(conn):
    r = monday(conn)
    # A001 5, B001 1, A003 4: mean 10/3 = 3.33, one bad rating.
    assert r.ratings == {5: 1, 4: 1, 3: 0, 2: 0, 1: 1}
    assert (r.summary["ratings"], r.summary["rating_mean"], r.summary["bad_ratings"]) == (3, 3.33, 1)


def test_hours_of_the_day(conn):
    # Issued in the 9 o'clock hour: A001 B001 A002 B002 D001; at 10:05: A003.
    r = monday(conn)
    assert {h: v["tickets"] for h, v in r.hours.items()} == {9: 5, 10: 1}


def test_a_range_covers_several_days_and_another_site_never_counts(conn):
    r = reports.build_report(conn, SITE, MONDAY, TUESDAY)
    # Tuesday adds A001: waited 10, served in 5 min.
    assert r.summary["tickets"] == 7 and r.summary["days_with_tickets"] == 2
    assert {d: v["tickets"] for d, v in r.days.items()} == {MONDAY: 6, TUESDAY: 1}
    assert r.windows[2]["served"] == 3
    village = reports.build_report(conn, "demo-village", MONDAY, TUESDAY)
    assert village.summary["tickets"] == 1 and village.summary["served"] == 0
    assert reports.build_report(conn, "nowhere", MONDAY).summary["tickets"] == 0


def test_a_month(conn):
    first, last = reports.month_range("2026-11")
    assert (first, last) == ("2026-11-01", "2026-11-30")
    assert reports.month_range("2026-12") == ("2026-12-01", "2026-12-31")
    assert reports.build_report(conn, SITE, first, last).summary["tickets"] == 7


def test_bad_arguments_are_clear_errors(conn):
    for args in (("2026-13-01",), ("2026-11-23", "2026-11-01"), ("yesterday",)):
        with pytest.raises(reports.ReportError):
            reports.build_report(conn, SITE, *args)
    with pytest.raises(reports.ReportError):
        monday(conn, target_minutes=0)
    with pytest.raises(reports.ReportError):
        reports.to_csv(monday(conn), "secrets")
    with pytest.raises(reports.ReportError):
        reports.month_range("November")


def test_csv_export(conn):
    r = reports.build_report(conn, SITE, MONDAY, with_tickets=True)
    rows = list(csv.DictReader(io.StringIO(reports.to_csv(r, "business_types"))))
    assert [row["business_type"] for row in rows] == ["A", "B", "D"]
    assert float(rows[0]["wait_p90_min"]) == 40 and rows[0]["site"] == SITE and rows[2]["wait_mean_min"] == ""
    summary = {row["metric"]: row["value"] for row in csv.DictReader(io.StringIO(reports.to_csv(r, "summary")))}
    assert summary["tickets"] == "6" and summary["within_target_share"] == "0.8"
    tickets = list(csv.DictReader(io.StringIO(reports.to_csv(r, "tickets"))))
    assert len(tickets) == 6
    a002 = next(t for t in tickets if t["ticket"].endswith(":A002"))
    assert (a002["wait_min"], a002["ended"], a002["window"], a002["clerk"]) == ("40.0", "no_show", "2", "wang")
    assert a002["issued_at"].startswith("2026-11-23T09:00:00") and a002["issued_at"].endswith("+08:00")
    for table in reports.CSV_TABLES:
        assert reports.to_csv(r, table).startswith("site,from,to,")


def test_follow_up_cases_with_deadlines_met_or_missed(log_db):
    # B001's rating 1 (Monday 09:15) opened a case: first contact due by the end of the next working day's
    # hours (Tuesday 17:30), closed within 5 working days (Monday 30 November 17:30).
    conn = reports.open_readonly(str(log_db))
    monday_10 = 1795395600.0 + 3600
    f = reports.build_report(conn, SITE, MONDAY, now=monday_10).followups
    assert (f["opened"], f["closed"], f["contact_running"], f["close_running"]) == (1, 0, 1, 1)
    assert f["contact_met_share"] is None
    # Nobody has called the citizen by Wednesday: the contact deadline is missed, the closing one still runs.
    wednesday = monday_10 + 2 * 86400
    f = reports.build_report(conn, SITE, MONDAY, now=wednesday).followups
    assert (f["contact_missed"], f["contact_running"], f["close_running"]) == (1, 0, 1)
    assert f["contact_met_share"] == 0.0
    conn.close()
    # A copy of the log where the case was contacted on Tuesday at 10:00 and closed on Thursday.
    import shutil
    copy = log_db.with_name("followups.db")
    shutil.copy(log_db, copy)
    db = sqlite3.connect(copy)
    seq = db.execute("SELECT max(seq) FROM events WHERE site_id = ?", (SITE,)).fetchone()[0]
    case = db.execute("SELECT json_extract(data, '$.case') FROM events WHERE type = 'follow_up_opened'").fetchone()[0]
    for n, (type_, ts, day, data) in enumerate((
            ("follow_up_contacted", monday_10 + 86400, TUESDAY, {"case": case, "by": "boss"}),
            ("follow_up_closed", monday_10 + 3 * 86400, "2026-11-26", {"case": case, "outcome": "apologised"}))):
        db.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   (f"f{n}", SITE, seq + 1 + n, day, "2026-11-24T10:00:00+08:00", ts, type_, None, None, None,
                    json.dumps(data)))
    db.commit()
    db.close()
    conn = reports.open_readonly(str(copy))
    f = reports.build_report(conn, SITE, MONDAY, now=wednesday + 7 * 86400).followups
    assert (f["opened"], f["closed"], f["contact_met"], f["close_met"], f["close_met_share"]) == (1, 1, 1, 1, 1.0)
    assert reports.build_report(conn, SITE, TUESDAY).followups["opened"] == 0  # opened on Monday
    conn.close()


def test_a_log_without_follow_ups_reports_none(conn):
    f = reports.build_report(conn, "demo-village", MONDAY).followups
    assert f["opened"] == 0 and f["contact_met_share"] is None


def test_odd_rows_in_the_log_do_not_break_a_report(log_db):
    import shutil
    copy = log_db.with_name("odd.db")
    shutil.copy(log_db, copy)
    db = sqlite3.connect(copy)
    seq = db.execute("SELECT max(seq) FROM events").fetchone()[0]
    for n, (type_, at, ticket, data) in enumerate((
            ("ticket_issued", "garbage", "demo-county:2026-11-23:Z001", "{}"),
            ("ticket_rated", "2026-11-23T11:00:00+08:00", "demo-county:2026-11-23:Z001", '{"score": "five"}'),
            ("service_finished", "2026-11-23T11:00:00+08:00", "demo-county:2026-11-23:Z001", '{"service_seconds": null}'),
            ("ticket_called", "2026-11-23T11:00:00+08:00", "demo-county:2026-11-23:NOPE", "{}"))):
        db.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   (f"odd{n}", SITE, seq + 1 + n, MONDAY, at, 1795402800.0, type_, ticket, 2, None, data))
    db.commit()
    db.close()
    conn = reports.open_readonly(str(copy))
    r = reports.build_report(conn, SITE, MONDAY)
    assert r.summary["tickets"] == 7 and r.summary["served"] == 5 and r.summary["service_n"] == 4
    assert r.ratings[5] == 1 and r.hours[-1]["tickets"] == 1
    conn.close()
