"""Who is called next, told as a clerk or a citizen would tell it. Pure engine, simulated clock."""
from __future__ import annotations

import pytest

from onewindow import config
from queue_server.dispatch import Dispatch, naive_wait
from queue_server.engine import Engine
from sim.profiles import hall_dict
from tests.conftest import MONDAY_9AM


class Hall:
    def __init__(self, site, now=MONDAY_9AM):
        self.engine = Engine(site)
        self.now = now

    def do(self, command, **args):
        _, reply = self.engine.handle(command, args, self.now)
        self.engine.check_invariants()
        return reply

    def take(self, prefix="A", **args):
        reply = self.do("issue", business_type=prefix, **args)
        assert reply["ok"], reply
        return reply["ticket"]["number"]

    def open(self, *windows):
        for w in windows:
            assert self.do("sign_in", window=w, clerk=f"c{w}")["ok"]

    def at(self, window, command, **args):
        return self.do(command, window=window, clerk=f"c{window}", **args)

    def no_show(self, window):
        """Recall until the site's call limit, then mark the no-show (refused any earlier)."""
        while self.at(window, "recall")["ok"]:
            pass
        return self.at(window, "no_show")

    def next(self, window):
        reply = self.at(window, "call_next")
        assert reply["ok"], reply
        number = reply["ticket"]["number"]
        assert self.at(window, "finish")["ok"]
        return number

    def wait(self, minutes):
        self.now += minutes * 60


def site_of(windows, **kw):
    prefixes = sorted({p for w in windows for p in w})
    if "service_minutes" in kw:
        kw["service_minutes"] = {p: kw["service_minutes"][p] for p in prefixes}
    return config.from_dict(hall_dict(windows, prefixes=prefixes, **kw))


def make(windows, **kw):
    return Hall(site_of(windows, **kw))


def test_a_window_calls_the_business_it_lists_first_among_equals():
    h = make([["A", "B"]])
    h.engine.dispatch.line_step = 0
    h.take("B")
    h.wait(1)
    h.take("A")
    h.open(1)
    assert h.next(1) == "A001"  # B001 came a minute earlier, but A is this window's first skill
    assert h.next(1) == "B001"


def test_a_window_takes_its_second_business_once_it_has_waited_a_skill_step_longer():
    h = make([["A", "B"]], skill_step=10)
    h.engine.dispatch.line_step = 0
    h.take("B")
    h.wait(11)
    h.take("A")
    h.open(1)
    assert h.next(1) == "B001"


def test_a_window_helps_the_line_that_is_falling_behind():
    # Window 1 serves A first, then B. Five people wait for B (two open windows serve it), one for
    # A (one window): B's pressure, 5/2 x 10 = 20 minutes, outweighs A's 10 and the 5-minute skill step.
    h = make([["A", "B"], ["B"]], skill_step=5, line_step=10, line_cap=20)
    for _ in range(5):
        h.take("B")
    h.take("A")
    h.open(1, 2)
    assert h.next(1) == "B001"


def test_within_one_line_the_order_is_kept_whatever_the_pressure():
    h = make([["A", "B"]])
    numbers = [h.take("A") for _ in range(4)]
    h.open(1)
    assert [h.next(1) for _ in range(4)] == numbers


def test_an_elderly_citizen_is_called_before_walk_ins_but_nobody_waits_past_the_maximum():
    h = make([["A"]], head_start=30, max_wait=60)
    first = h.take("A")
    h.open(1)
    called = []
    for _ in range(8):
        h.wait(12)
        h.take("A", priority_group="elderly")
        called.append((h.now, h.next(1)))
    when_first = next(t for t, n in called if n == first)
    assert called[0][1] != first  # the elderly citizen went ahead at first ...
    assert when_first - MONDAY_9AM <= 60 * 60 + 12 * 60  # ... but A001 was called once overdue


def test_an_overdue_ticket_goes_before_a_priority_citizen_and_an_appointment():
    h = make([["A"]], head_start=30, max_wait=60)
    old = h.take("A")
    h.wait(61)
    h.take("A", priority_group="disabled")
    h.take("A", appointment={"ref": "apt-1", "start": h.now - 60})
    h.open(1)
    assert h.next(1) == old


def test_an_appointment_checked_in_early_waits_for_its_slot_then_goes_first():
    h = make([["A"]])
    h.take("A")
    h.take("A", appointment={"ref": "apt-2", "start": h.now + 20 * 60})
    h.take("A")
    h.open(1)
    assert h.next(1) == "A001"
    h.wait(21)
    assert h.next(1) == "A002"


def test_a_transferred_ticket_keeps_its_place_in_the_new_line():
    h = make([["A"], ["B"]])
    h.take("A")
    h.wait(5)
    h.take("B")
    h.take("B")
    h.open(1, 2)
    assert h.at(1, "call_next")["ok"]
    assert h.at(1, "transfer", to_business_type="B")["ok"]
    assert h.next(2) == "A001"  # arrived before B001 and B002


