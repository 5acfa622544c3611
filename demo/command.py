"""`onewindow demo`: a whole site on this machine, with no configuration."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from broker import security
from broker.mosquitto import BrokerError, ManagedBroker
from demo.hall import SimulatedHall
from demo.view import HallView, render, summary_line
from onewindow.broker import BrokerSettings
from onewindow.config import add_config_argument, site_or_report
from onewindow.mqtt import MqttTransport
from onewindow.process import ServerChild

log = logging.getLogger("onewindow.demo")


def register(sub) -> None:
    p = sub.add_parser("demo", help="run a whole demo site on this machine (Ctrl-C stops it)",
                       description="Start a managed Mosquitto, the queue server and simulated kiosks and clerks "
                                   "working at a realistic rate, and show the hall live in the terminal.")
    add_config_argument(p)
    p.add_argument("--speed", type=float, default=20.0,
                   help="how much faster than real time the simulated citizens and clerks are (default 20)")
    p.add_argument("--windows", type=int, default=None, help="how many windows the simulated clerks open")
    p.add_argument("--duration", type=float, default=0,
                   help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--state-dir", default="var/demo", help="broker configuration, persistence and the log")
    p.add_argument("--port", type=int, default=0, help="broker port (default: a free port)")
    p.add_argument("--broker", default=None, metavar="URL",
                   help="use this broker (mqtt://host:port) instead of starting Mosquitto")
    p.add_argument("--no-view", action="store_true", help="print a summary line every few seconds instead")
    p.add_argument("--seed", type=int, default=None, help="random seed of the simulated people")
    p.add_argument("--no-printers", action="store_true",
                   help="kiosks without (fake) thermal printers: tickets are only issued, not printed")
    p.add_argument("--display", choices=("landscape", "portrait"), default=None,
                   help="also open the hall display in a window (Kivy; needs a screen), speaking the calls")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    site = site_or_report(args)
    if site is None:
        return 1
    state = Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    interactive = sys.stdout.isatty() and not args.no_view
    if interactive:
        _log_to_file(state / "demo.log")  # the live view owns the terminal
    logging.getLogger("onewindow.mqtt").setLevel(logging.WARNING)  # thirty clients connecting is not news
    running: list = []  # what to stop at the end, in reverse order
    try:
        hall_broker = _broker(args, site, state, running)
        if hall_broker is None:
            return 1
        settings_for, server_args = hall_broker
        settings = settings_for("demo-view", "display")
        server = ServerChild(settings.url, state / f"{site.site_id}.db", site.source, log_path=state / "server.log",
                             extra_args=server_args)
        running.append(server.start())
        view_transport = MqttTransport(settings, site.site_id, "demo-view", role="display")
        view = HallView(view_transport, site.site_id)
        running.append(view_transport.start())
        sim = SimulatedHall(site, lambda client_id, role: MqttTransport(settings_for(client_id, role), site.site_id,
                                                                          client_id, role=role).start(),
                            speed=args.speed, windows=args.windows, seed=args.seed, printing=not args.no_printers)
        running.append(sim)
        sim.start()
        if args.display:
            running.append(_HallDisplay(settings_for("display-1", "display"), site.site_id, args.display, state))
        print(f"onewindow demo: {site.name} ({site.site_id}) on {settings.url}; server log {server.log_path}; "
              "Ctrl-C stops", file=sys.stderr)
        _show(view, sim, stop, args.duration, interactive)
        return 0
    finally:
        print("stopping the demo: simulated people, server, broker", file=sys.stderr)
        for thing in reversed(running):
            thing.stop()
            if isinstance(thing, SimulatedHall):
                for path in thing.save_rolls(state):
                    print(f"the end of a kiosk's paper roll: {path}", file=sys.stderr)


class _HallDisplay:
    """`onewindow display` as a child process, connected as the site's display device."""

    def __init__(self, settings: BrokerSettings, site_id: str, layout: str, state: Path):
        import os
        import subprocess

        env = dict(os.environ)
        if settings.username:
            env.update(ONEWINDOW_MQTT_USERNAME=settings.username, ONEWINDOW_MQTT_PASSWORD=settings.password or "")
        url = f"mqtt://{settings.host}:{settings.port}"
        self.log = open(state / "display.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", "display", "--site", site_id, "--broker", url,
                                      "--layout", layout, "--windowed", "--voice-dir", str(state / "voice")],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except Exception:  # noqa: BLE001 - a display that does not stop is killed
                self.proc.kill()
        self.log.close()


def _log_to_file(path: Path) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)


def _broker(args: argparse.Namespace, site, state: Path, running: list):
    """(settings_for(client_id, role), extra server arguments), or None if the broker could not start.

    The managed broker runs locked down (docs/SECURITY.md): each simulated device connects with its own
    credentials from the site's device registry, and the server checks roles. With --broker (a broker
    of your own, assumed open) the server runs with --open."""
    if args.broker:
        settings = BrokerSettings.from_url(args.broker)
        return (lambda client_id, role: settings), ["--open"]
    files = security.generate(site, state / "broker" / "security")
    try:
        broker = ManagedBroker(state / "broker", port=args.port, security=files).start()
    except BrokerError as exc:
        print(f"cannot start the demo's broker: {exc}", file=sys.stderr)
        return None
    running.append(broker)
    devices = security.registry(site)

    def device_for(client_id: str, role: str) -> str:
        """The registry device a simulated kiosk, clerk or the view connects as."""
        n = int(client_id.rsplit("-", 1)[1]) if client_id.rsplit("-", 1)[-1].isdigit() else 1
        if role == "kiosk":
            kiosks = [d.id for d in devices if d.role == "kiosk"]
            return f"kiosk-{n}" if f"kiosk-{n}" in kiosks else kiosks[(n - 1) % len(kiosks)]
        if role == "clerk":
            for d in devices:
                if d.role == "window" and n in d.windows:
                    return d.id
            return next(d.id for d in devices if d.role in ("console", "manager"))
        return next((d.id for d in devices if d.role == "display"),
                    next(d.id for d in devices if d.role == "manager"))

    server_file = files.device_file(security.server_user(site.site_id))
    return (lambda client_id, role: broker.settings_for(device_for(client_id, role))), \
        ["--credentials", str(server_file)]


def _show(view: HallView, sim: SimulatedHall, stop: threading.Event, duration: float, interactive: bool) -> None:
    """The live view (or a summary line every 5 s) until Ctrl-C or the end of `duration`."""
    started = time.time()
    deadline = started + duration if duration else None
    if interactive:
        from rich.live import Live
        with Live(render(view, sim, started), refresh_per_second=4, screen=False) as live:
            while not stop.wait(0.25) and (deadline is None or time.time() < deadline):
                live.update(render(view, sim, started))
        return
    while not stop.wait(min(5.0, max(0.1, (deadline or 1e18) - time.time()))):
        print(summary_line(view, sim), flush=True)
        if deadline is not None and time.time() >= deadline:
            break
    print(summary_line(view, sim), flush=True)
