"""`onewindow broker`: run a supervised local Mosquitto for a site that has no broker of its own."""
from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import threading

from broker.mosquitto import DEFAULT_STATE_DIR, BrokerError, ManagedBroker
from onewindow.broker import DEFAULT_PORT

log = logging.getLogger("onewindow.broker")


def register(sub) -> None:
    p = sub.add_parser(
        "broker", help="run a local MQTT broker (Mosquitto), restarted if it dies",
        description="Write a Mosquitto configuration into the state dir, run mosquitto, restart it if it "
                    "dies and stop it on Ctrl-C or SIGTERM. Other components reach it with "
                    "--broker mqtt://127.0.0.1:PORT.")
    p.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR),
                   help="configuration, retained messages and log (default: %(default)s)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default: %(default)s; 0: any free)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s; anonymous access, so keep it local)")
    p.add_argument("--mosquitto", default=None, metavar="PATH", help="the mosquitto binary (default: search)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            log.warning("listening on %s with anonymous access: anyone on this network can publish", args.host)
    except ValueError:
        pass
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("received %s: stopping the broker", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            broker = ManagedBroker(args.state_dir, port=args.port, host=args.host, mosquitto=args.mosquitto)
            broker.start()
        except BrokerError as exc:
            print(f"onewindow broker: {exc}", flush=True)
            return 1
        print(f"broker ready at {broker.url} (state in {broker.state_dir}, log {broker.log_path})", flush=True)
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
