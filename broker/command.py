"""`onewindow broker`: run a supervised local Mosquitto for a site that has no broker of its own."""
from __future__ import annotations

import argparse
import logging
import signal
import threading

from broker import security
from broker.mosquitto import DEFAULT_STATE_DIR, BrokerError, ManagedBroker
from onewindow.broker import DEFAULT_PORT, DEFAULT_TLS_PORT
from onewindow.config import add_config_argument, site_or_report

log = logging.getLogger("onewindow.broker")


def register(sub) -> None:
    p = sub.add_parser(
        "broker", help="run a local MQTT broker (Mosquitto), restarted if it dies",
        description="Write a Mosquitto configuration into the state dir, run mosquitto, restart it if it "
                    "dies and stop it on Ctrl-C or SIGTERM. Locked down by default: every client needs its "
                    "credentials (written to STATE_DIR/security/devices/ from the site's device registry, "
                    "see docs/SECURITY.md), the ACL says who may publish what, the plain listener is on "
                    "127.0.0.1 only and a TLS listener with the site CA serves the hall's network.")
    p.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR),
                   help="configuration, retained messages and log (default: %(default)s)")
    add_config_argument(p)
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help="plain TCP port, on 127.0.0.1 only (default: %(default)s; 0: any free)")
    p.add_argument("--tls-port", type=int, default=DEFAULT_TLS_PORT,
                   help="TLS port, on --host (default: %(default)s; 0: any free)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address of the TLS listener (default: %(default)s; 0.0.0.0 for the hall's network)")
    p.add_argument("--security", default=None, metavar="DIR",
                   help="credentials, ACL and TLS files (default: STATE_DIR/security; made if missing)")
    p.add_argument("--open", action="store_true",
                   help="development only: anonymous access, no ACL, loopback only (refused with another --host)")
    p.add_argument("--mosquitto", default=None, metavar="PATH", help="the mosquitto binary (default: search)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    files = None
    if not args.open:
        site = site_or_report(args)
        if site is None:
            return 1
        hosts = tuple(dict.fromkeys(("127.0.0.1", "localhost", *([args.host] if args.host not in
                                                                    ("0.0.0.0", "::") else []))))
        files = security.generate(site, args.security or f"{args.state_dir}/security", hosts=hosts)
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("received %s: stopping the broker", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            broker = ManagedBroker(args.state_dir, port=args.port, host=args.host, mosquitto=args.mosquitto,
                                   security=files, tls_port=args.tls_port or None if files else None)
            broker.start()
        except BrokerError as exc:
            print(f"onewindow broker: {exc}", flush=True)
            return 1
        print(f"broker ready at {broker.url}" + (f" and {broker.tls_url}" if broker.tls_url else "")
              + f" (state in {broker.state_dir}, log {broker.log_path})", flush=True)
        if files is not None:
            print(f"locked down: device credentials in {files.directory / 'devices'}, site CA {files.ca}",
                  flush=True)
        else:
            log.warning("open broker: anonymous access and no ACL (development only, loopback only)")
        try:
            while not stop.wait(1.0):
                pass
        finally:
            broker.stop()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    log.info("broker stopped")
    return 0
