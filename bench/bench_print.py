"""How long the kiosk takes to build the ESC/POS bytes of a ticket and of a notice slip.

    python -m bench.bench_print [--runs 500] [--paper 80]     (or: python bench/bench_print.py)

Each run lays out the document from the site data and renders it to bytes, for both text modes:
`gb18030` (printer with a Chinese font) and `image` (Chinese drawn with Pillow, glyphs cached after first
use). QR codes are native (GS ( k) unless the name says `rasterqr` (drawn as a picture). The slip is the
catalogue's longest item. Prints a table, then ONE JSON line with unit-carrying names.
Targets: a ticket under 5 ms, a slip under 20 ms (p99).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hardware.printing import layouts, render as render_mod  # noqa: E402
from hardware.printing.config import PrinterProfile  # noqa: E402
from hardware.printing.render import render  # noqa: E402
from hardware.printing.samples import sample_ticket, sample_time  # noqa: E402
from onewindow import config  # noqa: E402
from onewindow.stats import quantile  # noqa: E402


def measure(build, runs: int) -> tuple[list[float], int]:
    times, size = [], 0
    for i in range(runs):
        t = time.perf_counter()
        size = len(build(i))
        times.append((time.perf_counter() - t) * 1000)
    return times, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench_print", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=500, help="runs per case (default 500)")
    ap.add_argument("--paper", type=int, choices=(58, 80), default=80)
    ap.add_argument("--lang", choices=("zh", "en"), default="zh")
    args = ap.parse_args(argv)
    site = config.load(config.sample_path("county-hall"))
    item = site.catalogue.longest_item()
    now = sample_time(site)
    base = sample_ticket(site, item, now)

    def ticket(i: int) -> dict:  # a different number (and QR code) every run
        number = f"{item.business_type}{i % 999 + 1:03d}"
        return {**base, "number": number, "id": f"{site.site_id}:{base['service_day']}:{number}", "ahead": i % 50}

    profiles = {
        "gb18030": PrinterProfile(args.paper, "gb18030", native_qr=True),
        "image": PrinterProfile(args.paper, "image", native_qr=True),
        "image_rasterqr": PrinterProfile(args.paper, "image", native_qr=False),
    }
    render_mod.glyph.cache_clear()
    t = time.perf_counter()
    render(layouts.notice_slip(site, item, now, args.lang, args.paper), profiles["image"])
    cold_ms = (time.perf_counter() - t) * 1000

    figures: dict[str, float | int] = {}
    rows = []
    for mode, profile in profiles.items():
        cases = [("ticket", lambda i, p=profile: render(layouts.ticket(site, ticket(i), args.lang, args.paper), p))]
        if mode != "image_rasterqr":
            cases.append(("slip", lambda i, p=profile: render(layouts.notice_slip(site, item, now, args.lang,
                                                                                   args.paper), p)))
        for what, build in cases:
            build(0)  # warm up (glyph cache, imports)
            times, size = measure(build, args.runs)
            p50, p99 = statistics.median(times), quantile(times, 0.99)
            key = f"{what}_{mode}"
            figures[f"{key}_ms_p50"] = round(p50, 3)
            figures[f"{key}_ms_p99"] = round(p99, 3)
            figures[f"{key}_bytes"] = size
            rows.append((what, mode, p50, p99, size))
    figures["slip_image_cold_ms"] = round(cold_ms, 2)
    figures["runs"] = args.runs
    figures["paper_mm"] = args.paper

    print(f"Building ESC/POS bytes (layout + render), {args.runs} runs each, {args.paper} mm, {args.lang}, "
          f"slip of {item.code} ({len(item.materials)} materials)")
    print(f"{'document':8s} {'text mode':16s} {'p50 ms':>8s} {'p99 ms':>8s} {'bytes':>8s}  target")
    for what, mode, p50, p99, size in rows:
        target = 5.0 if what == "ticket" else 20.0
        verdict = "ok" if p99 < target else "OVER"
        print(f"{what:8s} {mode:16s} {p50:8.3f} {p99:8.3f} {size:8d}  <{target:g} ms {verdict}")
    print(f"first image-mode slip with an empty glyph cache: {cold_ms:.1f} ms")
    print(json.dumps(figures, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
