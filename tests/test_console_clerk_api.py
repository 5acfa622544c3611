"""The clerk API, action by action, as the page uses it (window and clerk always from the session),
and the live event stream the page reads."""
from __future__ import annotations

import json
from contextlib import contextmanager

import httpx
import pytest

from tests.console_support import PASSWORD, HallStack
from tests.support import wait_until


@pytest.fixture(scope="module")
def stack():
    s = HallStack().start()
    yield s
    s.stop()


@contextmanager
def clerk(stack, username, window):
    with httpx.Client(base_url=stack.url, timeout=10) as c:
        r = c.post("/api/login", json={"username": username, "password": PASSWORD, "window": window})
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf"]

        def act(action, **body):
            return c.post(f"/api/clerk/{action}", json=body, headers={"X-CSRF-Token": csrf})
        act.client = c
        yield act
        c.post("/api/logout", json={}, headers={"X-CSRF-Token": csrf})


def ok(response):
    assert response.status_code == 200, response.text
    return response.json()


def refused(response, code):
    assert response.status_code in (403, 409), response.text
    assert response.json()["error"]["code"] == code, response.text
    return response.json()["error"]


def test_call_a_number_hold_it_call_it_back_and_transfer_it_to_a_window(stack):
    a1, a2 = stack.issue("A", 2)
    engine = stack.server.engine
    assert stack.clerk_client().window("sign_in", 6, "zhou")["ok"]  # a transfer goes to an open window
    with clerk(stack, "wang", 2) as act:
        assert ok(act("call", ticket=a2.lower()))["ticket"]["number"] == a2  # typed in lower case
        ok(act("hold", note="fetching a copy of the ID"))
        assert wait_until(lambda: a2 in (stack.console.hall.mirror.windows[2]["held"]))
        refused(act("call_back", ticket=a1), "not_held_here")
        assert ok(act("call_back", ticket=a2))["ticket"]["number"] == a2
        ok(act("start"))
        ok(act("transfer", to_window=6, note="needs the maternity desk"))
        t = engine.tickets[engine.by_number[a2]]
        assert t.target_window == 6 and t.state == "waiting"
        assert ok(act("call_next"))["ticket"]["number"] == a1
        refused(act("no_show"), "calls_left")  # the server wants the citizen called three times first
        ok(act("recall"))
        ok(act("recall"))
        ok(act("no_show"))


def test_pause_with_a_reason_resume_and_what_a_paused_window_may_not_do(stack):
    with clerk(stack, "li", 5) as act:
        ok(act("pause", reason="lunch"))
        assert wait_until(lambda: stack.console.hall.mirror.windows[5].get("pause_reason") == "lunch")
        refused(act("call_next"), "window_paused")
        ok(act("resume"))
        assert wait_until(lambda: stack.console.hall.mirror.windows[5]["state"] == "idle")
        refused(act("recall"), "no_ticket")


def test_a_rating_from_the_console_rates_this_windows_visit_and_the_average_is_kept(stack):
    (number,) = stack.issue("D", 1)
    with clerk(stack, "boss", 7) as act:
        ok(act("call_next"))
        ok(act("start"))
        ok(act("finish"))
        assert wait_until(lambda: stack.console.hall.mirror.windows[7].get("awaiting_rating") == number)
        reply = ok(act("rate", score=2))
        assert reply["follow_up"] is True
        # The reply leaves before the window's new state: once the state says so, nothing awaits a rating.
        assert wait_until(lambda: not stack.console.hall.mirror.windows[7].get("awaiting_rating"))
        refused(act("rate", score=5), "no_ticket")
        refused(act("rate", ticket=number, score=5), "already_rated")
        assert wait_until(lambda: ok(act.client.get("/api/clerk/stats"))["services_seen"] == 1)


def test_unknown_actions_and_bad_arguments_are_refused_before_the_server(stack):
    with clerk(stack, "wang", 3) as act:
        assert act("reset_everything").status_code == 404
        assert act("transfer", to_window="six").status_code == 400
        assert act("call", ticket=["A001"]).status_code == 400


def test_the_event_stream_starts_whole_and_then_carries_changes(stack):
    with clerk(stack, "li", 9) as act:
        with act.client.stream("GET", "/api/events") as stream:
            lines = stream.iter_lines()
            event, data = next_event(lines)
            assert event == "snapshot" and data["broker"] is True
            kinds = {tuple(k)[0] for k, _ in data["entries"]}
            assert {"site", "window", "queue"} <= kinds and "catalogue" not in kinds and "presence" not in kinds
            ok(act("pause", reason="meeting"))
            for _ in range(50):
                event, data = next_event(lines)
                if event == "change" and data["key"] == ["window", "9"] and data["value"]["state"] == "paused":
                    break
            else:
                pytest.fail("no change event for window 9")
        ok(act("resume"))


def next_event(lines):
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            return event, json.loads(line[6:])
    raise AssertionError("the stream ended")


def test_signing_out_ends_the_open_event_stream(stack):
    with httpx.Client(base_url=stack.url, timeout=10) as c:
        me = c.post("/api/login", json={"username": "wang", "password": PASSWORD, "window": 10}).json()
        with c.stream("GET", "/api/events") as stream:
            lines = stream.iter_lines()
            assert next_event(lines)[0] == "snapshot"
            assert c.post("/api/logout", json={}, headers={"X-CSRF-Token": me["csrf"]}).status_code == 200
            for _ in range(50):
                event, _ = next_event(lines)
                if event == "expired":
                    break
            else:
                pytest.fail("the stream did not end")
        assert c.get("/api/events").status_code == 401


def test_two_clerks_press_call_next_together_through_the_console(stack):
    """The same race as tests/test_call_race.py, end to end: two browsers' requests at once through the
    console's one MQTT connection and Mosquitto. Exactly one window gets the ticket each time."""
    import threading
    rounds = 60
    stack.drain()
    with clerk(stack, "wang", 11) as w11, clerk(stack, "li", 12) as w12:
        acts = {11: w11, 12: w12}
        won = {11: 0, 12: 0}
        for n in range(rounds):
            (number,) = stack.issue("F", 1)
            barrier = threading.Barrier(2)
            replies = {}

            def press(w):
                barrier.wait()
                replies[w] = acts[w]("call_next")
            threads = [threading.Thread(target=press, args=(w,)) for w in ((11, 12) if n % 2 else (12, 11))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(20)
            winners = [w for w, r in replies.items() if r.status_code == 200]
            assert len(winners) == 1, {w: r.text for w, r in replies.items()}
            (loser,) = set(acts) - set(winners)
            assert replies[winners[0]].json()["ticket"]["number"] == number
            assert replies[loser].status_code == 409 and replies[loser].json()["error"]["code"] == "queue_empty"
            won[winners[0]] += 1
            ok(acts[winners[0]]("finish"))
        assert sum(won.values()) == rounds
