"""The simulation harness measures right: small, fast runs with fixed seeds."""
from __future__ import annotations

import argparse
import json
import math

import pytest

from sim import cli, whatif
from sim.harness import simulate
from sim.profiles import (
    PREFIXES, Service, chain_skills, county_profile, county_site, hall, pooled_skills, steady_profile,
)
from sim.queueing import erlang_c, mmc_mean_wait, mmc_wait_quantile
from sim.stats import mean, p90, quantile


def fifo_hall(windows: int):
    return hall(pooled_skills(windows), skill_step=0, head_start=0, max_wait=1440, groups=(), missed="void",
                ratings=False)


def mm_profile(per_hour: float, service_min: float = 10.0):
    return steady_profile("mm", {p: per_hour / 6 for p in PREFIXES},
                          {p: Service(service_min, kind="exp") for p in PREFIXES}, warmup=3.0)


def test_erlang_c_matches_textbook_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: the chance to wait is the load
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert mmc_mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)  # rho/(mu-lambda)
    assert mmc_wait_quantile(1, 0.5, 1.0, 0.9) == pytest.approx(math.log(5) / 0.5)
    assert mmc_mean_wait(2, 3.0, 1.0) == math.inf


def test_quantiles_interpolate_like_numpy():
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert p90(list(range(11))) == pytest.approx(9.0)
    assert math.isnan(mean([]))


def test_a_fifo_hall_with_poisson_arrivals_and_exponential_service_waits_as_erlang_c_says():
    site, profile = fifo_hall(3), mm_profile(10.8)
    waits = []
    for seed in range(40):
        r = simulate(site, profile, seed, estimates=False, line_step=0.0)
        waits += r.waits()
        assert all(t.outcome == "done" for t in r.tickets)
    exact = mmc_mean_wait(3, 10.8 / 3600, 600.0)
    assert len(waits) > 6000
    assert mean(waits) == pytest.approx(exact, rel=0.15)  # bench/ checks 5% with 3,600 days


def test_the_same_seed_gives_the_same_day_and_another_seed_another():
    site, profile = county_site(), county_profile()
    a, b, c = simulate(site, profile, 7), simulate(site, profile, 7), simulate(site, profile, 8)
    assert [t.wait for t in a.tickets] == [t.wait for t in b.tickets]
    assert a.commands == b.commands
    assert [t.arrival for t in a.tickets] != [t.arrival for t in c.tickets]


def test_two_halls_see_the_same_citizens_for_the_same_seed():
    profile = steady_profile("crn", {p: 8.0 for p in PREFIXES}, {p: Service(6) for p in PREFIXES}, hours=3)
    one = simulate(hall(pooled_skills(6), ratings=False), profile, 3)
    two = simulate(hall(chain_skills(6), ratings=False), profile, 3)
    assert [(t.arrival, t.business_type) for t in one.tickets] == [(t.arrival, t.business_type) for t in two.tickets]


def test_a_county_day_accounts_for_every_citizen_and_keeps_the_hours():
    site, profile = county_site(), county_profile()
    r = simulate(site, profile, 1, monitor=True)
    assert 700 < len(r.tickets) < 900
    outcomes = {t.outcome.split(":")[0] for t in r.tickets}
    assert outcomes <= {"done", "missed", "cancelled", "refused"}  # nobody left waiting at closing
    assert r.aging_violations == 0
    assert r.commands > 3 * len(r.tickets)  # every step went through the engine
    staffed_h = {n: w["staffed_s"] / 3600 for n, w in r.windows.items()}
    assert staffed_h[11] > 8.9  # the lunch-break window works 08:30-17:30
    assert all(7.4 < staffed_h[n] < 8.6 for n in staffed_h if n != 11)  # 7.5 h plus clearing the line
    waits = r.waits()
    assert 0 < mean(waits) < 15 * 60
    assert all(t.estimate is not None for t in r.tickets if t.outcome == "done" and not t.appointment)


def test_priority_citizens_wait_less_than_others_in_a_county_day():
    site, profile = county_site(), county_profile()
    prio, plain = [], []
    for seed in range(3):
        r = simulate(site, profile, seed)
        prio += r.waits(lambda t: t.priority_group is not None)
        plain += r.waits(lambda t: t.priority_group is None)
    assert p90(prio) < 5 * 60 < p90(plain) + 5 * 60
    assert mean(prio) < mean(plain)


def test_the_forecast_beats_the_naive_estimate_on_a_county_day():
    site, profile = county_site(), county_profile()
    fc, naive = [], []
    for seed in range(3):
        for t in simulate(site, profile, 100 + seed).tickets:
            if t.wait is not None and t.estimate is not None and t.naive is not None and not t.appointment:
                fc.append(abs(t.estimate - t.wait))
                naive.append(abs(t.naive - t.wait))
    assert mean(fc) < 0.85 * mean(naive)


