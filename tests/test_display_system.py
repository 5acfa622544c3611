"""The hall display (its model and LED bridge, no window) against the locked-down broker and a real queue
server: it connects as the `display-1` device, is whole from retained state, shows a clerk's call, drives
the window's LED sign, and its device status reaches the manager."""
from __future__ import annotations

import json

import pytest

from display.app import Hall
from display.led_bridge import LedBridge
from hardware.fakes.led import FakeLedBus
from hardware.led import LedConfig
from tests.support import wait_until
from tests.test_lockdown import Site


@pytest.fixture(scope="module")
def hall_site():
    site = Site()
    yield site
    site.close()


def test_a_display_device_shows_a_clerks_call_and_the_sign_above_the_window_too(hall_site):
    status = []
    hall_site.transport("manager").subscribe("onewindow/demo-county/device/+/status",
                                             lambda t, p: status.append((t, json.loads(p))))
    display = Hall(hall_site.broker.settings_for("display-1", tls=True), "demo-county", speak=False)
    heard = []
    display.model.on_new_call(heard.append)
    with FakeLedBus(addresses=(3,)) as signs:
        bridge = LedBridge(display.model, [LedConfig(3, signs.path, 3, 16)], retry_seconds=0.2,
                           on_states=display.publish_status)
        display.start()
        bridge.start()
        try:
            assert wait_until(lambda: not display.model.view().connection_lost
                              and len(display.model.view().windows) == 12, 5)
            pad = hall_site.client("window-3")
            assert pad.window("sign_in", 3, "zhang")["ok"]
            assert hall_site.client("kiosk-1").issue("A")["ok"]
            called = pad.window("call_next", 3, "zhang")
            assert called["ok"], called
            number = called["ticket"]["number"]
            assert wait_until(lambda: (display.model.view().headline or None) is not None
                              and display.model.view().headline.number == number, 5)
            v = display.model.view()
            assert v.highlighted and v.headline.window == 3
            assert [c.number for c in heard] == [number]
            assert wait_until(lambda: signs.screens.get(3) == f"请 {number} 号", 5)
            assert wait_until(lambda: any(t.endswith("/device/display-1/status") and s["state"] == "ok"
                                          and s["parts"].get("led-3") == "ok" for t, s in status), 5)
            assert pad.window("start", 3, "zhang")["ok"]
            assert wait_until(lambda: signs.screens.get(3) == f"{number} 办理中", 5)
        finally:
            bridge.stop()
            display.stop()
