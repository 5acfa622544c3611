"""`onewindow city-store`, `onewindow city-broker`, `onewindow bridge-city`, `onewindow city-console`: the city
tier's processes."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from contextlib import contextmanager
from datetime import date

log = logging.getLogger("onewindow.city")

DEFAULT_DB = "onewindow_city"


def register(sub) -> None:
    register_store(sub)
    register_bus(sub)
    register_bridge(sub)
    register_console(sub)


def add_store_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--city-store", metavar="CONNINFO", default=os.environ.get("ONEWINDOW_CITY_STORE"),
                   help="PostgreSQL conninfo of the city store, e.g. 'host=db1 dbname=onewindow_city "
                        "user=city' (env ONEWINDOW_CITY_STORE; a password in PGPASSWORD or ~/.pgpass)")


@contextmanager
def stop_on_signals():
    """An event set by SIGTERM or SIGINT while the block runs (the previous handlers come back after)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
    with stop_on_signals() as stop:
        return _run_store(args, stop)


def _run_store(args: argparse.Namespace, stop: threading.Event) -> int:
    from city.pgcluster import PgCluster, PgError
    from city.store import CityStore, CityStoreError, month_start, next_month

    cluster = None
    conninfo = args.city_store
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


# --- onewindow city-broker --------------------------------------------------------------------------

def register_bus(sub) -> None:
    p = sub.add_parser("city-broker", help="run the city bus: a supervised NATS cluster with MQTT",
                       description="Write the configuration of a NATS cluster (JetStream + MQTT listener, one "
                                   "user and password), start its nodes on 127.0.0.1, restart any node that "
                                   "dies, and print each node's MQTT URL once it accepts a real MQTT connect. "
                                   "With --existing, only probe the nodes of an existing city bus.")
    p.add_argument("--nodes", type=int, default=1, help="cluster size (default 1; 3 for production)")
    p.add_argument("--state-dir", default="var/city-bus", help="configuration, JetStream data, logs, password")
    p.add_argument("--username", default=os.environ.get("ONEWINDOW_CITY_BUS_USERNAME", "city"),
                   help="the bus user (default city; env ONEWINDOW_CITY_BUS_USERNAME)")
    p.add_argument("--password", default=os.environ.get("ONEWINDOW_CITY_BUS_PASSWORD"),
                   help="its password (env ONEWINDOW_CITY_BUS_PASSWORD; default: made once, kept in "
                        "STATE_DIR/password)")
    p.add_argument("--tls", action="store_true",
                   help="MQTT over TLS: a bus CA and certificate are made once in STATE_DIR/tls; give clients "
                        "STATE_DIR/tls/ca.crt")
    p.add_argument("--ca", metavar="FILE", help="with --existing: the bus CA for mqtts:// URLs")
    p.add_argument("--existing", metavar="URLS", help="probe these MQTT URLs (comma separated) and exit")
    p.set_defaults(func=run_bus)


def run_bus(args: argparse.Namespace) -> int:
    from city.failover import parse_nodes
    from city.nats import mqtt_probe

    if args.existing:
        failed = 0
        for node in parse_nodes(args.existing, args.username, args.password, ca=args.ca):
            problem = mqtt_probe(node, timeout=3.0)
            print(f"{node.url}: {'ready' if problem is None else problem}", flush=True)
            failed += problem is not None
        return 1 if failed else 0
    with stop_on_signals() as stop:
        return _run_bus(args, stop)


def _run_bus(args: argparse.Namespace, stop: threading.Event) -> int:
    from city.nats import BusError, CityBus
    try:
        bus = CityBus(args.state_dir, nodes=args.nodes, username=args.username, password=args.password,
                      tls=args.tls).start()
    except BusError as exc:
        print(f"onewindow city-broker: {exc}", flush=True)
        return 1
    print(f"city bus ready: {','.join(bus.urls)} (user {bus.username}, password in "
          f"{bus.state_dir / 'password'} unless given{', CA ' + str(bus.ca_path) if bus.tls else ''})", flush=True)
    try:
        stop.wait()
    finally:
        bus.stop()
    return 0


