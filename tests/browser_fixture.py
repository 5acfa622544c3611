"""Debian's Chromium, headless, driven by Playwright: one `browser` per test module (a pytest plugin)."""
from __future__ import annotations

import os

import playwright.sync_api as playwright_api  # in the test extra: these tests never skip
import pytest

CHROMIUM = "/usr/bin/chromium"  # Playwright's own browser download does not work here


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is needed at /usr/bin/chromium (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()
