"""`onewindow server`: the queue server of one site."""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from onewindow.broker import add_broker_arguments, settings_from_args
from onewindow.config import add_config_argument, site_or_report

log = logging.getLogger("onewindow.server")


def register(sub) -> None:
    p = sub.add_parser("server", help="run the queue server of a site",
                       description="Run the queue server: takes commands over MQTT, keeps the queue, writes "
                                   "every accepted command to SQLite before replying, publishes retained "
                                   "state for displays, kiosks and clerks.")
    add_config_argument(p)
    add_broker_arguments(p, default="mqtt://127.0.0.1:1883")
    p.add_argument("--db", default=None, help="SQLite event log (default: var/<site id>.db)")
    p.add_argument("--always-open", action="store_true",
                   help="issue tickets at any hour (for benchmarks and demos outside opening hours)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from onewindow.mqtt import MqttTransport
    from queue_server.server import QueueServer
    from queue_server.store import Store

    site = site_or_report(args)
    if site is None:
        return 1
    db = Path(args.db or f"var/{site.site_id}.db")
    store = Store(db, site.site_id, site.timezone)
    settings = settings_from_args(args)
    transport = MqttTransport(settings, site.site_id, client_id=f"server-{site.site_id}", role="server",
                              idle_interval=0.25)
    server = QueueServer(site, store, transport, always_open=args.always_open)
    server.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    transport.start(timeout=None)
    while not transport.wait_connected(5):
        if stop.is_set():
            break
        log.warning("no broker at %s yet; still trying", settings.url)
    log.info("server ready: site %s (%s), log %s, broker %s", site.site_id, site.name, db, settings.url)
    stop.wait()
    log.info("stopping: %s", server.stats)
    transport.stop()  # its loop thread, which runs the batches, ends here
    server.stop()
    store.close()
    return 0