# --- onewindow bridge-city --------------------------------------------------------------------------

def register_bridge(sub) -> None:
    from onewindow.broker import add_broker_arguments
    from onewindow.config import add_config_argument

    p = sub.add_parser("bridge-city", help="link a hall to the city: its event log and live state",
                       description="Forward the hall's complete event log from its SQLite file to the city "
                                   "store (acknowledged batch by batch, resumed from the city's mark after any "
                                   "outage), and its live retained state and calls from the hall broker to the "
                                   "city bus (each node tried in turn). The hall never waits for it.")
    add_config_argument(p)
    add_broker_arguments(p, default="mqtt://127.0.0.1:1883")
    p.add_argument("--db", default=None, help="the hall's SQLite event log (default: var/<site id>.db)")
    add_store_arguments(p)
    p.add_argument("--city-bus", metavar="URLS", default=os.environ.get("ONEWINDOW_CITY_BUS"),
                   help="MQTT URLs of the city bus nodes, comma separated (env ONEWINDOW_CITY_BUS)")
    p.add_argument("--city-username", default=os.environ.get("ONEWINDOW_CITY_BUS_USERNAME"),
                   help="city bus user (env ONEWINDOW_CITY_BUS_USERNAME)")
    p.add_argument("--city-password", default=os.environ.get("ONEWINDOW_CITY_BUS_PASSWORD"),
                   help="city bus password (env ONEWINDOW_CITY_BUS_PASSWORD)")
    p.add_argument("--city-ca", default=os.environ.get("ONEWINDOW_CITY_BUS_CA"), metavar="FILE",
                   help="the city bus CA for mqtts:// nodes (env ONEWINDOW_CITY_BUS_CA)")
    p.add_argument("--batch", type=int, default=1000, help="events per batch to the city store (default 1000)")
    p.add_argument("--republish-every", type=float, default=30.0, metavar="SECONDS",
                   help="publish the hall's whole retained state to the city bus again this often, besides "
                        "after every reconnect (default 30)")
    p.set_defaults(func=run_bridge)


def run_bridge(args: argparse.Namespace) -> int:
    from onewindow.config import site_or_report

    site = site_or_report(args)
    if site is None:
        return 1
    if not args.city_store and not args.city_bus:
        print("onewindow bridge-city: give --city-store CONNINFO and/or --city-bus URLS", flush=True)
        return 2
    with stop_on_signals() as stop:
        return _run_bridge(args, site, stop)


def _run_bridge(args: argparse.Namespace, site, stop: threading.Event) -> int:
    from pathlib import Path

    from city.bridge import LiveForwarder, LogForwarder
    from city.failover import FailoverTransport, parse_nodes
    from city.store import CityStore
    from onewindow.broker import settings_from_args
    from onewindow.mqtt import MqttTransport

    threads, closers = [], []
    if args.city_bus:
        try:
            hall_settings, nodes = settings_from_args(args), parse_nodes(args.city_bus, args.city_username,
                                                                         args.city_password, ca=args.city_ca)
        except ValueError as exc:
            print(f"onewindow bridge-city: {exc}", flush=True)
            return 2
        hall = MqttTransport(hall_settings, site.site_id, f"city-bridge-{site.site_id}",
                             role="city-bridge")
        city = FailoverTransport(nodes, site.site_id, f"city-bridge-{site.site_id}", role="city-bridge")
        live = LiveForwarder(hall, city, site.site_id)
        city.start(timeout=None)
        hall.start(timeout=None)
        closers += [hall.stop, city.stop]
        t = threading.Thread(target=live.run, args=(stop, args.republish_every), daemon=True, name="city-live")
        t.start()
        threads.append(t)
    if args.city_store:
        store = CityStore(args.city_store)
        forwarder = LogForwarder(Path(args.db or f"var/{site.site_id}.db"), site.site_id, store,
                                 batch=args.batch, site_info=(site.name, site.level))
        t = threading.Thread(target=forwarder.run, args=(stop,), daemon=True, name="city-log")
        t.start()
        threads.append(t)
        closers += [forwarder.close, store.close]
    print(f"city bridge ready: site {site.site_id}", flush=True)
    stop.wait()
    for t in threads:
        t.join(5)
    for close in closers:
        close()
    return 0


