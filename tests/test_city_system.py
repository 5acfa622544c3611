"""The city tier end to end: three halls with their own brokers, servers and SQLite logs, their bridges
to a 3-node city bus and a PostgreSQL city store. During a busy hour the city link is cut, a bus node is
killed, a bridge is killed and started again and the city store crashes and restarts; the halls keep
issuing, calling and printing all along. Afterwards the city store holds every event of every hall
exactly once, and the city's live view shows each hall as the hall shows itself."""
from __future__ import annotations

import random
import sqlite3
import tempfile
import threading

import pytest

from broker.mosquitto import ManagedBroker
from city.failover import FailoverTransport
from city.live import CityLive
from city.store import CityStore, CityStoreError
from hardware.fakes.printer import FakePrinter
from hardware.printing.config import printer_from_url
from hardware.printing.station import PrintStation
from kiosk.ticketing import TicketDesk
from onewindow import config
from onewindow.client import QueueClient
from onewindow.mirror import StateMirror
from onewindow.mqtt import MqttTransport
from queue_server.server import QueueServer
from queue_server.store import Store
from tests.city_fixtures import BridgeChild, LinkProxy, write_hall_config
from tests.support import wait_until

HALLS = [("city-hall-a", "county", "county-hall"), ("city-hall-b", "township", "county-hall"),
         ("city-hall-c", "village", "village-point")]


class Hall:
    """One hall: its own Mosquitto, queue server (in this process), SQLite log, a kiosk and a clerk."""

    def __init__(self, directory, site_id: str, level: str, sample: str):
        self.config_path = write_hall_config(directory / "sites", site_id, level, sample)
        self.site = config.load(self.config_path)
        self.site_id = site_id
        self.broker = ManagedBroker(tempfile.mkdtemp(prefix="onewindow-hall-"), port=0).start()
        self.db = directory / f"{site_id}.db"
        self.store = Store(self.db, site_id, self.site.timezone)
        self.transport = MqttTransport(self.broker.settings, site_id, f"server-{site_id}", role="server",
                                       idle_interval=0.25)
        self.server = QueueServer(self.site, self.store, self.transport, always_open=True)
        self.server.start()
        self.transport.start()
        self.clients = [MqttTransport(self.broker.settings, site_id, name, role=role).start()
                        for name, role in (("kiosk-1", "kiosk"), ("clerk-1", "window"), ("view", "console"))]
        self.kiosk = QueueClient(self.clients[0], site_id, "kiosk-1", timeout=3)
        self.clerk = QueueClient(self.clients[1], site_id, "clerk-1", timeout=3)
        self.mirror = StateMirror(self.clients[2], site_id)
        self.rng = random.Random(site_id)
        self.signed_in = False
        self.issued = 0

    def busy(self, tickets: int) -> list[dict]:
        """A burst of the busy hour: tickets issued, called, served and rated; every reply."""
        replies = []
        types = [b.prefix for b in self.site.business_types]
        windows = [w.number for w in self.site.windows][:3]
        if not self.signed_in:
            replies += [self.clerk.window("sign_in", w, f"clerk{w}") for w in windows]
            self.signed_in = True
        for i in range(tickets):
            reply = self.kiosk.issue(types[i % len(types)])
            replies.append(reply)
            self.issued += reply["ok"]
            if i % 2:
                w = windows[i % len(windows)]
                call = self.clerk.window("call_next", w, f"clerk{w}")
                if call["ok"]:
                    replies += [self.clerk.window("start", w, f"clerk{w}"), self.clerk.window("finish", w, f"clerk{w}"),
                                self.clerk.request("rate", ticket=call["ticket"]["id"], window=w,
                                                   score=self.rng.choice([5, 5, 4, 1]))]
        return replies

    def event_ids(self) -> list[str]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return [r[0] for r in conn.execute("SELECT id FROM events WHERE site_id = ? ORDER BY seq", (self.site_id,))]

    def count(self, event_type: str) -> int:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM events WHERE type = ?", (event_type,)).fetchone()[0]

    def view(self, mirror: StateMirror | None) -> tuple:
        """What a city manager compares: waiting per business type, issued today, each window's state."""
        if mirror is None:
            return ()
        return ({p: (q.get("waiting"), q.get("issued_today")) for p, q in mirror.queues.items()},
                {n: w.get("state") for n, w in mirror.windows.items()})

    def close(self) -> None:
        for t in self.clients:
            t.stop()
        self.transport.stop()
        self.server.stop()
        self.store.close()
        self.broker.stop()


