"""The queue's rules, told as a hall would tell them. No broker, no disk, no sleeping."""
from __future__ import annotations

import pytest

from onewindow import config
from queue_server.engine import Engine
from tests.conftest import MONDAY_9AM, local_time


class Hall:
    """An engine with a clock, and helpers that read like what happens at the counter."""

    def __init__(self, site, now=MONDAY_9AM):
        self.engine = Engine(site)
        self.now = now
        self.events: list[dict] = []

    def do(self, command, **args):
        events, reply = self.engine.handle(command, args, self.now)
        self.events.extend(events)
        self.engine.check_invariants()
        return reply

    def ok(self, command, **args):
        reply = self.do(command, **args)
        assert reply["ok"], reply
        return reply

    def refused(self, command, code, **args):
        reply = self.do(command, **args)
        assert not reply["ok"] and reply["error"]["code"] == code, reply
        return reply["error"]

    def wait(self, minutes):
        self.now += minutes * 60

    def take(self, prefix="A", **args):
        return self.ok("issue", business_type=prefix, **args)["ticket"]

    def open(self, window, clerk=None):
        return self.ok("sign_in", window=window, clerk=clerk or f"clerk{window}")

    def at(self, window, command, **args):
        return self.do(command, window=window, clerk=f"clerk{window}", **args)

    def no_show(self, window):
        """Recall until the site's call limit, then mark the no-show (refused any earlier)."""
        while self.at(window, "recall")["ok"]:
            pass
        return self.at(window, "no_show")


@pytest.fixture
def hall(county):
    return Hall(county)


def test_numbers_run_per_business_type_from_001(hall):
    assert [hall.take("A")["number"] for _ in range(3)] == ["A001", "A002", "A003"]
    assert hall.take("B")["number"] == "B001"


def test_numbers_restart_after_the_daily_reset(hall):
    hall.take("A")
    hall.take("A")
    hall.now = local_time(2026, 11, 24, 9, 0)  # next morning
    ticket = hall.take("A")
    assert ticket["number"] == "A001"
    assert ticket["service_day"] == "2026-11-24"
    ends = [e for e in hall.events if e["type"] == "ticket_cancelled"]
    assert len(ends) == 2 and all(e["reason"] == "day_closed" for e in ends)


def test_a_ticket_issued_after_midnight_but_before_the_reset_belongs_to_the_previous_day(county):
    hall = Hall(county, now=local_time(2026, 11, 24, 2, 0))
    hall.engine.always_open = True
    assert hall.take("A")["service_day"] == "2026-11-23"


def test_the_first_in_line_is_called_first_and_the_call_says_where_to_go(hall):
    first = hall.take("A")
    hall.take("A")
    hall.open(2)
    reply = hall.at(2, "call_next")
    assert reply["ticket"]["number"] == first["number"]
    assert reply["call"]["text_zh"] == "请 A001 号到 2 号窗口办理"
    assert reply["call"]["text_en"] == "Number A001, please go to window 2"


def test_a_ticket_shows_people_ahead_and_an_estimated_wait(hall):
    hall.open(2)  # serves A and B
    tickets = [hall.take("A") for _ in range(4)]
    assert [t["ahead"] for t in tickets] == [0, 1, 2, 3]
    waits = [t["estimated_wait_min"] for t in tickets]
    assert waits[0] == 0 and waits == sorted(waits) and waits[3] > waits[1]


def test_with_no_clerk_signed_in_the_estimate_counts_from_the_next_opening(hall):
    # 09:00, nobody signed in: window 12 (F) is next due at 13:30, after lunch; window 11 is absent now.
    assert hall.take("F")["estimated_wait_min"] == 270.0
    hall.now = local_time(2026, 11, 23, 17, 0)  # both F windows' last spans are under way: no one comes
    assert hall.engine.forecast(hall.now).peek("F", hall.now) is None


def test_recalls_are_capped_then_the_clerk_marks_a_no_show(hall):
    hall.take("B")
    hall.open(2)
    hall.at(2, "call_next")
    assert hall.at(2, "recall")["call"]["calls"] == 2
    assert hall.at(2, "recall")["call"]["calls"] == 3
    assert hall.at(2, "recall")["error"]["code"] == "recall_limit"


def test_a_missed_ticket_goes_back_three_places_once_then_is_void(hall):
    # The county hall's policy: requeue 3 places back, at most once.
    numbers = []
    for _ in range(6):
        numbers.append(hall.take("A")["number"])
        hall.wait(1)
    hall.open(2)
    hall.at(2, "call_next")
    assert hall.no_show(2)["ticket"]["state"] == "waiting"
    called = []
    for _ in range(6):
        called.append(hall.at(2, "call_next")["ticket"]["number"])
        if called[-1] == "A001":
            assert hall.no_show(2)["ticket"]["state"] == "missed"
        else:
            hall.at(2, "finish")
    assert called[:4] == ["A002", "A003", "A004", "A001"]
    assert "missed" == hall.engine.tickets[hall.engine.by_number["A001"]].state
    assert numbers[0] == "A001"


