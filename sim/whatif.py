"""What-if for managers: tomorrow's expected arrivals and a staffing plan in, predicted waits out;
and the fewest windows per hour that keep the p90 wait under a target.

Arrivals are expected tickets per period and business type, keyed by the period's start in hours
({9: {"A": 30, "B": 42, ...}, ...}: clock hours; 9.5 keys make half-hour periods). A staffing plan
is windows open per half-hour step ({8.5: 10, 9.0: 12, ...}); a plan given per clock hour applies to
both of its half hours. A prediction runs the real
engine through the day several times (sim.harness) with those arrivals (Poisson around the
counts), the hall's own windows and skills, and the citizens' and clerks' usual behaviour
(no-shows, pauses, priority citizens, appointments), and reports waits by the half hour people
arrived (a citizen never called counts as waiting until the day's end). A suggested plan is checked
on fresh simulated days it was not tuned on (`validate`).

With n windows open in an hour, the first n of `staffing_order(site)` work: an order chosen so that
every business type is covered as early as possible, then by load per trained window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from onewindow.config import SiteConfig
from sim.harness import DayResult, simulate
from sim.profiles import COUNTY_MIX, COUNTY_SHAPE, Profile, Segment, Service, county_profile
from sim.queueing import windows_for_p90
from sim.stats import mean, p90

Arrivals = dict[float, dict[str, float]]
Plan = dict[float, int]
STEP = 0.5  # hours: a plan's resolution
FRESH_SEED = 1001  # validation days use seeds from here: never the ones a plan was tuned on
CHECK_SEED = 501  # a suggestion is hardened on days from here (neither tuning nor validation days)
CHECK_SHARE = 0.95  # ... until this share of them meets the target


@dataclass
class HourForecast:
    hour: float  # start of the half hour
    arrivals: float  # expected tickets taken in it
    windows: int
    served: int  # simulated tickets (all seeds) that arrived in it (never-called ones included)
    mean_wait_min: float
    p90_wait_min: float


@dataclass
class Prediction:
    hours: list[HourForecast]
    mean_wait_min: float
    p90_wait_min: float
    max_wait_min: float
    utilisation: float
    unserved: int  # tickets never called (all seeds): counted as waiting until the day's end
    seeds: int
    day_p90_min: list[float]  # each simulated day's p90 wait

    def worst_hour(self) -> HourForecast | None:
        busy = [h for h in self.hours if h.served]
        return max(busy, key=lambda h: h.p90_wait_min) if busy else None


def clock(h: float) -> str:
    return f"{int(h):02d}:{round((h - int(h)) * 60):02d}"


def slots(a: float, b: float) -> list[float]:
    """Half-hour steps that overlap [a, b) hours."""
    out, h = [], math.floor(a / STEP) * STEP
    while h < b - 1e-9:
        out.append(h)
        h += STEP
    return out


def period(arrivals: Arrivals) -> float:
    """Length in hours of an arrivals period: half an hour if any key is a half hour, else one."""
    return STEP if any(h != int(h) for h in arrivals) else 1.0


def per_step(plan: dict[float, int]) -> Plan:
    """A plan given per clock hour applies to both half hours; a half-hour plan stays as it is."""
    if any(h != int(h) for h in plan):
        return dict(plan)
    out: Plan = {}
    for h, n in plan.items():
        out[float(h)] = out[h + STEP] = n
    return out


def spans_of(site: SiteConfig, weekday: int = 0) -> list[tuple[float, float]]:
    return [(s.start.hour + s.start.minute / 60, s.end.hour + s.end.minute / 60) for s in site.hours_on(weekday)]


def county_arrivals(cases: float = 800) -> Arrivals:
    """A county hall weekday's expected arrivals per clock hour (the default for the CLI)."""
    out: Arrivals = {}
    base = sum(n for _, _, n in COUNTY_SHAPE)
    for a, b, n in COUNTY_SHAPE:
        h = math.floor(a)
        while h < b:
            overlap = min(b, h + 1) - max(a, h)
            bucket = out.setdefault(h, {})
            for p, share in COUNTY_MIX.items():
                bucket[p] = bucket.get(p, 0.0) + n * cases / base * overlap / (b - a) * share
            h += 1
    return out


