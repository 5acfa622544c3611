"""The proof of the dispatch, in one run: `python -m sim report` (or bench/bench_dispatch.py).

Every figure comes from simulated days that drive the real engine (sim.harness). The report
prints each check with what was set, and ends with ONE JSON line of figures whose names carry
their units. `--quick` runs fewer days (a smoke run); `--erlang-seconds` sets the Erlang check's
time budget per load (it stops earlier once the 95% interval is within 3%).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections import Counter

from sim.harness import DayResult, simulate
from sim.profiles import (
    PREFIXES, Service, chain_skills, city_profile, city_site, county_profile, county_site, dedicated_skills,
    hall, pooled_like, pooled_skills, steady_profile,
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
ERLANG_LOADS = (0.60, 0.80, 0.90, 0.95)
ERLANG_SERVICE_MIN = 0.5  # short visits: more tickets per day, the day far longer than the queue's memory
ERLANG_WINDOWS = 3
ERLANG_HOURS, ERLANG_WARMUP, ERLANG_COOLDOWN = 23.5, 2.0, 0.25
ERLANG_CI_TARGET = 0.03
ERLANG_MIN_DAYS = 16


def erlang_hall(load: float) -> tuple:
    """The FIFO hall of the Erlang check at `load`: 3 windows serving every type. Few windows queue more
    often at a given load, so each ticket says more about the mean wait: at 95% load 3 windows reach a
    3% interval with about a third fewer tickets than 10 (docs/DISPATCH.md)."""
    windows = ERLANG_WINDOWS
    rate_per_hour = load * windows / ERLANG_SERVICE_MIN * 60.0
    site = hall(pooled_skills(windows), skill_step=0, head_start=0, max_wait=1440, groups=(), missed="void",
                ratings=False, site_id="sim-erlang")
    profile = steady_profile("erlang check", {p: rate_per_hour / len(PREFIXES) for p in PREFIXES},
                             {p: Service(ERLANG_SERVICE_MIN, kind="exp") for p in PREFIXES}, hours=ERLANG_HOURS,
                             warmup=ERLANG_WARMUP, cooldown=ERLANG_COOLDOWN)
    return windows, rate_per_hour, site, profile


def _erlang_day(job: tuple) -> tuple[float, int]:
    """One day of the Erlang hall: (sum of measured waits, their number); only two numbers go back."""
    load, seed = job
    _, _, site, profile = erlang_hall(load)
    w = simulate(site, profile, seed, estimates=False, line_step=0.0).waits()
    return sum(w), len(w)


def erlang_load(load: float, budget_s: float, pool, workers: int) -> dict:
    """Run days of the FIFO hall until the 95% interval of the mean wait is within ERLANG_CI_TARGET of
    Erlang C's value, or the time budget is spent (sequential stopping, in batches of days)."""
    windows, rate, _, _ = erlang_hall(load)
    exact = mmc_mean_wait(windows, rate / 3600.0, ERLANG_SERVICE_MIN * 60.0)
    sums: list[float] = []
    counts: list[int] = []
    began = time.perf_counter()
    batch = max(ERLANG_MIN_DAYS, 8 * workers)
    while True:
        jobs = [(load, s) for s in range(len(sums), len(sums) + batch)]
        for total, n in (pool.imap(_erlang_day, jobs) if pool is not None else map(_erlang_day, jobs)):
            sums.append(total)
            counts.append(n)
        m, half = ratio_ci95(sums, counts)
        if half / exact <= ERLANG_CI_TARGET or time.perf_counter() - began >= budget_s:
            break
    err = (m - exact) / exact
    took = time.perf_counter() - began
    say(f"   {load:4.0%}  {windows:2d} windows  {len(sums):4d} days  {sum(counts):9d} tickets  simulated "
        f"{m / 60:7.4f} min +/- {half / exact:5.1%}  Erlang C {exact / 60:7.4f} min  error {err:+6.1%}  "
        f"({took:.0f} s)")
    tag = f"{round(load * 100)}"
    return {f"erlang_{tag}_error_pct": round(100 * err, 2),
            f"erlang_{tag}_ci95_halfwidth_pct": round(100 * half / exact, 2),
            f"erlang_{tag}_days": len(sums), f"erlang_{tag}_tickets": sum(counts),
            f"erlang_{tag}_mean_wait_sim_min": round(m / 60, 4),
            f"erlang_{tag}_mean_wait_exact_min": round(exact / 60, 4), f"erlang_{tag}_wall_s": round(took, 1)}


