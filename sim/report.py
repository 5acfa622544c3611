"""The proof of the dispatch, in one run: `python -m sim report` (or bench/bench_dispatch.py).

Every figure comes from simulated days that drive the real engine (sim.harness). The report
prints each check with what was set, and ends with ONE JSON line of figures whose names carry
their units. `--quick` runs fewer seeds (a smoke run; the 5% Erlang check needs the full run).
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from collections import Counter
from dataclasses import replace

from sim.harness import DayResult, simulate
from sim.profiles import (
    PREFIXES, Service, chain_skills, city_profile, city_site, county_profile, county_site, dedicated_skills,
    hall, pooled_skills, steady_profile,
)
from sim.queueing import mmc_mean_wait
from sim.stats import mean, p90, ratio_ci95
from sim import whatif

# Six business types whose offered loads fill exactly two windows each at 85% (so dedicated windows
# are a fair comparison): arrival rate per hour = 1.7 Erlangs / mean service.
SKILL_MEANS = {"A": 4.0, "B": 3.0, "C": 8.0, "D": 12.0, "E": 10.0, "F": 15.0}
SKILL_UTILISATION = 0.85


def _run(job: tuple) -> DayResult:
    site, profile, seed, kw = job
    return simulate(site, profile, seed, **kw)


def run_days(site, profile, seeds, pool=None, **kw) -> list[DayResult]:
    jobs = [(site, profile, s, kw) for s in seeds]
    if pool is None:
        return [_run(j) for j in jobs]
    return pool.map(_run, jobs, chunksize=max(1, len(jobs) // (4 * (os.cpu_count() or 1))))


def say(text: str = "") -> None:
    print(text, flush=True)


def minutes(seconds: float) -> float:
    return round(seconds / 60.0, 2)


# ------------------------------------------------------------------------------------------ checks
def erlang_check(days: int, pool) -> dict:
    """FIFO hall, Poisson arrivals, exponential service: the harness must reproduce Erlang C."""
    windows, rho, service_min = 3, 0.60, 10.0
    rate_per_hour = rho * windows / service_min * 60.0
    site = hall(pooled_skills(windows), skill_step=0, head_start=0, max_wait=1440, groups=(), missed="void",
                ratings=False, site_id="sim-erlang")
    profile = steady_profile("erlang check", {p: rate_per_hour / len(PREFIXES) for p in PREFIXES},
                             {p: Service(service_min, kind="exp") for p in PREFIXES}, warmup=3.0)
    results = run_days(site, profile, range(days), pool, estimates=False, line_step=0.0)
    per_day = [r.waits() for r in results]
    n = sum(len(w) for w in per_day)
    m, half = ratio_ci95([sum(w) for w in per_day], [len(w) for w in per_day])
    exact = mmc_mean_wait(windows, rate_per_hour / 3600.0, service_min * 60.0)
    err = (m - exact) / exact
    say("== Harness check: M/M/c against Erlang C")
    say(f"   set: {windows} windows each serving all {len(PREFIXES)} business types, Poisson arrivals "
        f"{rate_per_hour:.1f}/h, exponential service mean {service_min:g} min (load {rho:.0%}); FIFO: "
        "skill_step 0, head start 0, line pressure 0, max wait 1440 min (never reached), no priority "
        "groups, appointments, no-shows, pauses or walking time")
    say(f"   {days} independent days x 20 h (first 3 h and last 1.5 h not counted), {n} tickets measured")
    say(f"   mean wait: simulated {m / 60:.3f} min +/- {half / 60:.3f} (95% CI from the spread between days, "
        f"{half / exact:.1%}), Erlang C {exact / 60:.3f} min -> error {err:+.1%} "
        "(must be within 5%, measured to within 2.5%)")
    return {"erlang_mean_wait_sim_min": minutes(m), "erlang_mean_wait_exact_min": minutes(exact),
            "erlang_error_pct": round(100 * err, 2), "erlang_ci95_halfwidth_pct": round(100 * half / exact, 2),
            "erlang_tickets": n}


def skills_check(seeds: int, pool) -> dict:
    """Mixed skills versus the fully pooled hall and dedicated windows, same citizens, 85% load."""
    per_hour = {p: SKILL_UTILISATION * 2 / m * 60.0 for p, m in SKILL_MEANS.items()}
    service = {p: Service(m, 0.9) for p, m in SKILL_MEANS.items()}
    profile = steady_profile("skills", per_hour, service)
    common = dict(head_start=0, max_wait=1440, groups=(), missed="void", ratings=False, service_minutes=SKILL_MEANS)
    rows = {}
    configs = [
        ("pooled (every window serves all six, FIFO): the bound", pooled_skills(12), dict(skill_step=0), 0.0),
        ("mixed skills, three per window, the engine's rule", chain_skills(12), dict(skill_step=10), None),
        ("mixed skills, FIFO across skills (no line pressure)", chain_skills(12), dict(skill_step=0), 0.0),
        ("dedicated windows (two per business type)", dedicated_skills(12), dict(skill_step=0), 0.0),
    ]
    for label, skills, extra, line in configs:
        site = hall(skills, site_id="sim-skills", **common, **extra)
        kw = {"estimates": False}
        if line is not None:
            kw["line_step"] = line
        results = run_days(site, profile, range(seeds), pool, **kw)
        waits = [w for r in results for w in r.waits()]
        util = sum(sum(x["busy_s"] for x in r.windows.values()) for r in results) / \
            sum(sum(x["staffed_s"] for x in r.windows.values()) for r in results)
        rows[label] = (mean(waits), p90(waits), util, len(waits))
    bound, skilled, fifo, dedicated = (rows[c[0]] for c in configs)
    say("== Skills: six business types on twelve windows at 85% load")
    say("   set: service lognormal (cv 0.9), means A4 B3 C8 D12 E10 F15 min, each type 1.7 Erlangs; "
        f"{seeds} days x 20 h per hall, the same citizens in every hall")
    say("   skills: " + " ".join("/".join(s) for s in chain_skills(12)))
    for label, (m, q, u, n) in rows.items():
        say(f"   {label:55s} mean {m / 60:5.2f} min  p90 {q / 60:5.2f} min  utilisation {u:.1%}  ({n} tickets)")
    say(f"   mixed skills vs pooled bound: mean {skilled[0] / bound[0] - 1:+.1%} (must be within +20%); "
        f"p90 vs dedicated {1 - skilled[1] / dedicated[1]:.1%} lower (must be >= 30%)")
    return {"skills_mean_wait_min": minutes(skilled[0]), "pooled_bound_mean_wait_min": minutes(bound[0]),
            "skills_over_pooled_mean_pct": round(100 * (skilled[0] / bound[0] - 1), 1),
            "skills_fifo_over_pooled_mean_pct": round(100 * (fifo[0] / bound[0] - 1), 1),
            "skills_p90_wait_min": minutes(skilled[1]), "dedicated_p90_wait_min": minutes(dedicated[1]),
            "skills_p90_below_dedicated_pct": round(100 * (1 - skilled[1] / dedicated[1]), 1),
            "skills_utilisation_pct": round(100 * skilled[2], 1)}


def priority_check(seeds: int, pool) -> dict:
    """10% priority citizens on the mixed-skills hall: fast for them, nobody past the maximum."""
    per_hour = {p: SKILL_UTILISATION * 2 / m * 60.0 for p, m in SKILL_MEANS.items()}
    service = {p: Service(m, 0.9) for p, m in SKILL_MEANS.items()}
    profile = steady_profile("priority", per_hour, service, priority_share=0.10)
    site = hall(chain_skills(12), site_id="sim-priority", missed="void", ratings=False, service_minutes=SKILL_MEANS)
    max_wait = site.priority.max_wait_minutes * 60
    results = run_days(site, profile, range(seeds), pool, estimates=False, monitor=True)
    prio = [w for r in results for w in r.waits(lambda t: t.priority_group is not None)]
    plain = [w for r in results for w in r.waits(lambda t: t.priority_group is None)]
    over = sum(1 for w in plain if w > max_wait)
    violations = sum(r.aging_violations for r in results)
    say("== Priority groups at 10% of arrivals (same hall and load as above)")
    say(f"   set: head start {site.priority.head_start_minutes:g} min, maximum wait {max_wait / 60:g} min, "
        f"skill step {site.priority.skill_step_minutes:g} min, {seeds} days")
    say(f"   priority citizens: p90 wait {p90(prio) / 60:.2f} min (must be < 5), mean {mean(prio) / 60:.2f} min "
        f"({len(prio)} tickets)")
    say(f"   others: p90 {p90(plain) / 60:.2f} min, longest {max(plain) / 60:.1f} min; waits past the maximum: "
        f"{over}; calls that passed over an overdue ticket the window could serve: {violations}")
    return {"priority_p90_wait_min": minutes(p90(prio)), "ordinary_p90_wait_min": minutes(p90(plain)),
            "ordinary_longest_wait_min": minutes(max(plain)), "ordinary_waits_past_max": over,
            "aging_violations": violations}


def county_day(seeds: int, pool, target_p90_min: float = 20.0) -> dict:
    site, profile = county_site(), county_profile()
    results = run_days(site, profile, range(seeds), pool, monitor=True)
    say("== A county-hall weekday (sample config: 12 windows, lunch 12:00-13:30 with window 11 open)")
    say(f"   set: ~{profile.total_per_day() + profile.appointments_per_hour * 7.5:.0f} tickets, morning peak, "
        f"lognormal service (cv 0.9), 10% priority, appointments, 4% absent when called, 2% transfers, 2% holds, "
        f"clerks pausing; {seeds} days")
    say(f"   {'type':4s} {'tickets/day':>11s} {'mean wait':>9s} {'p90 wait':>8s}")
    per_type = {}
    for b in site.business_types:
        w = [x for r in results for x in r.waits(lambda t, p=b.prefix: t.business_type == p)]
        per_type[b.prefix] = (mean(w), p90(w))
        say(f"   {b.prefix:4s} {len(w) / seeds:11.0f} {mean(w) / 60:8.1f}m {p90(w) / 60:7.1f}m")
    every = [x for r in results for x in r.waits()]
    prio = [x for r in results for x in r.waits(lambda t: t.priority_group is not None)]
    say(f"   all  {len(every) / seeds:11.0f} {mean(every) / 60:8.1f}m {p90(every) / 60:7.1f}m; priority p90 "
        f"{p90(prio) / 60:.1f} min; aging violations {sum(r.aging_violations for r in results)}")
    outcomes = Counter(t.outcome.split(":")[0] for r in results for t in r.tickets)
    say("   outcomes per day: " + ", ".join(f"{k} {v / seeds:.0f}" for k, v in sorted(outcomes.items())))
    util = {}
    for n in results[0].windows:
        busy = sum(r.windows[n]["busy_s"] for r in results)
        staffed = sum(r.windows[n]["staffed_s"] for r in results)
        util[n] = busy / staffed if staffed else 0.0
    say("   window utilisation: " + " ".join(f"{n}:{u:.0%}" for n, u in util.items()))
    # Wait estimates: the engine's forecast at issue against the naive one, on the same tickets.
    pairs = [(t.estimate, t.naive, t.wait) for r in results for t in r.tickets
             if t.wait is not None and t.estimate is not None and t.naive is not None and not t.appointment]
    mae = mean([abs(e - w) for e, _, w in pairs])
    naive = mean([abs(n - w) for _, n, w in pairs])
    say("== Wait estimates on the county day (shown at issue vs the real wait to the first call)")
    say(f"   engine forecast MAE {mae / 60:.2f} min, naive (people ahead x mean service / open windows) "
        f"MAE {naive / 60:.2f} min -> {1 - mae / naive:.0%} lower (must be >= 30%); {len(pairs)} tickets")
    wall = sorted(r.wall_seconds for r in results)[len(results) // 2]
    say(f"   one county day takes {wall * 1000:.0f} ms of wall time (median; {results[0].commands} engine commands)")
    # What-if: the staffing that keeps every hour's p90 under the target.
    arrivals = whatif.county_arrivals(profile.total_per_day() + profile.appointments_per_hour * 7.5)
    began = time.perf_counter()
    plan, pred, ok = whatif.recommend(site, arrivals, target_p90_min)
    took = time.perf_counter() - began
    say(f"== What-if: windows per hour to keep p90 under {target_p90_min:g} min ({took:.1f} s)")
    say(whatif.format_prediction(pred, f"   recommended plan ({'target met' if ok else 'TARGET NOT MET'}):"))
    say("   window-hours: recommended " + str(sum(plan.values())) + " vs all windows all day "
        + str(sum(whatif.default_plan(site).values())))
    figures = {f"county_{p}_mean_wait_min": minutes(m) for p, (m, _) in per_type.items()}
    figures.update({f"county_{p}_p90_wait_min": minutes(q) for p, (_, q) in per_type.items()})
    figures.update({
        "county_mean_wait_min": minutes(mean(every)), "county_p90_wait_min": minutes(p90(every)),
        "county_priority_p90_wait_min": minutes(p90(prio)),
        "county_window_utilisation_pct": round(100 * mean(list(util.values())), 1),
        "forecast_mae_min": minutes(mae), "naive_mae_min": minutes(naive),
        "forecast_mae_below_naive_pct": round(100 * (1 - mae / naive), 1),
        "county_day_wall_ms": round(wall * 1000, 1),
        "whatif_target_met": ok, "whatif_plan_windows_by_hour": {f"{h:02d}": n for h, n in sorted(plan.items())},
        "whatif_window_hours": sum(plan.values()), "whatif_p90_wait_min": round(pred.p90_wait_min, 2),
    })
    return figures


def city_day(seeds: int, pool) -> dict:
    site, profile = city_site(), city_profile()
    results = run_days(site, profile, range(seeds), pool)
    every = [x for r in results for x in r.waits()]
    busy = sum(sum(x["busy_s"] for x in r.windows.values()) for r in results)
    staffed = sum(sum(x["staffed_s"] for x in r.windows.values()) for r in results)
    wall = sorted(r.wall_seconds for r in results)[len(results) // 2]
    say("== A city-centre weekday (40 windows of mixed skills, ~2,500 tickets)")
    say(f"   mean wait {mean(every) / 60:.1f} min, p90 {p90(every) / 60:.1f} min, utilisation {busy / staffed:.0%}, "
        f"{len(every) / seeds:.0f} tickets called per day; {wall:.2f} s wall per day")
    return {"city_mean_wait_min": minutes(mean(every)), "city_p90_wait_min": minutes(p90(every)),
            "city_utilisation_pct": round(100 * busy / staffed, 1), "city_day_wall_s": round(wall, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim report", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds (smoke run)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for the seeds")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    scale = 0.1 if args.quick else 1.0
    pool = multiprocessing.get_context("fork").Pool(args.workers) if args.workers > 1 else None
    figures: dict = {}
    try:
        figures.update(erlang_check(max(20, int(3600 * scale)), pool))
        figures.update(skills_check(max(4, int(30 * scale)), pool))
        figures.update(priority_check(max(4, int(30 * scale)), pool))
        figures.update(county_day(max(4, int(20 * scale)), pool))
        figures.update(city_day(max(2, int(6 * scale)), pool))
    finally:
        if pool is not None:
            pool.close()
    checks = {
        "check_erlang_within_5pct": abs(figures["erlang_error_pct"]) <= 5.0
        and figures["erlang_ci95_halfwidth_pct"] <= 2.5,
        "check_skills_mean_within_20pct_of_pooled": figures["skills_over_pooled_mean_pct"] <= 20.0,
        "check_skills_p90_30pct_below_dedicated": figures["skills_p90_below_dedicated_pct"] >= 30.0,
        "check_priority_p90_under_5min": figures["priority_p90_wait_min"] < 5.0,
        "check_nobody_past_max": figures["ordinary_waits_past_max"] == 0 and figures["aging_violations"] == 0,
        "check_forecast_30pct_better": figures["forecast_mae_below_naive_pct"] >= 30.0,
        "check_whatif_meets_target": bool(figures["whatif_target_met"]),
    }
    figures.update(checks)
    figures["report_wall_s"] = round(time.perf_counter() - began, 1)
    say("== Checks: " + ", ".join(f"{k[6:]} {'PASS' if v else 'FAIL'}" for k, v in checks.items()))
    print(json.dumps(figures, separators=(",", ":")), flush=True)
    return 0 if all(checks.values()) or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
