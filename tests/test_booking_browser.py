"""A citizen books on a phone-sized page, checks in at the kiosk with the QR, and is called at the slot
ahead of walk-ins: headless Chromium (Debian's, driven by Playwright), a real Mosquitto, the real queue
server (its clock set to a Monday morning) and the console. Everything on the bus is recorded (`#`) to
show that the citizen's numbers never travel, and the hash only from the console to the server."""
from __future__ import annotations

import base64
import io
import json
import logging
import re
from pathlib import Path

import httpx
import playwright.sync_api as playwright_api
import pytest
import zxingcpp
from PIL import Image

from kiosk.checkin import check_in
from onewindow.booking_code import code_from
from onewindow.identity import protect
from onewindow.mqtt import MqttTransport
from tests.conftest import Clock, local_time
from tests.console_support import PASSWORD, HallStack

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
LAST4, PHONE = "907X", "13912345678"
SALT = b"booking-browser-test-salt"


@pytest.fixture(scope="module")
def hall():
    clock = Clock(local_time(2026, 11, 23, 9, 0))  # Monday 09:00 at the hall
    stack = HallStack().start()
    stack.server.clock = clock
    stack.console.app.state.booking_salt = SALT
    stack.clock = clock
    traffic: list[tuple[str, str]] = []
    spy = MqttTransport(stack.broker.settings, stack.site.site_id, "spy", presence=False).start(10)
    spy.subscribe("onewindow/#", lambda t, p: traffic.append((t, p.decode("utf-8", "replace"))))
    stack.traffic = traffic
    yield stack
    spy.stop()
    stack.stop()


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(8000)
    yield pg
    context.close()


def qr_of(page) -> str:
    src = page.get_attribute("img.qr", "src")
    png = base64.b64decode(src.split(",", 1)[1])
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found, "no QR code found in the booking's image"
    return found[0].text


def test_book_on_a_phone_check_in_with_the_qr_and_be_called_at_the_slot_ahead_of_walk_ins(hall, phone, caplog):
    caplog.set_level(logging.INFO)
    phone.goto(hall.url + "/book")
    item = phone.locator("ul.items a").filter(has_text=re.compile("参保")).first
    item.click()
    playwright_api.expect(phone.locator("section.notice h2")).to_contain_text("一次性告知")
    phone.check("input[name=start][value='2026-11-23T10:30:00+08:00']")
    phone.fill("input[name=id_last4]", LAST4.lower())
    phone.fill("input[name=phone]", PHONE)
    phone.evaluate("window.scrollTo(0, 0)")
    phone.screenshot(path=str(IMAGES / "booking-phone-slots.png"))
    phone.click("button[type=submit]")
    phone.wait_for_url(re.compile(r"/book/done/[A-Z0-9]{8}$"))
    code = phone.inner_text("#code")
    assert phone.inner_text("#when") == "2026-11-23 10:30–11:30"
    assert "爽约2次" in phone.inner_text(".rule")
    phone.screenshot(path=str(IMAGES / "booking-phone-done.png"), full_page=True)
    scanned = qr_of(phone)
    assert code_from(scanned) == code

    hall.clock.now = local_time(2026, 11, 23, 10, 0)
    walk_ins = hall.issue("A", 3)  # three walk-ins came first
    hall.clock.now = local_time(2026, 11, 23, 10, 20)
    result = check_in(hall._kiosk, scanned)  # the kiosk scans the QR
    assert result.ok and not result.walk_in, result
    number = result.ticket["number"]
    assert number not in walk_ins
    hall.clock.now = local_time(2026, 11, 23, 10, 31)
    clerk = hall.clerk_client()
    assert clerk.window("sign_in", 2, "li")["ok"]
    called = clerk.window("call_next", 2, "li")
    assert called["ticket"]["number"] == number, called  # at its slot, ahead of the walk-ins

    # the citizen's numbers never travelled; the hash only from the console to the server, once
    holder = protect(SALT, ("id_last4", "phone"), {"id_last4": LAST4, "phone": PHONE})
    everything = json.dumps(hall.traffic, ensure_ascii=False)
    assert code in everything  # the control: the booking itself was on the bus
    assert PHONE not in everything and LAST4 not in everything and LAST4.lower() not in everything
    carrying = [t for t, p in hall.traffic if holder in p]
    assert carrying == [hall.server.topics.cmd("book", "console-test")], carrying
    assert PHONE not in caplog.text and holder not in caplog.text
    booked = hall.server.store.conn.execute("SELECT data FROM events WHERE type = 'appointment_booked'").fetchone()
    assert PHONE not in booked[0] and holder in booked[0]  # stored as the hash only


def test_a_full_slot_is_refused_on_the_page_with_the_next_free_slots(hall, phone):
    hall.clock.now = local_time(2026, 11, 23, 9, 0)
    engine = hall.server.engine
    slot = engine.book.slot_at("D", local_time(2026, 11, 24, 14, 30))
    for i in range(slot.capacity):
        args = {"business_type": "D", "start": slot.start, "holder": "abcdefghijklmnop"[i % 16] * 64}
        assert hall.clerk_client().request("book", **args)["ok"]
    phone.goto(hall.url + "/book/slots?bt=D")
    assert phone.locator("input[name=start][value='2026-11-24T14:30:00+08:00']").is_disabled()
    phone.evaluate("document.querySelector(\"input[value='2026-11-24T14:30:00+08:00']\").disabled = false")
    phone.check("input[name=start][value='2026-11-24T14:30:00+08:00']")
    phone.fill("input[name=id_last4]", "1234")
    phone.fill("input[name=phone]", "13800001111")
    phone.click("button[type=submit]")
    playwright_api.expect(phone.locator("p.err")).to_contain_text("14:30 slot is full")
    playwright_api.expect(phone.locator("p.err")).to_contain_text("next free: 15:30")