# --- onewindow city-console -------------------------------------------------------------------------

def register_console(sub) -> None:
    p = sub.add_parser("city-console", help="the web console's city view: every hall live, city reports",
                       description="Serve the city view of the web console: sign-in, the city page (every hall's "
                                   "live queues, waits, windows and device alarms from the city bus, by level, "
                                   "drill down to a hall) and the city reports from the city store. For managers "
                                   "and admins. It has no hall broker, so the hall's own pages (clerk, manager, "
                                   "ticket page) are not served here and nobody signs in at a window; run "
                                   "`onewindow console` in the hall for those. Accounts come from the same users "
                                   "file as the console's (`onewindow console add-user NAME --role manager`).")
    p.add_argument("--city-nodes", metavar="URLS", default=os.environ.get("ONEWINDOW_CITY_BUS"),
                   help="MQTT URLs of the city bus nodes, comma separated, tried in turn (env ONEWINDOW_CITY_BUS)")
    p.add_argument("--city-db", metavar="CONNINFO", default=os.environ.get("ONEWINDOW_CITY_STORE"),
                   help="PostgreSQL conninfo of the city store for the reports (env ONEWINDOW_CITY_STORE; "
                        "without it the reports say the store is missing)")
    p.add_argument("--city-username", default=os.environ.get("ONEWINDOW_CITY_BUS_USERNAME"),
                   help="city bus user (env ONEWINDOW_CITY_BUS_USERNAME)")
    p.add_argument("--city-password", default=os.environ.get("ONEWINDOW_CITY_BUS_PASSWORD"),
                   help="city bus password (env ONEWINDOW_CITY_BUS_PASSWORD)")
    p.add_argument("--city-ca", default=os.environ.get("ONEWINDOW_CITY_BUS_CA"), metavar="FILE",
                   help="the city bus CA for mqtts:// nodes (env ONEWINDOW_CITY_BUS_CA)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8090, help="port (default: 8090)")
    p.add_argument("--users", default="var/console-users.db", help="users file (default: var/console-users.db)")
    p.add_argument("--secret-file", default="var/city-console-secret",
                   help="session signing key, made on first use (default: var/city-console-secret)")
    p.add_argument("--client-id", default="city-console", help="client id on the city bus (default: city-console)")
    p.add_argument("--session-hours", type=float, default=12.0, help="sign-in lifetime (default: 12)")
    p.add_argument("--secure-cookies", action="store_true", help="send the session cookie over HTTPS only")
    p.set_defaults(func=run_console)


def build_console(args: argparse.Namespace):
    """The CityConsole the arguments describe (not started); ValueError for bad node URLs."""
    from city.failover import parse_nodes
    from city.viewer import CityConsole
    from console.runner import load_secret

    nodes = parse_nodes(args.city_nodes or "", args.city_username, args.city_password, ca=args.city_ca)
    return CityConsole(nodes, args.city_db, args.users, host=args.host, port=args.port, client_id=args.client_id,
                       secret=load_secret(args.secret_file), session_ttl=args.session_hours * 3600,
                       secure_cookies=args.secure_cookies)


def run_console(args: argparse.Namespace) -> int:
    if not args.city_nodes:
        print("onewindow city-console: give --city-nodes URLS (the city bus)", flush=True)
        return 2
    if not os.path.exists(args.users):
        print(f"onewindow city-console: no users file at {args.users}: create an account first with "
              f"`onewindow console add-user NAME --role manager --users {args.users}`", flush=True)
        return 2
    try:
        console = build_console(args)
    except ValueError as exc:
        print(f"onewindow city-console: {exc}", flush=True)
        return 2
    print(f"city console: {console.url}/city (city bus {args.city_nodes}"
          f"{', city store ' + args.city_db if args.city_db else ', no city store'})", flush=True)
    console.serve()
    return 0
