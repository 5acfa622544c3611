"""The managed Mosquitto: starts, stops without orphans, comes back after a crash, keeps retained state."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from broker import mosquitto as broker_mod
from broker.mosquitto import ManagedBroker, MosquittoNotFound, find_mosquitto
from cli.main import main
from onewindow.broker import BrokerSettings, port_open
from onewindow.mqtt import MqttTransport
from tests.broker_fixture import broker  # noqa: F401
from tests.support import wait_until

ROOT = Path(__file__).resolve().parent.parent


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def retained(settings: BrokerSettings, topic: str, timeout: float = 3.0) -> bytes | None:
    got, event = [], threading.Event()
    t = MqttTransport(settings, "test", f"reader-{time.monotonic_ns()}", presence=False)
    t.subscribe(topic, lambda _topic, payload: (got.append(payload), event.set()))
    with t.start():
        event.wait(timeout)
    return got[0] if got else None


def test_a_started_broker_accepts_connections_and_stops_leaving_no_process(tmp_path):
    b = ManagedBroker(tmp_path / "broker", port=0).start()
    pid = b.pid
    assert pid and alive(pid)
    assert port_open("127.0.0.1", b.port)
    assert b.url == f"mqtt://127.0.0.1:{b.port}"
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    for line in (f"listener {b.port} 127.0.0.1", "allow_anonymous true", "set_tcp_nodelay true",
                 "max_queued_messages 100000", "persistence true"):
        assert line in conf.splitlines()
    b.stop()
    assert not alive(pid)
    assert not port_open("127.0.0.1", b.port)


def test_the_supervisor_brings_a_killed_broker_back(broker, caplog):
    old_pid, generation = broker.pid, broker.generation
    broker.kill()
    broker.wait_ready(generation, timeout=5)
    assert broker.pid != old_pid and alive(broker.pid)
    assert not alive(old_pid)
    assert broker.restarts == 1
    assert port_open("127.0.0.1", broker.port)
    assert any("restarting mosquitto" in r.getMessage() for r in caplog.records)


def test_the_supervisor_backs_off_between_restarts(broker):
    delays = []
    for _ in range(3):
        generation, t0 = broker.generation, time.monotonic()
        broker.kill()
        broker.wait_ready(generation, timeout=10)
        delays.append(time.monotonic() - t0)
    assert broker.restarts == 3
    assert broker.backoffs == [0.1, 0.2, 0.4]  # each quick death doubles the wait before the next start
    assert all(d >= b for d, b in zip(delays, broker.backoffs))  # and the supervisor really waited


def test_a_retained_message_survives_a_clean_broker_restart(broker):
    with MqttTransport(broker.settings, "test", "writer", presence=False) as t:
        t.publish("onewindow/test/state/queue", b"A001 waiting", retain=True)
        time.sleep(0.1)
    broker.restart()
    assert retained(broker.settings, "onewindow/test/state/queue") == b"A001 waiting"
    db = broker.state_dir / "persistence" / "mosquitto.db"
    assert db.exists()
    if os.geteuid() == 0:  # mosquitto dropped to its own user, which could write there
        assert "user mosquitto" in (broker.state_dir / "mosquitto.conf").read_text()


def test_retained_state_survives_a_restart_even_below_a_dir_mosquitto_cannot_enter(tmp_path):
    # pytest's tmp_path sits below a mode-0700 directory: as root the broker must then stay root.
    with ManagedBroker(tmp_path / "broker", port=0) as b:
        with MqttTransport(b.settings, "test", "writer", presence=False) as t:
            t.publish("onewindow/test/state/x", b"kept", retain=True)
            time.sleep(0.1)
        b.restart()
        assert retained(b.settings, "onewindow/test/state/x") == b"kept"


def test_a_missing_mosquitto_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    with pytest.raises(MosquittoNotFound) as err:
        ManagedBroker(tmp_path, mosquitto=str(tmp_path / "no-such-mosquitto"))
    assert "apt-get install mosquitto" in str(err.value) and "./run setup" in str(err.value)

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(broker_mod, "MOSQUITTO_DIRS", (str(tmp_path),))
    with pytest.raises(MosquittoNotFound, match="apt-get install mosquitto"):
        find_mosquitto()
    assert main(["broker", "--state-dir", str(tmp_path / "b")]) == 1
    assert "apt-get install mosquitto" in capsys.readouterr().out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_broker_command_stops_mosquitto_on_a_signal(tmp_path, sig):
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "broker", "--port", "0", "--tls-port", "0", "--state-dir",
                             str(state)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        while line and "broker ready" not in line:
            line = proc.stdout.readline()
        assert "broker ready at mqtt://127.0.0.1:" in line
        port = int(line.split("mqtt://127.0.0.1:")[1].split()[0])
        mosquitto_pid = int((state / "mosquitto.pid").read_text())
        assert alive(mosquitto_pid) and port_open("127.0.0.1", port)
        proc.send_signal(sig)
        assert proc.wait(10) == 0
        assert wait_until(lambda: not alive(mosquitto_pid), 2)
        assert not port_open("127.0.0.1", port)
    finally:
        proc.kill()
        proc.wait()
        _stop_leftover_mosquitto(state)  # a failed check must not leave mosquitto running


def _stop_leftover_mosquitto(state) -> None:
    try:
        pid = int((state / "mosquitto.pid").read_text())
    except (OSError, ValueError):
        return
    if alive(pid) and str(state).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
        os.kill(pid, signal.SIGKILL)


def test_a_broker_left_behind_by_a_killed_supervisor_is_stopped_on_the_next_start(tmp_path):
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "broker", "--port", "0", "--tls-port", "0", "--state-dir",
                             str(state)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    while line and "broker ready" not in line:
        line = proc.stdout.readline()
    port = int(line.split("mqtt://127.0.0.1:")[1].split()[0])
    orphan = int((state / "mosquitto.pid").read_text())
    proc.kill()  # no chance to clean up: mosquitto keeps running
    proc.wait()
    assert alive(orphan)
    with ManagedBroker(state, port=port) as b:
        assert not alive(orphan)
        assert b.pid != orphan and port_open("127.0.0.1", port)


@pytest.mark.parametrize("url, expected", [
    ("mqtt://127.0.0.1:1883", BrokerSettings("127.0.0.1", 1883)),
    ("mqtt://hall-pc.local", BrokerSettings("hall-pc.local", 1883)),
    ("mqtt://kiosk:s%40cret@10.0.0.5:1884", BrokerSettings("10.0.0.5", 1884, "kiosk", "s@cret")),
    ("10.0.0.5:1999", BrokerSettings("10.0.0.5", 1999)),
    ("tcp://[::1]:1883", BrokerSettings("::1", 1883)),
])
def test_a_broker_url_gives_connection_settings(url, expected):
    assert BrokerSettings.from_url(url) == expected


def test_explicit_credentials_win_over_the_url_and_the_password_is_never_shown():
    s = BrokerSettings.from_url("mqtt://a:b@host:1883", username="clerk", password="pw")
    assert (s.username, s.password) == ("clerk", "pw")
    assert s.url == "mqtt://clerk@host:1883"


@pytest.mark.parametrize("url", ["http://host:1883", "mqtt://:1883", "mqtt://host:99999", "mqtt://host/x"])
def test_a_bad_broker_url_is_refused_with_the_reason(url):
    with pytest.raises(ValueError, match="broker URL"):
        BrokerSettings.from_url(url)
