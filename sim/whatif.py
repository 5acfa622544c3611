"""What-if for managers: tomorrow's expected arrivals and a staffing plan in, predicted waits out;
and the fewest windows per hour that keep the p90 wait under a target.

Arrivals are counts per clock hour and business type ({9: {"A": 30, "B": 42, ...}, ...}); a
staffing plan is windows open per clock hour ({8: 10, 9: 12, ...}). A prediction runs the real
engine through the day several times (sim.harness) with those arrivals (Poisson around the
counts), the hall's own windows and skills, and the citizens' and clerks' usual behaviour
(no-shows, pauses, priority citizens, appointments), and reports waits by the hour people arrived.

With n windows open in an hour, the first n of `staffing_order(site)` work: an order chosen so that
every business type is covered as early as possible, then by load per trained window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from onewindow.config import SiteConfig
from sim.harness import DayResult, simulate
from sim.profiles import COUNTY_MIX, COUNTY_SHAPE, Profile, Segment, county_profile
from sim.queueing import windows_for_p90
from sim.stats import mean, p90

Arrivals = dict[int, dict[str, float]]
Plan = dict[int, int]


@dataclass
class HourForecast:
    hour: int
    arrivals: float  # expected tickets taken in the hour
    windows: int
    served: int  # simulated tickets (all seeds) that arrived in the hour and were called
    mean_wait_min: float
    p90_wait_min: float


@dataclass
class Prediction:
    hours: list[HourForecast]
    mean_wait_min: float
    p90_wait_min: float
    max_wait_min: float
    utilisation: float
    unserved: int  # tickets still waiting when the last window closed (all seeds)
    seeds: int

    def worst_hour(self) -> HourForecast | None:
        busy = [h for h in self.hours if h.served]
        return max(busy, key=lambda h: h.p90_wait_min) if busy else None


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


def arrivals_profile(site: SiteConfig, arrivals: Arrivals, behaviour: Profile | None = None) -> Profile:
    """A profile whose walk-ins follow `arrivals`, spread over the opening hours within each clock hour."""
    behaviour = behaviour or county_profile()
    open_spans = spans_of(site)
    segs = []
    for h, counts in sorted(arrivals.items()):
        parts = [(max(a, h), min(b, h + 1)) for a, b in open_spans if min(b, h + 1) > max(a, h)]
        length = sum(b - a for a, b in parts)
        if length <= 0:
            continue
        for a, b in parts:
            segs.append(Segment(a, b, {p: n / length for p, n in counts.items() if n > 0}))
    service = dict(behaviour.service)
    return replace(behaviour, name="what-if", arrivals=tuple(segs), appointments_per_hour=0.0, service=service)


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
    """Shifts per window for a plan: the first n windows of `order` work hour h when plan[h] == n."""
    order = order or staffing_order(site)
    shifts: dict[int, list[tuple[float, float]]] = {n: [] for n in order}
    for h in sorted(plan):
        for number in order[:plan[h]]:
            spans = shifts[number]
            if spans and spans[-1][1] == h:
                spans[-1] = (spans[-1][0], h + 1)
            else:
                spans.append((h, h + 1))
    return shifts


def default_plan(site: SiteConfig, hours: list[int] | None = None) -> Plan:
    """Every window open in every hour the site is open (the config's hours, lunch windows included)."""
    spans = spans_of(site)
    plan: Plan = {}
    for w in site.windows:
        ws = spans if w.hours is None else [(s.start.hour + s.start.minute / 60, s.end.hour + s.end.minute / 60)
                                           for s in w.hours]
        for a, b in ws:
            for h in range(math.floor(a), math.ceil(b)):
                plan[h] = plan.get(h, 0) + 1
    for h in hours or []:
        plan.setdefault(h, 0)
    return plan


def predict(site: SiteConfig, arrivals: Arrivals, plan: Plan, seeds: int = 6,
            behaviour: Profile | None = None) -> Prediction:
    profile = arrivals_profile(site, arrivals, behaviour)
    shifts = plan_shifts(site, plan, staffing_order(site, arrivals))
    results = [simulate(site, profile, seed=s, shifts=shifts, estimates=False) for s in range(1, seeds + 1)]
    return summarise(results, arrivals, plan, seeds)


def summarise(results: list[DayResult], arrivals: Arrivals, plan: Plan, seeds: int) -> Prediction:
    by_hour: dict[int, list[float]] = {}
    every: list[float] = []
    unserved = 0
    busy = staffed = 0.0
    for r in results:
        for t in r.tickets:
            if t.wait is not None:
                h = math.floor((t.arrival - r.day_start) / 3600)
                by_hour.setdefault(h, []).append(t.wait)
                every.append(t.wait)
            elif t.outcome == "unserved":
                unserved += 1
        busy += sum(w["busy_s"] for w in r.windows.values())
        staffed += sum(w["staffed_s"] for w in r.windows.values())
    hours = []
    for h in sorted(set(plan) | set(arrivals) | set(by_hour)):
        waits = by_hour.get(h, [])
        hours.append(HourForecast(h, sum(arrivals.get(h, {}).values()), plan.get(h, 0), len(waits),
                                  mean(waits) / 60 if waits else 0.0, p90(waits) / 60 if waits else 0.0))
    return Prediction(hours, mean(every) / 60 if every else 0.0, p90(every) / 60 if every else 0.0,
                      max(every) / 60 if every else 0.0, busy / staffed if staffed else 0.0, unserved, seeds)


def first_guess(site: SiteConfig, arrivals: Arrivals, target_min: float, behaviour: Profile) -> Plan:
    """Erlang C per hour (square-root staffing), stretched for a long-tailed service: a starting point."""
    plan: Plan = {}
    limit = len(site.windows)
    for h, counts in arrivals.items():
        rate = sum(counts.values()) / 3600.0
        if rate <= 0:
            continue
        work = sum(n * behaviour.service[p].mean_minutes * 60 for p, n in counts.items()) / sum(counts.values())
        cv = max(s.cv for s in behaviour.service.values())
        plan[h] = min(limit, windows_for_p90(rate, work, target_min * 60, cv * cv))
    if plan:
        for h in range(min(plan), max(plan) + 2):
            plan.setdefault(h, 0)
    return plan


def recommend(site: SiteConfig, arrivals: Arrivals, target_p90_min: float = 20.0, seeds: int = 4,
              behaviour: Profile | None = None, max_rounds: int = 16) -> tuple[Plan, Prediction, bool]:
    """The fewest windows per hour found that keep the p90 wait of every hour's arrivals under the
    target. Returns (plan, its prediction, whether the target is met)."""
    behaviour = behaviour or county_profile()
    limit = len(site.windows)
    plan = first_guess(site, arrivals, target_p90_min, behaviour)
    # The hour after the last arrivals: windows that serve out the line at closing time.
    last = max(h for h, c in arrivals.items() if sum(c.values()) > 0)
    pred = predict(site, arrivals, plan, seeds, behaviour)

    def failing(p: Prediction) -> list[HourForecast]:
        return sorted((h for h in p.hours if h.served and h.p90_wait_min > target_p90_min),
                      key=lambda h: -h.p90_wait_min)

    rounds = 0
    while failing(pred) and rounds < max_rounds:
        rounds += 1
        worst = failing(pred)[0].hour
        # Add a window in the hour people wait most; when it is full, in the hour before (the line
        # built up then) or after (to clear it).
        for h in (worst, worst - 1, worst + 1, worst - 2, worst + 2, worst - 3):
            if h in plan and plan[h] < limit and h <= last + 1:
                plan[h] += 1
                break
        else:
            break
        pred = predict(site, arrivals, plan, seeds, behaviour)
    # Then take back windows that are not needed, the quietest hours first.
    for h in sorted(plan, key=lambda h: (sum(arrivals.get(h, {}).values()), h)):
        if plan[h] == 0:
            continue
        plan[h] -= 1
        trial = predict(site, arrivals, plan, seeds, behaviour)
        if failing(trial) or trial.unserved > pred.unserved:
            plan[h] += 1
        else:
            pred = trial
    plan = {h: n for h, n in plan.items() if n > 0 or h in arrivals}
    return plan, pred, not failing(pred)


def format_prediction(pred: Prediction, title: str) -> str:
    lines = [title, f"{'hour':>5} {'arrivals':>8} {'windows':>7} {'mean wait':>9} {'p90 wait':>8}"]
    for h in pred.hours:
        if not h.arrivals and not h.windows:
            continue
        lines.append(f"{h.hour:02d}:00 {h.arrivals:8.0f} {h.windows:7d} {h.mean_wait_min:8.1f}m {h.p90_wait_min:7.1f}m")
    lines.append(f"day: mean wait {pred.mean_wait_min:.1f} min, p90 {pred.p90_wait_min:.1f} min, "
                 f"longest {pred.max_wait_min:.0f} min, window utilisation {pred.utilisation:.0%}"
                 + (f", {pred.unserved} not served" if pred.unserved else "") + f" ({pred.seeds} simulated days)")
    return "\n".join(lines)