def test_a_missed_ticket_is_void_where_the_site_says_so(village):
    hall = Hall(village)
    hall.take("A")
    hall.open(1)
    hall.at(1, "call_next")
    assert hall.no_show(1)["ticket"]["state"] == "missed"


def test_a_transferred_ticket_keeps_its_place(hall):
    early = hall.take("A")
    hall.wait(5)
    for _ in range(3):
        hall.take("C")
    hall.open(2)
    hall.open(5)  # serves C then B
    hall.at(2, "call_next")
    hall.at(2, "start")
    hall.wait(2)
    assert hall.at(2, "transfer", to_business_type="C")["ticket"]["state"] == "waiting"
    # Window 5 takes C tickets; the transferred one arrived first, so it is called first.
    assert hall.at(5, "call_next")["ticket"]["number"] == early["number"]


def test_a_ticket_transferred_to_a_window_is_called_only_there(hall):
    hall.take("A")
    hall.open(2)
    hall.open(3)
    hall.open(12)
    hall.at(12, "pause", reason="break")
    hall.at(2, "call_next")
    assert hall.at(2, "transfer", to_window=12)["ok"]  # paused, but signed in
    assert hall.at(3, "call_next")["error"]["code"] == "queue_empty"
    hall.at(12, "resume")
    assert hall.at(12, "call_next")["ticket"]["number"] == "A001"


def test_first_question_responsibility_hold_and_call_back(hall):
    hall.take("A")
    hall.take("A")
    hall.open(2)
    hall.at(2, "call_next")
    hall.at(2, "start")
    assert hall.at(2, "hold")["ticket"]["state"] == "held"
    assert hall.at(2, "call_next")["ticket"]["number"] == "A002"  # the window serves others meanwhile
    hall.at(2, "finish")
    assert hall.at(2, "call_back", ticket="A001")["ticket"]["state"] == "called"
    hall.open(3)
    assert hall.at(3, "call_back", ticket="A001")["error"]["code"] == "not_held_here"
    assert hall.engine.tickets[hall.engine.by_number["A001"]].window == 2


def test_a_held_ticket_cannot_be_called_back_at_another_window(hall):
    hall.take("A")
    hall.open(2)
    hall.open(3)
    hall.at(2, "call_next")
    hall.at(2, "hold")
    assert hall.at(3, "call_back", ticket="A001")["error"]["code"] == "not_held_here"


def test_a_clerk_may_call_a_specific_ticket(hall):
    hall.take("A")
    second = hall.take("A")
    hall.open(2)
    assert hall.at(2, "call", ticket=second["number"])["ticket"]["number"] == "A002"
    hall.at(2, "finish")
    assert hall.at(2, "call", ticket="A002")["error"]["code"] == "wrong_state"


def test_a_window_serves_one_ticket_at_a_time(hall):
    hall.take("A")
    hall.take("A")
    hall.open(2)
    hall.at(2, "call_next")
    assert hall.at(2, "call_next")["error"]["code"] == "window_busy"


def test_only_the_signed_in_clerk_works_a_window(hall):
    hall.take("A")
    hall.open(2, clerk="wang")
    assert hall.do("call_next", window=2, clerk="li")["error"]["code"] == "forbidden"
    assert hall.do("sign_in", window=2, clerk="li")["error"]["code"] == "window_taken"
    assert hall.do("call_next", window=3, clerk="li")["error"]["code"] == "window_closed"


def test_a_paused_window_calls_nobody_until_resumed(hall):
    hall.take("A")
    hall.open(2)
    assert hall.at(2, "pause", reason="lunch")["state"] == "paused"
    assert hall.at(2, "call_next")["error"]["code"] == "window_paused"
    hall.at(2, "resume")
    assert hall.at(2, "call_next")["ok"]


def test_sign_out_is_refused_while_a_citizen_is_at_the_window(hall):
    hall.take("A")
    hall.open(2)
    hall.at(2, "call_next")
    assert hall.at(2, "sign_out")["error"]["code"] == "window_busy"
    hall.at(2, "finish")
    assert hall.at(2, "sign_out")["state"] == "closed"


def test_held_tickets_go_back_in_line_when_the_clerk_signs_out(hall):
    hall.take("A")
    hall.open(2)
    hall.at(2, "call_next")
    hall.at(2, "hold")
    hall.at(2, "sign_out")
    hall.open(3)
    assert hall.at(3, "call_next")["ticket"]["number"] == "A001"


def test_a_finished_visit_is_rated_once_and_a_bad_review_opens_a_follow_up(hall):
    hall.take("A")
    hall.open(2)
    hall.at(2, "call_next")
    hall.at(2, "start")
    assert hall.at(2, "finish")["ticket"]["state"] == "done"
    assert hall.engine.windows[2].state == "rating"
    reply = hall.ok("rate", ticket="A001", score=2)
    assert reply["follow_up"] is True and reply["rating"] == "dissatisfied"
    assert hall.engine.windows[2].state == "idle"
    assert hall.refused("rate", "already_rated", ticket="A001", score=5)


