"""The clerk page in headless Chromium (Debian's, driven by Playwright): what a clerk sees and does."""
from __future__ import annotations

import re
from pathlib import Path

import playwright.sync_api as playwright_api
import pytest

from tests.console_support import PASSWORD, HallStack
from tests.support import wait_until

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


@pytest.fixture(scope="module")
def stack():
    s = HallStack().start()
    yield s
    s.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 760}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(8000)
    yield pg
    context.close()


def sign_in(page, url, username, window, secret=PASSWORD, pin=False):
    page.goto(url + "/login")
    page.fill("#username", username)
    if pin:
        page.check("input[name=mode][value=pin]")
    page.fill("#secret", secret)
    page.wait_for_selector(f"#window option[value='{window}']", state="attached")
    page.select_option("#window", str(window))
    page.click("#sign-in")
    page.wait_for_url(re.compile(r"/clerk$"))
    page.wait_for_selector("#window-state.idle")


def expect_text(page, selector, pattern):
    playwright_api.expect(page.locator(selector)).to_have_text(re.compile(pattern))


def test_a_clerk_signs_in_calls_recalls_finishes_and_rates(stack, page):
    numbers = stack.issue("A", 3)
    sign_in(page, stack.url, "wang", 1)
    expect_text(page, "#window-name", "1")
    page.keyboard.press("n")  # call next, from the keyboard
    expect_text(page, "#ticket-number", numbers[0])
    expect_text(page, "#window-state", "Calling")
    page.click("#do-recall")
    expect_text(page, "#ticket-detail", "2×")
    page.click("#do-start")
    expect_text(page, "#window-state", "Serving")
    page.click("#do-finish")
    expect_text(page, "#window-state", "rating")
    playwright_api.expect(page.locator("#rating")).to_be_visible()
    page.click("#rating button[data-score='5']")
    expect_text(page, "#window-state", "Idle")
    expect_text(page, "#served", "1")


def test_a_transfer_hands_the_ticket_to_another_business_type(stack, page):
    stack.issue("A", 1)
    sign_in(page, stack.url, "li", 2, secret="5678", pin=True)
    page.click("#do-call_next")
    expect_text(page, "#window-state", "Calling")
    called = page.locator("#ticket-number").inner_text()
    page.click("#do-transfer")
    page.select_option("#to-type", "B")
    page.click("#transfer-ok")
    expect_text(page, "#message", "Transferred")
    expect_text(page, "#window-state", "Idle")
    assert wait_until(lambda: stack.server.engine.tickets[stack.server.engine.by_number[called]].business_type == "B")


def settle(page):
    page.wait_for_selector("body:not(.busy)", state="attached")


def test_refusals_are_shown_in_words(stack, page):
    """Recall limit reached; a number another window called first; nobody waiting."""
    sign_in(page, stack.url, "boss", 12)
    f_numbers = stack.issue("F", 1)
    page.click("#do-call_next")
    expect_text(page, "#ticket-number", f_numbers[0])
    for _ in range(2):
        page.click("#do-recall")
        settle(page)
    page.click("#do-recall")
    expect_text(page, "#message", "Recall limit reached")
    assert "bad" in page.locator("#message").get_attribute("class")
    page.click("#do-no_show")
    settle(page)
    # Another window (11, also serving F) calls a ticket; this clerk types the same number.
    taken = stack.issue("F", 1)[0]
    other = stack.clerk_client()
    assert other.window("sign_in", 11, "zhou")["ok"]
    assert other.window("call", 11, "zhou", ticket=taken)["ok"]
    page.keyboard.press("c")
    page.keyboard.type(taken)
    page.keyboard.press("Enter")
    expect_text(page, "#message", f"Another window has already called {taken}")


def test_the_clerk_console_screenshot(stack, page):
    """The README's picture: a clerk at window 4 serving, one ticket held, people waiting."""
    stack.issue("B", 4)
    stack.issue("D", 3)
    stack.issue("A", 2)
    sign_in(page, stack.url, "wang", 4)
    page.click("#do-call_next")
    expect_text(page, "#window-state", "Calling")
    page.click("#do-hold")
    expect_text(page, "#message", "Held")
    page.click("#do-call_next")
    expect_text(page, "#window-state", "Calling")
    page.click("#do-start")
    expect_text(page, "#window-state", "Serving")
    expect_text(page, "#held", "Call back")
    serving = page.locator("#ticket-number").inner_text()
    # The queue's state is refreshed at most twice a second: wait until it no longer lists the ticket.
    playwright_api.expect(page.locator("#waiting")).not_to_contain_text(serving)
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "clerk-console.png"))


def test_when_the_broker_is_away_the_page_says_so_and_answers_at_once(stack, page):
    sign_in(page, stack.url, "li", 5)
    stack.broker.stop()
    try:
        playwright_api.expect(page.locator("#offline")).to_be_visible(timeout=15000)
        expect_text(page, "#link", "Broker away")
        page.click("#do-call_next")
        expect_text(page, "#message", "cannot be reached")
        page.keyboard.press("p")  # the page still takes keys: it is not frozen
        playwright_api.expect(page.locator("#pause-dialog")).to_be_visible()
        page.keyboard.press("Escape")
    finally:
        stack.broker.start()
    playwright_api.expect(page.locator("#offline")).to_be_hidden(timeout=15000)
    expect_text(page, "#link", "Connected")