def test_a_missed_citizen_comes_back_three_places_later_then_is_void():
    h = make([["A"]], missed="requeue")
    for _ in range(6):
        h.take("A")
        h.wait(1)
    h.open(1)
    assert h.at(1, "call_next")["ticket"]["number"] == "A001"
    assert h.no_show(1)["ticket"]["state"] == "waiting"
    assert [h.next(1) for _ in range(3)] == ["A002", "A003", "A004"]
    assert h.at(1, "call_next")["ticket"]["number"] == "A001"
    assert h.no_show(1)["ticket"]["state"] == "missed"


def test_a_missed_citizen_is_void_where_the_hall_says_so():
    h = make([["A"]], missed="void")
    h.take("A")
    h.open(1)
    h.at(1, "call_next")
    assert h.no_show(1)["ticket"]["state"] == "missed"


def test_a_held_citizen_is_called_back_by_the_same_clerk_while_others_are_served():
    h = make([["A"]])
    h.take("A")
    h.take("A")
    h.open(1)
    h.at(1, "call_next")
    assert h.at(1, "hold")["ok"]
    assert h.next(1) == "A002"
    assert h.at(1, "call_back", ticket="A001")["ticket"]["state"] == "called"


def test_a_clerk_may_call_a_specific_ticket_but_only_one_the_window_serves():
    h = make([["A"], ["B"]])
    h.take("A")
    h.take("A")
    h.take("B")
    h.open(1)
    assert h.at(1, "call", ticket="A002")["ticket"]["number"] == "A002"
    h.at(1, "finish")
    assert h.at(1, "call", ticket="B001")["error"]["code"] == "not_served_here"


def test_tickets_stop_at_the_daily_quota_and_outside_issuing_hours(county):
    h = Hall(county)
    h.now = MONDAY_9AM + 8 * 3600  # 17:00: the hall is open until 17:30, F issues until 16:30
    assert h.do("issue", business_type="A")["ok"]
    assert h.do("issue", business_type="F")["error"]["code"] == "outside_hours"
    h.now = MONDAY_9AM + 3600
    for _ in range(60):
        assert h.do("issue", business_type="F")["ok"]
    assert h.do("issue", business_type="F")["error"]["code"] == "quota_reached"


def test_the_ticket_shows_a_longer_wait_behind_long_items_than_behind_short_ones():
    h = make([["A", "B"]], service_minutes={"A": 15, "B": 2, "C": 8, "D": 8, "E": 8, "F": 8})
    h.open(1)
    for _ in range(3):
        h.take("A")
    slow = h.do("issue", business_type="A")["ticket"]["estimated_wait_min"]
    h2 = make([["A", "B"]], service_minutes={"A": 15, "B": 2, "C": 8, "D": 8, "E": 8, "F": 8})
    h2.open(1)
    for _ in range(3):
        h2.take("B")
    fast = h2.do("issue", business_type="A")["ticket"]["estimated_wait_min"]
    assert slow > 2 * fast > 0


def test_the_estimate_counts_only_windows_that_serve_the_ticket():
    h = make([["A"], ["B"], ["B"], ["B"]])
    h.open(1, 2, 3, 4)
    for _ in range(4):
        h.take("A")
    est = h.do("issue", business_type="A")["ticket"]
    assert est["ahead"] == 4
    # One window serves A: four visits of 8 minutes come first (the first started at once).
    assert est["estimated_wait_min"] >= 3 * 8


def test_the_estimate_learns_the_days_real_service_times():
    h = make([["A"]])
    h.open(1)
    for _ in range(10):  # today A takes 2 minutes, not the configured 8
        h.take("A")
        h.at(1, "call_next")
        h.at(1, "start")
        h.wait(2)
        h.at(1, "finish")
    for _ in range(5):
        h.take("A")
    last = h.do("issue", business_type="A")["ticket"]["estimated_wait_min"]
    assert last < 5 * 8 * 0.75


def test_a_paused_window_counts_again_from_when_its_break_should_end():
    h = make([["A"]])
    h.open(1)
    h.at(1, "pause", reason="break")
    est = h.do("issue", business_type="A")["ticket"]["estimated_wait_min"]
    # Expected back after PAUSE_SECONDS (10 min); a break's length varies like a visit's, and the wait
    # shown is the median (test_forecast_learning.py): 2/3 of it.
    assert est == pytest.approx(10.0 * 2 / 3, abs=0.1)


def test_the_naive_estimate_is_people_ahead_times_service_over_windows():
    assert naive_wait(6, 300.0, 3) == 600.0
    assert naive_wait(6, 300.0, 0) is None


def test_dispatch_reads_its_settings_from_the_site():
    site = site_of([["A", "B"], ["B"]], skill_step=7, head_start=20, max_wait=45)
    d = Dispatch(site)
    assert (d.skill_step, d.head_start, d.max_wait) == (420.0, 1200.0, 2700.0)
    assert d.trained == {"A": 1, "B": 2}
