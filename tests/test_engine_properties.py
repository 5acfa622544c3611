"""Invariants of the queue over random command sequences (hypothesis).

Whatever clerks, kiosks and the clock do, in any order:
- no number is issued twice in a service day for a prefix;
- no ticket is at two windows, and a window serves one ticket at a time;
- the counts of waiting tickets always match the tickets that are waiting;
- every ticket ends in exactly one terminal state (at the latest when the day closes);
- replaying the events rebuilds exactly the same state.
"""
from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queue_server.engine import Engine
from queue_server.model import TERMINAL_STATES
from tests.conftest import MONDAY_9AM

TERMINAL_EVENTS = {"service_finished": "done", "ticket_missed": "missed", "ticket_cancelled": "cancelled"}
WINDOW_COMMANDS = ["sign_in", "sign_out", "pause", "resume", "call_next", "call", "recall", "start", "finish",
                   "no_show", "transfer", "hold", "call_back"]


@st.composite
def steps(draw):
    kind = draw(st.sampled_from(["issue", "issue", "issue", "window", "window", "window", "window", "window",
                                 "cancel", "rate", "wait", "set_business_type"]))
    if kind == "issue":
        args = {"business_type": draw(st.sampled_from("ABCDEF"))}
        if draw(st.integers(0, 5)) == 0:
            args["priority_group"] = draw(st.sampled_from(["elderly", "military", "pregnant", "disabled"]))
        if draw(st.integers(0, 8)) == 0:
            args["appointment"] = {"ref": "apt", "start": MONDAY_9AM + draw(st.integers(0, 7200))}
        return ("issue", args)
    if kind == "window":
        command = draw(st.sampled_from(WINDOW_COMMANDS))
        window = draw(st.integers(1, 12))
        args = {"window": window, "clerk": draw(st.sampled_from([f"c{window}", f"c{window}", "intruder"]))}
        if command in ("call", "call_back"):
            args["ticket"] = draw(st.sampled_from("ABCDEF")) + f"{draw(st.integers(1, 12)):03d}"
        if command == "transfer":
            if draw(st.booleans()):
                args["to_business_type"] = draw(st.sampled_from("ABCDEF"))
            else:
                args["to_window"] = draw(st.integers(1, 12))
        return (command, args)
    if kind == "cancel":
        return ("cancel", {"ticket": draw(st.sampled_from("ABCDEF")) + f"{draw(st.integers(1, 12)):03d}"})
    if kind == "rate":
        return ("rate", {"ticket": draw(st.sampled_from("ABCDEF")) + f"{draw(st.integers(1, 12)):03d}",
                         "score": draw(st.integers(1, 5))})
    if kind == "set_business_type":
        return ("set_business_type", {"business_type": draw(st.sampled_from("ABCDEF")), "open": draw(st.booleans())})
    return ("wait", {"seconds": draw(st.sampled_from([5, 60, 600, 1800]))})


def run(site, script, close_day=True):
    engine = Engine(site, always_open=True)
    now = MONDAY_9AM
    events = []
    calls = Counter()
    for command, args in script:
        if command == "wait":
            now += args["seconds"]
            continue
        new, reply = engine.handle(command, dict(args), now)
        events.extend(new)
        engine.check_invariants()
        for e in new:
            if e["type"] == "ticket_called":
                calls[(e["ticket"], e["at"])] += 1
        now += 1
    if close_day:
        new, _ = engine.handle("issue", {"business_type": "A"}, now + 86400)
        events.extend(new)
    return engine, events, calls


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps(), min_size=1, max_size=120))
def test_invariants_hold_over_any_sequence_of_commands(county, script):
    engine, events, calls = run(county, script)
    # Numbers: unique per prefix per service day.
    issued = [(e["day"], e["number"]) for e in events if e["type"] == "ticket_issued"]
    assert len(issued) == len(set(issued))
    # Every ticket of the closed day ended exactly once, in a terminal state.
    first_day = [e["ticket"] for e in events if e["type"] == "ticket_issued" and e["day"] == "2026-11-23"]
    endings = Counter(e["ticket"] for e in events if e["type"] in TERMINAL_EVENTS)
    for tid in first_day:
        assert endings[tid] == 1, (tid, endings[tid])
    # No ticket called twice at the same moment (at two windows).
    assert all(n == 1 for n in calls.values())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps(), min_size=1, max_size=120))
def test_replaying_the_log_rebuilds_the_exact_state(county, script):
    engine, events, _ = run(county, script, close_day=False)
    rebuilt = Engine(county, always_open=True)
    for e in events:
        rebuilt.apply(e)
    rebuilt.check_invariants()
    now = MONDAY_9AM + 3600
    assert rebuilt.snapshot(now) == engine.snapshot(now)
    assert {t.id: (t.state, t.window, t.rank, t.calls) for t in rebuilt.tickets.values()} == \
        {t.id: (t.state, t.window, t.rank, t.calls) for t in engine.tickets.values()}


def test_terminal_states_are_final(county):
    engine, events, _ = run(county, [("issue", {"business_type": "A"})] * 3 + [
        ("sign_in", {"window": 2, "clerk": "c2"}), ("call_next", {"window": 2, "clerk": "c2"}),
        ("finish", {"window": 2, "clerk": "c2"})], close_day=False)
    done = engine.tickets[engine.by_number["A001"]]
    assert done.state in TERMINAL_STATES
    for command, args in [("cancel", {"ticket": "A001"}), ("call", {"window": 2, "clerk": "c2", "ticket": "A001"})]:
        _, reply = engine.handle(command, args, MONDAY_9AM + 100)
        assert not reply["ok"]
    assert done.state == "done"
