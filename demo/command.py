"""`onewindow demo`: a whole hall on this machine, with no configuration.

Managed, locked-down Mosquitto and the queue server; the web console with demo accounts; the kiosk app
and the hall display as windows when there is a screen; simulated citizens and clerks on every window but
the ones left to people (window 1 by default); the hall live in the terminal. Ctrl-C stops everything.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from demo import screens
from demo.children import Children
from demo.console import console_child, console_lines, demo_sign_ins, wait_until_up, write_accounts
from demo.hall import SimulatedHall, reserved_type
from demo.site import DemoBroker, start_broker
from demo.view import HallView, render, summary_line
from onewindow.broker import free_port
from onewindow.config import add_config_argument, site_or_report
from onewindow.mqtt import MqttTransport
from onewindow.process import ServerChild

log = logging.getLogger("onewindow.demo")
BUSY_HALL_WINDOWS = 8  # of the county hall's 11 windows left to simulated clerks: busy, with a queue


def register(sub) -> None:
    p = sub.add_parser("demo", help="run a whole demo hall on this machine (Ctrl-C stops it)",
                       description="Start a managed Mosquitto, the queue server, the web console, the kiosk and "
                                   "the hall display (when there is a screen) and simulated citizens and clerks, "
                                   "and show the hall live in the terminal. Window 1 is left to you: sign in "
                                   "at the console's clerk page and call the number you took at the kiosk.")
    add_config_argument(p)
    p.add_argument("--speed", type=float, default=20.0,
                   help="how much faster than real time the simulated citizens and clerks are (default 20)")
    p.add_argument("--windows", type=int, default=None,
                   help="how many windows the simulated clerks open (default: all but the people's windows "
                        f"and, when there are some, at most {BUSY_HALL_WINDOWS}: a queue forms, so the number you "
                        "take waits for you to call it)")
    p.add_argument("--human-windows", default="1", metavar="N,N",
                   help="windows left to people at the clerk console, no simulated clerk (default 1; 'none')")
    p.add_argument("--duration", type=float, default=0,
                   help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--state-dir", default="var/demo", help="broker files, databases and every process's log")
    p.add_argument("--port", type=int, default=0, help="broker port (default: a free port)")
    p.add_argument("--broker", default=None, metavar="URL",
                   help="use this broker (mqtt://host:port, open) instead of starting Mosquitto")
    p.add_argument("--console-port", type=int, default=0, help="web console port (default: a free port)")
    p.add_argument("--no-console", action="store_true", help="no web console")
    p.add_argument("--no-screens", action="store_true", help="no kiosk or hall display windows")
    p.add_argument("--no-voice", action="store_true", help="the hall display does not speak")
    p.add_argument("--no-view", action="store_true", help="print a summary line every few seconds instead")
    p.add_argument("--seed", type=int, default=None, help="random seed of the simulated people")
    p.add_argument("--no-printers", action="store_true",
                   help="simulated kiosks without (fake) thermal printers: tickets are only issued, not printed")
    p.set_defaults(func=run)


def human_windows(text: str, site) -> tuple[int, ...] | None:
    """The window numbers of --human-windows, or None (after saying why) if they are not the site's."""
    if text.strip().lower() in ("", "none", "0"):
        return ()
    try:
        numbers = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        print(f"--human-windows: window numbers separated by commas, not {text!r}", file=sys.stderr)
        return None
    unknown = sorted(set(numbers) - {w.number for w in site.windows})
    if unknown:
        print(f"--human-windows: the site has no window {', '.join(map(str, unknown))}", file=sys.stderr)
        return None
    return numbers


