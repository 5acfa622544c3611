"""The city bus: a supervised NATS cluster with JetStream and its MQTT listener (`CityBus`).

Debian's nats-server 2.9 keeps retained MQTT messages cluster-wide in JetStream, delivers wills on every
node and survives the loss of one node of three (docs/CITY.md). `CityBus` writes one configuration per
node into a state dir (its own 127.0.0.1 ports for clients, routes and MQTT; one user and password, made
once and kept in `state_dir/password`), starts the nodes, restarts any that dies, and calls a node
ready only when a real MQTT CONNECT is accepted (its /healthz says OK before MQTT works).

    with CityBus("var/city-bus", nodes=3) as bus:
        bus.settings       # [BrokerSettings, ...] one per node, with the credentials
        bus.kill(1)        # SIGKILL node 2; the supervisor starts it again
"""
from __future__ import annotations

import logging
import os
import random
import secrets
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

from onewindow.broker import BrokerSettings

log = logging.getLogger("onewindow.city.bus")

INSTALL_HINT = ("nats-server is not installed: `apt-get install nats-server` (Debian/Ubuntu) or `./run setup`; "
                "or point onewindow at an existing city bus with --city-bus mqtt://host:port,...")
CLUSTER_NAME = "onewindow-city"


class BusError(RuntimeError):
    """The city bus could not be started."""


def find_nats_server(explicit: str | None = None) -> str:
    for candidate in ([explicit] if explicit else [shutil.which("nats-server"), "/usr/sbin/nats-server",
                                                    "/usr/local/bin/nats-server"]):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise BusError(INSTALL_HINT)