def test_bad_identity_and_cross_site_posts_are_refused(hall):
    hall.clock.now = local_time(2026, 11, 23, 9, 0)
    form = {"bt": "A", "item": "", "start": "2026-11-23T14:30:00+08:00", "id_last4": "12", "phone": "13800001111"}
    r = httpx.post(hall.url + "/book", data=form)
    assert r.status_code == 400 and "身份证号后4位" in r.text
    r = httpx.post(hall.url + "/book", data={k: v for k, v in form.items() if k != "phone"} | {"id_last4": "1234"})
    assert r.status_code == 400 and "手机号码" in r.text  # the site asks for the phone: leaving it out is no way round
    r = httpx.post(hall.url + "/book", data={**form, "id_last4": "1234"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403


def test_a_clerk_books_for_a_citizen_at_the_counter(hall):
    hall.clock.now = local_time(2026, 11, 23, 9, 0)
    with httpx.Client(base_url=hall.url) as web:
        r = web.post("/api/login", json={"username": "wang", "password": PASSWORD, "window": 5})
        assert r.status_code == 200, r.text
        csrf = r.json().get("csrf")
        slots = web.get("/api/book/slots", params={"business_type": "C"}).json()
        start = slots["slots"][0]["start"]
        r = web.post("/api/book", json={"business_type": "C", "start": start, "id_last4": "5678",
                                        "phone": "13911112222"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
        booking = r.json()["booking"]
        assert booking["channel"] == "counter" and code_from(r.json()["qr_text"]) == booking["code"]
        r = web.post("/api/book", json={"business_type": "C", "start": start}, headers={"X-CSRF-Token": "x"})
        assert r.status_code == 403


def test_the_manager_sees_todays_bookings_per_slot_and_their_check_in_state(hall):
    with httpx.Client(base_url=hall.url) as web:
        assert web.post("/api/login", json={"username": "boss", "password": PASSWORD}).status_code == 200
        day = web.get("/api/bookings", params={"day": "2026-11-23"}).json()
    assert day["ok"] and day["kind"] == "open"
    states = {b["state"] for s in day["slots"] for b in s["bookings"]}
    assert "checked_in" in states and all(s["capacity"] for s in day["slots"])
    assert day["counts"]["checked_in"] >= 1


def test_a_clerk_opens_the_booking_page_from_the_clerk_page_and_books_at_the_counter(hall, browser):
    hall.clock.now = local_time(2026, 11, 23, 9, 0)
    context = browser.new_context(viewport={"width": 1280, "height": 760}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(8000)
    try:
        page.goto(hall.url + "/login")
        page.fill("#username", "wang")
        page.fill("#secret", PASSWORD)
        page.wait_for_selector("#window option[value='6']", state="attached")
        page.select_option("#window", "6")
        page.click("#sign-in")
        page.wait_for_url(re.compile(r"/clerk$"))
        assert page.get_attribute("#book-for-citizen", "href") == "/book"
        page.goto(hall.url + "/book/slots?bt=E")
        page.locator("input[name=start]:not([disabled])").first.check()
        page.fill("input[name=id_last4]", "4321")
        page.fill("input[name=phone]", "13955556666")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/book/done/[A-Z0-9]{8}$"))
        code = page.inner_text("#code")
    finally:
        context.close()
    assert hall.server.engine.book.bookings[code].channel == "counter"


def test_the_manager_page_shows_todays_bookings_and_the_report_their_waits_and_no_shows(hall, browser):
    hall.console.app.state.desk.log_db = str(hall.dir / "q.db")
    with httpx.Client(base_url=hall.url) as web:
        assert web.post("/api/login", json={"username": "boss", "password": PASSWORD}).status_code == 200
        report = web.get("/api/manager/report", params={"day": "2026-11-23"}).json()
    a = report["appointments"]
    assert a["bookings"] >= 1 and a["checked_in"] >= 1 and a["booked_wait"]["n"] >= 1
    assert "no_show_rate" in a and "walk_in_wait" in a  # (the walk-ins of this test were never called)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(8000)
    try:
        page.goto(hall.url + "/login")
        page.fill("#username", "boss")
        page.fill("#secret", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url(re.compile(r"/manager$"))
        row = page.locator("#bookings tr.slot").filter(has_text="10:30 A")
        playwright_api.expect(row).to_contain_text("已签到 Checked in 1")
    finally:
        context.close()


def test_a_citizen_moves_a_booking_to_another_slot_from_the_booking_page(hall, phone):
    hall.clock.now = local_time(2026, 11, 23, 9, 0)
    phone.goto(hall.url + "/book/slots?bt=C")
    phone.check("input[name=start][value='2026-11-24T09:30:00+08:00']")
    phone.fill("input[name=id_last4]", "2468")
    phone.fill("input[name=phone]", "13722223333")
    phone.click("button[type=submit]")
    phone.wait_for_url(re.compile(r"/book/done/[A-Z0-9]{8}$"))
    code = phone.inner_text("#code")
    phone.click("#change")
    phone.check("input[name=start][value='2026-11-24T13:30:00+08:00']")
    phone.fill("input[name=id_last4]", "2468")
    phone.fill("input[name=phone]", "13722223333")
    phone.click("button[type=submit]")
    phone.wait_for_url(re.compile(rf"/book/done/{code}$"))
    assert phone.inner_text("#when") == "2026-11-24 13:30–14:30"
