"""`onewindow what-if`: predict tomorrow's waits from expected arrivals and a staffing plan, and
suggest how many windows to open each hour to keep the p90 wait under a target.

Arrivals CSV: a header `hour,A,B,...` (business-type prefixes) and one row per clock hour with the
expected tickets of each type, e.g. `9,30,42,12,18,12,6`. Staffing CSV: `hour,windows`. Without
--arrivals, a county-hall weekday of --cases tickets is assumed; without --staffing, every window
works its configured hours.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys

from onewindow import config


def read_arrivals(path: str, prefixes: set[str]) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                hour = int(row.pop("hour"))
                counts = {p: float(v or 0) for p, v in row.items()}
            except (KeyError, TypeError, ValueError) as exc:
                raise SystemExit(f"{path}:{i}: expected hour,<prefix>... numbers ({exc})") from None
            unknown = set(counts) - prefixes
            if unknown:
                raise SystemExit(f"{path}: unknown business types {sorted(unknown)} (site has {sorted(prefixes)})")
            out[hour] = counts
    return out


def read_staffing(path: str) -> dict[int, int]:
    out: dict[int, int] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                out[int(row["hour"])] = int(row["windows"])
            except (KeyError, TypeError, ValueError) as exc:
                raise SystemExit(f"{path}:{i}: expected hour,windows integers ({exc})") from None
    return out


def run(args: argparse.Namespace) -> int:
    from sim import whatif

    site = config.load(args.site) if args.site else config.load(config.sample_path("county-hall"))
    prefixes = {b.prefix for b in site.business_types}
    arrivals = read_arrivals(args.arrivals, prefixes) if args.arrivals else whatif.county_arrivals(args.cases)
    if not args.arrivals and prefixes != set("ABCDEF"):
        raise SystemExit("this site does not have the county hall's business types A-F: give --arrivals")
    plan = read_staffing(args.staffing) if args.staffing else whatif.default_plan(site, list(arrivals))
    too_many = {h: n for h, n in plan.items() if n > len(site.windows)}
    if too_many:
        raise SystemExit(f"the site has {len(site.windows)} windows; the plan asks for more in hours {too_many}")
    out: dict = {"site": site.site_id, "target_p90_min": args.target}
    pred = whatif.predict(site, arrivals, plan, seeds=args.seeds)
    if not args.json:
        print(whatif.format_prediction(pred, f"{site.name_en or site.name}: "
                                             f"{'your plan' if args.staffing else 'every window at its hours'}"))
    out["plan"] = {str(h): n for h, n in sorted(plan.items())}
    out["prediction"] = _pred_json(pred)
    if not args.no_suggest:
        best, best_pred, ok = whatif.recommend(site, arrivals, args.target, seeds=args.seeds)
        out["suggested"] = {str(h): n for h, n in sorted(best.items())}
        out["suggested_prediction"] = _pred_json(best_pred)
        out["target_met"] = ok
        if not args.json:
            print()
            print(whatif.format_prediction(best_pred, f"suggested: windows per hour for p90 under {args.target:g} min"
                                           + ("" if ok else " (NOT reachable with this hall's windows)")))
            print("order windows open in: " + ", ".join(str(n) for n in whatif.staffing_order(site, arrivals)))
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    return 0


def _pred_json(pred) -> dict:
    return {"mean_wait_min": round(pred.mean_wait_min, 2), "p90_wait_min": round(pred.p90_wait_min, 2),
            "utilisation": round(pred.utilisation, 3), "unserved": pred.unserved,
            "hours": [{"hour": h.hour, "arrivals": round(h.arrivals, 1), "windows": h.windows,
                       "mean_wait_min": round(h.mean_wait_min, 2), "p90_wait_min": round(h.p90_wait_min, 2)}
                      for h in pred.hours]}


def register(subparsers) -> None:
    p = subparsers.add_parser("what-if", help="predict waits for a staffing plan and suggest windows per hour",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--site", help="site configuration TOML (default: the sample county hall)")
    p.add_argument("--arrivals", help="CSV hour,<prefix>...: expected tickets per hour and business type")
    p.add_argument("--cases", type=float, default=800, help="without --arrivals: tickets in a county weekday")
    p.add_argument("--staffing", help="CSV hour,windows: the plan to check")
    p.add_argument("--target", type=float, default=20.0, help="p90 wait to keep under, minutes (default 20)")
    p.add_argument("--seeds", type=int, default=4, help="simulated days per prediction (default 4)")
    p.add_argument("--no-suggest", action="store_true", help="only predict the given plan")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="onewindow")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["what-if", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)
