"""The appointment book's cost inside the engine: booking, the slot query a booking page sends, check-in,
the engine's tick with a full book, and rebuilding the book by replaying its events (a restart).

    python -m bench appointments [--bookings N]

In-process (no broker): these are the engine's own costs, the part of a reply's time the book adds.
Ends with one JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date, datetime, time as clock_time, timedelta

from onewindow import config
from queue_server.engine import Engine


def _percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench appointments", description=__doc__.split("\n\n")[0])
    ap.add_argument("--bookings", type=int, default=3000, help="bookings to make over the horizon (default 3000)")
    args = ap.parse_args(argv)
    site = config.load(config.sample_path())
    engine = Engine(site)
    tz = site.tz
    monday = date(2026, 11, 23)
    now = datetime.combine(monday, clock_time(8, 0), tz).timestamp()
    engine.handle("issue", {"business_type": "B"}, now)
    prefixes = [p for p in "ACDEF" if site.appointments.bookable(p)]
    slots = [s for p in prefixes for i in range(14) for s in engine.book.slots_on(p, monday + timedelta(days=i))
             if s.start > now]
    events, book_ms, query_ms = [], [], []
    made = 0
    for n in range(args.bookings):
        slot = slots[n % len(slots)]
        holder = "".join("abcdefghijklmnop"[int(c, 16)] for c in f"{n:064x}")
        t0 = time.perf_counter()
        evs, reply = engine.handle("book", {"business_type": slot.business_type, "start": slot.start,
                                            "holder": holder}, now)
        book_ms.append((time.perf_counter() - t0) * 1000)
        events += evs
        made += reply["ok"]
        if n % 10 == 0:
            t0 = time.perf_counter()
            engine.query("appointment_slots", {"business_type": slot.business_type, "days": 7}, now)
            query_ms.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    for _ in range(1000):
        engine.tick(now)
    tick_us = (time.perf_counter() - t0) * 1e6 / 1000
    codes = [b.code for b in engine.book.bookings.values() if b.start - now < 3600 * 3]
    check_ms = []
    for code in codes[:200]:
        b = engine.book.bookings[code]
        t0 = time.perf_counter()
        engine.handle("check_in", {"code": code}, b.start - 600)
        check_ms.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    replayed = Engine(site)
    for e in events:
        replayed.apply(e)
    replay_ms = (time.perf_counter() - t0) * 1000
    result = {
        "bookings_made": made, "slots": len(slots),
        "book_p50_ms": round(statistics.median(book_ms), 3), "book_p99_ms": round(_percentile(book_ms, 0.99), 3),
        "slots_query_7_days_p50_ms": round(statistics.median(query_ms), 3),
        "check_in_p50_ms": round(statistics.median(check_ms), 3) if check_ms else None,
        "tick_idle_us": round(tick_us, 2), "replay_ms": round(replay_ms, 1),
    }
    print(f"{made} bookings in {len(slots)} slots of 14 days; book p50 {result['book_p50_ms']} ms, "
          f"p99 {result['book_p99_ms']} ms; a 7-day slot query p50 {result['slots_query_7_days_p50_ms']} ms; "
          f"check-in p50 {result['check_in_p50_ms']} ms; tick with nothing due {result['tick_idle_us']} µs; "
          f"replaying the book {result['replay_ms']} ms")
    print(json.dumps(result))
    return 0
