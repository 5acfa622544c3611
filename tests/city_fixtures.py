"""Fixtures of the city tier: a throw-away PostgreSQL cluster and a 3-node city bus per test run, a fresh
database per test. A plugin of tests/conftest.py: a test names `pg_cluster`, `city_db` or `city_bus`
without importing it (a fixture imported into a module is that module's own, and a session-scoped one
would then start once per module: four city buses of ~7 s each instead of one).
"""
from __future__ import annotations

import itertools
import shutil
import tempfile

import pytest

from city.pgcluster import PgCluster

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster():
    base = tempfile.mkdtemp(prefix="onewindow-pg-")  # not tmp_path: the postgres user must enter it
    cluster = PgCluster(base, fsync=False)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def city_db(pg_cluster) -> str:
    """The conninfo of a new, empty database on the session's cluster."""
    return pg_cluster.create_database(f"city_test_{next(_names)}")


@pytest.fixture
def city_bus(city_bus_of_the_run):
    """The run's city bus with every node up and taking MQTT connects: a test before may have killed one
    (nodes come back in a second or two, and a cluster that lost a node takes a moment to answer again)."""
    bus = city_bus_of_the_run
    for i in range(len(bus.nodes)):
        bus.revive(i)
        assert bus.wait_ready(i, 30), f"city bus node {i + 1} did not come back"
    return bus


@pytest.fixture(scope="session")
def city_bus_of_the_run():
    """A 3-node city bus (NATS cluster with JetStream and MQTT) for the whole test run."""
    from city.nats import CityBus
    state = tempfile.mkdtemp(prefix="onewindow-citybus-")
    bus = CityBus(state, nodes=3).start()
    try:
        yield bus
    finally:
        bus.stop()
        shutil.rmtree(state, ignore_errors=True)


def write_hall_config(directory, site_id: str, level: str, sample: str = "county-hall"):
    """A copy of a sample site configuration with its own site id and level (and its catalogue)."""
    from pathlib import Path
    from onewindow.config import sample_path
    src = sample_path(sample)
    text = src.read_text(encoding="utf-8")
    default_id = {"county-hall": "demo-county", "village-point": "demo-village"}[sample]
    default_level = {"county-hall": "county", "village-point": "village"}[sample]
    text = text.replace(f'id = "{default_id}"', f'id = "{site_id}"', 1)
    text = text.replace(f'level = "{default_level}"', f'level = "{level}"', 1)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for catalogue in src.parent.glob("*-catalogue.toml"):
        shutil.copy(catalogue, directory / catalogue.name)
    path = directory / f"{site_id}.toml"
    path.write_text(text, encoding="utf-8")
    return path


class LinkProxy:
    """A TCP link that a test can cut: forwards 127.0.0.1:port to a TCP address or a unix socket.
    `cut()` drops every connection and refuses new ones (closed at once) until `restore()`."""

    def __init__(self, target):
        import socket
        import threading
        self.target = target  # (host, port) or a unix socket path
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.up = True
        self._conns: set = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _connect(self):
        import socket
        if isinstance(self.target, tuple):
            return socket.create_connection(self.target, timeout=2)
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(self.target))
        return s

    def _accept(self) -> None:
        import threading
        while not self._closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = self._connect()
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            self._drop(s)

    def _drop(self, s) -> None:
        import socket
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
        with self._lock:
            self._conns.discard(s)

    def cut(self) -> None:
        self.up = False
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            self._drop(s)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.server.close()


class BridgeChild:
    """`onewindow bridge-city` as a child process (so that a test can SIGKILL it)."""

    def __init__(self, args: list[str]):
        import sys
        self.args = [sys.executable, "-m", "cli", "bridge-city", *args]
        self.proc = None
        self.lines: list[str] = []

    def start(self, timeout: float = 20.0) -> "BridgeChild":
        import os
        import subprocess
        import threading
        ready = threading.Event()
        self.proc = subprocess.Popen(self.args, stderr=subprocess.STDOUT, stdout=subprocess.PIPE, text=True,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)

        def read(proc):
            for line in proc.stdout:
                self.lines.append(line.rstrip())
                if "city bridge ready" in line:
                    ready.set()
        threading.Thread(target=read, args=(self.proc,), daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("the city bridge did not start:\n" + "\n".join(self.lines[-20:]))
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