def _utf8(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def mqtt_probe(settings: BrokerSettings, timeout: float = 2.0, client_id: str | None = None) -> str | None:
    """Send a real MQTT 3.1.1 CONNECT; None when the broker accepts it, else why not."""
    cid = client_id or f"probe-{secrets.token_hex(4)}"
    flags, payload = 0x02, _utf8(cid)  # clean session
    if settings.username:
        flags |= 0x80
        payload += _utf8(settings.username)
        if settings.password is not None:
            flags |= 0x40
            payload += _utf8(settings.password)
    body = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", 10) + payload
    length, encoded = len(body), b""
    while True:
        byte, length = length % 128, length // 128
        encoded += bytes([byte | (0x80 if length else 0)])
        if not length:
            break
    try:
        with socket.create_connection((settings.host, settings.port), timeout=timeout) as raw:
            sock = raw
            if settings.tls:  # checked against the bus CA (or the system's)
                sock = ssl.create_default_context(cafile=settings.ca).wrap_socket(raw, server_hostname=settings.host)
            sock.settimeout(timeout)
            sock.sendall(b"\x10" + encoded + body)
            ack = b""
            while len(ack) < 4:
                chunk = sock.recv(4 - len(ack))
                if not chunk:
                    return "the connection was closed before CONNACK"
                ack += chunk
            if ack[0] != 0x20:
                return f"unexpected answer {ack!r}"
            if ack[3] != 0:
                return {4: "bad user name or password", 5: "not authorised"}.get(ack[3], f"refused ({ack[3]})")
            sock.sendall(b"\xe0\x00")  # DISCONNECT
            return None
    except (OSError, ssl.SSLError) as exc:
        return str(exc) or type(exc).__name__


def pick_ports(host: str, count: int, low: int = 20000, high: int = 32000) -> list[int]:
    """`count` distinct free ports below Linux's ephemeral range (32768-60999), so that no outgoing
    connection (a route between nodes, a client) takes one between now and the node's start."""
    ports: list[int] = []
    rng = random.Random()
    while len(ports) < count:
        port = rng.randrange(low, high)
        if port in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        ports.append(port)
    return ports


class Node:
    """One nats-server of the cluster: its ports and its process."""

    def __init__(self, name: str, host: str, ports: list[int]):
        self.name, self.host = name, host
        self.client_port, self.cluster_port, self.mqtt_port = ports
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.ready_at = 0.0


class CityBus:
    def __init__(self, state_dir: str | os.PathLike, nodes: int = 1, host: str = "127.0.0.1",
                 username: str = "city", password: str | None = None, binary: str | None = None,
                 tls: bool = False):
        if nodes < 1:
            raise BusError("a city bus needs at least one node")
        self.state_dir = Path(state_dir)
        self.host = host
        self.binary = find_nats_server(binary)
        self.username = username
        self._password = password
        self.tls = tls  # MQTT over TLS with a bus CA made once in state_dir/tls (ca.crt is what clients need)
        ports = pick_ports(host, 3 * nodes)
        self.nodes = [Node(f"n{i + 1}", host, ports[3 * i:3 * i + 3]) for i in range(nodes)]
        self._stopping = threading.Event()
        self._held: set[int] = set()  # nodes kept down on purpose (kill(..., restart=False))
        self._threads: list[threading.Thread] = []

    # --- configuration ---------------------------------------------------------------------------
    @property
    def password(self) -> str:
        if self._password is None:
            path = self.state_dir / "password"
            if path.exists():
                self._password = path.read_text(encoding="utf-8").strip()
            else:
                self._password = secrets.token_urlsafe(18)
                self.state_dir.mkdir(parents=True, exist_ok=True)
                path.touch(mode=0o600)
                path.write_text(self._password + "\n", encoding="utf-8")
        return self._password

    def write_config(self, node: Node) -> Path:
        d = self.state_dir / node.name
        (d / "jetstream").mkdir(parents=True, exist_ok=True)
        quoted = self.password.replace("\\", "\\\\").replace('"', '\\"')
        lines = [
            "# Written by `onewindow city-broker`; rewritten on every start.",
            f"server_name: {node.name}",
            f"listen: {self.host}:{node.client_port}",
            f'jetstream {{ store_dir: "{(d / "jetstream").resolve()}" }}',
            f"mqtt {{ listen: {self.host}:{node.mqtt_port}{self._tls_block()} }}",
            f'authorization {{ users: [ {{ user: "{self.username}", password: "{quoted}" }} ] }}',
        ]
        if len(self.nodes) > 1:
            routes = ", ".join(f"nats://{self.host}:{n.cluster_port}" for n in self.nodes)
            lines.append(f"cluster {{ name: {CLUSTER_NAME}, listen: {self.host}:{node.cluster_port}, "
                         f"routes: [{routes}] }}")
        conf = d / "nats.conf"
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        conf.chmod(0o600)  # it holds the password
        return conf

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "tls" / "ca.crt"

    def _tls_block(self) -> str:
        """The MQTT listener's TLS settings, making the bus CA and the nodes' certificate on first use."""
        if not self.tls:
            return ""
        from broker.tls import make_ca, make_server_cert
        d = self.state_dir / "tls"
        if not (d / "server.crt").exists():
            d.mkdir(parents=True, exist_ok=True)
            ca, ca_key = make_ca("onewindow city bus CA")
            cert, key = make_server_cert(ca, ca_key, (self.host, "localhost"))
            for name, data in (("ca.key", ca_key), ("server.key", key), ("ca.crt", ca), ("server.crt", cert)):
                path = d / name
                path.touch(mode=0o600)
                path.write_bytes(data)
        return (f', tls {{ cert_file: "{(d / "server.crt").resolve()}", '
                f'key_file: "{(d / "server.key").resolve()}" }}')

    def node_settings(self, node: Node) -> BrokerSettings:
        return BrokerSettings(host=self.host, port=node.mqtt_port, username=self.username, password=self.password,
                              tls=self.tls, ca=str(self.ca_path) if self.tls else None)

    @property
    def settings(self) -> list[BrokerSettings]:
        return [self.node_settings(n) for n in self.nodes]

    @property
    def urls(self) -> list[str]:
        """The MQTT URLs of the nodes, without the password."""
        return [s.url for s in self.settings]

    # --- life cycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> "CityBus":
        self._stopping.clear()
        for i, node in enumerate(self.nodes):
            self.write_config(node)
            self._spawn(node)
            t = threading.Thread(target=self._supervise, args=(i,), daemon=True, name=f"nats-{node.name}")
            t.start()
            self._threads.append(t)
        deadline = time.monotonic() + timeout
        for i in range(len(self.nodes)):
            if not self.wait_ready(i, max(0.1, deadline - time.monotonic())):
                self.stop()
                raise BusError(f"city bus node n{i + 1} did not accept MQTT within {timeout:.0f} s; "
                               f"see {self.state_dir / f'n{i + 1}' / 'nats.log'}")
        log.info("city bus ready: %d node(s), MQTT at %s", len(self.nodes), ", ".join(self.urls))
        return self

    def wait_ready(self, index: int, timeout: float = 30.0) -> bool:
        """Wait until node `index` accepts a real MQTT connect."""
        deadline = time.monotonic() + timeout
        settings = self.node_settings(self.nodes[index])
        while not self._stopping.is_set():
            if mqtt_probe(settings, timeout=1.0) is None:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return False

    def _spawn(self, node: Node) -> None:
        d = self.state_dir / node.name
        with open(d / "nats.log", "ab") as logfile:
            node.proc = subprocess.Popen([self.binary, "-c", str(d / "nats.conf")], stdin=subprocess.DEVNULL,
                                         stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)

    def _supervise(self, index: int) -> None:
        node, delay = self.nodes[index], 0.5
        while not self._stopping.is_set():
            proc = node.proc
            if proc is not None:
                rc = proc.wait()
                if self._stopping.is_set():
                    return
                log.warning("city bus node %s exited (code %s)", node.name, rc)
            if self._stopping.wait(delay):
                return
            if index in self._held:
                node.proc = None
                continue
            node.restarts += 1
            log.info("starting city bus node %s again (restart %d)", node.name, node.restarts)
            self._spawn(node)
            delay = min(delay * 2, 10.0) if time.monotonic() - node.ready_at < 30 else 0.5
            node.ready_at = time.monotonic()

    def kill(self, index: int, restart: bool = True) -> None:
        """SIGKILL node `index`, as a crash would; the supervisor starts it again unless `restart` is False
        (then `revive(index)` does)."""
        if not restart:
            self._held.add(index)
        proc = self.nodes[index].proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def revive(self, index: int) -> None:
        self._held.discard(index)

    def alive(self, index: int) -> bool:
        proc = self.nodes[index].proc
        return proc is not None and proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait(5)
        for t in self._threads:
            t.join(2)
        self._threads = []

    def __enter__(self) -> "CityBus":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
