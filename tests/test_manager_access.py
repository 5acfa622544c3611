"""The manager pages' doors, their control actions over HTTP, the report numbers through the API, and
the citizen's ticket page revealing nothing beyond its own ticket."""
from __future__ import annotations

import csv
import io
import sqlite3
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import Clock
from tests.manager_support import PASSWORD, ManagerStack
from tests.report_fixture import MONDAY, build_fixture_day

PAGES = ("/manager", "/manager/reports", "/manager/reports/print")
READS = ("/api/manager/alerts", "/api/manager/followups", "/api/manager/audit", "/api/manager/report?day=2026-11-23",
         "/api/manager/report.csv?day=2026-11-23&table=summary")
WRITES = (("/api/manager/alerts/ack", {"id": "x"}), ("/api/manager/window/2/pause", {}),
          ("/api/manager/window/2/open", {}), ("/api/manager/business_type/A", {"open": False}),
          ("/api/manager/notice", {"text": "hello"}), ("/api/manager/cancel", {"ticket": "A001"}))


@pytest.fixture(scope="module")
def stack():
    s = ManagerStack().start()
    yield s
    s.stop()


@contextmanager
def signed_in(stack, username, window=None):
    with httpx.Client(base_url=stack.url, timeout=10) as c:
        body = {"username": username, "password": PASSWORD}
        if window is not None:
            body["window"] = window
        r = c.post("/api/login", json=body)
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf"]
        yield c


def test_nothing_of_the_manager_pages_without_signing_in(stack):
    with httpx.Client(base_url=stack.url, timeout=10) as c:
        for path in PAGES + READS:
            assert c.get(path).status_code == 401, path
        for path, body in WRITES:
            assert c.post(path, json=body).status_code == 401, path


def test_a_clerk_may_not_open_the_manager_pages(stack):
    with signed_in(stack, "wang", window=7) as c:
        for path in PAGES + READS:
            assert c.get(path).status_code == 403, path
        for path, body in WRITES:
            assert c.post(path, json=body).status_code == 403, path
        assert c.post("/api/logout").status_code == 200


def test_a_viewer_reads_but_may_not_act(stack):
    with signed_in(stack, "eve") as c:
        for path in PAGES + READS:
            assert c.get(path).status_code == 200, path
        for path, body in WRITES:
            assert c.post(path, json=body).status_code == 403, path


def test_a_manager_without_the_csrf_token_is_refused(stack):
    with signed_in(stack, "boss") as c:
        del c.headers["X-CSRF-Token"]
        for path, body in WRITES:
            r = c.post(path, json=body)
            assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"], path


def manager_events(stack, type_):
    db = sqlite3.connect(stack.dir / "q.db")
    try:
        return db.execute("SELECT json_extract(data, '$.manager'), window, ticket, data FROM events WHERE type = ?",
                          (type_,)).fetchall()
    finally:
        db.close()


def test_a_manager_controls_the_hall_and_every_action_is_audited(stack):
    [number] = stack.issue("E")
    with signed_in(stack, "root") as c:  # an admin may do what a manager does
        r = c.post("/api/manager/window/10/open", json={"clerk": "chen"})
        assert r.status_code == 200 and r.json()["clerk"] == "chen"
        assert c.post("/api/manager/window/10/pause", json={"reason": "meeting"}).json()["state"] == "paused"
        assert c.post("/api/manager/window/10/resume", json={}).json()["state"] == "idle"
        assert c.post("/api/manager/window/10/close", json={}).json()["state"] == "closed"
        r = c.post("/api/manager/window/10/close", json={})
        assert r.status_code == 409 and r.json()["error"]["code"] == "window_closed"
        assert c.post("/api/manager/window/99/pause", json={}).status_code == 404
        assert c.post("/api/manager/window/10/explode", json={}).status_code == 404
        assert c.post("/api/manager/business_type/F", json={"open": False}).json()["open"] is False
        assert stack._kiosk.issue("F")["error"]["code"] == "business_type_closed"
        assert c.post("/api/manager/business_type/F", json={"open": True}).json()["open"] is True
        assert c.post("/api/manager/business_type/F", json={"open": "yes"}).status_code == 400
        assert c.post("/api/manager/notice", json={"text": "系统维护 Maintenance"}).json()["notice"] == "系统维护 Maintenance"
        assert c.post("/api/manager/notice", json={"text": "x" * 201}).status_code == 400
        assert c.post("/api/manager/cancel", json={"ticket": number.lower()}).status_code == 200
        r = c.post("/api/manager/cancel", json={"ticket": number})
        assert r.status_code == 409 and r.json()["error"]["code"] == "wrong_state"
    for type_ in ("window_opened", "window_paused", "window_resumed", "window_closed", "business_type_set",
                  "notice_set", "ticket_cancelled"):
        assert any(row[0] == "root" for row in manager_events(stack, type_)), type_
    cancelled = [row for row in manager_events(stack, "ticket_cancelled") if row[0] == "root"]
    assert cancelled[0][2].endswith(":" + number) and '"reason":"manager"' in cancelled[0][3]
    with signed_in(stack, "eve") as c:  # the audit trail, readable by a viewer
        actions = c.get("/api/manager/audit", params={"day": stack.server.engine.day}).json()["actions"]
    mine = [(a["who"], a["what"], a["window"], a["ticket"]) for a in actions if a["who"] == "root"]
    assert mine[0] == ("root", "ticket_cancelled", None, number)  # newest first
    assert ("root", "window_opened", 10, None) in mine and ("root", "notice_set", None, None) in mine
    assert next(a for a in actions if a["what"] == "window_paused" and a["who"] == "root")["detail"] == \
        {"reason": "meeting"}