def test_what_if_fewer_windows_means_longer_waits_and_the_suggestion_meets_the_target():
    site = county_site()
    arrivals = whatif.county_arrivals(400)
    full = whatif.predict(site, arrivals, whatif.default_plan(site, list(arrivals)), seeds=2)
    thin = whatif.predict(site, arrivals, {h: 3 for h in range(8, 18)}, seeds=2)
    assert thin.p90_wait_min > full.p90_wait_min
    plan, pred, ok = whatif.recommend(site, arrivals, 20.0, seeds=2)
    assert ok and pred.seeds == 20  # hardened on twenty days it was not tuned on ...
    assert sum(q <= 20.0 for q in pred.day_p90_min) >= 19  # ... and 95% of them meet the target
    assert sum(plan.values()) < sum(whatif.default_plan(site).values())
    assert any(h != int(h) for h in plan)  # half-hour steps
    share, fresh = whatif.validate(site, arrivals, plan, 20.0, days=3)
    assert 0.0 <= share <= 1.0 and fresh.seeds == 3


def test_the_staffing_order_covers_every_business_type_first():
    site = county_site()
    order = whatif.staffing_order(site, whatif.county_arrivals())
    covered, n = set(), 0
    while covered != {b.prefix for b in site.business_types}:
        covered |= set(site.window(order[n]).serves)
        n += 1
    assert n <= 3


def test_the_what_if_command_prints_a_prediction(capsys, tmp_path):
    arrivals = tmp_path / "arrivals.csv"
    arrivals.write_text("hour,A,B,C,D,E,F\n9,20,30,8,10,8,4\n10,15,20,6,8,6,3\n", encoding="utf-8")
    staffing = tmp_path / "staffing.csv"
    staffing.write_text("hour,windows\n9,6\n10,6\n11,4\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["what-if", "--arrivals", str(arrivals), "--staffing", str(staffing),
                              "--seeds", "1", "--no-suggest", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plan"] == {"09:00": 6, "09:30": 6, "10:00": 6, "10:30": 6, "11:00": 4, "11:30": 4}
    assert {h["from"] for h in out["prediction"]["hours"]} >= {"09:00", "09:30", "10:00"}


def test_the_what_if_command_refuses_a_plan_the_hall_cannot_staff(tmp_path):
    staffing = tmp_path / "staffing.csv"
    staffing.write_text("hour,windows\n9,40\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="12 windows"):
        cli.main(["--staffing", str(staffing), "--no-suggest"])


def test_what_if_works_for_any_business_type_letters_and_half_hours(tmp_path, capsys):
    site = tmp_path / "site.toml"
    site.write_text(
        '[site]\nid = "g-hall"\nname = "G"\n[hours]\nweekdays = ["08:30-12:00"]\n'
        '[[business_type]]\nprefix = "G"\nname = "g"\nservice_minutes = 5\n'
        '[[business_type]]\nprefix = "K"\nname = "k"\nservice_minutes = 9\n'
        '[[window]]\nnumber = 1\nserves = ["G", "K"]\n[[window]]\nnumber = 2\nserves = ["K"]\n',
        encoding="utf-8")
    arrivals = tmp_path / "arrivals.csv"
    arrivals.write_text("hour,G,K\n09:00,4,2\n09:30,6,3\n10:00,2,1\n", encoding="utf-8")
    assert cli.main(["--site", str(site), "--arrivals", str(arrivals), "--seeds", "1", "--target", "30",
                     "--validate", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fresh_days"] == 3 and 0 <= out["fresh_days_meeting_target_share"] <= 1
    assert set(out["suggested"]) <= {f"{h:02d}:{m:02d}" for h in range(8, 13) for m in (0, 30)}
    assert "09:30" in {h["from"] for h in out["prediction"]["hours"]}


@pytest.mark.parametrize("arrivals, staffing, message", [
    (None, "missing.csv", "cannot read it"),
    ("hour,A,B,C,D,E,F\n25,1,1,1,1,1,1\n", None, "hour '25'"),
    ("hour,A,B,C,D,E,F\n9,1,-4,1,1,1,1\n", None, "cannot be negative"),
    ("hour,A,B,C,D,E,F\n9,x,1,1,1,1,1\n", None, "expected hour"),
    (None, "hour,windows\n9,-2\n", "windows cannot be negative"),
    (None, "hour,windows\n9.25,2\n", "whole or half hour"),
])
def test_what_if_input_errors_are_clear_messages(tmp_path, arrivals, staffing, message):
    args = ["--no-suggest", "--seeds", "1"]
    for name, text in (("--arrivals", arrivals), ("--staffing", staffing)):
        if text == "missing.csv":
            args += [name, str(tmp_path / "missing.csv")]
        elif text is not None:
            path = tmp_path / f"{name[2:]}.csv"
            path.write_text(text, encoding="utf-8")
            args += [name, str(path)]
    with pytest.raises(SystemExit, match=message):
        cli.main(args)