def services(site: SiteConfig, behaviour: Profile) -> dict[str, Service]:
    """Service times per business type: the behaviour's where it knows the type, else the site's."""
    out = dict(behaviour.service)
    for b in site.business_types:
        out.setdefault(b.prefix, Service(b.service_minutes))
    return out


def arrivals_profile(site: SiteConfig, arrivals: Arrivals, behaviour: Profile | None = None) -> Profile:
    """A profile whose walk-ins follow `arrivals`, spread over the opening hours within each period."""
    behaviour = behaviour or county_profile()
    open_spans = spans_of(site)
    length = period(arrivals)
    segs = []
    for h, counts in sorted(arrivals.items()):
        parts = [(max(a, h), min(b, h + length)) for a, b in open_spans if min(b, h + length) > max(a, h)]
        covered = sum(b - a for a, b in parts)
        if covered <= 0:
            continue
        for a, b in parts:
            segs.append(Segment(a, b, {p: n / covered for p, n in counts.items() if n > 0}))
    return replace(behaviour, name="what-if", arrivals=tuple(segs), appointments_per_hour=0.0,
                   service=services(site, behaviour))


def expected_by_step(site: SiteConfig, arrivals: Arrivals) -> dict[float, float]:
    """Expected tickets taken in each half hour (the arrivals spread over the opening hours)."""
    out: dict[float, float] = {}
    for seg in arrivals_profile(site, arrivals).arrivals:
        rate = sum(seg.per_hour.values())
        for h in slots(seg.start_hour, seg.end_hour):
            overlap = min(seg.end_hour, h + STEP) - max(seg.start_hour, h)
            out[h] = out.get(h, 0.0) + rate * overlap
    return out


def staffing_order(site: SiteConfig, arrivals: Arrivals | None = None) -> list[int]:
    """Windows in the order they should be opened: cover every business type first, then add where
    the load per trained window is highest."""
    load = {b.prefix: 0.0 for b in site.business_types}
    for counts in (arrivals or {}).values():
        for p, n in counts.items():
            load[p] = load.get(p, 0.0) + n * site.business_type(p).service_minutes
    if not any(load.values()):
        load = {p: 1.0 for p in load}
    chosen: list[int] = []
    capacity = {p: 0.0 for p in load}
    remaining = {w.number: w for w in site.windows}
    while remaining:
        uncovered = {p for p in load if load[p] > 0 and capacity[p] == 0}

        def score(number: int) -> tuple:
            w = remaining[number]
            cover = sum(load[p] for p in w.serves if p in uncovered)
            need = max(load[p] / (1.0 + capacity[p]) for p in w.serves)
            return (-cover, -need, number)

        best = min(remaining, key=score)
        w = remaining.pop(best)
        chosen.append(best)
        share = 1.0 / len(w.serves)
        for p in w.serves:
            capacity[p] += share
    return chosen


def plan_shifts(site: SiteConfig, plan: Plan, order: list[int] | None = None) -> dict[int, list[tuple[float, float]]]:
    """Shifts per window for a plan: the first n windows of `order` work step h when plan[h] == n."""
    order = order or staffing_order(site)
    shifts: dict[int, list[tuple[float, float]]] = {n: [] for n in order}
    for h in sorted(plan):
        for number in order[:plan[h]]:
            spans = shifts[number]
            if spans and abs(spans[-1][1] - h) < 1e-9:
                spans[-1] = (spans[-1][0], h + STEP)
            else:
                spans.append((h, h + STEP))
    return shifts


def default_plan(site: SiteConfig, hours: list[float] | None = None) -> Plan:
    """Every window open in every half hour the site is open (the config's hours, lunch windows included)."""
    spans = spans_of(site)
    plan: Plan = {}
    for w in site.windows:
        ws = spans if w.hours is None else [(s.start.hour + s.start.minute / 60, s.end.hour + s.end.minute / 60)
                                           for s in w.hours]
        for a, b in ws:
            for h in slots(a, b):
                plan[h] = plan.get(h, 0) + 1
    for h in hours or []:
        for s in slots(h, h + 1):
            plan.setdefault(s, 0)
    return plan


POOL = None  # a multiprocessing pool for the days of a prediction (set by `use_pool`), else one process


def use_pool(pool) -> None:
    """Simulate the days of each prediction in `pool` (None: in this process)."""
    global POOL
    POOL = pool


def _day(job: tuple) -> DayResult:
    site, profile, seed, shifts = job
    return simulate(site, profile, seed=seed, shifts=shifts, estimates=False)


