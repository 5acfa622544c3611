"""The demo's broker: the managed, locked-down Mosquitto (or a broker of your own with --broker), and which
registry device each simulated or on-screen client connects as (docs/SECURITY.md)."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from broker import security
from broker.mosquitto import BrokerError, ManagedBroker
from onewindow.broker import BrokerSettings


@dataclass
class DemoBroker:
    url: str  # for the queue server (no password in it)
    server_args: list[str]
    settings_for: Callable[[str, str], BrokerSettings]  # (client id, role) -> how that client connects
    files: "security.SecurityFiles | None" = None
    devices: tuple = field(default_factory=tuple)

    @property
    def plain_url(self) -> str:
        return self.url

    def credentials(self, device_id: str) -> Path | None:
        """The credential file of a registry device (None on an open broker of your own)."""
        return self.files.device_file(device_id) if self.files is not None else None


def device_for(devices, client_id: str, role: str) -> str:
    """The registry device a simulated kiosk (`demo-kiosk-N`), clerk (`demo-clerk-N`) or the view connects as."""
    tail = client_id.rsplit("-", 1)[-1]
    n = int(tail) if tail.isdigit() else 1
    if role == "kiosk":
        kiosks = [d.id for d in devices if d.role == "kiosk"]
        return f"kiosk-{n}" if f"kiosk-{n}" in kiosks else kiosks[(n - 1) % len(kiosks)]
    if role == "clerk":
        for d in devices:
            if d.role == "window" and n in d.windows:
                return d.id
        return next(d.id for d in devices if d.role in ("console", "manager"))
    return next((d.id for d in devices if d.role == "display"), next(d.id for d in devices if d.role == "manager"))


def start_broker(args, site, state: Path, running: list) -> DemoBroker | None:
    """The demo's broker, started and added to `running`; None (after saying why) if it could not start.

    The managed broker runs locked down: every device connects with its own credentials from the site's
    device registry and the server checks roles. With --broker (yours, assumed open) the server runs --open."""
    if args.broker:
        settings = BrokerSettings.from_url(args.broker)
        return DemoBroker(settings.url, ["--open"], lambda client_id, role: settings)
    files = security.generate(site, state / "broker" / "security")
    try:
        broker = ManagedBroker(state / "broker", port=args.port, security=files).start()
    except BrokerError as exc:
        print(f"cannot start the demo's broker: {exc}", file=sys.stderr)
        return None
    running += [_Reaper(broker, state, site.site_id), broker]  # stopped in reverse: the broker, then its reaper
    devices = security.registry(site)
    server_file = files.device_file(security.server_user(site.site_id))
    return DemoBroker(broker.url, ["--credentials", str(server_file)],
                      lambda client_id, role: broker.settings_for(device_for(devices, client_id, role)),
                      files, devices)


class _Reaper:
    """`python -m demo.reaper`: stops the demo's Mosquitto if the demo dies without stopping it."""

    def __init__(self, broker: ManagedBroker, state: Path, site_id: str):
        with open(state / "reaper.log", "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "demo.reaper", str(os.getpid()),
                                          str(state / "server.pid"), str(state / f"{site_id}.db"),
                                          str(broker.state_dir / "mosquitto.pid"), str(broker.conf_path)],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
