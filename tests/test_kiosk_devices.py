"""The QR scanner and ID-card reader drivers against their fakes on ptys: codes and cards arrive,
noise is dropped, an unplugged device is offline and comes back by itself; the kiosk turns a card into
a masked identity and a priority group, and publishes the scanner's state."""
from __future__ import annotations

import pytest

from hardware.fakes.idcard import FakeIdCardReader
from hardware.fakes.scanner import FakeScanner
from hardware.idcard import IdCardReader
from hardware.scanner import QrScanner
from tests.kiosk_support import Clock, Hall
from tests.support import county_site, wait_until

OLD_ID = "110101195005010014"


@pytest.fixture
def scanner():
    fake = FakeScanner().start()
    codes: list[str] = []
    drv = QrScanner(fake.device, on_code=codes.append, reopen_seconds=0.05).start()
    assert drv.wait_state("ok")
    yield fake, drv, codes
    drv.stop()
    fake.stop()


def test_a_scanned_code_arrives_as_one_line(scanner):
    fake, drv, codes = scanner
    fake.scan("onewindow:appointment?ref=R1&start=2026-11-23T10:00:00%2B08:00")
    fake.line_end = b"\r"
    fake.scan("second")
    assert wait_until(lambda: len(codes) == 2, 3)
    assert codes == ["onewindow:appointment?ref=R1&start=2026-11-23T10:00:00%2B08:00", "second"]


def test_line_noise_is_dropped_and_the_scanner_keeps_reading(scanner):
    fake, drv, codes = scanner
    fake.noise()
    fake.noise(b"x" * 5000 + b"\r\n")  # far too long for a code
    fake.scan("after")
    assert wait_until(lambda: codes == ["after"], 3), codes
    assert drv.dropped >= 2


def test_an_unplugged_scanner_is_offline_and_comes_back(scanner):
    fake, drv, codes = scanner
    fake.unplug()
    assert drv.wait_state("offline")
    fake.replug()
    assert drv.wait_state("ok")
    fake.scan("back")
    assert wait_until(lambda: codes == ["back"], 3)


def test_the_id_card_reader_hands_over_a_card_that_never_shows_in_clear(caplog):
    fake = FakeIdCardReader().start()
    cards = []
    drv = IdCardReader(fake.device, on_card=cards.append).start()
    try:
        assert drv.wait_state("ok")
        fake.send_line("not json")
        fake.present("12345", "短号")
        fake.present(OLD_ID, "张三")
        assert wait_until(lambda: len(cards) == 1, 3)
        assert cards[0].id_number == OLD_ID and cards[0].name == "张三"
        assert OLD_ID not in repr(cards[0]) and "张三" not in repr(cards[0])
        assert drv.dropped == 2
        assert OLD_ID not in caplog.text and "张三" not in caplog.text
    finally:
        drv.stop()
        fake.stop()


def test_a_card_at_the_kiosk_gives_priority_and_the_scanner_state_is_published(tmp_path):
    hall = Hall(county_site(), tmp_path)
    fake_scanner, fake_reader = FakeScanner().start(), FakeIdCardReader().start()
    scanner, reader = QrScanner(fake_scanner.device, reopen_seconds=0.05), IdCardReader(fake_reader.device)
    try:
        rt = hall.kiosk(clock=Clock(), devices={"scanner": scanner, "idcard": reader})
        assert wait_until(lambda: rt.presenter.screen().name == "home")
        reader.on_card = lambda card: rt.presenter.identified(card_id=card.id_number, name=card.name)
        scanner.on_code = lambda code: rt.presenter.identified(qr=code)
        assert scanner.wait_state("ok") and reader.wait_state("ok")
        fake_reader.present(OLD_ID, "张三")
        assert wait_until(lambda: rt.presenter.identity is not None, 3)
        assert rt.presenter.identity.priority_group == "elderly"
        assert "1101**********0014" in rt.presenter.screen().banner
        rt.presenter.tick()
        topic = "onewindow/demo-county/device/kiosk-1/status"
        assert hall.retained(topic)["parts"]["scanner"] == "ok"
        fake_scanner.unplug()
        assert scanner.wait_state("offline")
        rt.presenter.tick()
        st = hall.retained(topic)
        assert st["parts"]["scanner"] == "offline" and st["state"] == "degraded"
        fake_scanner.replug()
        assert scanner.wait_state("ok")
        fake_scanner.scan("onewindow:appointment?ref=R7&start=2026-11-23T10:00:00%2B08:00&bt=B")
        assert wait_until(lambda: rt.presenter.screen().name == "notice", 3)
        rt.presenter.tap("take")
        assert rt.presenter.screen().big == "B001"
    finally:
        hall.stop()
        fake_scanner.stop()
        fake_reader.stop()
