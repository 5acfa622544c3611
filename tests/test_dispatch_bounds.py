"""The bounds of the dispatch rule, proved over random halls (hypothesis), and the one-rule promise:
the forecast calls people in the very order `call_next` does.

The bound (docs/DISPATCH.md, "Bounds"): let base(t) = rank - credits + skill_step x the type's place in
the window's skills (the rule without line pressure). Line pressure is capped at `line_cap`, and a
priority citizen (or a ticket transferred to the window) always gets the full cap. So when a window
calls u while t waits (neither overdue, same preference group at that window):
  - t a priority citizen:  base(u) <= base(t)  (line pressure never puts anyone ahead of them);
  - any t:                 base(u) <= base(t) + line_cap  (nobody who came more than `line_cap`
                           after t, skills and credits counted, goes first because their line is long).
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onewindow import config
from queue_server.dispatch import Dispatch
from queue_server.engine import Engine
from queue_server.model import Ticket
from sim.profiles import hall_dict
from tests.conftest import MONDAY_9AM
from tests.test_dispatch_rules import make

WINDOWS = [["A", "B", "C"], ["B", "A"], ["C"], ["A"]]
SITE = config.from_dict(hall_dict(WINDOWS, prefixes=("A", "B", "C"), skill_step=10, head_start=30, max_wait=60,
                                  line_step=10, line_cap=20, kinds={1: "priority"}))
D = Dispatch(SITE)
NOW = MONDAY_9AM

ticket = st.tuples(st.sampled_from("ABC"), st.sampled_from([None, None, None, "elderly"]),
                   st.floats(0, 59.5), st.sampled_from([None, None, None, None, 4]))


def tickets_of(raw):
    out = []
    for i, (prefix, group, waited, target) in enumerate(raw):
        out.append(Ticket(id=f"t{i}", number=f"{prefix}{i:03d}", business_type=prefix, seq=i,
                          arrival=NOW - waited * 60, rank=NOW - waited * 60, priority_group=group,
                          target_window=target))
    return out


def base(t: Ticket, window: int) -> float:
    skill = 0 if t.target_window is not None else WINDOWS[window - 1].index(t.business_type)
    return t.rank - D.credit(t, NOW) + skill * D.skill_step


@settings(max_examples=300, deadline=None)
@given(st.lists(ticket, min_size=2, max_size=30), st.integers(1, len(WINDOWS)),
       st.dictionaries(st.sampled_from("ABC"), st.integers(0, 4)))
def test_line_pressure_never_pushes_a_ticket_back_beyond_the_cap(raw, window, open_windows):
    candidates = [t for t in tickets_of(raw) if (t.target_window == window if t.target_window is not None
                                                 else t.business_type in WINDOWS[window - 1])]
    chosen = D.choose(window, candidates, NOW, open_windows)
    if chosen is None:
        return
    group = D.key(chosen, window, NOW)[0]
    for t in candidates:
        if t is chosen or D.key(t, window, NOW)[0] != group or group == 0:
            continue  # overdue tickets and the priority window's preference are other rules
        if t.priority_group is not None or t.target_window is not None:
            assert base(chosen, window) <= base(t, window), (chosen, t)
        assert base(chosen, window) <= base(t, window) + D.line_cap, (chosen, t)


def test_an_elderly_citizen_in_a_short_line_is_not_kept_waiting_by_a_long_line():
    # The case: window 1 serves A (long line) and B (short); an elderly B citizen came after
    # twenty A tickets. Without the cap, A's pressure kept them waiting for an hour.
    h = make([["A", "B"]], skill_step=10, head_start=30, max_wait=60, line_step=60, line_cap=20)
    for _ in range(20):
        h.take("A")
    h.wait(1)
    h.take("B", priority_group="elderly")
    h.open(1)
    assert h.next(1) == "B001"


def test_a_rare_type_waits_behind_at_most_those_who_came_within_the_cap():
    h = make([["A", "B"]], skill_step=0, head_start=30, max_wait=60, line_step=60, line_cap=20)
    h.take("B")
    for _ in range(30):
        h.wait(1)
        h.take("A")
    h.open(1)
    called = [h.next(1) for _ in range(25)]
    # Only A tickets taken within 20 minutes of B001 may pass it (A001..A019 came 1-19 minutes later).
    assert called.index("B001") <= 20


def test_a_priority_window_calls_priority_citizens_first():
    h = make([["A"], ["A"]], head_start=5, max_wait=60, kinds={1: "priority"})
    h.take("A")
    h.wait(20)
    h.take("A", priority_group="disabled")
    h.open(1, 2)
    assert h.next(1) == "A002"  # the green channel takes the priority citizen ...
    assert h.next(2) == "A001"


def test_a_plain_window_keeps_the_head_start_rule():
    h = make([["A"], ["A"]], head_start=5, max_wait=60, kinds={1: "priority"})
    h.take("A")
    h.wait(20)
    h.take("A", priority_group="disabled")
    h.open(2)
    assert h.next(2) == "A001"  # ... an ordinary window gives 5 minutes' head start only


op = st.tuples(st.sampled_from("ABC"), st.sampled_from([None, None, "elderly"]), st.integers(0, 9))


@settings(max_examples=60, deadline=None)
@given(st.lists(op, min_size=1, max_size=25), st.sets(st.integers(1, len(WINDOWS)), min_size=1))
def test_the_forecast_calls_people_in_the_order_call_next_does(arrivals, open_windows):
    """One rule: play the forecast's plan (calls at its start times, visits of exactly the expected
    length) and `call_next` picks, every time, the ticket the forecast said."""
    engine = Engine(SITE)
    engine.always_open = True
    now = NOW - 90 * 60
    for prefix, group, gap in arrivals:
        engine.handle("issue", {"business_type": prefix, "priority_group": group}, now)
        now += gap * 60
    for w in sorted(open_windows):
        engine.handle("sign_in", {"window": w, "clerk": f"c{w}"}, now)
    fc = engine.forecast(now)
    plan = sorted((start, fc.window_of[tid], tid) for tid, start in fc.start.items() if start is not None)
    finishes: list[tuple[float, int]] = []
    for start, window, tid in plan:
        for end, w in sorted(f for f in finishes if f[0] <= start):
            engine.handle("finish", {"window": w, "clerk": f"c{w}"}, end)
            finishes.remove((end, w))
        _, reply = engine.handle("call_next", {"window": window, "clerk": f"c{window}"}, start)
        assert reply["ok"] and reply["ticket"]["id"] == tid, (reply, tid, start - now)
        t = engine.tickets[tid]
        finishes.append((start + engine.expected_service(t), window))


def test_line_pressure_counts_open_windows_not_configured_ones():
    # B is configured on two windows but only window 1 is open: three waiting are 3 x 10 = 30 minutes
    # of pressure (counted over the two configured windows it would be 15, less than the skill step).
    h = make([["A", "B"], ["B"]], skill_step=15, line_step=10, line_cap=30)
    for _ in range(3):
        h.take("B")
    h.take("A")
    h.open(1)
    assert h.next(1) == "B001"
