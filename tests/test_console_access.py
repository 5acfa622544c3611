"""The console's doors: nothing without signing in, roles, CSRF, sessions, hashed accounts."""
from __future__ import annotations

from contextlib import contextmanager

import httpx
import pytest

from console.accounts import AccountError, Accounts, check_secret
from console.sessions import SessionSigner
from tests.console_support import PASSWORD, HallStack


@pytest.fixture(scope="module")
def stack():
    s = HallStack().start()
    yield s
    s.stop()


@contextmanager
def signed_in(stack, username="wang", window=1, **extra):
    with httpx.Client(base_url=stack.url, timeout=10) as c:
        body = {"username": username, "password": PASSWORD, **extra}
        if window is not None:
            body["window"] = window
        r = c.post("/api/login", json=body)
        assert r.status_code == 200, r.text
        yield c, r.json()


def test_nothing_is_readable_without_signing_in(stack):
    with httpx.Client(base_url=stack.url, timeout=10) as c:
        for path in ("/api/me", "/api/state", "/api/events", "/api/clerk/stats", "/clerk"):
            assert c.get(path).status_code == 401, path
        assert c.post("/api/clerk/call_next", json={}).status_code == 401
        assert c.get("/login").status_code == 200


def test_a_forged_or_expired_cookie_is_no_session(stack):
    with httpx.Client(base_url=stack.url, timeout=10) as c:
        c.cookies.set("ow_session", "eyJ1Ijoid2FuZyJ9.AAAA")
        assert c.get("/api/me").status_code == 401
    signer = SessionSigner(b"k" * 32, ttl=10, clock=lambda: 1000.0)
    cookie, session = signer.issue("wang", "clerk")
    assert signer.read(cookie) == session
    signer.clock = lambda: 1011.0
    assert signer.read(cookie) is None
    tampered = cookie.replace(cookie[3], "A" if cookie[3] != "A" else "B", 1)
    assert SessionSigner(b"k" * 32).read(tampered) is None


def test_wrong_password_and_pin_are_refused_and_repeated_failures_pause(stack):
    with httpx.Client(base_url=stack.url, timeout=10) as c:
        r = c.post("/api/login", json={"username": "li", "password": "nope-nope", "window": 2})
        assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"
        assert c.post("/api/login", json={"username": "nobody", "pin": "1234", "window": 2}).status_code == 401
        for _ in range(5):
            c.post("/api/login", json={"username": "boss", "password": "wrong-wrong"})
        r = c.post("/api/login", json={"username": "boss", "password": PASSWORD})
        assert r.status_code == 429


def test_a_clerk_signs_in_with_a_pin_at_a_window_and_the_server_opens_it(stack):
    with httpx.Client(base_url=stack.url, timeout=10) as c:
        r = c.post("/api/login", json={"username": "li", "pin": "5678", "window": 7})
        assert r.status_code == 200, r.text
        assert r.json()["window"] == 7
        from tests.support import wait_until
        assert wait_until(lambda: (stack.console.hall.mirror.windows.get(7) or {}).get("clerk") == "li")
        csrf = r.json()["csrf"]
        assert c.post("/api/logout", json={}, headers={"X-CSRF-Token": csrf}).status_code == 200
        assert wait_until(lambda: stack.console.hall.mirror.windows[7]["state"] == "closed")
        assert c.get("/api/me").status_code == 401  # the session ended with it


def test_a_clerk_must_choose_a_window_and_a_viewer_may_not_take_one(stack):
    with httpx.Client(base_url=stack.url, timeout=10) as c:
        r = c.post("/api/login", json={"username": "wang", "password": PASSWORD})
        assert r.json()["error"]["code"] == "window_required"
        r = c.post("/api/login", json={"username": "eve", "password": PASSWORD, "window": 3})
        assert r.status_code == 403


def test_state_changes_need_the_csrf_token_and_a_cross_site_sign_in_is_refused(stack):
    with signed_in(stack, "wang", window=1) as (c, me):
        assert c.post("/api/clerk/call_next", json={}).status_code == 403
        assert c.post("/api/clerk/call_next", json={}, headers={"X-CSRF-Token": "x" + me["csrf"]}).status_code == 403
        r = c.post("/api/clerk/call_next", json={}, headers={"X-CSRF-Token": me["csrf"]})
        assert r.status_code in (200, 409)  # the server answered (queue_empty when nobody waits)
        r = httpx.post(stack.url + "/api/login", json={"username": "wang", "password": PASSWORD, "window": 1},
                       headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        c.post("/api/logout", json={}, headers={"X-CSRF-Token": me["csrf"]})


def test_a_viewer_cannot_open_the_clerk_page_or_act(stack):
    with signed_in(stack, "eve", window=None) as (c, me):
        assert c.get("/clerk").status_code == 403
        r = c.post("/api/clerk/call_next", json={}, headers={"X-CSRF-Token": me["csrf"]})
        assert r.status_code == 403


def test_a_clerk_cannot_act_for_another_window(stack):
    with signed_in(stack, "wang", window=2) as (c, me):
        h = {"X-CSRF-Token": me["csrf"]}
        r = c.post("/api/clerk/call_next", json={"window": 5}, headers=h)
        assert r.status_code == 400 and "window" in r.json()["error"]["message"]
        r = c.post("/api/clerk/call_next", json={"clerk": "li"}, headers=h)
        assert r.status_code == 400
        c.post("/api/logout", json={}, headers=h)


def test_accounts_store_only_hashes(tmp_path):
    accounts = Accounts(tmp_path / "u.db")
    accounts.add("zhao", "manager", password="s3cret-pass", pin="2468")
    raw = (tmp_path / "u.db").read_bytes()
    assert b"s3cret-pass" not in raw and b"2468" not in raw
    assert accounts.verify("zhao", password="s3cret-pass").role == "manager"
    assert accounts.verify("zhao", pin="2468") is not None
    assert accounts.verify("zhao", password="wrong") is None and accounts.verify("zhao", pin="1111") is None
    with pytest.raises(AccountError):
        accounts.add("zhao", "manager", password="another-pass")
    with pytest.raises(AccountError):
        accounts.add("bad name", "clerk", password="long-enough")
    with pytest.raises(AccountError):
        accounts.add("qian", "clerk", password="short")
    assert not check_secret("x", "plain-text")


def test_pages_load_nothing_from_outside_the_console():
    """Halls have no internet: every script, style and picture is served by the console itself."""
    import re
    from pathlib import Path
    static = Path(__file__).resolve().parent.parent / "console" / "static"
    for path in (p for p in static.rglob("*") if p.is_file() and p.suffix in (".html", ".js", ".css")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path.name
        assert not re.search(r"""(fetch|EventSource)\(\s*["']https?://""", text), path.name
