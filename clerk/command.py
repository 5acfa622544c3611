"""`onewindow bridge`: the window device bridge for call pads and rating pads (RS-485, 9600 8N1)."""
from __future__ import annotations

import argparse
import logging
import signal
import threading

from onewindow.broker import add_broker_arguments, settings_from_args

log = logging.getLogger("onewindow.bridge")


def register(sub) -> None:
    p = sub.add_parser("bridge", help="the window device bridge (call pads, rating pads)",
                       description="Connect the call pads and rating pads of one RS-485 bus to the queue "
                                   "server. The pads, their addresses and windows are in a TOML file "
                                   "(see hardware/README.md).")
    add_broker_arguments(p)
    p.add_argument("-c", "--config", required=True, help="bridge configuration (TOML)")
    p.add_argument("--site", default="demo-county", help="site id (default: demo-county)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from clerk.bridge import Bridge
    from clerk.config import BridgeConfigError, load
    from onewindow.mqtt import MqttTransport
    try:
        config = load(args.config)
    except BridgeConfigError as exc:
        for line in exc.errors:
            log.error("%s: %s", args.config, line)
        return 2
    transport = MqttTransport(settings_from_args(args), args.site, config.id, role="bridge")
    bridge = Bridge(config, transport, args.site)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    transport.start(timeout=None)
    bridge.start()
    log.info("bridge %s: %d pads on %s, site %s", config.id, len(config.pads), config.port, args.site)
    stop.wait()
    bridge.stop()
    transport.stop()
    return 0
