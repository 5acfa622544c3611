"""The retained-state mirror every client reads the hall from."""
from __future__ import annotations

import json

from onewindow.mirror import StateMirror
from onewindow.mqtt import LocalBroker

SITE = "demo-county"
ROOT = f"onewindow/{SITE}"


def make():
    broker = LocalBroker()
    server = broker.transport("server", site=SITE).start()
    client = broker.transport("display-1", site=SITE).start()
    return server, client, broker


def test_a_late_mirror_is_whole_from_retained_state():
    server, client, broker = make()
    server.publish(f"{ROOT}/state/window/3", {"v": 1, "state": "idle"}, retain=True)
    server.publish(f"{ROOT}/state/queue/A", {"v": 1, "waiting": 4}, retain=True)
    server.publish(f"{ROOT}/state/site", {"v": 1, "name": "hall"}, retain=True)
    broker._drain()
    mirror = StateMirror(client, SITE)
    broker._drain()
    assert mirror.windows == {3: {"v": 1, "state": "idle"}}
    assert mirror.queues["A"]["waiting"] == 4
    assert mirror.site["name"] == "hall"


def test_listeners_hear_changes_and_deletions_but_not_repeats():
    server, client, broker = make()
    mirror = StateMirror(client, SITE)
    broker._drain()
    seen = []
    mirror.on_change(lambda key, value: key[1] in ("server", "display-1") or seen.append((key, value)))
    server.publish(f"{ROOT}/state/queue/B", {"v": 1, "waiting": 1}, retain=True)
    server.publish(f"{ROOT}/state/queue/B", {"v": 1, "waiting": 1}, retain=True)
    server.publish(f"{ROOT}/state/queue/B", b"", retain=True)
    server.publish(f"{ROOT}/presence/kiosk-1", {"v": 1, "state": "online"}, retain=True)
    server.publish(f"{ROOT}/device/kiosk-1/status", {"v": 1, "printer": "ok"}, retain=True)
    broker._drain()
    assert seen == [(("queue", "B"), {"v": 1, "waiting": 1}), (("queue", "B"), None),
                    (("presence", "kiosk-1"), {"v": 1, "state": "online"}),
                    (("device", "kiosk-1"), {"v": 1, "printer": "ok"})]
    assert mirror.devices == {"kiosk-1": {"v": 1, "printer": "ok"}}


def test_bad_payloads_keep_the_last_good_state_and_a_failing_listener_hurts_nobody(caplog):
    server, client, broker = make()
    mirror = StateMirror(client, SITE)
    broker._drain()
    good = []
    mirror.on_change(lambda key, value: 1 / 0)
    mirror.on_change(lambda key, value: key[0] == "presence" or good.append(key))
    server.publish(f"{ROOT}/state/window/1", {"v": 1, "state": "serving"}, retain=True)
    server.publish(f"{ROOT}/state/window/1", b"{not json", retain=True)
    server.publish(f"{ROOT}/state/window/1", json.dumps([1, 2]), retain=True)
    server.publish(f"onewindow/other-site/state/window/1", {"v": 1}, retain=True)
    broker._drain()
    assert mirror.windows[1]["state"] == "serving"
    assert good == [("window", "1")]
    assert "not JSON" in caplog.text