def erlang_check(budget_s: float, pool, workers: int) -> dict:
    """FIFO hall, Poisson arrivals, exponential service: the harness and engine must reproduce Erlang C."""
    say("== Harness check: M/M/c against Erlang C at 60, 80, 90 and 95% load")
    say(f"   set: every window serves all {len(PREFIXES)} business types, Poisson arrivals, exponential service "
        f"mean {ERLANG_SERVICE_MIN:g} min; FIFO (skill step, head start, line pressure 0; max wait never reached); "
        f"no priority, appointments, no-shows, pauses or walking; {ERLANG_WINDOWS} windows; {ERLANG_HOURS:g}-hour "
        f"days, the first {ERLANG_WARMUP:g} h and last {ERLANG_COOLDOWN:g} h not counted; days are added until "
        f"the 95% interval (spread between days, ratio estimator) is within {ERLANG_CI_TARGET:.0%} or "
        f"{budget_s:.0f} s per load are spent")
    figures: dict = {}
    for load in ERLANG_LOADS:
        figures.update(erlang_load(load, budget_s, pool, workers))
    return figures


def skills_check(seeds: int, pool) -> dict:
    """Mixed skills versus the fully pooled hall and dedicated windows, same citizens, 85% load."""
    per_hour = {p: SKILL_UTILISATION * 2 / m * 60.0 for p, m in SKILL_MEANS.items()}
    service = {p: Service(m, 0.9) for p, m in SKILL_MEANS.items()}
    profile = steady_profile("skills", per_hour, service)
    common = dict(head_start=0, max_wait=1440, groups=(), missed="void", ratings=False, service_minutes=SKILL_MEANS)
    rows = {}
    configs = [
        ("pooled, the same rule, each window's own skills first", pooled_like(chain_skills(12)),
         dict(skill_step=10), None),
        ("pooled, the same rule, every window A..F in order", pooled_skills(12), dict(skill_step=10), None),
        ("pooled, FIFO (every window serves all six)", pooled_skills(12), dict(skill_step=0), 0.0),
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
    same, ordered, bound, skilled, fifo, dedicated = (rows[c[0]] for c in configs)
    say("== Skills: six business types on twelve windows at 85% load")
    say("   set: service lognormal (cv 0.9), means A4 B3 C8 D12 E10 F15 min, each type 1.7 Erlangs; "
        f"{seeds} days x 20 h per hall, the same citizens in every hall")
    say("   skills: " + " ".join("/".join(s) for s in chain_skills(12)))
    for label, (m, q, u, n) in rows.items():
        say(f"   {label:55s} mean {m / 60:5.2f} min  p90 {q / 60:5.2f} min  utilisation {u:.1%}  ({n} tickets)")
    say(f"   mixed skills vs the pooled hall running the same rule with the same window preferences: mean "
        f"{skilled[0] / same[0] - 1:+.1%} (must be within +20%); vs pooled FIFO {skilled[0] / bound[0] - 1:+.1%}; "
        f"p90 vs dedicated {1 - skilled[1] / dedicated[1]:.1%} lower (must be >= 30%)")
    say(f"   (a pooled hall where every window prefers A then B... runs the short types first: mean "
        f"{ordered[0] / 60:.2f} min; the mixed hall is {skilled[0] / ordered[0] - 1:+.0%} of it; that gain is "
        "shortest-job-first by type order, not pooling)")
    return {"skills_mean_wait_min": minutes(skilled[0]), "pooled_fifo_mean_wait_min": minutes(bound[0]),
            "pooled_same_rule_mean_wait_min": minutes(same[0]),
            "pooled_same_rule_a_to_f_mean_wait_min": minutes(ordered[0]),
            "skills_over_pooled_same_rule_pct": round(100 * (skilled[0] / same[0] - 1), 1),
            "skills_over_pooled_a_to_f_pct": round(100 * (skilled[0] / ordered[0] - 1), 1),
            "skills_over_pooled_fifo_pct": round(100 * (skilled[0] / bound[0] - 1), 1),
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


def county_day(seeds: int, pool, target_p90_min: float = 20.0, fresh_days: int = 100) -> dict:
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
    raw_naive = mean([abs(n - w) for _, n, w in pairs])
    scale = best_scale([(n, w) for _, n, w in pairs])
    naive = mean([abs(scale * n - w) for _, n, w in pairs])
    long_waits = [(e, w) for e, _, w in pairs if w > 600]
    bias_long = mean([e - w for e, w in long_waits])
    long_told = [(e, w) for e, _, w in pairs if e > 600]
    bias_told = mean([e - w for e, w in long_told])
    median_told = sorted(e - w for e, w in long_told)[len(long_told) // 2] if long_told else 0.0
    say("== Wait estimates on the county day (shown at issue vs the real wait to the first call)")
    say(f"   engine forecast MAE {mae / 60:.2f} min; naive (people ahead x mean service / open windows) MAE "
        f"{raw_naive / 60:.2f} min as it is, {naive / 60:.2f} min scaled fairly (x{scale:.2f}, the best scale for "
        f"its MAE, fitted on these very tickets) -> forecast {1 - mae / naive:.0%} lower than the scaled naive "
        f"(must be >= 25%); {len(pairs)} tickets")
    say(f"   waits over 10 min ({len(long_waits)} tickets): the forecast is off by {bias_long / 60:+.1f} min on "
        "average (negative: under-estimates; chosen by how long they turned out, so any forecast reads low here)")
    say(f"   told over 10 min ({len(long_told)} tickets): off by {bias_told / 60:+.1f} min on average, "
        f"{median_told / 60:+.1f} min at the median (the wait shown is a median)")
    wall = sorted(r.wall_seconds for r in results)[len(results) // 2]
    say(f"   one county day takes {wall * 1000:.0f} ms of wall time (median; {results[0].commands} engine commands)")
    whatif_figures = whatif_check(site, profile, target_p90_min, fresh_days)
    figures = {f"county_{p}_mean_wait_min": minutes(m) for p, (m, _) in per_type.items()}
    figures.update({f"county_{p}_p90_wait_min": minutes(q) for p, (_, q) in per_type.items()})
    figures.update({
        "county_mean_wait_min": minutes(mean(every)), "county_p90_wait_min": minutes(p90(every)),
        "county_priority_p90_wait_min": minutes(p90(prio)),
        "county_window_utilisation_pct": round(100 * mean(list(util.values())), 1),
        "forecast_mae_min": minutes(mae), "naive_mae_min": minutes(raw_naive),
        "scaled_naive_mae_min": minutes(naive), "naive_scale": round(scale, 2),
        "forecast_mae_below_scaled_naive_pct": round(100 * (1 - mae / naive), 1),
        "forecast_bias_waits_over_10min_min": minutes(bias_long),
        "forecast_bias_told_over_10min_min": minutes(bias_told),
        "forecast_median_error_told_over_10min_min": minutes(median_told),
        "county_day_wall_ms": round(wall * 1000, 1),
    })
    figures.update(whatif_figures)
    return figures


def whatif_check(site, profile, target_p90_min: float, fresh_days: int) -> dict:
    """The staffing the what-if suggests, tuned on a few simulated days, then checked on fresh ones."""
    arrivals = whatif.county_arrivals(profile.total_per_day() + profile.appointments_per_hour * 7.5)
    began = time.perf_counter()
    plan, pred, ok = whatif.recommend(site, arrivals, target_p90_min)
    took = time.perf_counter() - began
    say(f"== What-if: windows per half hour to keep p90 under {target_p90_min:g} min (tuned on 4 simulated days, "
        f"hardened on {pred.seeds} others, {took:.1f} s)")
    say(whatif.format_prediction(pred, f"   suggested plan, on the {pred.seeds} hardening days (the day's p90 under "
                                       f"the target on {whatif.CHECK_SHARE:.0%} of them: {'yes' if ok else 'NO'}):"))
    say(f"   window-hours: suggested {sum(plan.values()) * whatif.STEP:g} vs all windows all day "
        f"{sum(whatif.default_plan(site).values()) * whatif.STEP:g}")
    share, fresh = whatif.validate(site, arrivals, plan, target_p90_min, days=fresh_days)
    worst = fresh.worst_hour()
    say(f"   on {fresh_days} fresh days (seeds it was not tuned on): day p90 under {target_p90_min:g} min on "
        f"{share:.0%} of them (must be >= 90%); p90 over all {fresh.p90_wait_min:.1f} min, worst half hour "
        f"{whatif.clock(worst.hour) if worst else '-'} p90 {worst.p90_wait_min if worst else 0:.1f} min, longest "
        f"{fresh.max_wait_min:.0f} min, {fresh.unserved} never called")
    return {"whatif_target_met_on_hardening_days": ok, "whatif_hardening_days": pred.seeds,
            "whatif_plan_windows_by_half_hour": {whatif.clock(h): n for h, n in sorted(plan.items())},
            "whatif_window_hours": sum(plan.values()) * whatif.STEP,
            "whatif_hardening_p90_wait_min": round(pred.p90_wait_min, 2),
            "whatif_fresh_days": fresh_days, "whatif_fresh_days_meeting_target_pct": round(100 * share, 1),
            "whatif_fresh_p90_wait_min": round(fresh.p90_wait_min, 2),
            "whatif_fresh_longest_wait_min": round(fresh.max_wait_min, 1)}


def best_scale(pairs: list[tuple[float, float]]) -> float:
    """The k minimising sum |k x naive - wait|: the naive-weighted median of wait / naive."""
    ratios = sorted((w / n, n) for n, w in pairs if n > 0)
    if not ratios:
        return 1.0
    half, acc = sum(n for _, n in ratios) / 2.0, 0.0
    for r, n in ratios:
        acc += n
        if acc >= half:
            return r
    return ratios[-1][0]


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
    parser = argparse.ArgumentParser(prog="python -m bench dispatch", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer days everywhere (a smoke run for tests)")
    parser.add_argument("--erlang-seconds", type=float, default=None,
                        help="time budget per load of the Erlang check (default 720; quick 3)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for the seeds")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    scale = 0.1 if args.quick else 1.0
    budget = args.erlang_seconds if args.erlang_seconds is not None else (3.0 if args.quick else 720.0)
    pool = multiprocessing.get_context("fork").Pool(args.workers) if args.workers > 1 else None
    figures: dict = {"machine_note": "shared 2-core machine, loaded by other work while measuring"}
    whatif.use_pool(pool)
    try:
        figures.update(erlang_check(budget, pool, args.workers))
        figures.update(skills_check(max(4, int(30 * scale)), pool))
        figures.update(priority_check(max(4, int(30 * scale)), pool))
        figures.update(county_day(max(4, int(20 * scale)), pool, fresh_days=max(5, int(100 * scale))))
        figures.update(city_day(max(2, int(3 * scale)), pool))
    finally:
        whatif.use_pool(None)
        if pool is not None:
            pool.close()
    checks = evaluate(figures)
    figures.update(checks)
    figures["report_wall_s"] = round(time.perf_counter() - began, 1)
    say("== Checks: " + ", ".join(f"{k[6:]} {'PASS' if v else 'FAIL'}" for k, v in checks.items()))
    print(json.dumps(figures, separators=(",", ":")), flush=True)
    return 0 if all(checks.values()) or args.quick else 1


def evaluate(f: dict) -> dict:
    loads = [round(x * 100) for x in ERLANG_LOADS]
    checks = {f"check_erlang_{n}_within_5pct": abs(f[f"erlang_{n}_error_pct"]) <= 5.0 for n in loads}
    checks.update({f"check_erlang_{n}_ci_within_3pct": f[f"erlang_{n}_ci95_halfwidth_pct"] <= 3.0 for n in loads})
    checks.update({
        "check_skills_within_20pct_of_same_rule_pooled": f["skills_over_pooled_same_rule_pct"] <= 20.0,
        "check_skills_p90_30pct_below_dedicated": f["skills_p90_below_dedicated_pct"] >= 30.0,
        "check_priority_p90_under_5min": f["priority_p90_wait_min"] < 5.0,
        "check_nobody_past_max": f["ordinary_waits_past_max"] == 0 and f["aging_violations"] == 0,
        "check_forecast_25pct_better_than_scaled_naive": f["forecast_mae_below_scaled_naive_pct"] >= 25.0,
        "check_whatif_90pct_of_fresh_days": f["whatif_fresh_days_meeting_target_pct"] >= 90.0,
    })
    return checks


if __name__ == "__main__":
    sys.exit(main())
