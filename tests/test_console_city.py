"""The city view in the console: a manager sees every hall by level, one hall in detail, city reports;
a clerk sees none of it; a city store that is down is a clear error."""
from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path

import httpx
import pytest

from city.live import CityLive
from city.reports import aggregate
from console.accounts import Accounts
from console.city import city_routes
from console.runner import ConsoleRunner
from onewindow.broker import free_port
from onewindow.transport import LocalBroker
from tests.console_support import HallStack
from tests.test_city_reports import publish_hall, summary

PASSWORD = "correct horse"


@pytest.fixture
def console():
    stack = HallStack(console=False).start()  # the hall whose console this is: broker and queue server
    bus = LocalBroker()
    hall = bus.transport("bridge", presence=False).start()
    publish_hall(hall, "v1", "village", {"A": 1}, {1: "serving"})
    publish_hall(hall, "c1", "county", {"A": 4, "B": 2}, {1: "serving", 2: "idle"}, devices=[("kiosk-1", "degraded")])
    state = {"hall": hall}
    live = CityLive(bus.transport("city", presence=False).start())
    rows = [summary("c1", "county", date(2026, 11, 2), 3, [1, 2, 40], bad=1, ratings=2),
            summary("v1", "village", date(2026, 11, 2), 1, [3])]
    state["store_up"] = True

    def report(by, period):
        if not state["store_up"]:
            raise ConnectionError("city store down")
        return aggregate(rows, by=by, period=period)
    d = Path(tempfile.mkdtemp(prefix="onewindow-console-city-"))
    accounts = Accounts(d / "users.db")
    accounts.add("boss", "manager", password=PASSWORD, name="赵主任")
    accounts.add("wang", "clerk", password=PASSWORD, pin="1234", name="王芳")
    accounts.close()
    runner = ConsoleRunner(stack.broker.settings, stack.site.site_id, d / "users.db", port=free_port(),
                           client_id="console-city-test", routes=city_routes(live, report)).start()
    yield runner, state
    runner.stop()
    stack.stop()
    shutil.rmtree(d, ignore_errors=True)


def client(runner, username, **extra):
    c = httpx.Client(base_url=runner.url, timeout=10)
    c.__enter__()
    r = c.post("/api/login", json={"username": username, "password": PASSWORD, **extra})
    assert r.status_code == 200, r.text
    return Signed(c)


class Signed:
    """A signed-in client for a `with` block."""

    def __init__(self, c):
        self.c = c

    def __enter__(self):
        return self.c

    def __exit__(self, *exc):
        self.c.__exit__(*exc)


def test_a_manager_sees_every_hall_by_level_and_drills_down_to_one(console):
    runner, _ = console
    with client(runner, "boss") as c:
        assert "全市网点" in c.get("/city").text
        halls = c.get("/api/city/halls").json()["halls"]
        assert [(h["site"], h["level"], h["waiting"]) for h in halls] == [("c1", "county", 6), ("v1", "village", 1)]
        assert halls[0]["alarms"][0]["who"] == "kiosk-1"
        one = c.get("/api/city/hall/c1").json()
        assert [w["window"] for w in one["windows"]] == [1, 2] and [q["business_type"] for q in one["queues"]] == ["A", "B"]
        assert c.get("/api/city/hall/nowhere").status_code == 404


def test_city_reports_by_level_and_a_store_that_is_down(console):
    runner, state = console
    with client(runner, "boss") as c:
        body = c.get("/api/city/report", params={"by": "level", "period": "month"}).json()
        assert [(r["level"], r["tickets"]) for r in body["rows"]] == [("county", 3), ("village", 1)]
        assert c.get("/api/city/report", params={"by": "street"}).status_code == 400
        state["store_up"] = False
        r = c.get("/api/city/report")
        assert r.status_code == 503 and r.json()["error"]["code"] == "city_store_unavailable"


def test_the_city_view_is_for_managers_only(console):
    runner, _ = console
    with httpx.Client(base_url=runner.url, timeout=10) as anonymous:
        assert anonymous.get("/api/city/halls").status_code == 401
    with client(runner, "wang", window=1) as c:
        for path in ("/city", "/api/city/halls", "/api/city/hall/c1", "/api/city/report"):
            assert c.get(path).status_code == 403, path


def test_the_city_page_in_a_browser_lists_the_halls_and_runs_a_report(console):
    import os
    import re

    import playwright.sync_api as playwright_api  # in the test extra: this test never skips
    runner, state = console
    publish_hall(state["hall"], "t1", "township", {"A": 3, "C": 1}, {1: "serving", 2: "paused"})
    publish_hall(state["hall"], "b1", "bank", {"A": 0}, {1: "idle"}, devices=[("display-1", "out_of_service")])
    assert os.path.exists("/usr/bin/chromium"), "Debian's chromium is needed (apt-get install chromium)"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(8000)
        r = context.request.post(runner.url + "/api/login", data={"username": "boss", "password": PASSWORD})
        assert r.ok, r.text()
        page.goto(runner.url + "/city")
        playwright_api.expect(page.locator("#halls tbody tr")).to_have_count(4)
        playwright_api.expect(page.locator("#halls tbody tr").first).to_contain_text("c1 hall")
        playwright_api.expect(page.locator("#halls tbody tr").last).to_contain_text("display-1")
        page.select_option("#by", "level")
        page.select_option("#period", "month")
        page.click("#run-report")
        playwright_api.expect(page.locator("#report tbody tr")).to_have_count(2)
        page.locator("#halls tbody tr").first.click()
        playwright_api.expect(page.locator("#detail-name")).to_have_text(re.compile("c1"))
        images = Path(__file__).resolve().parent.parent / "docs" / "images"
        page.screenshot(path=str(images / "city-view.png"), full_page=True)
        browser.close()
