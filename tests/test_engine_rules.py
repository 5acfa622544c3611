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
    h = small_hall([["A"], ["B"]], now=local_time(2026, 11, 23, 11, 40))
    h.take("A")
    h.open(1)
    h.at(1, "call_next")
    h.wait(25)  # 12:05: window 2 is closed for lunch but opens at 13:30
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


# ------------------------------------------------------------------------------ window hours
def test_tickets_stop_a_margin_before_every_window_serving_the_type_closes(county):
    h = Hall(county, now=local_time(2026, 11, 23, 11, 44))
    assert "called_after" not in h.take("A")  # windows serving A are open: no called_after
    h.now = local_time(2026, 11, 23, 11, 46)  # A-D windows all close at 12:00; the margin is 15 min
    error = h.refused("issue", "outside_hours", business_type="A")
    assert error["next_open"] == "2026-11-23T13:30:00+08:00"
    assert "12:00" in error["message"]
    assert h.take("E")["number"] == "E001"  # window 11 serves E through lunch


def test_the_margin_before_closing_is_configuration():
    raw = hall_dict([["A"]], prefixes=["A"])
    raw["site"]["stop_issuing_minutes"] = 40
    h = Hall(config.from_dict(raw), now=local_time(2026, 11, 23, 11, 25))
    h.refused("issue", "outside_hours", business_type="A")
    raw["site"]["stop_issuing_minutes"] = -1
    with pytest.raises(config.ConfigError) as err:
        config.from_dict(raw)
    assert "site.stop_issuing_minutes" in str(err.value)


def lunch_hall(now):
    # Opening hours run through lunch, but the only window for A breaks 12:00-13:30.
    return small_hall([["A"]], hours=["08:30-17:30"], window_hours={1: ["08:30-12:00", "13:30-17:30"]}, now=now)


def test_a_ticket_taken_while_no_window_serving_it_is_open_says_when_it_will_be_called():
    h = lunch_hall(local_time(2026, 11, 23, 12, 30))
    ticket = h.take("A")
    assert ticket["called_after"] == "2026-11-23T13:30:00+08:00"
    assert ticket["estimated_wait_min"] == pytest.approx(60, abs=0.1)  # the forecast sees the opening
    h.open(1)  # the clerk comes back early: the citizen was told 13:30
    assert h.at(1, "call_next")["error"]["code"] == "queue_empty"
    h.now = local_time(2026, 11, 23, 13, 30)
    assert h.at(1, "call_next")["ticket"]["number"] == "A001"


def test_the_forecast_sees_a_window_closing_for_lunch():
    h = lunch_hall(local_time(2026, 11, 23, 11, 0))
    h.open(1)
    for _ in range(20):
        h.take("A")  # 8 minutes each: the window cannot see them all before its break
    fc = h.engine.forecast(h.now)
    last = h.engine.by_number["A020"]
    assert fc.wait(last, h.now) >= 3 * 3600  # about 14:26, not 13:32 as if nobody took a break
    first = h.engine.by_number["A001"]
    assert fc.wait(first, h.now) == 0


# ------------------------------------------------------------------------------ a window's figures
def test_a_windows_state_carries_its_services_and_average_service_time_of_the_day(hall, county):
    hall.open(2)
    for minutes in (2, 4):
        number = hall.take("B")["number"]
        assert hall.at(2, "call_next")["ok"] and hall.at(2, "start")["ok"]
        hall.wait(minutes)
        assert hall.at(2, "finish")["ok"]
        hall.ok("rate", ticket=number, score=5)
    view = hall.engine.window_view(hall.engine.windows[2])
    assert (view["served_today"], view["average_service_s"]) == (2, 180.0)
    # The same figures from the log alone: what a console that starts at noon is shown.
    replayed = Engine(county)
    for e in hall.events:
        replayed.apply(e)
    again = replayed.window_view(replayed.windows[2])
    assert (again["served_today"], again["average_service_s"]) == (2, 180.0)
    assert hall.engine.window_view(hall.engine.windows[3])["average_service_s"] is None
