"""City reports from the city store's daily summary: tickets, waits, service within target, bad reviews.

    rows = city_report(store, by="level", period="month", target_minutes=30)

`by`: "site" (each hall) or "level" (city, county, township, village, hospital, pharmacy, bank) or "city"
(everything); `period`: "day" or "month". The wait is from the ticket's issue to its first call. The mean
is exact; the p90 of one hall on one day is exact, of anything larger it is read from the merged
per-minute histograms (interpolated inside the minute); "within target" counts called tickets that waited
less than `target_minutes`.
"""
from __future__ import annotations

from datetime import date
from typing import Iterable

from city.live import LEVELS

GROUPS = ("site", "level", "city")
PERIODS = ("day", "month")
COUNTS = ("tickets", "called", "served", "missed", "cancelled", "ratings", "bad_ratings")


def quantile_from_hist(hist: list[int], q: float) -> float | None:
    """The q-quantile (minutes) of waits counted by whole minute (the last bucket open-ended)."""
    n = sum(hist)
    if n == 0:
        return None
    want, cum = q * n, 0
    for minute, count in enumerate(hist):
        if count and cum + count >= want:
            return minute + (want - cum) / count
        cum += count
    return float(len(hist))


def _key(row: dict, by: str, period: str) -> tuple:
    day: date = row["day"]
    when = day.isoformat() if period == "day" else f"{day.year:04d}-{day.month:02d}"
    who = {"site": row["site_id"], "level": row["level"], "city": "city"}[by]
    return when, who


def aggregate(rows: Iterable[dict], by: str = "site", period: str = "day", target_minutes: int = 30) -> list[dict]:
    """Group daily summary rows (as `CityStore.summary_rows` gives them) and compute the report."""
    if by not in GROUPS or period not in PERIODS:
        raise ValueError(f"by must be one of {GROUPS} and period one of {PERIODS}")
    groups: dict[tuple, dict] = {}
    for row in rows:
        key = _key(row, by, period)
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"name": row["name"] if by == "site" else key[1], "level": row["level"],
                               "wait_sum_s": 0.0, "hist": [0] * len(row["wait_hist"]), "parts": 0,
                               "p90_exact": row["wait_p90_s"], **{c: 0 for c in COUNTS}}
        g["parts"] += 1
        g["wait_sum_s"] += row["wait_sum_s"]
        for c in COUNTS:
            g[c] += row[c]
        g["hist"] = [a + b for a, b in zip(g["hist"], row["wait_hist"])]
    order = {level: i for i, level in enumerate(LEVELS)}
    out = []
    for (when, who), g in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[1]["level"], 99), kv[0][1])):
        called = g["called"]
        if g["parts"] == 1 and g["p90_exact"] is not None:
            p90 = g["p90_exact"] / 60.0
        else:
            p90 = quantile_from_hist(g["hist"], 0.9)
        out.append({
            "period": when, by: who, "name": g["name"], "level": g["level"] if by != "city" else None,
            "tickets": g["tickets"], "served": g["served"], "missed": g["missed"], "cancelled": g["cancelled"],
            "mean_wait_min": round(g["wait_sum_s"] / called / 60.0, 1) if called else None,
            "p90_wait_min": None if p90 is None else round(p90, 1),
            "within_target_pct": round(100.0 * sum(g["hist"][:target_minutes]) / called, 1) if called else None,
            "bad_review_rate_pct": round(100.0 * g["bad_ratings"] / g["ratings"], 2) if g["ratings"] else None,
            "ratings": g["ratings"],
        })
    return out


def city_report(store, by: str = "site", period: str = "day", start: date | None = None, end: date | None = None,
                target_minutes: int = 30, refresh: bool = True) -> list[dict]:
    """The report straight from the city store (refreshing the daily summary first)."""
    if refresh:
        store.refresh_summary()
    return aggregate(store.summary_rows(start, end), by, period, target_minutes)