def simulate_plan(site: SiteConfig, arrivals: Arrivals, plan: Plan, seeds, behaviour: Profile | None = None):
    profile = arrivals_profile(site, arrivals, behaviour)
    shifts = plan_shifts(site, plan, staffing_order(site, arrivals))
    jobs = [(site, profile, s, shifts) for s in seeds]
    return POOL.map(_day, jobs) if POOL is not None else [_day(j) for j in jobs]


def predict(site: SiteConfig, arrivals: Arrivals, plan: Plan, seeds: int = 6,
            behaviour: Profile | None = None, first_seed: int = 1) -> Prediction:
    plan = per_step(plan)
    results = simulate_plan(site, arrivals, plan, range(first_seed, first_seed + seeds), behaviour)
    return summarise(site, results, arrivals, plan, seeds)


def day_waits(r: DayResult) -> list[tuple[float, float]]:
    """(arrival hour, wait seconds) of every ticket; one never called waits until the day's end."""
    out = []
    for t in r.tickets:
        wait = t.wait
        if wait is None and t.outcome == "unserved":
            wait = max(0.0, r.ended_at - t.arrival)
        if wait is not None:
            out.append(((t.arrival - r.day_start) / 3600.0, wait))
    return out


def summarise(site: SiteConfig, results: list[DayResult], arrivals: Arrivals, plan: Plan, seeds: int) -> Prediction:
    by_step: dict[float, list[float]] = {}
    every: list[float] = []
    day_p90: list[float] = []
    unserved = 0
    busy = staffed = 0.0
    for r in results:
        waits = day_waits(r)
        for h, w in waits:
            by_step.setdefault(math.floor(h / STEP) * STEP, []).append(w)
            every.append(w)
        day_p90.append(p90([w for _, w in waits]) / 60 if waits else 0.0)
        unserved += sum(1 for t in r.tickets if t.outcome == "unserved")
        busy += sum(w["busy_s"] for w in r.windows.values())
        staffed += sum(w["staffed_s"] for w in r.windows.values())
    expected = expected_by_step(site, arrivals)
    hours = []
    for h in sorted(set(plan) | set(by_step) | set(expected)):
        waits = by_step.get(h, [])
        hours.append(HourForecast(h, expected.get(h, 0.0), plan.get(h, 0), len(waits),
                                  mean(waits) / 60 if waits else 0.0, p90(waits) / 60 if waits else 0.0))
    return Prediction(hours, mean(every) / 60 if every else 0.0, p90(every) / 60 if every else 0.0,
                      max(every) / 60 if every else 0.0, busy / staffed if staffed else 0.0, unserved, seeds,
                      day_p90)


def first_guess(site: SiteConfig, arrivals: Arrivals, target_min: float, behaviour: Profile) -> Plan:
    """Erlang C per half hour (square-root staffing), stretched for a long-tailed service: a start."""
    plan: Plan = {}
    limit = len(site.windows)
    service = services(site, behaviour)
    length = period(arrivals)
    expected = expected_by_step(site, arrivals)
    cv = max(s.cv for s in service.values())
    for h, counts in arrivals.items():
        if sum(counts.values()) <= 0:
            continue
        work = sum(n * service[p].mean_minutes * 60 for p, n in counts.items()) / sum(counts.values())
        for s in slots(h, h + length):
            rate = expected.get(s, 0.0) / (3600.0 * STEP)
            plan[s] = min(limit, windows_for_p90(rate, work, target_min * 60, cv * cv)) if rate > 0 else 0
    if plan:
        for s in slots(min(plan), max(plan) + 1.0 + STEP):
            plan.setdefault(s, 0)
    return plan


