"""Rules a real hall relies on (issue #16): no early no-shows, a day that rolls over on time, no
stranded transfers, honest waiting clocks, window hours. Pure engine, simulated clock."""
from __future__ import annotations

import pytest

from onewindow import config
from queue_server.engine import Engine
from sim.profiles import hall_dict
from tests.conftest import MONDAY_9AM, local_time
from tests.test_engine import Hall


@pytest.fixture
def hall(county):
    return Hall(county)


def small_hall(windows, now=MONDAY_9AM, **kw):
    prefixes = sorted({p for w in windows for p in w})
    return Hall(config.from_dict(hall_dict(windows, prefixes=prefixes, **kw)), now=now)


# ------------------------------------------------------------------------------ no-shows
def test_a_no_show_is_refused_until_the_citizen_has_been_called_max_calls_times(hall):
    hall.take("B")
    hall.open(2)
    hall.at(2, "call_next")
    error = hall.refused("no_show", "calls_left", window=2, clerk="clerk2")
    assert error["calls_left"] == 2
    hall.at(2, "recall")
    assert hall.refused("no_show", "calls_left", window=2, clerk="clerk2")["calls_left"] == 1
    hall.at(2, "recall")
    assert hall.at(2, "no_show")["ok"]


# ------------------------------------------------------------------------------ the day
def test_the_day_rolls_over_at_the_reset_time_without_any_command(hall):
    hall.take("A")
    hall.open(2)
    assert hall.engine.tick(local_time(2026, 11, 24, 2, 59)) == []
    reset = local_time(2026, 11, 24, 3, 0)
    events = hall.engine.tick(reset)
    kinds = [e["type"] for e in events]
    assert kinds == ["ticket_cancelled", "window_closed", "day_closed", "day_started"]
    assert events[0]["reason"] == "day_closed" and events[0]["day"] == "2026-11-23"
    assert events[-1]["day"] == "2026-11-24"
    assert hall.engine.day == "2026-11-24"
    assert hall.engine.display_view()["service_day"] == "2026-11-24"
    changed_windows, changed_types = hall.engine.take_changes()
    assert 2 in changed_windows and "A" in changed_types  # retained state is republished
    assert hall.engine.tick(reset + 60) == []
    hall.now = local_time(2026, 11, 24, 9, 0)
    assert hall.take("A")["number"] == "A001"
    assert not [e for e in hall.events if e["type"] == "ticket_cancelled"]  # nothing left to close


def test_a_fresh_engine_has_no_day_to_roll_over(county):
    assert Engine(county).tick(MONDAY_9AM) == []


@pytest.mark.parametrize("reset", ["10:00", "13:45", "08:31"])
def test_a_day_reset_inside_opening_hours_is_refused_by_the_config(reset):
    raw = hall_dict([["A"]], prefixes=["A"])
    raw["site"]["day_reset"] = reset
    with pytest.raises(config.ConfigError) as err:
        config.from_dict(raw)
    assert "site.day_reset" in str(err.value) and "opening hours" in str(err.value)


def test_a_day_reset_inside_a_window_s_own_hours_is_refused_too():
    raw = hall_dict([["A"]], prefixes=["A"], window_hours={1: ["06:00-20:00"]})
    raw["site"]["day_reset"] = "07:00"
    with pytest.raises(config.ConfigError):
        config.from_dict(raw)
    raw["site"]["day_reset"] = "03:00"
    assert config.from_dict(raw).day_reset.hour == 3


# ------------------------------------------------------------------------------ transfers
def test_a_transfer_to_a_window_nobody_is_signed_in_at_is_refused(hall):
    hall.take("A")
    hall.open(2)
    hall.at(2, "call_next")
    error = hall.refused("transfer", "transfer_target_closed", window=2, clerk="clerk2", to_window=12)
    assert "12" in error["message"]
    hall.open(12)
    assert hall.at(2, "transfer", to_window=12)["ticket"]["state"] == "waiting"


def test_a_transfer_to_a_business_type_that_is_closed_is_refused(hall):
    hall.take("A")
    hall.open(2)
    hall.at(2, "call_next")
    hall.ok("set_business_type", business_type="C", open=False)
    hall.refused("transfer", "transfer_target_closed", window=2, clerk="clerk2", to_business_type="C")


def test_a_transfer_to_a_business_type_whose_windows_are_done_for_the_day_is_refused():
    # Window 2 (type B) works mornings only; at 14:00 nobody can serve B any more today.
    h = small_hall([["A"], ["B"]], window_hours={2: ["08:30-12:00"]}, now=local_time(2026, 11, 23, 14, 0))
    h.take("A")
    h.open(1)
    h.at(1, "call_next")
    h.refused("transfer", "transfer_target_closed", window=1, clerk="clerk1", to_business_type="B")


def test_a_transfer_to_a_business_type_served_again_after_lunch_is_accepted():
    h = small_hall([["A"], ["B"]], now=local_time(2026, 11, 23, 11, 50))
    h.take("A")
    h.open(1)
    h.at(1, "call_next")
    h.wait(15)  # 12:05: window 2 is closed for lunch but opens at 13:30
    assert h.at(1, "transfer", to_business_type="B")["ok"]


def test_a_transferred_ticket_s_waiting_clock_counts_waiting_not_service():
    # A001 waits 10 minutes, is served for 56, then sent to line C, where C001 has waited 41 minutes.
    h = small_hall([["A"], ["C"]])
    h.take("A")
    h.wait(10)
    h.open(1)
    h.at(1, "call_next")
    h.at(1, "start")
    h.wait(15)
    h.take("C")
    h.wait(41)
    assert h.at(1, "transfer", to_business_type="C")["ok"]
    h.open(2)
    assert h.at(2, "call_next")["ticket"]["number"] == "C001"
    t = h.engine.tickets[h.engine.by_number["A001"]]
    assert t.rank == pytest.approx(h.now - 10 * 60)  # it has waited 10 minutes, not 66
