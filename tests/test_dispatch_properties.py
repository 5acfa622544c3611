"""Whatever clerks and citizens do, no ticket is called twice at once and none waits forever.

Hypothesis plays random days on a small hall (three windows with mixed skills, priority groups,
appointments, requeue after a missed call, transfers, holds, pauses), then a "rush": every window
open, more citizens (many of them priority) arriving every few minutes than the windows can serve,
and clerks calling as fast as they can. Every
ticket that was waiting before the rush must be called within a bound set by the maximum wait.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onewindow import config
from queue_server.engine import Engine
from queue_server.model import HELD, WAITING
from sim.profiles import hall_dict
from tests.conftest import MONDAY_9AM

WINDOWS = [["A", "B"], ["B", "C"], ["C"]]
MAX_WAIT_MIN = 30
SITE = config.from_dict(hall_dict(WINDOWS, prefixes=("A", "B", "C"),
                                  service_minutes={"A": 5, "B": 5, "C": 5}, head_start=20,
                                  max_wait=MAX_WAIT_MIN, skill_step=10, missed="requeue"))
GROUPS = [None, None, None, "elderly", "military"]

windows = st.integers(1, len(WINDOWS))
prefixes = st.sampled_from("ABC")
operation = st.one_of(
    st.tuples(st.just("issue"), prefixes, st.sampled_from(GROUPS), st.sampled_from([None, -5, 10, 40])),
    st.tuples(st.sampled_from(["sign_in", "sign_out", "pause", "resume", "call_next", "recall", "start",
                               "finish", "no_show", "hold"]), windows),
    st.tuples(st.just("transfer"), windows, prefixes),
    st.tuples(st.just("transfer_to_window"), windows, windows),
    st.tuples(st.just("call"), windows, st.integers(1, 12)),
    st.tuples(st.just("call_back"), windows),
    st.tuples(st.just("cancel"), st.integers(1, 12)),
    st.tuples(st.just("wait"), st.integers(0, 15)),
)


class Day:
    def __init__(self):
        self.engine = Engine(SITE)
        self.now = MONDAY_9AM
        self.calls: dict[str, int] = {}

    def do(self, command, **args):
        before = {tid: t.state for tid, t in self.engine.tickets.items()}
        events, reply = self.engine.handle(command, args, self.now)
        for e in events:
            if e["type"] == "ticket_called":
                # A ticket is called only from the line or from hold: never twice at once,
                # never after it is done, missed or cancelled.
                assert before.get(e["ticket"]) in (WAITING, HELD), (e, before.get(e["ticket"]))
                self.calls[e["ticket"]] = self.calls.get(e["ticket"], 0) + 1
        self.engine.check_invariants()
        return reply

    def clerk(self, w):
        return {"window": w, "clerk": f"c{w}"}

    def apply(self, op):
        kind = op[0]
        if kind == "issue":
            args = {"business_type": op[1], "priority_group": op[2]}
            if op[3] is not None:
                args["appointment"] = {"ref": f"apt-{len(self.engine.tickets)}", "start": self.now + op[3] * 60}
            self.do("issue", **args)
        elif kind == "wait":
            self.now += op[1] * 60
        elif kind == "transfer":
            self.do("transfer", to_business_type=op[2], **self.clerk(op[1]))
        elif kind == "transfer_to_window":
            self.do("transfer", to_window=op[2], **self.clerk(op[1]))
        elif kind == "call":
            t = list(self.engine.tickets.values())
            if t:
                self.do("call", ticket=t[op[2] % len(t)].number, **self.clerk(op[1]))
        elif kind == "call_back":
            held = self.engine.windows[op[1]].held
            if held:
                self.do("call_back", ticket=held[0], **self.clerk(op[1]))
        elif kind == "cancel":
            t = list(self.engine.tickets.values())
            if t:
                self.do("cancel", ticket=t[op[1] % len(t)].id)
        else:
            self.do(kind, **self.clerk(op[1]))

    def free_window(self, w):
        """The clerk clears the window: calls back held citizens, finishes the visit in hand."""
        state = self.engine.windows[w]
        if state.state == "closed":
            self.do("sign_in", **self.clerk(w))
        if state.state == "paused":
            self.do("resume", **self.clerk(w))
        if state.ticket is not None:
            assert self.do("finish", **self.clerk(w))["ok"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=60), st.randoms(use_true_random=False))
def test_no_rule_combination_calls_a_ticket_twice_or_starves_one(ops, rnd):
    day = Day()
    for op in ops:
        day.apply(op)
    waiting_before = {t.id for t in day.engine.tickets.values() if t.state in (WAITING, HELD)}
    # The rush: every window open, priority citizens keep coming, clerks call as fast as they can.
    step_min = 5
    bound = MAX_WAIT_MIN // step_min + len(waiting_before) + 4
    for _ in range(bound):
        day.now += step_min * 60
        flood = rnd.choice("ABC")  # more come than the windows can serve: one line keeps growing
        for _ in range(len(WINDOWS) + 1):
            day.do("issue", business_type=flood, priority_group=rnd.choice(["elderly", None]))
        for w in range(1, len(WINDOWS) + 1):
            day.free_window(w)
            held = list(day.engine.windows[w].held)
            if held:
                assert day.do("call_back", ticket=held[0], **day.clerk(w))["ok"]
            else:
                day.do("call_next", **day.clerk(w))
        if not any(day.engine.tickets[t].state in (WAITING, HELD) for t in waiting_before):
            break
    starved = [day.engine.tickets[t].number for t in waiting_before
               if day.engine.tickets[t].state in (WAITING, HELD)]
    assert not starved, f"never called in {bound} rounds: {starved}"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(prefixes, st.sampled_from(GROUPS), st.integers(0, 4)), min_size=1, max_size=40))
def test_once_overdue_a_ticket_is_called_before_anyone_younger(arrivals):
    """A window that may serve an overdue ticket never calls a ticket that came after it."""
    day = Day()
    day.do("sign_in", **day.clerk(1))
    for prefix, group, gap in arrivals:
        day.do("issue", business_type=prefix, priority_group=group)
        day.now += gap * 60
    day.now += MAX_WAIT_MIN * 60
    while True:
        overdue = [t for p in ("A", "B") for t in day.engine.lines[p].values()
                   if day.now - t.rank >= MAX_WAIT_MIN * 60]
        reply = day.do("call_next", **day.clerk(1))
        if not reply["ok"]:
            break
        chosen = day.engine.tickets[reply["ticket"]["id"]]
        if overdue:
            assert chosen.rank == min(t.rank for t in overdue)
        day.do("finish", **day.clerk(1))
        day.now += 60


@settings(max_examples=60, deadline=None)
@given(st.lists(operation, max_size=40))
def test_the_forecast_places_every_waiting_ticket_an_open_window_can_serve(ops):
    day = Day()
    for op in ops:
        day.apply(op)
    fc = day.engine.forecast(day.now)
    open_types = {p for w, s in enumerate(WINDOWS, start=1) if day.engine.windows[w].state != "closed" for p in s}
    for t in day.engine.tickets.values():
        if t.state != WAITING:
            continue
        wait = fc.wait(t.id, day.now)
        if t.target_window is None and t.business_type in open_types:
            assert wait is not None and wait >= 0
        if t.target_window is None and t.business_type not in open_types:
            # Only a window due to open later (by its hours) may call it, and not before it opens.
            openings = [day.engine.work_plan(w, day.now) for w, s in enumerate(WINDOWS, start=1)
                        if t.business_type in s]
            first = min((plan[0][0] for plan in openings if plan), default=None)
            assert wait is None if first is None else day.now + wait >= first
    # Tickets further back in one line never expect to be called sooner (same business type, plain).
    for p in "ABC":
        plain = sorted((t for t in day.engine.lines[p].values() if t.priority_group is None
                        and t.appointment_start is None and day.now - t.rank < MAX_WAIT_MIN * 60),
                       key=lambda t: (t.rank, t.seq))
        starts = [fc.start[t.id] for t in plain]
        if None not in starts:
            assert starts == sorted(starts)

