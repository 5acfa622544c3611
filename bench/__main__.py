"""`python -m bench` lists the benchmarks; `python -m bench NAME [options]` runs one."""
from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "issue": ("bench.bench_issue", "ticket issue through the server vs a bare echo: round trip and throughput"),
    "mqtt": ("bench.mqtt_load", "echo threading patterns (network thread / worker / select loop), QoS 0 and 1"),
    "print": ("bench.bench_print", "time to build the ESC/POS bytes of a ticket and a notice slip, both text modes"),
    "reports": ("bench.bench_reports", "a month's manager report of a busy county hall (~250k events) from the SQLite log"),
    "console-live": ("bench.bench_console_live", "manager page in Chromium: state/call event -> page updated (p50/p99)"),
    "kiosk": ("bench.bench_kiosk", "kiosk app: tap -> number on screen through broker and server; cold start"),
    "clerk": ("bench.bench_clerk", "call pad key -> pad display through the bridge, Mosquitto and the server (p99)"),
    "appointments": ("bench.bench_appointments", "the appointment book in the engine: book, slot query, check-in, "
                                                 "tick, replay"),
    "city": ("bench.bench_city", "city tier: events/s into the city store from N halls, a late city subscriber "
                                 "whole for N halls, the city report over a month"),
    "display": ("bench.bench_display", "hall display: call -> screen updated through Mosquitto, frame time while a "
                                       "call animates (Kivy offscreen)"),
    "dispatch": ("sim.report", "simulated days: Erlang C at 60-95% load, skills vs same-rule pooled, priority, "
                               "forecast vs scaled naive, what-if on fresh days"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "list"):
        print("Benchmarks (python -m bench NAME [--help]):")
        for name, (_, what) in BENCHMARKS.items():
            print(f"  {name:8s} {what}")
        return 0
    if argv[0] not in BENCHMARKS:
        print(f"unknown benchmark {argv[0]!r}; choose from {', '.join(BENCHMARKS)}")
        return 2
    module = importlib.import_module(BENCHMARKS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