def run(args: argparse.Namespace) -> int:
    site = site_or_report(args)
    if site is None:
        return 1
    humans = human_windows(args.human_windows, site)
    if humans is None:
        return 2
    state = Path(args.state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    stop = _stop_on_signals()
    interactive = sys.stdout.isatty() and not args.no_view
    _log_to_file(state / "demo.log", also_stderr=not interactive)
    logging.getLogger("onewindow.mqtt").setLevel(logging.WARNING)  # thirty clients connecting is not news
    running: list = []  # what to stop at the end, in reverse order
    try:
        broker = start_broker(args, site, state, running)
        if broker is None:
            return 1
        server = ServerChild(broker.url, state / f"{site.site_id}.db", site.source, log_path=state / "server.log",
                             extra_args=broker.server_args)
        running.append(server.start())
        _note_pid(server)
        children = Children().watch()
        running.append(children)
        banner = _console(args, site, state, broker, humans, children)
        banner += _screens(args, site, state, broker, children)
        view, sim = _people(args, site, broker, humans, running)
        banner.append(f"logs and databases: {state}   Ctrl-C stops the demo")
        print("\n".join(["", f"onewindow demo: {site.name} ({site.site_id}), broker {broker.url}", *banner, ""]),
              file=sys.stderr, flush=True)
        _show(view, sim, server, stop, args.duration, interactive, banner)
        return 0
    finally:
        print("stopping the demo: simulated people, kiosk, hall display, console, server, broker", file=sys.stderr, flush=True)
        _stop_all(running, state)


def _stop_on_signals() -> threading.Event:
    """Ctrl-C, SIGTERM and a closed terminal (SIGHUP) all stop the demo cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _console(args, site, state: Path, broker: DemoBroker, humans, children: Children) -> list[str]:
    """Start the web console with the demo accounts; the lines that tell a person where and how."""
    if args.no_console:
        return ["web console: off (--no-console)"]
    sign_ins = demo_sign_ins(list(humans))
    write_accounts(state / "console-users.db", sign_ins)
    port = args.console_port or free_port()
    child = children.add(console_child(state, site.site_id, broker.plain_url, broker.credentials("manager"), port))
    url = f"http://127.0.0.1:{port}"
    if not wait_until_up(url, child):
        log.error("the web console did not come up; its log %s:\n%s", child.log_path, child.tail(10))
        return [f"web console: did not start (log: {child.log_path})"]
    prefix = reserved_type(site, humans)
    return console_lines(url, sign_ins, humans, site.business_type(prefix) if prefix else None)


def _screens(args, site, state: Path, broker: DemoBroker, children: Children) -> list[str]:
    if args.no_screens:
        return ["kiosk and hall display: off (--no-screens)"]
    if not screens.screen_available():
        return ["kiosk and hall display: no screen here (DISPLAY and WAYLAND_DISPLAY unset), not opened"]
    children.add(screens.kiosk_child(state, Path(site.source), broker.plain_url,
                                     broker.credentials(screens.KIOSK_DEVICE)))
    children.add(screens.display_child(state, site.site_id, broker.plain_url,
                                       broker.credentials(screens.DISPLAY_DEVICE), voice=not args.no_voice))
    voice = "silent (--no-voice)" if args.no_voice else "speaking the calls"
    return [f"kiosk ({screens.KIOSK_DEVICE}, fake printer) and hall display ({voice}) open as windows"]


def _people(args, site, broker: DemoBroker, humans, running: list):
    """The terminal's view of the hall and the simulated people (their kiosks avoid the on-screen one's id)."""
    view_transport = MqttTransport(broker.settings_for("demo-view", "display"), site.site_id, "demo-view",
                                   role="display", presence=False)
    running.append(view_transport.start())
    view = HallView(view_transport, site.site_id)
    sim = SimulatedHall(site, lambda client_id, role: MqttTransport(broker.settings_for(client_id, role),
                                                                      site.site_id, client_id, role=role).start(),
                        speed=args.speed, windows=args.windows or (BUSY_HALL_WINDOWS if humans else None),
                        seed=args.seed, printing=not args.no_printers,
                        human_windows=humans)
    running.append(sim)
    sim.start()
    return view, sim


def _stop_all(running: list, state: Path) -> None:
    for thing in reversed(running):
        try:
            thing.stop()
        except Exception:  # noqa: BLE001 - one part failing to stop must not keep the others running
            log.exception("stopping %s failed", type(thing).__name__)
        if isinstance(thing, SimulatedHall):
            for path in thing.save_rolls(state):
                print(f"the end of a kiosk's paper roll: {path}", file=sys.stderr)


def _log_to_file(path: Path, also_stderr: bool) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handlers = [logging.FileHandler(path, encoding="utf-8")]
    if also_stderr:  # the terminal gets warnings and worse; the file gets everything
        handlers.append(logging.StreamHandler())
        handlers[-1].setLevel(logging.WARNING)
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO)


def _note_pid(server: ServerChild) -> None:
    """The server's pid where the demo's reaper looks for it (demo/reaper.py)."""
    (server.log_path.parent / "server.pid").write_text(f"{server.proc.pid}\n")


def _server_alive(server: ServerChild) -> None:
    """A queue server that died is logged, reported and started again (its SQLite log keeps the day)."""
    if server.proc is None or server.proc.poll() is None:
        return
    log.error("the queue server exited (code %s); starting it again. Last lines:\n%s", server.proc.returncode,
              "\n".join(server.lines[-5:]))
    try:
        server.start()
        _note_pid(server)
    except RuntimeError as exc:
        log.error("the queue server did not come back: %s", exc)


def _show(view: HallView, sim: SimulatedHall, server: ServerChild, stop: threading.Event, duration: float,
          interactive: bool, banner: list[str]) -> None:
    """The live view (or a summary line every 5 s) until Ctrl-C, the end of `duration` or the parent's end."""
    started = time.time()
    deadline = started + duration if duration else None
    parent = os.getppid()

    def going() -> bool:
        if os.getppid() != parent:  # whoever started the demo is gone: stop, leave nothing behind
            log.warning("the demo's parent process ended: stopping")
            return False
        _server_alive(server)
        return deadline is None or time.time() < deadline

    if interactive:
        from rich.live import Live
        with Live(render(view, sim, started, banner), refresh_per_second=4, screen=False) as live:
            while not stop.wait(0.25) and going():
                live.update(render(view, sim, started, banner))
        return
    last = 0.0
    while not stop.wait(0.25) and going():
        if time.time() - last >= 5:
            print(summary_line(view, sim), flush=True)
            last = time.time()
    print(summary_line(view, sim), flush=True)
