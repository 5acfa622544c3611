"""The managed broker is locked down by default, refuses an open network listener, and never reports
ready on a port another process holds; components take credentials, CA and mqtts:// URLs."""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import pytest

from broker import security
from broker.mosquitto import BrokerError, ManagedBroker, write_config
from cli.main import main
from onewindow.broker import BrokerSettings, add_broker_arguments, settings_from_args
from tests.support import county_site


@pytest.fixture
def state():
    d = Path(tempfile.mkdtemp(prefix="onewindow-lock-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_the_written_configuration_admits_no_anonymous_client(state):
    files = security.generate(county_site(), state / "security")
    conf = write_config(state / "b", 1883, "0.0.0.0", security=files, tls_port=8883).read_text()
    assert "allow_anonymous false" in conf and "allow_anonymous true" not in conf
    assert "listener 1883 127.0.0.1" in conf and "listener 8883 0.0.0.0" in conf
    assert f"password_file {files.passwd.resolve()}" in conf and f"acl_file {files.acl.resolve()}" in conf
    assert "certfile" in conf.split("listener 8883")[1] and "certfile" not in conf.split("listener 8883")[0]


def test_an_open_broker_on_the_network_is_refused(state, capsys):
    with pytest.raises(BrokerError, match="anonymous access and no TLS"):
        ManagedBroker(state / "b", host="0.0.0.0")
    with pytest.raises(BrokerError):
        write_config(state / "b", 1883, "10.0.0.5")
    assert main(["broker", "--open", "--host", "0.0.0.0", "--state-dir", str(state / "c")]) == 1
    assert "refusing to listen on 0.0.0.0" in capsys.readouterr().out


def test_a_broker_does_not_report_ready_on_a_port_another_holds(state):
    with ManagedBroker(state / "first", port=0) as first:
        second = ManagedBroker(state / "second", port=first.port)
        with pytest.raises(BrokerError, match="taken by another process"):
            second.start(timeout=5)
        assert first.pid is not None  # the first one was not disturbed


def test_components_take_credentials_ca_and_mqtts_urls(state):
    files = security.generate(county_site(), state / "security", url="mqtts://hall-pc:8883")
    parser = argparse.ArgumentParser()
    add_broker_arguments(parser)
    args = parser.parse_args(["--credentials", str(files.device_file("kiosk-1"))])
    s = settings_from_args(args)
    assert (s.host, s.port, s.tls, s.username) == ("hall-pc", 8883, True, "kiosk-1")
    assert s.password == files.password("kiosk-1") and s.ca == str(files.ca.resolve())
    assert s.url == "mqtts://kiosk-1@hall-pc:8883" and s.password not in s.url
    args = parser.parse_args(["--broker", "mqtt://127.0.0.1:1883", "--credentials", str(files.device_file("kiosk-1"))])
    assert settings_from_args(args).port == 1883 and not settings_from_args(args).tls  # --broker wins
    assert BrokerSettings.from_url("mqtts://h", ca="/x/ca.crt") == BrokerSettings("h", 8883, tls=True, ca="/x/ca.crt")
    with pytest.raises(ValueError, match="names no username"):
        settings_from_args(parser.parse_args(["--credentials", str(state / "missing.conf")]))


def test_the_broker_command_runs_locked_down_by_default(state):
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "cli", "broker", "--port", "0", "--tls-port", "0", "--state-dir",
                             str(state / "b")], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "locked down:" in line:
                break
        text = "".join(lines)
        assert "broker ready at mqtt://127.0.0.1:" in text and "mqtts://127.0.0.1:" in text, text
        assert (state / "b" / "security" / "devices" / "kiosk-1.conf").exists()
        conf = (state / "b" / "mosquitto.conf").read_text()
        assert "allow_anonymous false" in conf
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_stale_server_presence_does_not_block_a_new_server(broker):
    """A broker restarted with persistence may keep the server's last "online": nothing answers it."""
    import json

    from onewindow.mqtt import MqttTransport
    from onewindow.topics import Topics
    from queue_server.single import check_no_other_server
    ghost = MqttTransport(broker.settings, "demo-county", "ghost", presence=False).start()
    ghost.publish(Topics("demo-county").presence("server-demo-county"),
                  json.dumps({"v": 2, "client": "server-demo-county", "state": "online", "at": "earlier"}),
                  retain=True)
    ghost.stop()
    said = check_no_other_server(broker.settings, "demo-county", "server-demo-county", answer_within=1.0)
    assert "stale presence" in said
