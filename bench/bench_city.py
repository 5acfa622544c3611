"""The city tier: events/s into the city store from N halls, a late city subscriber whole for N halls,
the city report over a month of N halls. Prints figures, then one JSON line.

    python -m bench city                       # 300 halls
    python -m bench city --halls 50 --quick    # smaller, for a laptop on battery
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from city.bridge import LogForwarder
from city.nats import CityBus
from city.failover import FailoverTransport
from city.pgcluster import PgCluster
from city.reports import city_report
from city.store import HIST_MINUTES, CityStore
from onewindow.topics import Topics
from queue_server.store import Store

TZ = ZoneInfo("Asia/Shanghai")
LEVELS = ["county"] * 20 + ["township"] * 40 + ["village"] * 30 + ["hospital", "pharmacy", "bank"] * 3


def hall_events(rng: random.Random, site: str, day: date, tickets: int) -> list[tuple[dict, str]]:
    """A hall's day in events as the engine writes them: issue, call, start, finish, rating."""
    t0 = datetime(day.year, day.month, day.day, 8, 30, tzinfo=TZ).timestamp()
    d, out = day.isoformat(), []
    for i in range(tickets):
        tid, at = f"{site}:{d}:A{i + 1:03d}", t0 + i * 30
        wait = rng.expovariate(1 / 600)
        out += [({"type": "ticket_issued", "at": at, "day": d, "ticket": tid, "number": f"A{i + 1:03d}",
                  "business_type": "A"}, f"k-{i}"),
                ({"type": "ticket_called", "at": at + wait, "day": d, "ticket": tid, "window": 1 + i % 4,
                  "waited": round(wait, 1)}, f"c-{i}"),
                ({"type": "service_started", "at": at + wait + 30, "day": d, "ticket": tid, "window": 1 + i % 4}, f"s-{i}"),
                ({"type": "service_finished", "at": at + wait + 400, "day": d, "ticket": tid, "window": 1 + i % 4}, f"f-{i}"),
                ({"type": "ticket_rated", "at": at + wait + 410, "day": d, "ticket": tid, "window": 1 + i % 4,
                  "score": rng.choice([5] * 40 + [1]), "bad": False}, f"r-{i}")]
    return out


