"""`onewindow city-store`, `onewindow city-broker`, `onewindow bridge-city`: the city tier's processes."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from datetime import date

log = logging.getLogger("onewindow.city")

DEFAULT_DB = "onewindow_city"


def register(sub) -> None:
    register_store(sub)


def add_store_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--city-store", metavar="CONNINFO", default=os.environ.get("ONEWINDOW_CITY_STORE"),
                   help="PostgreSQL conninfo of the city store, e.g. 'host=db1 dbname=onewindow_city "
                        "user=city' (env ONEWINDOW_CITY_STORE; a password in PGPASSWORD or ~/.pgpass)")


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


# --- onewindow city-store ---------------------------------------------------------------------------

def register_store(sub) -> None:
    p = sub.add_parser("city-store", help="create and keep the city's event store (PostgreSQL)",
                       description="Create the city store's schema in PostgreSQL (sites, every hall's events "
                                   "in monthly partitions, acknowledged marks, the daily summary), then refresh "
                                   "the daily summary every --refresh-every seconds. With --cluster DIR it first "
                                   "starts a local PostgreSQL in DIR on a unix socket (for demos and tests).")
    add_store_arguments(p)
    p.add_argument("--cluster", metavar="DIR", help="run a local PostgreSQL cluster in DIR (created if missing)")
    p.add_argument("--refresh-every", type=float, default=60.0, metavar="SECONDS",
                   help="how often the daily summary is refreshed (default 60)")
    p.add_argument("--once", action="store_true", help="create the schema, refresh the summary once and exit")
    p.set_defaults(func=run_store)


def run_store(args: argparse.Namespace) -> int:
    from city.pgcluster import PgCluster, PgError
    from city.store import CityStore, CityStoreError, month_start, next_month

    cluster = None
    conninfo = args.city_store
    stop = stop_on_signals()
    try:
        if args.cluster:
            cluster = PgCluster(args.cluster).start()
            conninfo = cluster.create_database(DEFAULT_DB)
        if not conninfo:
            print("onewindow city-store: give --city-store CONNINFO or --cluster DIR", flush=True)
            return 2
        store = CityStore(conninfo)
        store.create_schema()
        print(f"city store ready: {conninfo}", flush=True)
        while True:
            try:
                n = store.refresh_summary()
                store.ensure_partitions([next_month(month_start(date.today()))])
                if n:
                    log.info("daily summary refreshed for %d site-days", n)
            except CityStoreError as exc:
                log.warning("%s; trying again in %.0f s", exc, args.refresh_every)
            if args.once or stop.wait(args.refresh_every):
                break
        store.close()
        return 0
    except (PgError, CityStoreError) as exc:
        print(f"onewindow city-store: {exc}", flush=True)
        return 1
    finally:
        if cluster is not None:
            cluster.stop()
