"""The city bus: a 3-node NATS cluster with its MQTT listener, started, probed, killed, failed over."""
from __future__ import annotations

import dataclasses
import threading

import pytest

from city.failover import FailoverTransport, parse_nodes, safe_client_id
from city.nats import mqtt_probe
from tests.support import wait_until


@pytest.fixture
def bus(city_bus):
    return city_bus


def test_every_node_accepts_a_real_mqtt_connect_with_the_password_and_refuses_a_wrong_one(bus):
    for s in bus.settings:
        assert mqtt_probe(s) is None
    wrong = dataclasses.replace(bus.settings[0], password="wrong")
    assert mqtt_probe(wrong) in ("bad user name or password", "not authorised")
    assert mqtt_probe(dataclasses.replace(bus.settings[0], username=None, password=None)) is not None
    conf = (bus.state_dir / "n1" / "nats.conf").read_text()
    assert "jetstream" in conf and "mqtt" in conf and "routes" in conf


def test_retained_state_published_on_one_node_reaches_a_late_subscriber_on_another(bus):
    """NATS copies retained messages to the other nodes asynchronously (a subscriber that arrives on another
    node within that moment misses the newest, which is why the hall bridge republishes its state every so
    often): once they are stored, every late subscriber on any node is whole."""
    with FailoverTransport(bus.settings[:1], "s1", "pub-1", presence=False) as pub:
        for i in range(20):
            pub.publish(f"onewindow/s{i % 4}/state/window/{i}", {"window": i}, retain=True)
        pub.publish("onewindow/s0/state/window/0", {"window": 0, "state": "serving"}, retain=True)
        assert wait_until(lambda: _late_subscriber_is_whole(bus.settings[:1], "late-0"), 15)
        assert wait_until(lambda: _late_subscriber_is_whole(bus.settings[2:], "late-2"), 15)


def _late_subscriber_is_whole(settings, name: str, wait: float = 2.0) -> bool:
    seen: dict[str, bytes] = {}
    lock = threading.Lock()

    def on_message(topic, payload):
        with lock:
            seen[topic] = payload

    with FailoverTransport(settings, "city", name, presence=False) as sub:
        sub.subscribe("onewindow/+/state/#", on_message)
        return wait_until(lambda: len(seen) == 20 and b"serving" in seen["onewindow/s0/state/window/0"], wait)


def test_a_client_moves_to_the_next_node_when_its_node_dies_and_the_node_comes_back(bus):
    got = []
    with FailoverTransport(bus.settings, "s9", "mover-1", switch_after=1.0) as pub, \
            FailoverTransport(bus.settings[1:], "city", "watcher-1", presence=False) as sub:
        sub.subscribe("onewindow/s9/event/call", lambda t, p: got.append(p))
        pub.publish("onewindow/s9/event/call", b"before")
        assert wait_until(lambda: b"before" in got, 10)
        assert pub.index == 0
        bus.kill(0, restart=False)      # the node stays down until revived
        assert wait_until(lambda: pub.index != 0 and pub.connected, 45)
        assert wait_until(lambda: (pub.publish("onewindow/s9/event/call", b"after") or b"after" in got), 30)
    bus.revive(0)                       # the supervisor starts it again
    assert wait_until(lambda: bus.alive(0), 15)
    assert bus.wait_ready(0, 30)
    assert bus.nodes[0].restarts >= 1


def test_node_lists_and_client_ids():
    nodes = parse_nodes("mqtt://a:1884, mqtt://b:1885", username="u", password="p")
    assert [(n.host, n.port, n.username) for n in nodes] == [("a", 1884, "u"), ("b", 1885, "u")]
    assert safe_client_id("city-bridge-demo.county/1") == "city-bridge-demo_county_1"
    with pytest.raises(ValueError):
        parse_nodes(" , ")


def test_a_bus_over_tls_takes_clients_that_trust_its_ca_and_no_others(tmp_path):
    import tempfile

    from city.nats import CityBus
    state = tempfile.mkdtemp(prefix="onewindow-citybus-tls-")
    with CityBus(state, nodes=1, tls=True) as tls_bus:
        node = tls_bus.settings[0]
        assert node.tls and node.url.startswith("mqtts://")
        assert mqtt_probe(node) is None
        assert mqtt_probe(dataclasses.replace(node, ca=None)) is not None  # a client without the bus CA
        assert mqtt_probe(dataclasses.replace(node, tls=False)) is not None  # plain MQTT is not served
        got = []
        with FailoverTransport(tls_bus.settings, "s1", "tls-client", presence=False) as t:
            t.subscribe("onewindow/s1/state/site", lambda topic, p: got.append(p))
            t.publish("onewindow/s1/state/site", b"{}", retain=True)
            assert wait_until(lambda: got == [b"{}"], 10)
        assert (tls_bus.state_dir / "tls" / "ca.key").stat().st_mode & 0o077 == 0
