"""A whole small hall for console and bridge tests: Mosquitto, an in-process queue server (the real
one, over MQTT) and the console on free loopback ports, with a few accounts."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from broker.mosquitto import ManagedBroker
from onewindow.broker import free_port
from onewindow.mqtt import MqttTransport
from queue_server.server import QueueServer
from queue_server.store import Store
from tests.support import county_site

PASSWORD = "correct horse"
USERS = [("wang", "clerk", "王芳", "1234"), ("li", "clerk", "李明", "5678"), ("boss", "manager", "赵主任", None),
         ("eve", "viewer", "", None)]


class HallStack:
    """broker + server + console. `stack.url` is the console; `stack.server` the QueueServer."""

    def __init__(self, console: bool = True):
        self.dir = Path(tempfile.mkdtemp(prefix="onewindow-console-"))
        self.site = county_site()
        self.broker = ManagedBroker(self.dir / "broker", port=0, host="127.0.0.1")
        self.console = None
        self._want_console = console

    def start(self) -> "HallStack":
        self.broker.start()
        self.server_transport = MqttTransport(self.broker.settings, self.site.site_id, "server-test", role="server",
                                              idle_interval=0.1)
        self.store = Store(self.dir / "q.db", self.site.site_id, self.site.timezone)
        self.server = QueueServer(self.site, self.store, self.server_transport, always_open=True)
        self.server.start()
        self.server_transport.start(timeout=10)
        if self._want_console:
            from console.accounts import Accounts
            from console.runner import ConsoleRunner
            users = self.dir / "users.db"
            accounts = Accounts(users)
            for name, role, full, pin in USERS:
                accounts.add(name, role, password=PASSWORD, pin=pin, name=full)
            accounts.close()
            self.console = ConsoleRunner(self.broker.settings, self.site.site_id, users, port=free_port(),
                                         client_id="console-test").start()
            self.console.transport.wait_connected(10)
        return self

    @property
    def url(self) -> str:
        return self.console.url

    def clerk_client(self):
        """A QueueClient of another window's console (a second clerk elsewhere in the hall)."""
        from onewindow.client import QueueClient
        if not hasattr(self, "_other"):
            self._other_transport = MqttTransport(self.broker.settings, self.site.site_id, "console-other",
                                                  role="console").start(10)
            self._other = QueueClient(self._other_transport, self.site.site_id, "console-other")
        return self._other

    def issue(self, prefix: str = "A", n: int = 1) -> list[str]:
        """Issue tickets through MQTT like a kiosk; returns their numbers."""
        from onewindow.client import QueueClient
        if not hasattr(self, "_kiosk"):
            self._kiosk_transport = MqttTransport(self.broker.settings, self.site.site_id, "kiosk-test",
                                                  role="kiosk").start(10)
            self._kiosk = QueueClient(self._kiosk_transport, self.site.site_id, "kiosk-test")
        out = []
        for _ in range(n):
            reply = self._kiosk.issue(prefix)
            assert reply["ok"], reply
            out.append(reply["ticket"]["number"])
        return out

    def drain(self) -> None:
        """Cancel every waiting ticket (through MQTT, as a kiosk would): a test starts from an empty hall."""
        self.issue("A", 1)  # makes sure the kiosk's connection exists
        for t in list(self.server.engine.tickets.values()):
            if t.state == "waiting":
                assert self._kiosk.cancel(t.number)["ok"]

    def stop(self) -> None:
        if self.console is not None:
            self.console.stop()
        for name in ("_kiosk_transport", "_other_transport"):
            if hasattr(self, name):
                getattr(self, name).stop()
        if hasattr(self, "server"):
            self.server.stop()
            self.server_transport.stop()
            self.store.close()
        self.broker.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
