"""The wait printed on a ticket: a median, learned from the day (issue #16). Pure engine, simulated clock."""
from __future__ import annotations

import pytest

from queue_server.dispatch import poisson_median
from queue_server.engine import Engine
from tests.conftest import MONDAY_9AM
from tests.test_dispatch_rules import Hall, make


def test_the_wait_shown_is_the_median_not_the_mean():
    # One window busy with an 8-minute visit that just began: the first in line waits for it to end.
    # Visits are about exponential, so half the time that is under 2/3 of 8 minutes (Gamma(1) median
    # ~ mean x (1 - 1/3)); the second waits for two visits (Gamma(2): mean x (1 - 1/6)).
    h = make([["A"]], service_minutes={"A": 8})
    h.open(1)
    h.take("A")
    h.at(1, "call_next")
    h.at(1, "start")
    first = h.do("issue", business_type="A")["ticket"]["estimated_wait_min"]
    second = h.do("issue", business_type="A")["ticket"]["estimated_wait_min"]
    assert first == pytest.approx(8 * 2 / 3, abs=0.1)
    assert second == pytest.approx(16 * 5 / 6, abs=0.1)


def test_a_counters_pace_on_some_items_carries_to_the_others_of_its_type(county):
    # Today every A visit takes half its catalogue time; an A item nobody asked for yet is expected
    # faster than the catalogue says, not at the catalogue's figure until it is seen five times.
    h = Hall(county)
    h.open(2)  # serves A and B
    items = [i.code for i in county.catalogue.items_of("A")]
    seen, unseen = items[0], items[1]
    for _ in range(8):
        h.take("A", item=seen)
        h.at(2, "call_next")
        h.at(2, "start")
        h.wait(county.catalogue.item(seen).service_minutes / 2)
        h.at(2, "finish")
    engine: Engine = h.engine
    t = engine.tickets[engine.by_number[h.take("A", item=unseen)]]
    catalogue = county.catalogue.item(unseen).service_minutes * 60
    assert engine.expected_service(t) < 0.75 * catalogue


def test_time_spent_calling_and_paused_counts_as_window_time():
    # Citizens take a minute to walk up after each call: a window gives each visit that minute too.
    h = make([["A"]], service_minutes={"A": 5})
    h.open(1)
    for _ in range(10):
        h.take("A")
        h.at(1, "call_next")
        h.wait(1)
        h.at(1, "start")
        h.wait(5)
        h.at(1, "finish")
    t = h.engine.tickets[h.engine.by_number[h.take("A")]]
    assert h.engine.window_time(t) - h.engine.expected_service(t) == pytest.approx(600 / 15)


def test_appointments_checking_in_are_expected_to_go_ahead_of_a_long_line():
    # Appointments checked in at their slot are called before walk-ins: with several an hour, the
    # last walk-in in a long line is told a longer wait than with none.
    def last_walk_in(appointments: int) -> float:
        h = make([["A"]], service_minutes={"A": 5})
        h.open(1)
        for i in range(6):  # the same visits either way; only whether they were booked differs
            booked = {"appointment": {"ref": f"apt-{i}", "start": h.now}} if i < appointments else {}
            h.take("A", **booked)
            h.at(1, "call_next")
            h.at(1, "start")
            h.wait(5)
            h.at(1, "finish")
        for _ in range(12):
            h.take("A")
        return h.do("issue", business_type="A")["ticket"]["estimated_wait_min"]
    assert last_walk_in(6) > last_walk_in(0) + 5


@pytest.mark.parametrize("mean, median", [(0.0, 0), (0.5, 0), (0.7, 1), (1.0, 1), (3.0, 3), (10.0, 10), (40.0, 40)])
def test_poisson_median(mean, median):
    assert poisson_median(mean) == median


def test_a_ticket_transferred_into_a_line_keeps_its_place_there():
    # The transferred ticket joins B's line with the place its wait earned, ahead of later B tickets:
    # call_next must still find it although it was added last.
    h = make([["A"], ["B"]], service_minutes={"A": 5, "B": 5})
    h.open(1, 2)
    a = h.take("A")
    h.wait(1)
    b1, b2 = h.take("B"), h.take("B")
    assert h.at(1, "call_next")["ticket"]["number"] == a
    h.at(1, "start")
    assert h.at(1, "transfer", to_business_type="B")["ok"]
    h.engine.check_invariants()
    assert h.next(2) == a
    assert [h.next(2), h.next(2)] == [b1, b2]
