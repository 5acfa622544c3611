"""The window device bridge over a pty with fake pads: keys call, the pad shows the number, a rating
pad rates, bad frames are dropped, and pads or the adapter unplugged come back."""
from __future__ import annotations

import json

import pytest

from clerk.bridge import Bridge
from clerk.config import BridgeConfigError, parse
from hardware.fakes.pads import FakePadBus
from onewindow.client import QueueClient
from onewindow.transport import LocalBroker
from queue_server.server import QueueServer
from queue_server.store import Store
from tests.support import wait_until


@pytest.fixture
def hall(tmp_path, county):
    broker = LocalBroker()
    site = county.site_id
    server = QueueServer(county, Store(tmp_path / "q.db", site, county.timezone),
                         broker.transport("server", "server", site, presence=False).start(), always_open=True)
    server.start()
    bus = FakePadBus(tmp_path / "ttyPADS").start()
    call_pad, rating_pad = bus.add_call_pad(1), bus.add_rating_pad(2)
    config = parse({"bridge": {"id": "bridge-w3", "port": str(tmp_path / "ttyPADS"), "poll_interval": 0.1},
                    "pad": [{"address": 1, "kind": "call", "window": 3, "transfer_to": "C"},
                            {"address": 2, "kind": "rating", "window": 3}]})
    bridge_t = broker.transport("bridge-w3", "bridge", site).start()
    bridge = Bridge(config, bridge_t, site).start()
    desk = QueueClient(broker.transport("console-3", "console", site, presence=False).start(), site, "console-3")
    kiosk = QueueClient(broker.transport("kiosk-1", "kiosk", site, presence=False).start(), site, "kiosk-1")

    class Hall:
        pass
    h = Hall()
    h.broker, h.server, h.bus, h.call_pad, h.rating_pad, h.bridge = broker, server, bus, call_pad, rating_pad, bridge
    h.desk, h.kiosk = desk, kiosk
    h.status = lambda: json.loads(broker.retained[bridge.topics.device_status("bridge-w3")])
    assert wait_until(lambda: bridge.bus.connected)
    yield h
    bridge.stop()
    bus.stop()
    server.stop()
    server.store.close()


def test_keys_call_recall_start_and_finish_and_the_pad_shows_each_step(hall):
    assert hall.desk.window("sign_in", 3, "wang")["ok"]
    number = hall.kiosk.issue("A")["ticket"]["number"]
    hall.call_pad.press("call")
    assert wait_until(lambda: hall.call_pad.display == f"{number} CALL 1"), hall.call_pad.display
    hall.call_pad.press("recall")
    assert wait_until(lambda: hall.call_pad.display == f"{number} CALL 2")
    hall.call_pad.press("start")
    assert wait_until(lambda: hall.call_pad.display == f"{number} SERVE")
    hall.call_pad.press("finish")
    assert wait_until(lambda: hall.call_pad.display == f"RATE {number}")
    assert wait_until(lambda: hall.rating_pad.requested == number)  # the rating pad lights up
    hall.rating_pad.rate(1)
    assert wait_until(lambda: hall.call_pad.display == "IDLE")
    events = hall.server.store.latest_day_events()
    rated = [e for e in events if e["type"] == "ticket_rated"]
    assert [(e["score"], e["window"]) for e in rated] == [(1, 3)]
    assert any(e["type"] == "follow_up_opened" and e["clerk"] == "wang" for e in events)


def test_a_refusal_shows_on_the_pad_and_nobody_signed_in_asks_to_sign_in(hall):
    hall.call_pad.press("call")
    assert wait_until(lambda: hall.call_pad.display == "SIGN IN")
    assert hall.desk.window("sign_in", 3, "wang")["ok"]
    hall.call_pad.press("call")
    assert wait_until(lambda: hall.call_pad.display == "EMPTY")
    hall.kiosk.issue("A")
    hall.call_pad.press("call")
    assert wait_until(lambda: "CALL 1" in hall.call_pad.display)
    hall.call_pad.press("transfer")  # to business type C, from the pad's configuration
    assert wait_until(lambda: hall.call_pad.display == "IDLE")
    assert [t.business_type for t in hall.server.engine.tickets.values()] == ["C"]
    hall.call_pad.press("pause")
    assert wait_until(lambda: hall.call_pad.display == "PAUSED")
    hall.call_pad.press("pause")
    assert wait_until(lambda: hall.call_pad.display == "IDLE")


def test_corrupt_frames_are_rejected_and_logged_and_the_next_key_works(hall, caplog):
    assert hall.desk.window("sign_in", 3, "wang")["ok"]
    hall.kiosk.issue("A")
    for fault in ("checksum", "garbage", "length", "no_end"):
        hall.bus.corrupt_next(fault)
        hall.call_pad.press("call")
    assert wait_until(lambda: len(hall.bridge.bus.reader.errors) >= 3)
    assert hall.server.engine.windows[3].state == "idle"  # none of the spoiled presses called anyone
    assert "dropped a bad frame (checksum)" in caplog.text
    hall.call_pad.press("call")
    assert wait_until(lambda: "CALL 1" in hall.call_pad.display)


def test_a_frame_from_an_unknown_address_is_ignored(hall, caplog):
    stranger = hall.bus.add_call_pad(9)
    assert hall.desk.window("sign_in", 3, "wang")["ok"]
    hall.kiosk.issue("A")
    stranger.press("call")
    assert wait_until(lambda: hall.bridge.stats["unknown_pad"] == 1)
    assert hall.server.engine.windows[3].state == "idle"
    assert "not in the configuration" in caplog.text


def test_a_pad_unplugged_is_reported_and_redrawn_when_plugged_back(hall):
    assert wait_until(lambda: hall.status()["state"] == "ok")
    hall.call_pad.silent = True
    assert wait_until(lambda: hall.status()["parts"]["pad-1"] == "offline", timeout=5)
    assert hall.status()["state"] == "degraded" and hall.status()["parts"]["pad-2"] == "ok"
    assert hall.desk.window("sign_in", 3, "wang")["ok"]  # the window changes while the pad is away
    hall.call_pad.display = ""
    hall.call_pad.silent = False
    assert wait_until(lambda: hall.status()["parts"]["pad-1"] == "ok", timeout=5)
    assert wait_until(lambda: hall.call_pad.display == "IDLE")  # redrawn when it came back


def test_the_adapter_unplugged_and_plugged_back_in(hall):
    hall.bus.unplug()
    assert wait_until(lambda: hall.status()["parts"]["bus"] == "unplugged", timeout=5)
    assert hall.status()["state"] == "out_of_service"
    hall.bus.replug()
    assert wait_until(lambda: hall.status()["state"] == "ok", timeout=5)
    assert hall.desk.window("sign_in", 3, "wang")["ok"]
    hall.kiosk.issue("A")
    hall.call_pad.press("call")
    assert wait_until(lambda: "CALL 1" in hall.call_pad.display)


def test_the_configuration_is_checked_once_with_precise_errors():
    with pytest.raises(BridgeConfigError) as err:
        parse({"bridge": {"port": ""}, "pad": [{"address": 0, "kind": "door", "window": 3},
                                                {"address": 4, "kind": "call", "window": "x", "colour": 1},
                                                {"address": 4, "kind": "rating", "window": 3}]})
    text = str(err.value)
    for words in ("bridge.port", "pad[0].address", "pad[0].kind", "pad[1].window", "pad[2].address = 4: used twice", "colour"):
        assert words in text, words
