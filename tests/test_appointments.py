"""The appointment book, told as a hall would tell it: booking, a full slot, change, cancel, check-in
early / on time / late, no-shows and the block they bring, a restart. No broker, no disk, no sleeping."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from onewindow.identity import protect
from queue_server.appointments import Book
from queue_server.engine import Engine
from tests.conftest import MONDAY_9AM, local_time
from tests.test_engine import Hall

SALT = b"test-salt"
ANNA = protect(SALT, ("id_last4", "phone"), {"id_last4": "907X", "phone": "13912345678"})
BO = protect(SALT, ("id_last4", "phone"), {"id_last4": "1234", "phone": "13800001111"})
TEN = local_time(2026, 11, 23, 10, 30)  # a slot of business type A on Monday (slots run from 08:30)


class BookingHall(Hall):
    def book(self, start=TEN, holder=ANNA, prefix="A", **args):
        return self.ok("book", business_type=prefix, start=start, holder=holder, **args)["booking"]

    def no(self, command, error_code, **args):
        reply = self.do(command, **args)
        assert not reply["ok"] and reply["error"]["code"] == error_code, reply
        return reply["error"]

    def tick(self, minutes=0):
        self.wait(minutes)
        events = self.engine.tick(self.now)
        self.events.extend(events)
        return events


@pytest.fixture
def hall(county):
    h = BookingHall(county)
    h.take("F")  # the day has begun (F: served by windows 11 and 12 only)
    return h


def small_site(county, **appointments):
    """The county hall with a different appointment policy (and windows 11 and 12 only, for small slots)."""
    policy = dataclasses.replace(county.appointments, **appointments)
    return dataclasses.replace(county, appointments=policy, _types_by_prefix={}, _windows_by_number={})


def test_slots_follow_the_windows_hours_and_a_lunch_window_makes_lunch_slots(hall):
    slots = hall.engine.query("appointment_slots", {"business_type": "E"}, hall.now)["slots"]
    starts = [s["start"][11:16] for s in slots]
    assert starts[:4] == ["09:30", "10:30", "11:30", "12:30"]  # window 11 works through lunch
    lunch = next(s for s in slots if s["start"][11:16] == "12:30")
    morning = next(s for s in slots if s["start"][11:16] == "10:30")
    assert 0 < lunch["capacity"] < morning["capacity"]  # one window at lunch, four in the morning
    slots_a = hall.engine.query("appointment_slots", {"business_type": "A"}, hall.now)["slots"]
    assert "12:30" not in [s["start"][11:16] for s in slots_a]  # no lunch window serves A


def test_a_booking_has_a_short_code_the_slot_and_the_no_show_rule(hall):
    b = hall.book()
    assert len(b["code"]) == 8 and b["code"].isalnum()
    assert b["start"].startswith("2026-11-23T10:30") and b["state"] == "booked"
    assert b["check_in_from"][11:16] == "10:00" and b["check_in_until"][11:16] == "10:45"
    assert "2 no-shows within 30 days" in b["rule"] and "爽约2次" in b["rule_zh"]
    assert ANNA not in str(b)
    slot = next(s for s in hall.engine.query("appointment_slots", {"business_type": "A"}, hall.now)["slots"]
                if s["start"][11:16] == "10:30")
    assert slot["free"] == slot["capacity"] - 1


def test_a_full_slot_is_refused_naming_the_next_free_slots(hall):
    slot = next(s for s in hall.engine.query("appointment_slots", {"business_type": "A"}, hall.now)["slots"]
                if s["start"][11:16] == "10:30")
    for _ in range(slot["capacity"]):
        hall.book()
    error = hall.no("book", "slot_full", business_type="A", start=TEN, holder=BO)
    assert "10:30 slot is full" in error["message"] and "11:30" in error["message"]
    assert [s["start"][11:16] for s in error["next_free"]] == ["11:30", "13:30", "14:30"]


def test_slots_that_began_do_not_exist_or_are_too_far_ahead_are_refused(hall):
    hall.no("book", "slot_started", business_type="A", start=local_time(2026, 11, 23, 8, 30), holder=ANNA)
    hall.no("book", "no_such_slot", business_type="A", start=local_time(2026, 11, 23, 10, 0), holder=ANNA)
    hall.no("book", "too_far_ahead", business_type="A", start=local_time(2026, 12, 21, 9, 30), holder=ANNA)
    hall.no("book", "not_bookable", business_type="B", start=TEN, holder=ANNA)
    hall.no("book", "unknown_item", business_type="A", item="NOPE", start=TEN, holder=ANNA)


def test_change_moves_the_booking_and_frees_the_old_place(hall):
    b = hall.book()
    eleven = local_time(2026, 11, 23, 11, 30)
    moved = hall.ok("change_booking", code=b["code"], holder=ANNA, start=eleven)["booking"]
    assert moved["code"] == b["code"] and moved["start"][11:16] == "11:30"
    assert hall.engine.book.taken == {("A", eleven): 1}
    hall.no("change_booking", "unknown_booking", code=b["code"], holder=BO, start=TEN)  # someone else


def test_cancel_any_time_before_the_slot_but_not_after(hall):
    b = hall.book()
    hall.ok("cancel_booking", code=b["code"], holder=ANNA)
    assert hall.engine.book.taken == {}
    hall.no("cancel_booking", "booking_closed", code=b["code"], holder=ANNA)
    late = hall.book()
    hall.now = TEN + 60
    hall.no("cancel_booking", "slot_started", code=late["code"], holder=ANNA)


def test_check_in_too_early_is_refused_with_the_time_it_opens(hall):
    b = hall.book()
    hall.now = TEN - 45 * 60
    error = hall.no("check_in", "too_early", code=b["code"])
    assert error["check_in_from"][11:16] == "10:00" and "10:00" in error["message"]


def test_early_check_in_gets_a_ticket_called_at_its_slot_ahead_of_walk_ins(hall):
    b = hall.book()
    hall.now = TEN - 20 * 60
    for _ in range(5):
        hall.take("A")
    got = hall.ok("check_in", code=b["code"].lower())  # typed in lower case at the kiosk: still found
    assert got["walk_in"] is False and got["booking"]["state"] == "checked_in"
    number = got["ticket"]["number"]
    hall.no("check_in", "already_checked_in", code=b["code"])
    hall.now = TEN + 60
    hall.open(2)
    assert hall.at(2, "call_next")["ticket"]["number"] == number  # its slot has begun: ahead of walk-ins


def test_on_time_check_in_and_a_late_arrival_becomes_a_walk_in(hall):
    on_time, late = hall.book(), hall.book(holder=BO)
    hall.now = TEN + 10 * 60
    assert hall.ok("check_in", code=on_time["code"])["walk_in"] is False
    hall.now = TEN + 20 * 60
    got = hall.ok("check_in", code=late["code"])
    assert got["walk_in"] is True and got["booking"]["state"] == "late"
    assert "20 minutes late" in got["message"] and "walk-in" in got["message"]
    t = hall.engine.tickets[got["ticket"]["id"]]
    assert t.appointment_start is None  # no appointment credit


def test_a_booking_not_checked_in_by_the_end_of_its_slot_is_a_no_show(hall):
    b = hall.book()
    hall.now = TEN + 59 * 60
    assert hall.tick() == []
    events = hall.tick(2)
    assert [e["type"] for e in events] == ["appointment_no_show"] and events[0]["code"] == b["code"]
    hall.no("check_in", "booking_closed", code=b["code"])
    assert hall.tick(1) == []  # once


def test_two_no_shows_in_a_month_block_new_bookings_for_a_month(hall):
    hall.book()
    hall.now = TEN + 3600
    hall.tick()
    hall.book(start=local_time(2026, 11, 24, 10, 30))
    hall.now = local_time(2026, 11, 24, 11, 31)
    hall.tick()
    error = hall.no("book", "booking_blocked", business_type="A", start=local_time(2026, 11, 25, 10, 30),
                         holder=ANNA)
    assert "2 no-shows within 30 days block new bookings for 30 days" in error["message"]
    assert error["blocked_until"].startswith("2026-12-24")
    hall.book(start=local_time(2026, 11, 25, 10, 30), holder=BO)  # somebody else may book
    hall.now = local_time(2026, 12, 24, 12, 0)
    hall.tick()
    hall.book(start=local_time(2026, 12, 25, 10, 30))  # the block has ended


def test_identities_are_forgotten_after_the_purge_period(hall):
    b = hall.book()
    hall.now = TEN + 3600
    hall.tick()
    hall.now = TEN + 61 * 86400
    events = hall.tick()
    assert {"type": "appointment_holders_purged", "codes": [b["code"]]}.items() <= events[-1].items()
    assert b["code"] not in hall.engine.book.bookings and hall.engine.book.by_holder == {}
    assert hall.engine.book.taken == {}
    assert hall.tick(1) == []  # once


def test_the_book_is_rebuilt_by_replaying_its_events_across_days(hall, county):
    b = hall.book(start=local_time(2026, 11, 25, 10, 30))
    other = hall.book(holder=BO)
    hall.ok("cancel_booking", code=other["code"], holder=BO)
    replayed = Engine(county)
    for e in hall.events:
        replayed.apply(e)
    assert replayed.book.bookings == hall.engine.book.bookings
    assert replayed.book.taken == hall.engine.book.taken
    replayed.handle("issue", {"business_type": "B"}, local_time(2026, 11, 25, 10, 0))  # a new day
    _, reply = replayed.handle("check_in", {"code": b["code"]}, local_time(2026, 11, 25, 10, 20))
    assert reply["ok"] and reply["ticket"]["number"] == "A001"


def test_appointment_only_days_refuse_walk_ins_but_serve_bookings(county):
    site = small_site(county, only_days=("sat",))
    hall = BookingHall(site, now=local_time(2026, 11, 26, 9, 0))  # Thursday
    hall.take("B")
    sat = local_time(2026, 11, 28, 10, 0)
    slots = hall.engine.query("appointment_slots", {"business_type": "A", "day": "2026-11-28"}, hall.now)
    assert slots["days"] == [{"day": "2026-11-28", "kind": "appointments_only"}] and slots["slots"]
    b = hall.book(start=sat)
    hall.now = sat - 600
    error = hall.no("issue", "appointments_only", business_type="A")
    assert "appointments only" in error["message"]
    assert hall.ok("check_in", code=b["code"])["ticket"]["number"] == "A001"


def test_holidays_serve_appointments_in_their_own_hours(county):
    hall = BookingHall(county, now=local_time(2026, 12, 31, 9, 0))
    hall.take("B")
    answer = hall.engine.query("appointment_slots", {"business_type": "A", "day": "2027-01-01"}, hall.now)
    assert answer["days"][0]["kind"] == "holiday"
    assert [s["start"][11:16] for s in answer["slots"]] == ["09:00", "10:00", "11:00"]
    # holiday windows 1, 2, 3, 6, 9 serve A; all their time goes to bookings
    assert answer["slots"][0]["capacity"] == int((60 / 5 + 60 / 2 + 60 / 2 + 60 / 3 + 60 / 3) / 6)
    hall.now = local_time(2027, 1, 1, 9, 30)
    hall.no("issue", "appointments_only", business_type="A")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["book", "change", "cancel"]), st.integers(0, 3),
                          st.integers(0, 5), st.integers(0, 50)), max_size=60))
def test_a_slot_never_holds_more_than_its_capacity(county, steps):
    site = small_site(county, share=0.05)  # small slots fill quickly
    engine = Engine(site)
    now = MONDAY_9AM
    engine.handle("issue", {"business_type": "B"}, now)
    starts = [local_time(2026, 11, 23, h, 30) for h in (10, 11, 13, 14)]
    holders = [letter * 64 for letter in "abcdef"]  # six citizens (as hashes: scrypt is slow on purpose)
    codes: list[tuple[str, str]] = []
    for op, slot, who, pick in steps:
        if op == "book":
            _, reply = engine.handle("book", {"business_type": "A", "start": starts[slot], "holder": holders[who]}, now)
            if reply["ok"]:
                codes.append((reply["booking"]["code"], holders[who]))
            else:
                assert reply["error"]["code"] in ("slot_full", "no_such_slot"), reply
        elif codes:
            code, holder = codes[pick % len(codes)]
            args = {"code": code, "holder": holder}
            if op == "change":
                args["start"] = starts[slot]
            engine.handle("change_booking" if op == "change" else "cancel_booking", args, now)
        for (prefix, start), n in engine.book.taken.items():
            assert n <= engine.book.slot_at(prefix, start).capacity
        live = [b for b in engine.book.bookings.values() if b.state != "cancelled"]
        assert sum(engine.book.taken.values()) == len(live)


def test_the_book_is_pure(county):
    import inspect
    import queue_server.appointments as module
    source = inspect.getsource(module)
    for word in ("import time", "import socket", "open(", "threading", "import random", "datetime.now"):
        assert word not in source
    assert isinstance(Engine(county).book, Book)


def test_every_appointment_setting_is_in_the_readme_and_bad_values_are_refused(county):
    import re
    from pathlib import Path

    from onewindow import config
    from onewindow.appointment_config import AppointmentPolicy
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [f.name for f in dataclasses.fields(AppointmentPolicy) if f"`appointments.{f.name}`" not in readme]
    assert not missing
    raw = config.tomllib.loads(config.sample_path().read_text(encoding="utf-8"))
    raw["catalogue"] = str(config.sample_path().parent / raw["catalogue"])
    raw["appointments"].update(slot_minutes=7, holidays=["2027-13-01"], purge_days=10, only_days=["someday"],
                               colour="red")
    with pytest.raises(config.ConfigError) as info:
        config.from_dict(raw)
    keys = {k for k, _, _ in info.value.errors}
    assert {"appointments.slot_minutes", "appointments.holidays[0]", "appointments.purge_days",
            "appointments.only_days", "appointments.colour"} <= keys, info.value
    assert re.search(r"purge_days.*no_show_days", str(info.value))


def test_an_issue_naming_a_booking_from_its_qr_is_its_check_in(hall):
    b = hall.book()
    hall.now = TEN - 5 * 60
    got = hall.ok("issue", business_type="A", appointment={"ref": b["code"], "start": TEN})
    assert got["booking"]["state"] == "checked_in" and got["ticket"]["number"] == "A001"
    hall.no("issue", "already_checked_in", business_type="A", appointment={"ref": b["code"], "start": TEN})


def test_a_made_up_appointment_from_a_kiosk_gets_no_head_start(hall):
    got = hall.ok("issue", business_type="A", kiosk="kiosk-1", appointment={"ref": "R-FAKE-1", "start": hall.now})
    assert hall.engine.tickets[got["ticket"]["id"]].appointment_start is None
    got = hall.ok("issue", business_type="A", appointment={"ref": "apt-1", "start": hall.now})  # a program (the sim)
    assert hall.engine.tickets[got["ticket"]["id"]].appointment_start == hall.now