def bench_store(base: Path, halls: int, tickets: int) -> tuple[dict, PgCluster, str]:
    pg = PgCluster(base / "pg", settings={"max_connections": str(halls + 50)}).start()
    conninfo = pg.create_database("bench_city")
    with CityStore(conninfo) as s:
        s.create_schema()
    rng, day = random.Random(7), date.today()
    dbs = []
    for h in range(halls):
        site = f"hall-{h:03d}"
        store = Store(base / "halls" / f"{site}.db", site)
        store.commit(hall_events(rng, site, day, tickets), [])
        store.close()
        dbs.append((site, base / "halls" / f"{site}.db"))
    total = halls * tickets * 5
    forwarders = [LogForwarder(db, site, CityStore(conninfo), batch=1000, site_info=(site, LEVELS[i % len(LEVELS)]))
                  for i, (site, db) in enumerate(dbs)]
    stop = threading.Event()
    started = time.perf_counter()
    threads = [threading.Thread(target=lambda f=f: _until_done(f, stop)) for f in forwarders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    elapsed = time.perf_counter() - started
    with CityStore(conninfo) as s:
        stored = s.count()
        t0 = time.perf_counter()
        s.refresh_summary()
        refresh_s = time.perf_counter() - t0
    for f in forwarders:
        f.close()
        f.store.close()
    return {"halls": halls, "events": total, "events_stored": stored,
            "store_events_per_s": round(total / elapsed), "summary_refresh_s": round(refresh_s, 2)}, pg, conninfo


def _until_done(forwarder: LogForwarder, stop: threading.Event) -> None:
    while forwarder.step():
        pass


def bench_month_report(conninfo: str, halls: int, days: int = 30) -> dict:
    """A month of daily summaries for every hall, then the reports a city manager asks for."""
    rng = random.Random(11)
    first = date.today().replace(day=1)
    with CityStore(conninfo) as s:
        s.conn.execute("DELETE FROM daily_summary")
        rows = []
        for h in range(halls):
            for d in range(days):
                hist = [0] * (HIST_MINUTES + 1)
                waits = [rng.expovariate(1 / 600) for _ in range(rng.randint(100, 400))]
                for w in waits:
                    hist[min(int(w // 60), HIST_MINUTES)] += 1
                rows.append((f"hall-{h:03d}", first + timedelta(days=d), len(waits), len(waits), len(waits), 0, 0,
                             sum(waits), None, hist, len(waits) // 2, rng.randint(0, 3)))
        with s.conn.cursor() as cur:
            cur.executemany("INSERT INTO daily_summary (site_id, day, tickets, called, served, missed, cancelled, "
                            "wait_sum_s, wait_p90_s, wait_hist, ratings, bad_ratings) VALUES "
                            "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", rows)
        timings = {}
        for by, period in (("level", "month"), ("site", "month"), ("site", "day")):
            t0 = time.perf_counter()
            out = city_report(s, by=by, period=period, refresh=False)
            timings[f"report_{by}_{period}_s"] = round(time.perf_counter() - t0, 3)
            timings[f"report_{by}_{period}_rows"] = len(out)
    return {"month_summary_rows": len(rows), **timings}


def bench_late_subscriber(base: Path, halls: int, topics_per_hall: int = 40) -> dict:
    with CityBus(base / "bus", nodes=3) as bus:
        publishers = [FailoverTransport(bus.settings[i % 3:] + bus.settings[:i % 3], f"pub{i}", f"bench-pub-{i}",
                                        presence=False).start(30) for i in range(4)]
        t0 = time.perf_counter()
        for h in range(halls):
            t = Topics(f"hall-{h:03d}")
            pub = publishers[h % len(publishers)]
            pub.publish(t.site, {"site": f"hall-{h:03d}", "level": LEVELS[h % len(LEVELS)],
                                 "service_day": "2026-11-23"}, retain=True)
            for w in range(topics_per_hall - 1):
                pub.publish(t.window(w + 1), {"window": w + 1, "state": "serving", "served_today": w}, retain=True)
        want = halls * topics_per_hall
        deadline = time.monotonic() + 120
        for attempt in range(1000):  # until a fresh subscriber finds every retained topic in the cluster
            check = _count_retained(bus, f"bench-check-{attempt}", want, 5)
            if check["count"] >= want or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        publish_s = time.perf_counter() - t0
        late = _count_retained(bus, "bench-late", want, 60, node=2)
        for p in publishers:
            p.stop()
    return {"retained_topics": want, "retained_in_cluster": check["count"], "publish_and_store_s": round(publish_s, 2),
            "late_subscriber_whole_s": late["seconds"], "late_subscriber_topics": late["count"],
            "late_view_halls": late["halls"]}


def _count_retained(bus: CityBus, client_id: str, want: int, timeout: float, node: int = 0) -> dict:
    transport = FailoverTransport(bus.settings[node:] + bus.settings[:node], "city", client_id, presence=False).start(30)
    seen: set[str] = set()
    lock = threading.Lock()
    done = threading.Event()

    def on_message(topic: str, payload: bytes) -> None:
        with lock:
            seen.add(topic)
            if len(seen) >= want:
                done.set()
    t0 = time.perf_counter()
    transport.subscribe(Topics("+").state_filter, on_message, qos=0)  # as CityLive subscribes
    done.wait(timeout)
    seconds = time.perf_counter() - t0
    halls = len({topic.split("/")[1] for topic in seen})
    transport.stop()
    return {"count": len(seen), "seconds": round(seconds, 2), "halls": halls}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench city", description=__doc__.split("\n")[0])
    p.add_argument("--halls", type=int, default=300)
    p.add_argument("--tickets", type=int, default=60, help="tickets per hall in the store test (5 events each)")
    p.add_argument("--quick", action="store_true", help="skip the month report and use fewer tickets")
    args = p.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="onewindow-bench-city-"))
    base.chmod(0o755)
    pg = None
    try:
        print(f"city store: {args.halls} halls x {args.tickets * 5} events, each hall's bridge at once ...", flush=True)
        store, pg, conninfo = bench_store(base, args.halls, args.tickets)
        print(f"  {store['events_stored']} events stored, {store['store_events_per_s']} events/s "
              f"(a 300-hall peak is ~370/s); daily summary refreshed in {store['summary_refresh_s']} s", flush=True)
        month = {} if args.quick else bench_month_report(conninfo, args.halls)
        if month:
            print(f"  city report over a month of {args.halls} halls ({month['month_summary_rows']} hall-days): "
                  f"by level and month {month['report_level_month_s']} s, by hall and month "
                  f"{month['report_site_month_s']} s, by hall and day {month['report_site_day_s']} s", flush=True)
        pg.stop()
        pg = None
        print(f"city bus: 3 nodes, {args.halls} halls x 40 retained topics ...", flush=True)
        bus = bench_late_subscriber(base, args.halls)
        print(f"  a late city subscriber had all {bus['late_subscriber_topics']} of {bus['retained_topics']} topics "
              f"({bus['late_view_halls']} halls) in {bus['late_subscriber_whole_s']} s (target < 3 s)", flush=True)
        result = {"bench": "city", **store, **month, **bus,
                  "store_headroom_x_300_hall_peak": round(store["store_events_per_s"] / 370, 1)}
        print(json.dumps(result))
        return 0
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(base, ignore_errors=True)