def all_busy(halls: list[Hall], tickets: int) -> None:
    """Every hall's burst at once; every command must be answered and accepted as it would be alone."""
    failures: list[str] = []

    def run(hall: Hall) -> None:
        try:
            for reply in hall.busy(tickets):
                if not reply.get("ok") and reply.get("error", {}).get("code") != "nobody_waiting":
                    failures.append(f"{hall.site_id}: {reply}")
        except Exception as exc:  # a timeout: the hall waited for something
            failures.append(f"{hall.site_id}: {exc!r}")
    threads = [threading.Thread(target=run, args=(h,)) for h in halls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures[:5]


def city_mark(store: CityStore, site: str) -> int | None:
    try:
        return store.mark(site)
    except CityStoreError:
        return None


@pytest.fixture
def city(tmp_path, city_bus, pg_cluster, city_db):
    """Three halls, their bridges to the city (through links a test can cut), and the city's live view."""
    store = CityStore(city_db)
    store.create_schema()
    pg_link = LinkProxy(str(pg_cluster.socket_dir / f".s.PGSQL.{pg_cluster.port}"))
    bus_links = [LinkProxy((s.host, s.port)) for s in city_bus.settings]
    halls = [Hall(tmp_path, *spec) for spec in HALLS]
    dbname = city_db.rsplit("dbname=", 1)[1]
    password = city_bus.password

    def bridge(hall: Hall) -> BridgeChild:
        return BridgeChild(["-c", str(hall.config_path), "--db", str(hall.db), "--broker", hall.broker.url,
                            "--city-store", f"host=127.0.0.1 port={pg_link.port} user=postgres dbname={dbname}",
                            "--city-bus", ",".join(f"mqtt://127.0.0.1:{link.port}" for link in bus_links),
                            "--city-username", city_bus.username, "--city-password", password,
                            "--batch", "50", "--republish-every", "2"]).start()
    bridges = {h.site_id: bridge(h) for h in halls}
    view = FailoverTransport(city_bus.settings, "city", "city-view-test", presence=False).start(30)
    live = CityLive(view)
    yield store, halls, bridges, bridge, [pg_link, *bus_links], live
    view.stop()
    for b in bridges.values():
        b.stop()
    for h in halls:
        h.close()
    for link in (pg_link, *bus_links):
        link.close()
    store.close()


def test_every_event_of_every_hall_reaches_the_city_once_through_cuts_kills_and_restarts(
        city, city_bus, pg_cluster, tmp_path):
    store, halls, bridges, bridge, links, live = city
    all_busy(halls, 12)

    # The city link is cut: every hall goes on issuing, calling and printing.
    for link in links:
        link.cut()
    all_busy(halls, 12)
    printer = FakePrinter(paper_mm=80, transport="tcp", name="kiosk-2").start()
    station = PrintStation(printer_from_url(printer.url, printer_id="main")).start()
    try:
        desk = TicketDesk(halls[0].site, halls[0].kiosk, station, kiosk_id="kiosk-1")
        outcome = desk.take_ticket("A")
        assert outcome.status == "issued", outcome
        printer.wait_idle()
        assert printer.find(outcome.ticket["number"]) is not None
        halls[0].issued += 1
    finally:
        station.stop()
        printer.stop()
    city_bus.kill(0)                    # a bus node dies (its supervisor starts it again)
    hall_b = halls[1].site_id
    bridges[hall_b].kill()              # a bridge dies and is started again, all while the link is down
    bridges[hall_b] = bridge(halls[1])
    all_busy(halls, 8)

    for link in links:                  # the link is back
        link.restore()
    all_busy(halls, 8)
    pg_cluster.kill()                   # the city store crashes ...
    all_busy(halls, 8)
    pg_cluster.start()                  # ... and comes back
    all_busy(halls, 6)

    # The city store is whole: every event of every hall, once.
    for hall in halls:
        last = hall.store.next_seq - 1
        assert wait_until(lambda: city_mark(store, hall.site_id) == last, 60), \
            (hall.site_id, city_mark(store, hall.site_id), last, bridges[hall.site_id].lines[-10:])
        ids = hall.event_ids()
        assert len(ids) == last > 100
        assert store.event_ids(hall.site_id) == ids
        assert store.count(hall.site_id) == len(ids)
        assert store.marks()[hall.site_id] == (last, len(ids))
    assert store.count() == sum(len(h.event_ids()) for h in halls)

    # The daily summary counts every ticket of every hall.
    store.refresh_summary()
    tickets = {}
    for row in store.summary_rows():
        tickets[row["site_id"]] = tickets.get(row["site_id"], 0) + row["tickets"]
    issued_in_halls = {h.site_id: h.count("ticket_issued") for h in halls}
    assert tickets == issued_in_halls == {h.site_id: h.issued for h in halls}, \
        (tickets, issued_in_halls, {h.site_id: h.issued for h in halls}, store.summary_rows())
    assert {s: v["level"] for s, v in store.sites().items()} == {h: lv for h, lv, _ in HALLS}

    # The city's live view shows each hall as the hall's own console sees it.
    for hall in halls:
        assert wait_until(lambda: sum(q["issued_today"] for q in hall.mirror.queues.values()) == hall.issued, 10), \
            (hall.site_id, hall.issued, hall.view(hall.mirror))
        assert wait_until(lambda: hall.view(live.mirror(hall.site_id)) == hall.view(hall.mirror), 30), \
            (hall.view(live.mirror(hall.site_id)), hall.view(hall.mirror))
    def table_shows_every_hall() -> bool:
        mine = {h.site_id for h in halls}  # the session's bus also carries other tests' halls
        rows = [r for r in live.table() if r["site"] in mine]
        return [r["site"] for r in rows] == [h.site_id for h in halls] and all(
            row["issued_today"] == hall.issued and row["level"] == level and
            row["waiting"] == sum(q["waiting"] for q in hall.mirror.queues.values())
            for row, hall, (_, level, _) in zip(rows, halls, HALLS))
    assert wait_until(table_shows_every_hall, 15), live.table()  # by level: county, township, village
