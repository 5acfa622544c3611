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


def test_the_kiosk_presenter_checks_in_a_scanned_booking_qr_and_says_when_it_is_too_early(tmp_path):
    """kioskui's presenter, offscreen: the booking QR -> the item's notice -> take -> the appointment's ticket."""
    from tests.kiosk_support import Clock as KioskClock, Hall as KioskHall
    from tests.support import county_site, wait_until
    server_clock = KioskClock(SLOT - 3600)  # 09:30: too early
    hall = KioskHall(county_site(), tmp_path, clock=server_clock, always_open=False)
    try:
        rt = hall.kiosk(clock=KioskClock())
        assert wait_until(lambda: rt.presenter.screen().name == "home")
        p = rt.presenter
        booking = rt.queue_client.request("book", business_type="A", item="CB-01", start=SLOT, holder=HOLDER)["booking"]
        p.identified(qr=qr_text(booking))
        assert p.screen().name == "notice" and booking["code"] in p.screen().banner
        p.tap("take")
        s = p.screen()
        assert s.name == "refused" and "签到时间未到，请于 10:00 后签到。" in [ln.text for ln in s.lines]
        p.tap("done")
        server_clock.now = SLOT - 600  # 10:20: on time
        p.identified(qr=qr_text(booking))
        p.tap("take")
        assert wait_until(lambda: p.screen().name == "result")
        assert p.screen().big == "A001"
        status = rt.queue_client.request("booking_status", code=booking["code"])["booking"]
        assert status["state"] == "checked_in" and status["ticket"].endswith(":A001")
    finally:
        hall.stop()
