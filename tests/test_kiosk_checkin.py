"""Check-in at the kiosk: the booking QR (or the typed code) -> `check_in` -> a ticket, or words that say
why not. A real server on the in-process bus; the kiosk talks to it through QueueClient like in the hall."""
from __future__ import annotations

from onewindow.booking_code import qr_text
from onewindow.client import QueueClient
from onewindow.identity import protect
from tests.conftest import local_time
from tests.test_server import Hall, command, store

HOLDER = protect(b"kiosk-test", ("phone",), {"phone": "13700000000"})
SLOT = local_time(2026, 11, 23, 10, 30)


def booked(tmp_path, county, clock):
    hall = Hall(county, store(tmp_path, county), clock)
    hall.send(command("book", client="console", business_type="A", start=SLOT, holder=HOLDER))
    booking = hall.replies()[-1]["booking"]
    return hall, QueueClient(hall.kiosk, county.site_id, "kiosk-1", timeout=2.0), booking


def test_scanning_the_booking_qr_checks_in_and_gives_a_ticket(tmp_path, county, clock):
    from kiosk.checkin import check_in
    hall, kiosk, booking = booked(tmp_path, county, clock)
    clock.now = SLOT - 600
    result = check_in(kiosk, qr_text(booking))
    assert result.ok and result.ticket["number"] == "A001" and not result.walk_in
    assert "A001" in result.words("zh") and "10:30" in result.words("en")
    again = check_in(kiosk, booking["code"].lower())  # typed, in lower case
    assert not again.ok and again.error == "already_checked_in" and "A001" in again.words("en")


def test_the_kiosk_says_why_a_check_in_is_refused(tmp_path, county, clock):
    from kiosk.checkin import check_in
    hall, kiosk, booking = booked(tmp_path, county, clock)
    early = check_in(kiosk, booking["code"])
    assert not early.ok and early.error == "too_early" and "10:00" in early.words("zh")
    assert check_in(kiosk, "hello").error == "not_a_code"
    assert check_in(kiosk, "ABCDEFGH").error == "unknown_booking"
    clock.now = SLOT + 25 * 60
    late = check_in(kiosk, booking["code"])
    assert late.ok and late.walk_in and "25 minutes late" in late.words("en") and late.ticket["number"] == "A001"
