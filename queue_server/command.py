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
    p.add_argument("--backup", default=None, metavar="FILE",
                   help="back the log up to FILE while running (default: var/<site id>.backup.db)")
    p.add_argument("--backup-every", type=float, default=300.0, metavar="SECONDS",
                   help="seconds between backups (default 300; 0: no backups)")
    p.add_argument("--durability", choices=("power", "crash"), default="power",
                   help="power (default): each accepted batch of commands is on the disk (fsync) before its "
                        "replies leave, so a power cut loses nothing acknowledged; crash: it is written to the "
                        "operating system (safe if the server is killed, not from a power cut, which may lose "
                        "the last second), for a disk whose flush is slow")
    p.add_argument("--wal-reserve-mb", type=int, default=64, metavar="MB",
                   help="write-ahead log space written out at start (default 64), so that commits overwrite "
                        "it in place (faster on most disks) and a disk too full for it is found at start; 0: none")
    p.add_argument("--open", action="store_true",
                   help="development only: accept any command from any client (no role checks; see "
                        "docs/SECURITY.md). By default each client may do what its role in the site's device "
                        "registry allows")
    p.add_argument("--always-open", action="store_true",
                   help="issue tickets at any hour (for benchmarks and demos outside opening hours)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from onewindow.mqtt import MqttTransport
    from queue_server.server import QueueServer
    from queue_server.backup import BackupSchedule
    from queue_server.store import DatabaseUnusable, Store
    from queue_server.roles import Roles
    from broker.security import registry, server_user
    from queue_server.single import AnotherServer

    site = site_or_report(args)
    if site is None:
        return 1
    db = Path(args.db or f"var/{site.site_id}.db")
    try:
        store = Store(db, site.site_id, site.timezone, durability=args.durability,
                      wal_reserve=max(0, args.wal_reserve_mb) << 20)
    except DatabaseUnusable as exc:
        log.error("cannot start: %s", exc)
        print(f"server: {exc}")
        return 1
    backups = None
    if args.backup_every > 0:
        backups = BackupSchedule(db, args.backup or db.with_name(f"{db.stem}.backup.db"), args.backup_every,
                                 site.site_id).start()
    try:
        settings = settings_from_args(args)
        _refuse_a_second_server(settings, site.site_id)
    except (ValueError, AnotherServer) as exc:
        log.error("cannot start: %s", exc)
        print(f"server: {exc}")
        if backups is not None:
            backups.stop()
        store.close()
        return 1
    transport = MqttTransport(settings, site.site_id, client_id=server_user(site.site_id), role="server",
                              idle_interval=0.25)
    roles = None
    if args.open:
        log.warning("open site: any client may send any command (development only)")
    else:
        roles = Roles.from_devices(registry(site), settings.username or server_user(site.site_id))
    server = QueueServer(site, store, transport, always_open=args.always_open, roles=roles)
    server.collect_garbage_between_batches()
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
    if backups is not None:
        backups.stop()
    store.close()
    return 0


def _refuse_a_second_server(settings, site_id: str) -> None:
    """AnotherServer if a live server of the site answers on this broker (queue_server/single.py)."""
    from broker.security import server_user
    from queue_server.single import check_no_other_server

    try:
        log.info("%s", check_no_other_server(settings, site_id, settings.username or server_user(site_id),
                                             connect_timeout=5.0))
    except ConnectionError as exc:
        log.warning("could not check for another server of site %s (%s); starting", site_id, exc)
