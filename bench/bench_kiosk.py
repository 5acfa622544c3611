"""The kiosk as a citizen feels it: tap "take a number" -> the number on screen; cold start -> first frame.

    python -m bench kiosk [--repeat 60] [--runs 3]

Starts a managed Mosquitto on a free loopback port, `onewindow server --always-open` as a child process
and a fake thermal printer on TCP, then runs the real Kivy kiosk app offscreen in a fresh process
(`python -m kiosk.tour --script bench`) `--runs` times. In each run, simulated touches go through Kivy's
input pipeline: business type B -> "take a number" (the ticket only) `--repeat` times, then B -> its first
item -> "take a number" (ticket and notice slip) `--repeat/2` times. Tap -> number is from the touch to the
first frame drawn with the number: the kiosk shows it as soon as the server's reply is in, while the ticket
prints (and withdraws it on screen if the printer fails); tap -> printed is reported beside it. Cold start: process launch -> first frame, and -> the home screen drawn
with the hall's business types (connected, site state received). Targets: tap -> number p99 < 150 ms,
cold start < 3 s. Prints a table, then ONE JSON line with unit-carrying names.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broker.mosquitto import ManagedBroker  # noqa: E402
from hardware.fakes.printer import FakePrinter  # noqa: E402
from kiosk.tour import run_tour  # noqa: E402
from onewindow.config import sample_path  # noqa: E402
from onewindow.process import ServerChild  # noqa: E402
from onewindow.stats import quantile  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench kiosk", description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=60, help="numbers taken per run (ticket only)")
    p.add_argument("--runs", type=int, default=3, help="kiosk processes started (cold starts measured)")
    args = p.parse_args(argv)
    state = tempfile.mkdtemp(prefix="onewindow-bench-kiosk-")
    broker = ManagedBroker(state, port=0, host="127.0.0.1").start()
    server = printer = None
    taps, slips, first, home, issued, printed, redraws = [], [], [], [], [], [], []
    try:
        # `--open`: an anonymous loopback broker and a kiosk named freely, so no roles and no kiosk throttle
        # (a benchmark takes numbers far faster than people walk up to a kiosk)
        server = ServerChild(broker.url, Path(state) / "q.db", sample_path(), always_open=True,
                             extra_args=["--open"]).start()
        printer = FakePrinter(paper_mm=80, transport="tcp", name="bench").start()
        for run in range(args.runs):
            r = run_tour(["--broker", broker.url, "--printer", printer.url, "--script", "bench",
                          "--repeat", str(args.repeat)], Path(state) / f"run{run}.json", timeout=300)
            if r["errors"] or r.get("not_issued"):
                print("the kiosk run failed:", (r["errors"] or r["not_issued"])[0], file=sys.stderr)
                return 1
            taps += r["tap_to_number_ms"]
            slips += r["tap_to_number_slip_ms"]
            issued += r.get("tap_to_issued_ms", [])
            printed += r.get("tap_to_printed_ms", [])
            redraws += r.get("redraw_ms", [])
            first.append(r["first_frame_at"] - r["launched_at"])
            home.append(r["home_ready_at"] - r["launched_at"])
            printer.roll.clear()
    finally:
        for closer in (printer.stop if printer else None, server.stop if server else None, broker.stop):
            if closer:
                closer()
        shutil.rmtree(state, ignore_errors=True)
    result = {
        "tap_to_number_p50_ms": round(statistics.median(taps), 1),
        "tap_to_number_p99_ms": round(quantile(taps, 0.99), 1),
        "tap_to_number_max_ms": round(max(taps), 1),
        "tap_to_number_with_slip_p50_ms": round(statistics.median(slips), 1),
        "tap_to_number_with_slip_p99_ms": round(quantile(slips, 0.99), 1),
        "cold_start_first_frame_max_s": round(max(first), 2),
        "cold_start_first_frame_median_s": round(statistics.median(first), 2),
        "cold_start_home_ready_max_s": round(max(home), 2),
        "tap_to_server_reply_p50_ms": round(statistics.median(issued), 1),
        "tap_to_server_reply_p99_ms": round(quantile(issued, 0.99), 1),
        "tap_to_printed_p50_ms": round(statistics.median(printed), 1),
        "tap_to_printed_p99_ms": round(quantile(printed, 0.99), 1),
        "redraw_p50_ms": round(statistics.median(redraws), 1),
        "redraw_p99_ms": round(quantile(redraws, 0.99), 1),
        "numbers_taken": len(taps) + len(slips),
        "runs": args.runs,
    }
    print(f"tap -> number on screen, ticket only ({len(taps)}): p50 {result['tap_to_number_p50_ms']} ms, "
          f"p99 {result['tap_to_number_p99_ms']} ms, max {result['tap_to_number_max_ms']} ms (target p99 < 150)")
    print(f"tap -> number on screen, ticket + notice slip ({len(slips)}): p50 "
          f"{result['tap_to_number_with_slip_p50_ms']} ms, p99 {result['tap_to_number_with_slip_p99_ms']} ms")
    print(f"  of which tap -> server's reply p50 {result['tap_to_server_reply_p50_ms']} ms, p99 "
          f"{result['tap_to_server_reply_p99_ms']} ms; a redraw p50 {result['redraw_p50_ms']} ms, p99 "
          f"{result['redraw_p99_ms']} ms; tap -> ticket printed p50 {result['tap_to_printed_p50_ms']} ms")
    print(f"cold start -> first frame: median {result['cold_start_first_frame_median_s']} s, max "
          f"{result['cold_start_first_frame_max_s']} s (target < 3); -> home screen ready: max "
          f"{result['cold_start_home_ready_max_s']} s")
    print(json.dumps(result))
    ok = result["tap_to_number_p99_ms"] < 150 and result["cold_start_first_frame_max_s"] < 3
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