@pytest.fixture(scope="module")
def fixture_log(stack, tmp_path_factory):
    from tests.support import county_site, village_site
    db = tmp_path_factory.mktemp("fixture") / "hall.db"
    build_fixture_day(db, county_site(), village_site(), Clock())
    return str(db)


def test_the_report_api_gives_the_fixture_days_numbers(stack, fixture_log):
    stack.desk.log_db = fixture_log
    try:
        with signed_in(stack, "eve") as c:
            r = c.get("/api/manager/report", params={"day": MONDAY}).json()
            s = r["summary"]
            # The hand-computed figures of tests/test_reports.py, through the console.
            assert (s["tickets"], s["served"], s["wait_mean_min"], s["wait_p90_min"]) == (6, 4, 19.4, 40)
            assert (s["within_target_share"], s["no_show_share"], s["service_mean_min"]) == (0.8, 0.2, 6.25)
            assert r["windows"]["2"]["served"] == 2 and r["clerks"]["li"]["served"] == 2
            assert c.get("/api/manager/report", params={"day": MONDAY, "target": 15}).json()["summary"][
                "within_target_share"] == 0.4
            month = c.get("/api/manager/report", params={"month": "2026-11"}).json()
            assert month["summary"]["tickets"] == 7 and month["from"] == "2026-11-01"
            rng = c.get("/api/manager/report", params={"from": MONDAY, "to": "2026-11-24"}).json()
            assert set(rng["days"]) == {MONDAY, "2026-11-24"}
            resp = c.get("/api/manager/report.csv", params={"day": MONDAY, "table": "business_types"})
            assert resp.headers["content-disposition"] == \
                'attachment; filename="demo-county-2026-11-23-business_types.csv"'
            rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
            assert [(x["business_type"], x["tickets"]) for x in rows] == [("A", "3"), ("B", "2"), ("D", "1")]
            for bad in ({"day": "2026-13-01"}, {"month": "Nov"}, {"day": MONDAY, "target": "soon"},
                        {"from": "2026-11-24", "to": MONDAY}):
                assert c.get("/api/manager/report", params=bad).status_code == 400, bad
            assert c.get("/api/manager/report.csv", params={"day": MONDAY, "table": "users"}).status_code == 400
    finally:
        stack.desk.log_db = str(stack.dir / "q.db")


def test_a_missing_event_log_is_a_clear_503(stack, tmp_path):
    stack.desk.log_db = str(tmp_path / "nowhere.db")
    try:
        with signed_in(stack, "eve") as c:
            r = c.get("/api/manager/report", params={"day": MONDAY})
            assert r.status_code == 503 and r.json()["error"]["code"] == "no_event_log"
    finally:
        stack.desk.log_db = str(stack.dir / "q.db")


def test_the_ticket_page_shows_its_ticket_and_nothing_else(stack):
    stack.issue("B")  # someone ahead
    reply = stack._kiosk.issue("B", priority_group="elderly")  # a priority group is not for others to see
    ticket = reply["ticket"]
    other = stack.issue("B")[0]
    with httpx.Client(base_url=stack.url, timeout=10) as c:  # no session: public
        page = c.get(f"/t/{ticket['id']}")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        data = c.get(f"/api/t/{ticket['id']}").json()
        assert data["number"] == ticket["number"] and data["state"] == "waiting"
        assert set(data) == {"number", "business_type", "business_type_name", "business_type_name_en", "state",
                             "ahead", "estimated_wait_min", "window", "window_name", "service_day", "issued_time",
                             "called_after", "site_name", "site_name_en"}
        text = str(data)
        assert "elderly" not in text and other not in text and "priority" not in text
        day = ticket["service_day"]
        for bad in (f"{stack.site.site_id}:{day}:Z999", f"{stack.site.site_id}:2020-01-01:B001",
                    f"demo-village:{day}:B001", ticket["number"], "../../etc/passwd", "x" * 300):
            r = c.get(f"/t/{bad}")
            assert r.status_code == 404 and ("/" in bad or r.text == "404 Not Found"), bad
            assert c.get(f"/api/t/{bad}").status_code == 404
            assert c.get(f"/api/t/{bad}/events").status_code == 404
        with c.stream("GET", f"/api/t/{ticket['id']}/events") as s:
            assert s.status_code == 200
            for line in s.iter_lines():
                if line.startswith("data:"):
                    assert ticket["number"] in line and "elderly" not in line
                    break


def test_the_qr_printed_on_a_ticket_opens_its_page(stack):
    """The kiosk prints {site.public_url}/t/{ticket id} in the ticket's QR (hardware/printing/layouts.py):
    with the console as the hall's public address, that link opens this ticket's page."""
    import dataclasses
    from urllib.parse import urlsplit

    from hardware.printing.document import QR
    from hardware.printing.layouts import ticket as ticket_layout
    stack.issue("C")  # (starts the test kiosk)
    reply = stack._kiosk.issue("C")
    site = dataclasses.replace(stack.site, public_url=stack.url)
    [qr] = [b for b in ticket_layout(site, reply["ticket"]).blocks if isinstance(b, QR)]
    assert qr.data.startswith(stack.url + "/t/")
    with httpx.Client(timeout=10) as c:
        page = c.get(qr.data)
        assert page.status_code == 200 and "ticket.js" in page.text
        data = c.get(stack.url + "/api/t/" + urlsplit(qr.data).path.split("/t/", 1)[1]).json()
    assert data["number"] == reply["ticket"]["number"]
