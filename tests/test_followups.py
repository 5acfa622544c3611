"""Bad ratings open follow-up cases with working-day deadlines, kept in the event log."""
from __future__ import annotations

import json
from dataclasses import replace

from onewindow import PROTOCOL_VERSION
from onewindow.topics import Topics
from queue_server import followups
from queue_server.calendar import HallCalendar
from tests.conftest import local_time
from tests.test_engine import Hall


def served_and_finished(hall, window=2, clerk="wang"):
    hall.ok("sign_in", window=window, clerk=clerk)
    t = hall.take("A", item="CB-01")
    hall.ok("call_next", window=window, clerk=clerk)
    hall.ok("start", window=window, clerk=clerk)
    hall.wait(6)
    hall.ok("finish", window=window, clerk=clerk)
    return t


def test_a_bad_rating_opens_a_case_due_the_next_working_day(county):
    hall = Hall(county)
    t = served_and_finished(hall)
    reply = hall.ok("rate", ticket=t["number"], score=2, window=2)
    assert reply["follow_up"] is True
    case = [e for e in hall.events if e["type"] == "follow_up_opened"]
    assert len(case) == 1
    c = case[0]
    assert (c["ticket"], c["number"], c["window"], c["clerk"], c["score"]) == (t["id"], t["number"], 2, "wang", 2)
    assert c["contact_due"] == "2026-11-24T17:30:00+08:00"  # Tuesday, end of opening hours
    assert c["close_due"] == "2026-11-28T12:00:00+08:00"  # five working days: Tue-Sat (Saturday opens)


def test_a_good_rating_opens_no_case(county):
    hall = Hall(county)
    t = served_and_finished(hall)
    assert hall.ok("rate", ticket=t["number"], score=4, window=2)["follow_up"] is False
    assert not [e for e in hall.events if e["type"] == "follow_up_opened"]
    (rated,) = [e for e in hall.events if e["type"] == "ticket_rated"]
    assert (rated["ticket"], rated["window"], rated["clerk"], rated["item"], rated["score"]) == \
        (t["id"], 2, "wang", "CB-01", 4)  # stored against ticket, item, window and clerk


def test_only_the_window_that_served_the_visit_may_rate_it_and_only_once(county):
    hall = Hall(county)
    t = served_and_finished(hall)
    hall.refused("rate", "not_served_here", ticket=t["number"], score=1, window=3)
    hall.ok("rate", ticket=t["number"], score=1, window=2)
    hall.refused("rate", "already_rated", ticket=t["number"], score=5, window=2)


def test_deadlines_skip_days_without_opening_hours(county):
    cal = HallCalendar(county)
    saturday_11 = local_time(2026, 11, 28, 11, 0)
    # Sunday is closed: one working day after Saturday is Monday's close.
    assert cal.iso(followups.due_after(cal, saturday_11, 1)) == "2026-11-30T17:30:00+08:00"
    assert cal.iso(followups.due_after(cal, saturday_11, 0)) == "2026-11-28T12:00:00+08:00"


def test_the_deadlines_are_configurable(county):
    hall = Hall(replace(county, follow_up_days=(0, 2)))
    t = served_and_finished(hall)
    hall.ok("rate", ticket=t["number"], score=1, window=2)
    c = [e for e in hall.events if e["type"] == "follow_up_opened"][0]
    assert c["contact_due"] == "2026-11-23T17:30:00+08:00"
    assert c["close_due"] == "2026-11-25T17:30:00+08:00"


def test_cases_fold_into_their_state_with_deadlines_met_or_missed(county):
    hall = Hall(county)
    t = served_and_finished(hall)
    hall.ok("rate", ticket=t["number"], score=2, window=2)
    opened = [e for e in hall.events if e["type"] == "follow_up_opened"][0]
    cal = HallCalendar(county)
    events = [dict(e, at=cal.iso(e["at"])) for e in hall.events]
    later = {"type": "follow_up_assigned", "case": opened["case"], "owner": "boss", "at": "2026-11-23T10:00:00+08:00"}
    late_call = {"type": "follow_up_contacted", "case": opened["case"], "at": "2026-11-25T09:00:00+08:00"}
    (case,) = followups.cases(events + [later], now="2026-11-23T12:00:00+08:00")
    assert (case["state"], case["owner"], case["contact"], case["close"]) == ("open", "boss", "running", "running")
    (case,) = followups.cases(events + [later, late_call], now="2026-11-25T10:00:00+08:00")
    assert (case["state"], case["contact"], case["close"]) == ("contacted", "missed", "running")
    closed = {"type": "follow_up_closed", "case": opened["case"], "outcome": "apologised", "at": "2026-11-26T09:00:00+08:00"}
    (case,) = followups.cases(events + [late_call, closed], now="2026-12-10T10:00:00+08:00")
    assert (case["state"], case["outcome"], case["close"]) == ("closed", "apologised", "met")


