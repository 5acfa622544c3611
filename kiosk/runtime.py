"""One kiosk, wired: transport -> mirror + queue client -> TicketDesk with its printers -> presenter.

    rt = KioskRuntime(site, settings, transport).start()   # transport: MqttTransport or LocalTransport
    rt.presenter.tap("type:A")
    rt.stop()

Used by `onewindow kiosk`, the tests and the benchmark, so all three run the same kiosk.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from kiosk.presenter import KioskPresenter, _threaded
from kiosk.session import KioskClient
from kiosk.ticketing import TicketDesk
from onewindow.client import QueueClient
from onewindow.mirror import StateMirror

log = logging.getLogger("onewindow.kiosk")


class KioskRuntime:
    def __init__(self, site: Any, settings: Any, transport: Any, *, stations: list | None = None,
                 run: Callable = _threaded, client_timeout: float = 1.5, client_attempts: int = 2,
                 devices: dict | None = None, outbox_path: str | None = "settings", **presenter_args: Any):
        from hardware.printing.station import PrintStation

        self.site, self.settings, self.transport = site, settings, transport
        self.own_stations = stations is None
        self.stations = list(stations) if stations is not None else [PrintStation(c) for c in settings.printers]
        self.devices = dict(devices or {})  # name -> object with .state ("ok" | "offline")
        self.mirror = StateMirror(transport, site.site_id)
        self.queue_client = QueueClient(transport, site.site_id, settings.id, timeout=client_timeout,
                                        attempts=client_attempts)
        self.client = KioskClient(self.queue_client, settings.id)
        if outbox_path == "settings":  # cancels owed to the server survive a restart (None: in memory)
            Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
            outbox_path = str(Path(settings.state_dir) / f"{settings.id}-cancels.jsonl")
        self.desk = TicketDesk(site, self.client, self.stations[0] if self.stations else None,
                               self.stations[1] if len(self.stations) > 1 else None, kiosk_id=settings.id,
                               print_slips=settings.print_slips, outbox_path=outbox_path)
        self.presenter = KioskPresenter(
            site, self.mirror, self.desk, self.client, settings, publish=transport.publish, run=run,
            connected=lambda: bool(getattr(transport, "connected", True)),
            devices=lambda: {name: d.state for name, d in self.devices.items()}, **presenter_args)
        previous = getattr(transport, "on_connected", None)

        def connected() -> None:
            if previous is not None:
                previous()
            self.presenter.publish_status(force=True)

        transport.on_connected = connected

    def start(self, timeout: float | None = 10.0) -> "KioskRuntime":
        for st in self.stations:
            st.start()
        for d in self.devices.values():
            getattr(d, "start", lambda: None)()
        if not getattr(self.transport, "connected", False):  # a LocalTransport may be started already
            self.transport.start(timeout=timeout)
        self.presenter.publish_status(force=True)
        return self

    def stop(self) -> None:
        for d in self.devices.values():
            try:
                d.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping %r failed", d)
        self.desk.close()
        try:
            self.transport.stop()
        finally:
            if self.own_stations:
                for st in self.stations:
                    st.stop()
