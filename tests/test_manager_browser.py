"""The manager pages and the citizen's ticket page in headless Chromium (Debian's, driven by Playwright).

Screenshots for the README are written to docs/images/ by these tests."""
from __future__ import annotations

import csv
import io
import re
import sqlite3
from pathlib import Path

import playwright.sync_api as playwright_api
import pytest

from tests.manager_support import PASSWORD, ManagerStack, simulated_day_db
from tests.support import wait_until

expect = playwright_api.expect
expect.set_options(timeout=10_000)  # a loaded machine: assert what happens, not how fast (bench/ measures that)
IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


@pytest.fixture(scope="module")
def stack():
    s = ManagerStack().start()
    yield s
    s.stop()


def new_page(browser, width=1360, height=900, **kw):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai", accept_downloads=True, **kw)
    page = context.new_page()
    page.set_default_timeout(8000)
    return context, page


@pytest.fixture
def manager(browser, stack):
    context, page = new_page(browser)
    sign_in(page, stack.url, "boss")
    yield page
    context.close()


def sign_in(page, url, username):
    page.goto(url + "/login")
    page.fill("#username", username)
    page.fill("#secret", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(re.compile(r"/manager$"))
    page.wait_for_selector("#windows .win")


def events(stack, type_):
    db = sqlite3.connect(stack.dir / "q.db")
    try:
        return db.execute("SELECT json_extract(data, '$.manager'), window, ticket FROM events WHERE type = ? "
                          "ORDER BY seq", (type_,)).fetchall()
    finally:
        db.close()


def test_a_manager_watches_a_call_arrive_live(manager, stack):
    clerk = stack.clerk_client()
    numbers = stack.issue("A", 6) + stack.issue("B", 3) + stack.issue("D", 2)
    assert clerk.window("sign_in", 2, "wang")["ok"] and clerk.window("sign_in", 4, "li")["ok"]
    expect(manager.locator("#window-2 .badge")).to_have_text(re.compile("Idle"))
    reply = clerk.window("call_next", 2, "wang")
    expect(manager.locator("#window-2 .ticket")).to_have_text(reply["ticket"]["number"])  # no reload
    expect(manager.locator("#window-2 .badge")).to_have_text(re.compile("Calling"))
    clerk.window("call_next", 4, "li")
    clerk.window("start", 4, "li")
    expect(manager.locator("#window-4 .badge")).to_have_text(re.compile("Serving"))
    expect(manager.locator("#queues tr[data-prefix=A] td.waiting")).to_have_text(re.compile(r"^\d+$"))
    expect(manager.locator("#queues tr[data-prefix=D] td.longest")).to_have_text(re.compile(r"\d+:\d\d"))
    assert len(numbers) == 11


def test_a_manager_pauses_a_window_and_the_log_says_who(manager, stack):
    clerk = stack.clerk_client()
    clerk.window("sign_in", 3, "wang3")
    expect(manager.locator("#window-3 .badge")).to_have_text(re.compile("Idle"))
    manager.click("#win-3-pause")
    expect(manager.locator("#window-3 .badge")).to_have_text(re.compile("Paused"))
    expect(manager.locator("#message")).to_have_text(re.compile("暂停"))
    assert ("boss", 3, None) in events(stack, "window_paused")
    manager.click("#win-3-resume")
    expect(manager.locator("#window-3 .badge")).to_have_text(re.compile("Idle"))
    manager.click("#win-3-close")
    expect(manager.locator("#window-3 .badge")).to_have_text(re.compile("Closed"))
    assert ("boss", 3, None) in events(stack, "window_closed")


def test_a_manager_stops_issuing_sets_the_notice_and_is_refused_in_words(manager, stack):
    manager.click("#issue-F")
    expect(manager.locator("#queues tr[data-prefix=F]")).to_contain_text("已停止")
    assert stack._kiosk.issue("F")["error"]["code"] == "business_type_closed"
    manager.click("#issue-F")
    expect(manager.locator("#queues tr[data-prefix=F]")).to_contain_text("取号中")
    manager.fill("#notice-text", "12:00-13:30 午休，暂停叫号")
    manager.click("#notice-set")
    expect(manager.locator("#notice-now")).to_contain_text("午休")
    manager.fill("#cancel-number", "Z999")
    manager.click("#cancel-do")
    expect(manager.locator("#message")).to_have_text(re.compile("今天没有这个号|No such ticket"))


def test_a_manager_acknowledges_an_alert(manager, stack):
    kiosk = stack.device("kiosk-7")
    t = stack.topics()
    stack.publish(kiosk, t.device_status("kiosk-7"), {"device": "kiosk-7", "kind": "kiosk", "state": "degraded",
                                                      "parts": {"printer": "paper_out", "scanner": "ok"}}, retain=True)
    item = manager.locator("#alerts li[data-kind=paper_out]")
    expect(item).to_contain_text("缺纸")
    expect(manager.locator("#device-kiosk-7")).to_contain_text("Out of paper")
    stack.issue("A", 4)  # a long line (more than 5 waiting) for the picture
    expect(manager.locator("#alerts li[data-kind=long_line]")).to_have_count(1)
    clerk = stack.clerk_client()  # a bad rating: an alert and a follow-up case
    clerk.window("finish", 4, "li")
    assert clerk.request("rate", ticket="B001", score=1, window=4)["ok"]  # li served B001 in the first test
    expect(manager.locator("#alerts li[data-kind=bad_rating]")).to_contain_text("B001")
    expect(manager.locator("#cases tbody tr")).to_contain_text("B001")
    manager.wait_for_timeout(300)
    manager.screenshot(path=str(IMAGES / "manager-live.png"))
    item.locator("button.ack").click()
    expect(item).to_contain_text("已确认")
    expect(item).to_contain_text("boss")
    assert wait_until(lambda: any(h["acked_by"] == "boss" and h["kind"] == "paper_out"
                                  for h in stack.desk.store.history()))


def test_a_manager_works_a_follow_up_case_to_its_close(manager, stack):
    case = manager.locator("#cases tbody tr", has_text="B001")
    expect(case).to_have_count(1)  # opened by the bad rating of the test above
    for action, fill in (("assign", ("#case-owner", "zhao")), ("contact", ("#case-text", "phoned, explained")),
                         ("close", None)):
        case.locator(f"button[data-action={action}]").click()
        if fill:
            manager.fill(*fill)
        manager.click("#case-ok")
        expect(manager.locator("#message")).to_contain_text("Follow-up saved")
    expect(case).to_contain_text("已结案 closed")
    db = sqlite3.connect(stack.dir / "q.db")
    rows = db.execute("SELECT type, json_extract(data, '$.by') FROM events WHERE type LIKE 'follow_up_%' "
                      "ORDER BY seq").fetchall()
    db.close()
    assert rows == [("follow_up_opened", None), ("follow_up_assigned", "boss"), ("follow_up_contacted", "boss"),
                    ("follow_up_closed", "boss")]


def test_the_reports_page_shows_charts_and_downloads_a_csv(manager, stack, tmp_path):
    stack.desk.log_db = simulated_day_db(tmp_path / "day.db")
    try:
        manager.goto(stack.url + "/manager/reports?day=2026-11-23")
        expect(manager.locator("#tiles .tile").first).to_be_visible()
        expect(manager.locator("#t-types tbody tr")).to_have_count(6)
        expect(manager.locator("#t-audit")).to_contain_text("No manager actions")  # a simulated day: none
        manager.wait_for_timeout(200)
        manager.set_viewport_size({"width": 1360, "height": 1180})
        manager.screenshot(path=str(IMAGES / "manager-reports.png"))
        with manager.expect_download() as info:
            manager.click("#csv-business_types")
        download = info.value
        assert download.suggested_filename == "demo-county-2026-11-23-business_types.csv"
        rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
        assert [r["business_type"] for r in rows] == list("ABCDEF")
        assert sum(int(r["tickets"]) for r in rows) > 500
        manager.goto(stack.url + "/manager/reports/print?day=2026-11-23")
        manager.wait_for_selector("body[data-ready='1']")
        manager.wait_for_timeout(200)
        manager.screenshot(path=str(IMAGES / "manager-daily-report.png"), full_page=True)
    finally:
        stack.desk.log_db = str(stack.dir / "q.db")


def test_a_viewer_sees_the_hall_but_no_controls(browser, stack):
    context, page = new_page(browser)
    try:
        sign_in(page, stack.url, "eve")
        expect(page.locator("body.viewer")).to_have_count(1)
        expect(page.locator("#win-2-pause, #win-1-open").first).to_be_hidden()
        expect(page.locator("#notice-form")).to_be_hidden()
    finally:
        context.close()


def test_a_citizen_follows_a_ticket_live(browser, stack):
    clerk = stack.clerk_client()
    clerk.window("sign_in", 6, "sun")  # window 6 serves C first: an estimate to show
    number = stack.issue("C", 3)[-1]
    ticket_id = f"{stack.site.site_id}:{stack.server.engine.day}:{number}"
    context, page = new_page(browser, width=390, height=740, is_mobile=True)
    try:
        page.goto(stack.url + "/t/" + ticket_id)
        expect(page.locator("#number")).to_have_text(number)
        expect(page.locator("#state")).to_contain_text("请耐心等候")
        expect(page.locator("#ahead")).to_have_text(re.compile(r"\d+ 人"))
        page.wait_for_timeout(200)
        page.screenshot(path=str(IMAGES / "citizen-ticket.png"))
        clerk.window("sign_in", 5, "zhou")
        clerk.window("call", 5, "zhou", ticket=number)
        expect(page.locator("#state")).to_contain_text("请到窗口办理")
        expect(page.locator("#state")).to_contain_text("5")
        clerk.window("start", 5, "zhou")
        expect(page.locator("#state")).to_contain_text("正在办理")
        clerk.window("finish", 5, "zhou")
        expect(page.locator("#state")).to_contain_text("已办结")
        body = page.content()
        assert "priority" not in body and "zhou" not in body
    finally:
        context.close()
