"""How long a manager waits for a month's report of a busy county hall.

A month of events is made by the simulation harness (the real engine in simulated time; `sim/`): a
busy county hall (the sample hall's 12 windows twice over, 2.8 x the county profile's 800 cases a
day); a few distinct simulated days are laid over every weekday of November 2026 and written to a
SQLite log through `queue_server.store.Store`, exactly as the server writes it. Then
`console.reports.build_report` runs over the whole month (and over one day), several times, each
on a fresh read-only connection, plus the CSV export of the per-ticket table.

    python -m bench reports [--scale 2.8] [--seeds 4] [--runs 5]

Ends with one JSON line: events, tickets, month_report_ms_median/max, month_report_cpu_ms_median,
day_report_ms_median, month_csv_ms.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from console import reports
from queue_server.store import Store
from sim.harness import Simulation
from sim.profiles import SIM_DAY, county_profile, county_site, hall

MONTH = "2026-11"


class RecordingSimulation(Simulation):
    """The harness, keeping every event the engine emits."""

    def __init__(self, *args, **kwargs):
        self.events: list[dict] = []
        super().__init__(*args, **kwargs)

    def do(self, command: str, **args) -> dict:
        self.commands += 1
        events, reply = self.engine.handle(command, args, self.now)
        self.events.extend(events)
        return reply


def busy_county_hall():
    """The sample county hall's window pattern twice over (24 windows), its business types and
    service times, under the county's site id."""
    county = county_site()
    service = {b.prefix: b.service_minutes for b in county.business_types}
    return hall([list(w.serves) for w in county.windows] * 2, service_minutes=service, site_id=county.site_id)


def simulated_days(scale: float, seeds: int) -> list[list[dict]]:
    site = busy_county_hall()
    days = []
    for seed in range(1, seeds + 1):
        sim = RecordingSimulation(site, county_profile().scaled(scale), seed=seed, estimates=False)
        sim.run()
        days.append(sim.events)
    return days


def moved(events: list[dict], to_day: date) -> list[dict]:
    """The same day's events on another date (Asia/Shanghai has no daylight saving)."""
    shift = (to_day - SIM_DAY).days * 86400.0
    old, new = SIM_DAY.isoformat(), to_day.isoformat()
    out = []
    for e in events:
        e = dict(e, at=e["at"] + shift, day=new)
        for key in ("ticket",):
            if isinstance(e.get(key), str):
                e[key] = e[key].replace(f":{old}:", f":{new}:")
        out.append(e)
    return out


def write_month(path: Path, days: list[list[dict]], all_week: bool = False) -> int:
    site = county_site()
    store = Store(path, site.site_id, site.timezone, checkpoint_rows=0)
    first, last = reports.month_range(MONTH)
    d, n, count = date.fromisoformat(first), 0, 0
    while d <= date.fromisoformat(last):
        if d.weekday() < 5 or all_week:
            events = moved(days[n % len(days)], d)
            store.commit([(e, None) for e in events], [])
            count += len(events)
            n += 1
        d += timedelta(days=1)
    store.close()
    return count


def timed(fn, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each run (CPU time shows the work itself on a busy machine)."""
    wall, cpu = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - began) * 1000.0)
        cpu.append((time.process_time() - began_cpu) * 1000.0)
    return wall, cpu


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench reports", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=2.8, help="times the county profile's 800 cases a day")
    ap.add_argument("--seeds", type=int, default=4, help="distinct simulated days laid over the month")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    site_id = county_site().site_id
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        db = Path(tmp) / "month.db"
        began = time.perf_counter()
        count = write_month(db, simulated_days(args.scale, args.seeds))
        print(f"wrote {count:,} events of {MONTH} in {time.perf_counter() - began:.1f} s (simulated)")
        first, last = reports.month_range(MONTH)

        def month():
            conn = reports.open_readonly(str(db))
            try:
                return reports.build_report(conn, site_id, first, last)
            finally:
                conn.close()

        def day():
            conn = reports.open_readonly(str(db))
            try:
                return reports.build_report(conn, site_id, "2026-11-16")
            finally:
                conn.close()

        report = month()
        month_ms, month_cpu = timed(month, args.runs)
        day_ms, _ = timed(day, args.runs)
        conn = reports.open_readonly(str(db))
        began = time.perf_counter()
        text = reports.to_csv(reports.build_report(conn, site_id, first, last, with_tickets=True), "tickets")
        csv_ms = (time.perf_counter() - began) * 1000.0
        conn.close()
    s = report.summary
    print(f"month {first}..{last}: {s['tickets']:,} tickets, {s['served']:,} served, wait p90 "
          f"{s['wait_p90_min']} min, {s['within_target_share']} within 30 min")
    print(f"month report: median {statistics.median(month_ms):.0f} ms, max {max(month_ms):.0f} ms "
          f"over {args.runs} runs (target under 1000 ms); CPU time median {statistics.median(month_cpu):.0f} ms")
    print(f"day report: median {statistics.median(day_ms):.1f} ms; month per-ticket CSV "
          f"({len(text) // 1024} KiB): {csv_ms:.0f} ms")
    print(json.dumps({"events": count, "tickets": s["tickets"],
                      "month_report_ms_median": round(statistics.median(month_ms), 1),
                      "month_report_ms_max": round(max(month_ms), 1),
                      "month_report_cpu_ms_median": round(statistics.median(month_cpu), 1),
                      "day_report_ms_median": round(statistics.median(day_ms), 1),
                      "month_csv_ms": round(csv_ms, 1)}))
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