def test_tickets_are_refused_outside_opening_hours_with_the_next_opening(hall):
    hall.now = local_time(2026, 11, 23, 12, 30)  # lunch break
    error = hall.refused("issue", "outside_hours", business_type="A")
    assert error["next_open"] == "2026-11-23T13:30:00+08:00"
    hall.now = local_time(2026, 11, 28, 13, 0)  # Saturday afternoon
    assert hall.refused("issue", "outside_hours", business_type="A")["next_open"] == "2026-11-30T08:30:00+08:00"


def test_a_business_type_with_a_daily_quota_stops_at_the_quota(hall):
    for _ in range(60):
        hall.take("F")
    error = hall.refused("issue", "quota_reached", business_type="F")
    assert error["next_open"] == "2026-11-24T08:30:00+08:00"


def test_a_business_type_issues_only_in_its_own_hours(hall):
    hall.now = local_time(2026, 11, 23, 16, 45)  # the hall is open, F stops issuing at 16:30
    assert hall.refused("issue", "outside_hours", business_type="F")
    assert hall.take("A")


def test_a_manager_can_close_a_business_type(hall):
    hall.ok("set_business_type", business_type="D", open=False)
    hall.refused("issue", "business_type_closed", business_type="D")
    hall.ok("set_business_type", business_type="D", open=True)
    assert hall.take("D")["number"] == "D001"


def test_an_unknown_item_or_group_is_refused(hall):
    hall.refused("issue", "unknown_item", business_type="A", item="NOPE")
    hall.refused("issue", "unknown_priority_group", business_type="A", priority_group="vip")


def test_an_appointment_at_its_slot_is_served_ahead_of_walk_ins(hall):
    for _ in range(3):
        hall.take("A")
    slot = hall.now + 10 * 60
    hall.take("A", appointment={"ref": "apt-1", "start": slot})
    hall.open(2)
    assert hall.at(2, "call_next")["ticket"]["number"] == "A001"  # before the slot: an ordinary place
    hall.at(2, "finish")
    hall.wait(11)
    assert hall.at(2, "call_next")["ticket"]["number"] == "A004"


def test_a_priority_citizen_is_called_before_walk_ins(hall):
    hall.take("A")
    hall.take("A")
    elderly = hall.take("A", priority_group="elderly")
    hall.open(2)
    assert hall.at(2, "call_next")["ticket"]["number"] == elderly["number"]


def test_nobody_waits_past_the_maximum_while_priority_citizens_keep_coming(hall):
    first = hall.take("A")
    hall.open(2)
    for _ in range(6):
        hall.wait(11)
        hall.take("A", priority_group="elderly")
        reply = hall.at(2, "call_next")
        hall.at(2, "finish")
        if reply["ticket"]["number"] == first["number"]:
            break
    else:
        pytest.fail("the first ticket was never called")
    assert hall.now - MONDAY_9AM <= 66 * 60


def test_cancelling_a_waiting_ticket_takes_it_out_of_line(hall):
    hall.take("A")
    hall.ok("cancel", ticket="A001", reason="print_failed")
    hall.open(2)
    assert hall.at(2, "call_next")["error"]["code"] == "queue_empty"
    assert hall.refused("cancel", "wrong_state", ticket="A001")


def test_ticket_status_answers_by_number_or_id(hall):
    t = hall.take("A")
    assert hall.engine.query("ticket_status", {"ticket": t["id"]}, hall.now)["ticket"]["number"] == "A001"
    assert hall.engine.query("ticket_status", {"ticket": "A001"}, hall.now)["ticket"]["ahead"] == 0
    assert hall.engine.query("ticket_status", {"ticket": "Z999"}, hall.now)["error"]["code"] == "unknown_ticket"


def test_replaying_the_events_rebuilds_the_same_hall(hall, county):
    hall.open(2)
    for prefix in "AABBCA":
        hall.take(prefix)
    hall.at(2, "call_next")
    hall.at(2, "start")
    hall.wait(3)
    hall.at(2, "finish")
    hall.ok("rate", ticket="A001", score=5)
    rebuilt = Engine(county)
    for e in hall.events:
        rebuilt.apply(e)
    assert rebuilt.snapshot(hall.now) == hall.engine.snapshot(hall.now)


def test_invalid_configuration_names_the_key_and_the_problem():
    with pytest.raises(config.ConfigError) as err:
        config.from_dict({"site": {"id": "ok-site", "name": "x"}, "hours": {"weekdays": ["08:00-07:00"]},
                          "business_type": [{"prefix": "A", "name": "a"}],
                          "window": [{"number": 1, "serves": ["B"]}],
                          "calls": {"missed": "sometimes"}})
    text = str(err.value)
    assert "hours.weekdays[0]: '08:00-07:00': must end after it starts" in text
    assert "window[0].serves: 'B': is not a business type prefix" in text
    assert "calls.missed: 'sometimes': must be one of void, requeue" in text


def test_a_ticket_transferred_to_a_window_goes_back_in_line_when_that_clerk_signs_out(hall):
    hall.take("A")
    hall.open(2)
    hall.open(12)
    hall.at(2, "call_next")
    hall.at(2, "transfer", to_window=12)
    hall.at(12, "sign_out")
    assert hall.at(2, "call_next")["ticket"]["number"] == "A001"
