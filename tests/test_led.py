"""Window LED displays: the frame format, the driver against the fake display bus on a pty (corrupt
frames, unplug and plug back, silence) and the bridge from the hall display's model."""
from __future__ import annotations

import os
import time

import pytest

from display.led_bridge import LedBridge, led_text
from display.model import DisplayModel, WindowRow
from hardware.fakes.led import FakeLedBus
from hardware.led import (ACK, CLEAR, NAK, PING, TEXT, Frame, FrameReader, LedBus, LedConfig, LedConfigError,
                          LedDisplay, crc16, fit, frame, parse_leds)
from tests.support import wait_until


def test_frame_bytes_are_as_documented():
    assert crc16(b"123456789") == 0x4B37  # the CRC-16/MODBUS check value
    f = frame(3, TEXT, b"\x00A1")
    assert f[:6] == bytes([0x02, 3, TEXT, 0, 3, 0]) and f[6:8] == b"A1" and f[-1] == 0x03
    assert f[-3] | f[-2] << 8 == crc16(f[1:-3])
    assert frame(1, PING) == bytes([0x02, 1, PING, 0, 0]) + crc16(bytes([1, PING, 0, 0])).to_bytes(2, "little") + b"\x03"
    with pytest.raises(ValueError):
        frame(300, PING)


def test_the_reader_skips_noise_and_corrupt_frames_and_resynchronises():
    r = FrameReader()
    good = frame(3, TEXT, b"\x00" + "请".encode("gb2312"))
    bad = bytearray(good)
    bad[7] ^= 0xFF  # one byte of the text flipped on the wire
    items = r.feed(b"\xff\x00noise" + bytes(bad) + good[:4])
    assert items == [("corrupt", 3)]
    assert r.feed(good[4:]) == [Frame(3, TEXT, b"\x00" + "请".encode("gb2312"))]
    assert r.corrupt == 1


def test_text_is_fitted_to_the_width_in_half_width_cells():
    assert fit("A023 请到3号窗口", 16) == "A023 请到3号窗口"  # 5 + 4 + 1 + 6 = 16 cells
    assert fit("A023 请到3号窗口", 15) == "A023 请到3号窗"  # half a Chinese character does not fit
    assert fit("ABC", 2) == "AB"


def test_led_config_is_checked():
    cfg = parse_leds([{"window": 3, "port": "/dev/ttyUSB0", "address": 3, "width": 16, "encoding": "GB18030"}])
    assert cfg[0].encoding == "gb18030"
    with pytest.raises(LedConfigError) as e:
        parse_leds([{"window": 3, "port": "x", "address": 0, "width": 2, "encoding": "utf-8"}, {"port": "y"}])
    assert "address" in str(e.value) and "width" in str(e.value) and "encoding" in str(e.value)
    assert "led[1]" in str(e.value)


@pytest.fixture
def bus():
    with FakeLedBus(addresses=(3, 4)) as b:
        yield b


def display(bus, window=3, width=16, encoding="gb2312"):
    return LedDisplay(LedConfig(window, bus.path, window, width, encoding), LedBus(bus.path, timeout=0.3))


def test_a_display_shows_the_text_in_gb2312_and_acknowledges(bus):
    d = display(bus)
    assert d.show("请 A023 号", blink=True) == "ok"
    assert bus.screens[3] == "请 A023 号" and bus.blinking[3]
    assert bus.received[-1].data == b"\x01" + "请 A023 号".encode("gb2312")
    assert d.clear() == "ok" and bus.screens[3] == ""
    assert d.bus.send(3, 0x7F) == "nak:2"  # unknown command


def test_the_fake_paces_like_9600_baud(bus):
    d = display(bus)
    start = time.monotonic()
    assert d.show("A023 请到3号窗口") == "ok"
    took = time.monotonic() - start
    sent = len(frame(3, TEXT, b"\x00" + "A023 请到3号窗口".encode("gb2312")))
    assert took >= bus.wire_seconds(sent) + bus.wire_seconds(len(frame(3, ACK, b"\x01")))  # ~30 ms at 9600


def test_a_corrupt_frame_is_rejected_and_the_next_good_one_shown(bus):
    d = display(bus)
    assert d.show("A001") == "ok"
    fd = os.open(bus.path, os.O_RDWR | os.O_NOCTTY)
    try:
        bad = bytearray(frame(3, TEXT, b"\x00A999"))
        bad[-3] ^= 0x55  # wrong CRC
        os.write(fd, bytes(bad))
        assert wait_until(lambda: bus.rejected == 1, 2)
        reply = FrameReader()
        got = []
        assert wait_until(lambda: got.extend(reply.feed(os.read(fd, 64))) or got, 2)
        assert got[0] == Frame(3, NAK, b"\x01")
    finally:
        os.close(fd)
    assert bus.screens[3] == "A001"  # unchanged by the corrupt frame
    assert d.show("A002") == "ok" and bus.screens[3] == "A002"


def test_unplugged_then_plugged_back_the_display_recovers(bus):
    d = display(bus)
    assert d.show("A001") == "ok"
    bus.unplug()
    assert d.show("A002") == "offline"
    assert d.show("A003") == "offline"
    bus.plug()
    assert d.show("A004") == "ok" and bus.screens[3] == "A004"


def test_a_silent_display_is_reported_not_waited_for_forever(bus):
    d = display(bus)
    bus.silent = True
    start = time.monotonic()
    assert d.show("A001") == "no_answer"
    assert time.monotonic() - start < 3  # three tries of 0.3 s
    bus.silent = False
    assert d.show("A001") == "ok"


def test_window_states_become_led_texts():
    row = lambda state, ticket=None: WindowRow(3, "3号窗口", state, "", "", ticket)  # noqa: E731
    assert led_text(row("calling", "A023")) == ("请 A023 号", True)
    assert led_text(row("serving", "A023")) == ("A023 办理中", False)
    assert led_text(row("paused")) == ("暂停服务 Closed", False)
    assert led_text(row("idle")) == ("3号窗口 欢迎", False)


def call(number, window):
    return {"ticket": f"demo:2026-11-23:{number}", "number": number, "window": window, "calls": 1}


def test_the_bridge_follows_calls_and_catches_up_after_an_unplug(bus):
    model = DisplayModel()
    configs = [LedConfig(3, bus.path, 3, 16), LedConfig(4, bus.path, 4, 16)]
    states = []
    bridge = LedBridge(model, configs, retry_seconds=0.2, on_states=states.append).start()
    try:
        model.apply_state(("window", "4"), {"name": "4号窗口", "state": "idle"})
        model.apply_call_payload(call("A023", 3))
        assert wait_until(lambda: bus.screens.get(3) == "请 A023 号" and bus.screens.get(4) == "4号窗口 欢迎", 3)
        bus.unplug()
        model.apply_call_payload(call("A024", 3))
        model.apply_state(("window", "4"), {"name": "4号窗口", "state": "serving", "ticket": {"number": "B001"}})
        time.sleep(0.5)
        bus.plug()
        assert wait_until(lambda: bus.screens.get(3) == "请 A024 号" and bus.screens.get(4) == "B001 办理中", 5)
        assert any(st.get("led-3") == "offline" for st in states)  # the device status saw the unplug
        assert wait_until(lambda: states[-1] == {"led-3": "ok", "led-4": "ok"}, 2)
    finally:
        bridge.stop()