def recommend(site: SiteConfig, arrivals: Arrivals, target_p90_min: float = 20.0, seeds: int = 4,
              behaviour: Profile | None = None, max_rounds: int = 40) -> tuple[Plan, Prediction, bool]:
    """The fewest windows per half hour found that keep, on every one of `seeds` simulated days, the
    day's p90 wait under the target, and the p90 of every half hour's arrivals over those days; then
    hardened on other days (`harden`). Returns (plan, its prediction on the hardening days, whether
    CHECK_SHARE of them met the target). Check it on fresh days with `validate`."""
    behaviour = behaviour or county_profile()
    limit = len(site.windows)
    plan = first_guess(site, arrivals, target_p90_min, behaviour)
    expected = expected_by_step(site, arrivals)
    first = min((h for h, n in expected.items() if n > 0), default=0.0)
    last = max(h for h, c in arrivals.items() if sum(c.values()) > 0) + period(arrivals)
    pred = predict(site, arrivals, plan, seeds, behaviour)

    def failing(p: Prediction) -> list[float]:
        hours = sorted((h for h in p.hours if h.served and h.p90_wait_min > target_p90_min),
                       key=lambda h: -h.p90_wait_min)
        if not hours and max(p.day_p90_min, default=0.0) > target_p90_min:
            hours = sorted((h for h in p.hours if h.served), key=lambda h: -h.p90_wait_min)[:1]
        return [h.hour for h in hours]

    rounds = 0
    while failing(pred) and rounds < max_rounds:
        rounds += 1
        if not _add_window(plan, failing(pred)[0], limit, first, last):
            break
        pred = predict(site, arrivals, plan, seeds, behaviour)
    # Then take back windows that are not needed, the quietest half hours first.
    for h in sorted(plan, key=lambda h: (expected.get(h, 0.0), h)):
        if plan[h] == 0:
            continue
        plan[h] -= 1
        trial = predict(site, arrivals, plan, seeds, behaviour)
        if failing(trial) or trial.unserved > pred.unserved:
            plan[h] += 1
        else:
            pred = trial
    return harden(site, arrivals, plan, target_p90_min, behaviour, limit, (first, last), max_rounds)


def harden(site, arrivals: Arrivals, plan: Plan, target: float, behaviour: Profile, limit: int,
           hours: tuple[float, float], max_rounds: int, days: int = 20) -> tuple[Plan, Prediction, bool]:
    """A plan tuned on a few days fits those days: check it on `days` others and add windows where
    people wait most (the next worst half hour when that one and its neighbours are full) until
    CHECK_SHARE of them meet the target, or no half hour can take another window."""
    for _ in range(max_rounds):
        check = predict(site, arrivals, plan, days, behaviour, first_seed=CHECK_SEED)
        met = sum(1 for q in check.day_p90_min if q <= target) / days
        if met >= CHECK_SHARE:
            return plan, check, True
        worst = sorted((h for h in check.hours if h.served), key=lambda h: -h.p90_wait_min)
        if not any(_add_window(plan, h.hour, limit, *hours) for h in worst):
            return plan, check, False
    return plan, check, met >= CHECK_SHARE


def _add_window(plan: Plan, worst: float, limit: int, first: float, last: float) -> bool:
    """One more window where people wait most; when that is full, just before (the line built up
    then) or after (to clear it)."""
    for d in (0, -1, 1, -2, 2, -3, -4, 3):
        h = worst + d * STEP
        if h in plan and plan[h] < limit and first <= h <= last:
            plan[h] += 1
            return True
    return False


def validate(site: SiteConfig, arrivals: Arrivals, plan: Plan, target_p90_min: float, days: int = 100,
             behaviour: Profile | None = None) -> tuple[float, Prediction]:
    """The plan on `days` fresh simulated days (seeds it was not tuned on): the share of days whose p90
    wait is under the target, and the prediction over all of them."""
    pred = predict(site, arrivals, plan, days, behaviour, first_seed=FRESH_SEED)
    share = sum(1 for q in pred.day_p90_min if q <= target_p90_min) / len(pred.day_p90_min)
    return share, pred


def format_prediction(pred: Prediction, title: str) -> str:
    lines = [title, f"{'from':>5} {'arrivals':>8} {'windows':>7} {'mean wait':>9} {'p90 wait':>8}"]
    for h in pred.hours:
        if not h.arrivals and not h.windows:
            continue
        lines.append(f"{clock(h.hour)} {h.arrivals:8.0f} {h.windows:7d} {h.mean_wait_min:8.1f}m {h.p90_wait_min:7.1f}m")
    lines.append(f"day: mean wait {pred.mean_wait_min:.1f} min, p90 {pred.p90_wait_min:.1f} min, "
                 f"longest {pred.max_wait_min:.0f} min, window utilisation {pred.utilisation:.0%}"
                 + (f", {pred.unserved} never called (counted as waiting to the end)" if pred.unserved else "")
                 + f" ({pred.seeds} simulated days)")
    return "\n".join(lines)