def bad_case(county):
    hall = Hall(county)
    t = served_and_finished(hall)
    hall.ok("rate", ticket=t["number"], score=1, window=2)
    return hall, t


def test_a_manager_assigns_notes_records_the_contact_and_closes_a_case(county):
    hall, t = bad_case(county)
    case = t["id"]
    hall.ok("follow_up", case=case, action="assign", owner="zhao", manager="boss")
    hall.ok("follow_up", case=case, action="note", text="called, no answer", manager="zhao")
    hall.wait(60 * 3)
    hall.ok("follow_up", case=case, action="contact", text="explained the reimbursement rule", manager="zhao")
    reply = hall.ok("follow_up", case=case, action="close", outcome="explained", manager="zhao")
    c = reply["case"]
    assert (c["state"], c["owner"], c["outcome"], c["contact"], c["close"]) == ("closed", "zhao", "explained", "met", "met")
    assert [n["text"] for n in c["notes"]] == ["called, no answer"]
    hall.refused("follow_up", "case_closed", case=case, action="note", text="again", manager="zhao")
    listed = hall.engine.query("follow_ups", {"state": "closed"}, hall.now)["cases"]
    assert [x["number"] for x in listed] == [t["number"]]
    assert listed[0]["opened_at"].endswith("+08:00")  # ISO local times on the wire
    assert hall.engine.query("follow_ups", {"state": "open"}, hall.now)["cases"] == []


def test_case_actions_are_checked(county):
    hall, t = bad_case(county)
    hall.refused("follow_up", "unknown_case", case="demo-county:2026-11-23:Z999", action="note", text="x",
                 manager="boss")
    hall.refused("follow_up", "bad_request", case=t["id"], action="close", manager="boss")
    hall.refused("follow_up", "bad_request", case=t["id"], action="assign", manager="boss")


def test_an_unanswered_case_shows_its_missed_deadline_on_a_later_day(county):
    hall, t = bad_case(county)
    hall.wait(60 * 24 * 2)  # Wednesday: Tuesday's deadline for first contact has passed
    hall.ok("issue", business_type="A")  # the new service day starts
    (case,) = hall.engine.query("follow_ups", {}, hall.now)["cases"]
    assert (case["state"], case["contact"], case["close"]) == ("open", "missed", "running")


def test_cases_outlive_the_service_day_and_a_server_restart(tmp_path, county):
    from queue_server.store import Store
    from tests.conftest import Clock
    from tests.test_server import Hall as ServerHall
    clock = Clock()
    store = Store(tmp_path / "q.db", county.site_id, county.timezone)
    first = ServerHall(county, store, clock, always_open=True).server
    sent = iter(range(1000))

    topics = Topics(county.site_id)

    def send(command, **args):
        first.process([(topics.cmd(command, "k"), json.dumps(
            {"v": PROTOCOL_VERSION, "request_id": f"r{next(sent)}", "reply_to": topics.reply("k"), **args}
        ).encode())])

    send("sign_in", window=4, clerk="li")
    send("issue", business_type="A")
    for command in ("call_next", "start", "finish"):
        send(command, window=4, clerk="li")
    ticket = first.engine.windows[4].last_ticket
    send("rate", ticket=ticket, score=2, window=4)
    assert ticket in first.engine.cases.cases
    clock.advance(86400)  # the next service day begins with the next command
    send("issue", business_type="A")
    restarted = ServerHall(county, store, clock, always_open=True).server
    assert restarted.engine.day == "2026-11-24"
    (case,) = restarted.engine.cases.view(clock())
    assert (case["case"], case["clerk"], case["score"], case["state"]) == (ticket, "li", 2, "open")
    store.close()
