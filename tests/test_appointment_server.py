"""The appointment book in the server: durable in the event log and replayed at restart (across days),
who may book and who may check in, and the citizen's identity nowhere it must not be."""
from __future__ import annotations

import json
import logging

import pytest

from onewindow.identity import protect
from queue_server.roles import Member, Roles
from tests.conftest import local_time
from tests.test_server import Hall, command, store

PHONE, LAST4 = "13912345678", "907X"
SALT = b"server-test-salt"
HOLDER = protect(SALT, ("id_last4", "phone"), {"id_last4": LAST4, "phone": PHONE})
WEDNESDAY_1030 = local_time(2026, 11, 25, 10, 30)


def reply_of(hall):
    return hall.replies()[-1]


def test_bookings_survive_a_restart_made_on_a_later_day(tmp_path, county, clock):
    first = Hall(county, store(tmp_path, county), clock)
    first.send(command("book", business_type="A", start=WEDNESDAY_1030, holder=HOLDER))
    code = reply_of(first)["booking"]["code"]
    clock.advance(86400)  # Tuesday: a new service day begins with a ticket
    first.send(command("issue", business_type="B"))
    first.server.store.close()
    clock.now = WEDNESDAY_1030 - 600  # Wednesday morning, the server restarts
    second = Hall(county, store(tmp_path, county), clock)
    assert second.server.engine.book.bookings[code].holder == HOLDER
    second.send(command("check_in", code=code))
    got = reply_of(second)
    assert got["ok"] and got["booking"]["state"] == "checked_in" and got["ticket"]["number"] == "A001", got
    second.send(command("book", business_type="A", start=WEDNESDAY_1030 + 3600, holder=HOLDER,
                        request_id="again"))
    assert reply_of(second)["ok"]


def test_no_shows_happen_on_time_without_commands_and_are_stored(tmp_path, county, clock):
    hall = Hall(county, store(tmp_path, county), clock)
    hall.send(command("book", business_type="A", start=local_time(2026, 11, 23, 10, 30), holder=HOLDER))
    clock.now = local_time(2026, 11, 23, 11, 31)
    hall.server.process([])  # the transport runs an empty batch at least once a second
    rows = hall.server.store.conn.execute("SELECT type FROM events WHERE type LIKE 'appointment%'").fetchall()
    assert rows == [("appointment_booked",), ("appointment_no_show",)]


def test_the_identity_is_never_in_replies_the_event_topic_retained_state_or_logs(tmp_path, county, clock, caplog):
    caplog.set_level(logging.DEBUG)
    hall = Hall(county, store(tmp_path, county), clock)
    hall.send(command("book", business_type="A", start=local_time(2026, 11, 23, 10, 30), holder=HOLDER))
    code = reply_of(hall)["booking"]["code"]
    hall.send(command("cancel_booking", code=code, holder="a" * 64))  # a wrong identity: refused, logged
    assert reply_of(hall)["error"]["code"] == "unknown_booking"
    hall.send(command("book", business_type="A", start=local_time(2026, 11, 23, 10, 30), holder=PHONE + "x"))
    assert reply_of(hall)["error"]["code"] == "personal_data"  # a phone number in clear is refused
    published = json.dumps([p for _, p, _ in hall.published], ensure_ascii=False)
    assert code in published  # the control: the booking did travel
    for secret in (HOLDER, PHONE):
        assert secret not in published
        assert secret not in caplog.text
    assert LAST4 not in published


def test_the_identity_is_removed_from_the_log_after_the_purge_period(tmp_path, county, clock):
    hall = Hall(county, store(tmp_path, county), clock)
    hall.send(command("book", business_type="A", start=local_time(2026, 11, 23, 10, 30), holder=HOLDER))
    db = hall.server.store.conn
    assert HOLDER in db.execute("SELECT data FROM events WHERE type = 'appointment_booked'").fetchone()[0]
    clock.now = local_time(2026, 11, 23, 12, 0) + 61 * 86400
    hall.server.process([])
    assert HOLDER not in "".join(r[0] for r in db.execute("SELECT data FROM events"))
    assert db.execute("SELECT count(*) FROM events WHERE type = 'appointment_holders_purged'").fetchone()[0] == 1


@pytest.mark.parametrize("role, command_name, allowed", [
    ("kiosk", "check_in", True), ("kiosk", "book", False), ("kiosk", "bookings", False),
    ("console", "book", True), ("console", "change_booking", True), ("console", "cancel_booking", True),
    ("console", "appointment_slots", True), ("console", "bookings", True), ("console", "check_in", False),
    ("window", "book", False), ("display", "appointment_slots", False), ("manager", "bookings", True),
])
def test_appointments_come_from_the_console_and_check_in_from_kiosks(role, command_name, allowed):
    roles = Roles([Member("dev", role, (1,) if role == "window" else ())])
    refusal = roles.check("dev", command_name, {})
    assert (refusal is None) == allowed, refusal


def test_the_report_gives_booked_and_walk_in_waits_and_the_no_show_rate(tmp_path, county, clock):
    from console.appointment_report import appointment_report
    hall = Hall(county, store(tmp_path, county), clock)
    codes = []
    for n, phone in enumerate(("13900000001", "13900000002", "13900000003")):
        holder = protect(SALT, ("phone",), {"phone": phone})
        hall.send(command("book", business_type="A", start=local_time(2026, 11, 23, 10, 30), holder=holder,
                          request_id=f"b{n}"))
        codes.append(reply_of(hall)["booking"]["code"])
    clock.now = local_time(2026, 11, 23, 10, 0)
    hall.send(command("issue", business_type="A", request_id="w1"))  # a walk-in at 10:00
    clock.now = local_time(2026, 11, 23, 10, 20)
    hall.send(command("check_in", code=codes[0]))
    clock.now = local_time(2026, 11, 23, 10, 50)
    hall.send(command("check_in", code=codes[1]))  # late: a walk-in ticket
    clock.now = local_time(2026, 11, 23, 10, 40)
    hall.send(command("sign_in", window=2, clerk="li"))
    hall.send(command("call_next", window=2, clerk="li", request_id="c1"))  # the booked one, 10 min after its slot
    assert reply_of(hall)["ticket"]["number"] == "A002"
    clock.now = local_time(2026, 11, 23, 11, 40)
    hall.server.process([])  # the third never came: a no-show
    report = appointment_report(hall.server.store.conn, county.site_id, "2026-11-23", "2026-11-23")
    assert {k: report[k] for k in ("bookings", "checked_in", "late", "no_show")} == \
        {"bookings": 3, "checked_in": 1, "late": 1, "no_show": 1}
    assert report["no_show_rate"] == round(1 / 3, 3)
    assert report["booked_wait"] == {"n": 1, "mean_min": 10.0, "p50_min": 10.0, "p90_min": 10.0}
    assert report["walk_in_wait"]["n"] == 0  # nobody else called yet
    assert appointment_report(hall.server.store.conn, county.site_id, "2026-11-24", "2026-11-30")["bookings"] == 0


def test_a_query_with_an_impossible_day_is_answered_not_crashed(tmp_path, county, clock):
    hall = Hall(county, store(tmp_path, county), clock)
    hall.send(command("appointment_slots", business_type="A", day="2026-13-45"))
    assert reply_of(hall)["error"]["code"] == "bad_request"
    hall.send(command("bookings", day="2026-02-30", request_id="b2"))
    assert reply_of(hall)["error"]["code"] == "bad_request"
    hall.send(command("appointment_slots", business_type="A", day="2026-11-24", days=2, request_id="ok"))
    assert reply_of(hall)["ok"] and reply_of(hall)["slots"]
