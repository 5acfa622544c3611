"""`onewindow what-if`: predict tomorrow's waits from expected arrivals and a staffing plan, and
suggest how many windows to open each hour to keep the p90 wait under a target.

Arrivals CSV: a header `hour,A,B,...` (the site's business-type prefixes) and one row per clock hour
(`9`) or half hour (`9.5` or `09:30`) with the expected tickets of each type, e.g. `9,30,42,12,18,12,6`.
Staffing CSV: `hour,windows` (per hour, or per half hour). Without
--arrivals, a county-hall weekday of --cases tickets is assumed; without --staffing, every window
works its configured hours.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys

from onewindow import config


def parse_hour(value: str) -> float:
    """`9`, `9.5` or `09:30` -> 9.5; whole or half hours of one day (0 <= hour < 24)."""
    text = (value or "").strip()
    if ":" in text:
        hh, mm = text.split(":", 1)
        hour = int(hh) + int(mm) / 60.0
    else:
        hour = float(text)
    if not 0 <= hour < 24 or (hour * 2) != int(hour * 2):
        raise ValueError(f"hour {value!r} must be a whole or half hour from 0 to 23:30")
    return hour


def _rows(path: str) -> list[tuple[int, dict]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return list(enumerate(csv.DictReader(f), start=2))
    except OSError as exc:
        raise SystemExit(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SystemExit(f"{path}: not a UTF-8 CSV file ({exc})") from None


def read_arrivals(path: str, prefixes: set[str]) -> dict[float, dict[str, float]]:
    """CSV hour,<prefix>...: expected tickets per hour (or half hour) and business type."""
    out: dict[float, dict[str, float]] = {}
    for i, row in _rows(path):
        try:
            hour = parse_hour(row.pop("hour"))
            counts = {p: float(v or 0) for p, v in row.items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SystemExit(f"{path}:{i}: expected hour,<prefix>... with numbers ({exc})") from None
        unknown = set(counts) - prefixes
        if unknown:
            raise SystemExit(f"{path}: unknown business types {sorted(unknown)} (site has {sorted(prefixes)})")
        bad = {p: n for p, n in counts.items() if n < 0 or n != n}
        if bad:
            raise SystemExit(f"{path}:{i}: expected tickets cannot be negative ({bad})")
        if hour in out:
            raise SystemExit(f"{path}:{i}: hour {row.get('hour', hour)} is listed twice")
        out[hour] = counts
    if not out:
        raise SystemExit(f"{path}: no rows (expected a header hour,<prefix>... and one row per hour)")
    return out


def read_staffing(path: str, limit: int) -> dict[float, int]:
    """CSV hour,windows: windows open per hour (or half hour)."""
    out: dict[float, int] = {}
    for i, row in _rows(path):
        try:
            hour, windows = parse_hour(row["hour"]), int(row["windows"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SystemExit(f"{path}:{i}: expected hour,windows ({exc})") from None
        if windows < 0:
            raise SystemExit(f"{path}:{i}: windows cannot be negative ({windows})")
        if windows > limit:
            raise SystemExit(f"{path}:{i}: the site has {limit} windows; the plan asks for {windows}")
        out[hour] = windows
    return out


def run(args: argparse.Namespace) -> int:
    from sim import whatif

    site = config.load(args.site) if args.site else config.load(config.sample_path("county-hall"))
    prefixes = {b.prefix for b in site.business_types}
    if args.target <= 0 or args.seeds < 1 or args.validate < 0:
        raise SystemExit("--target must be positive, --seeds at least 1, --validate at least 0")
    if not args.arrivals and prefixes != set("ABCDEF"):
        raise SystemExit("this site does not have the county hall's business types A-F: give --arrivals")
    arrivals = read_arrivals(args.arrivals, prefixes) if args.arrivals else whatif.county_arrivals(args.cases)
    plan = whatif.per_step(read_staffing(args.staffing, len(site.windows))) if args.staffing \
        else whatif.default_plan(site, list(arrivals))
    out: dict = {"site": site.site_id, "target_p90_min": args.target}
    pred = whatif.predict(site, arrivals, plan, seeds=args.seeds)
    if not args.json:
        print(whatif.format_prediction(pred, f"{site.name_en or site.name}: "
                                             f"{'your plan' if args.staffing else 'every window at its hours'}"))
    out["plan"] = _plan_json(plan)
    out["prediction"] = _pred_json(pred)
    if not args.no_suggest:
        best, best_pred, ok = whatif.recommend(site, arrivals, args.target, seeds=args.seeds)
        out["suggested"] = _plan_json(best)
        out["suggested_prediction"] = _pred_json(best_pred)
        out["target_met"] = ok
        if not args.json:
            print()
            reach = "" if ok else " (NOT reachable with this hall's windows)"
            print(whatif.format_prediction(best_pred, f"suggested: windows per half hour for p90 under "
                                           f"{args.target:g} min{reach}"))
            print("order windows open in: " + ", ".join(str(n) for n in whatif.staffing_order(site, arrivals)))
        if args.validate:
            share, fresh = whatif.validate(site, arrivals, best, args.target, days=args.validate)
            out["fresh_days"] = args.validate
            out["fresh_days_meeting_target_share"] = round(share, 3)
            out["fresh_prediction"] = _pred_json(fresh)
            if not args.json:
                print(f"on {args.validate} fresh simulated days (not those it was tuned on): the day's p90 wait is "
                      f"under {args.target:g} min on {share:.0%} of them; p90 over all {fresh.p90_wait_min:.1f} min, "
                      f"longest {fresh.max_wait_min:.0f} min")
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    return 0


def _plan_json(plan) -> dict:
    from sim.whatif import clock
    return {clock(h): n for h, n in sorted(plan.items())}


def _pred_json(pred) -> dict:
    from sim.whatif import clock
    return {"mean_wait_min": round(pred.mean_wait_min, 2), "p90_wait_min": round(pred.p90_wait_min, 2),
            "utilisation": round(pred.utilisation, 3), "unserved": pred.unserved,
            "hours": [{"from": clock(h.hour), "arrivals": round(h.arrivals, 1), "windows": h.windows,
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
    p.add_argument("--seeds", type=int, default=4, help="simulated days per prediction and tuning (default 4)")
    p.add_argument("--validate", type=int, default=0, metavar="DAYS",
                   help="check the suggested plan on this many fresh simulated days (e.g. 100)")
    p.add_argument("--no-suggest", action="store_true", help="only predict the given plan")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="onewindow")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["what-if", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)
