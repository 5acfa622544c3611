"""A real Mosquitto started with the configuration `onewindow credentials` generates: passwords, the
ACL, a TLS listener with the site CA and a plain listener on loopback. Mosquitto is started as root
and drops to the `mosquitto` user before reading the files, as on a site."""
from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho

from broker import security
from onewindow.broker import free_port, port_open


class SecureBroker:
    def __init__(self, site, devices_dir: Path | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="onewindow-secure-"))
        self.dir.chmod(0o755)  # mosquitto (after dropping to its user) must reach the files below
        self.site = site
        self.files = security.generate(site, self.dir / "security")
        self.port, self.tls_port = free_port(), free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> "SecureBroker":
        conf = self.dir / "mosquitto.conf"
        lines = ["user mosquitto", "set_tcp_nodelay true", "max_queued_messages 200000", "log_dest stderr",
                 "log_type error", "log_type warning",
                 *security.mosquitto_lines(self.files, self.port, self.tls_port, "127.0.0.1")]
        conf.write_text("\n".join(lines) + "\n")
        self.log = open(self.dir / "mosquitto.log", "wb")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not (port_open("127.0.0.1", self.port) and port_open("127.0.0.1", self.tls_port)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.dir / "mosquitto.log").read_text())
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def password(self, user: str) -> str:
        return self.files.password(user)


class Probe:
    """A bare paho client for checking what the broker lets through (no onewindow code in between)."""

    def __init__(self, broker: SecureBroker, user: str | None, password: str | None = None, tls: bool = False,
                 client_id: str | None = None):
        self.messages: list[tuple[str, bytes]] = []
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id or f"probe-{user}-{time.monotonic_ns()}",
                             protocol=paho.MQTTv311)
        if user is not None:
            self.c.username_pw_set(user, password if password is not None else broker.password(user))
        if tls:
            self.c.tls_set(ca_certs=str(broker.files.ca), cert_reqs=ssl.CERT_REQUIRED)
        self._connected = threading.Event()
        self.rc = None
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.port = broker.tls_port if tls else broker.port

    def _on_connect(self, c, u, flags, rc, props):
        self.rc = rc
        self._connected.set()

    def connect(self, timeout: float = 5.0) -> bool:
        self.c.connect("127.0.0.1", self.port)
        self.c.loop_start()
        self._connected.wait(timeout)
        return self.rc is not None and not self.rc.is_failure

    def subscribe(self, topic: str) -> None:
        self.c.subscribe(topic, qos=1)

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()
