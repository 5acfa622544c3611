"""A kiosk against the real queue server in one process: LocalBroker, QueueServer on SQLite, fake
thermal printers on TCP, the kiosk runtime with a presenter that takes numbers synchronously."""
from __future__ import annotations

import json
import threading

from hardware.fakes.printer import FakePrinter
from hardware.printing.config import printer_from_url
from hardware.printing.station import PrintStation
from kiosk.runtime import KioskRuntime
from kiosk.settings import KioskSettings
from onewindow.transport import LocalBroker
from queue_server.server import QueueServer
from queue_server.store import Store


class Clock:
    def __init__(self, start: float = 0.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, s: float) -> None:
        self.now += s


class Hall:
    """One site in a process: `hall.kiosk(...)` adds kiosks; `hall.stop()` ends everything."""

    def __init__(self, site, tmp_path, clock=None, always_open: bool = True):
        self.site = site
        self.broker = LocalBroker()
        self.server_transport = self.broker.transport(f"server-{site.site_id}", "server", site.site_id)
        kwargs = {"clock": clock} if clock else {}
        self.server = QueueServer(site, Store(tmp_path / "q.db", site.site_id, site.timezone),
                                  self.server_transport, always_open=always_open, **kwargs)
        self.server.start()
        self.server_transport.start()
        self._ticking = threading.Event()
        ticker = threading.Thread(target=self._tick, daemon=True, name="server-tick")
        ticker.start()
        self.closers = [self.server.stop, self._ticking.set]
        self.printers: list[FakePrinter] = []

    def kiosk(self, printers: int = 1, sync: bool = True, settings: KioskSettings | None = None,
              client_timeout: float = 1.0, **kw) -> KioskRuntime:
        stations = []
        for n in range(printers):
            fake = FakePrinter(paper_mm=80, transport="tcp", name=f"p{n}").start()
            st = PrintStation(printer_from_url(fake.url, printer_id=["main", "spare"][n]), poll_interval=0.2).start()
            self.printers.append(fake)
            stations.append(st)
            self.closers += [fake.stop, st.stop]
        settings = settings or KioskSettings(id="kiosk-1")
        transport = self.broker.transport(settings.id, "kiosk", self.site.site_id).start()
        if sync:
            kw.setdefault("run", lambda fn, *a: fn(*a))
        kw.setdefault("outbox_path", None)
        rt = KioskRuntime(self.site, settings, transport, stations=stations, client_timeout=client_timeout, **kw)
        self.closers.append(rt.stop)
        return rt.start()

    def _tick(self) -> None:
        """The server's idle wake-ups (the MQTT transport's loop does this every 0.25 s)."""
        while not self._ticking.wait(0.05):
            if self.server_transport.connected:
                self.server_transport.tick()

    def retained(self, topic: str) -> dict | None:
        raw = self.broker.retained.get(topic)
        return json.loads(raw) if raw else None

    def server_down(self) -> None:
        self.server_transport.stop()

    def server_up(self) -> None:
        self.server_transport.start()

    def stop(self) -> None:
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:  # noqa: BLE001
                pass
