"""Who a window calls next, and when each waiting citizen can expect to be called.

One function, `Dispatch.key`, ranks a waiting ticket for a window (smaller is sooner). `call_next`
takes the smallest key among the tickets a window may call (`Dispatch.choose`); the forecast replays
the same function forward over the windows with expected service times (`Forecast`), so the estimate
on a ticket follows the policy that will actually call it.

The rule, in order:
1. A ticket that has waited `max_wait` or longer goes first, longest wait first (aging: nobody
   waits past the maximum while a window that may serve them calls others). Waiting is counted from
   `rank`: the arrival time; after a transfer, the transfer time less the time waited before the
   visit; after a missed call put back in line, the place it was given.
2. At a priority window (`window.kind = "priority"`), priority citizens next.
3. Otherwise tickets are ranked by their place in line (`rank`), moved forward by credits: a
   priority group's head start; an appointment whose slot has begun; the pressure of the ticket's
   line (`line_step` per person waiting in it per open window serving it, capped at `line_cap`;
   priority citizens and tickets transferred to this window always get the full cap); and moved back
   by `skill_step` for each place the business type stands down the window's skills. Within one line
   the pressure is the same for every plain ticket, so a line keeps its own order.

Bounds (proved in tests/test_dispatch_bounds.py): line pressure never puts anyone ahead of a priority
citizen whom the rule without pressure would call first, and never puts anyone who came more than
`line_cap` after a ticket (credits and skills counted) ahead of it.
"""
from __future__ import annotations

import heapq
import math
from typing import Callable, Iterable

from onewindow.config import SiteConfig
from queue_server.model import Ticket, WindowState, W_CLOSED, W_PAUSED, W_CALLING, W_SERVING

# An appointment whose slot has begun ranks as if it had waited this much longer than anyone else
# could without being overdue: it is served ahead of walk-ins at its slot.
APPOINTMENT_CREDIT_FACTOR = 2.0
# `priority.line_step_minutes` (default 10) and `priority.line_cap_minutes` (default 20): see
# docs/DISPATCH.md for what they were measured to do in sim/.
# Forecast: a paused window is expected back PAUSE_SECONDS after its pause began; a visit running
# past its expected length is expected to need RESIDUAL_SHARE of it again (service times have a long
# tail). Both were measured in sim/ (docs/DISPATCH.md): they cut the estimate error by about 3%.
PAUSE_SECONDS = 600.0
RESIDUAL_SHARE = 0.25
# Before a break (lunch) clerks clear the line they serve: the forecast lets a window call for this
# long after the end of a span that another span follows the same day.
BREAK_OVERRUN = 30 * 60.0
# The printed wait is a median (`Forecast.wait`); service times are taken as about exponential (shape 1):
# counter service times have a cv near 1 (the simulated county day draws 0.9). Not tuned: the textbook value.
MEDIAN_SHAPE = 1.0
INF = float("inf")


class Dispatch:
    """The dispatch rule: `key` is the one function that ranks a waiting ticket for a window, used by
    `choose` (who `call_next` calls) and by `Forecast` (when everyone waiting will be called)."""

    def __init__(self, site: SiteConfig):
        self.head_start = site.priority.head_start_minutes * 60.0
        self.max_wait = site.priority.max_wait_minutes * 60.0
        self.skill_step = site.priority.skill_step_minutes * 60.0
        self.appointment_credit = APPOINTMENT_CREDIT_FACTOR * self.max_wait
        self.line_step = site.priority.line_step_minutes * 60.0
        self.line_cap_setting = site.priority.line_cap_minutes * 60.0
        self.trained: dict[str, int] = {}  # business type -> windows trained for it
        for w in site.windows:
            for prefix in w.serves:
                self.trained[prefix] = self.trained.get(prefix, 0) + 1
        self.skill_index = {w.number: {p: i for i, p in enumerate(w.serves)} for w in site.windows}
        self.serves = {w.number: w.serves for w in site.windows}
        self.priority_windows = frozenset(w.number for w in site.windows if w.kind == "priority")

    @property
    def line_cap(self) -> float:
        """The most credit line pressure gives (0 when line pressure is off)."""
        return self.line_cap_setting if self.line_step else 0.0

    def credit(self, t: Ticket, now: float) -> float:
        c = 0.0
        if t.priority_group is not None:
            c += self.head_start
        if t.appointment_start is not None and now >= t.appointment_start:
            c += self.appointment_credit
        return c

    def line_pressure(self, waiting: int, open_windows: int) -> float:
        """Credit of a line: `line_step` per person waiting in it per open window serving it, capped."""
        if not self.line_step or not waiting:
            return 0.0
        return min(self.line_cap, self.line_step * waiting / max(1, open_windows))

    def key(self, t: Ticket, window: int, now: float, line_pressure: float = 0.0) -> tuple:
        """THE rule: sort key of ticket `t` for `window` at `now` (smaller is called sooner).

        Overdue tickets first, oldest first. Then, at a priority window, priority citizens. Then place
        in line (`rank`) less credits (priority head start, appointment at its slot) less pressure,
        plus `skill_step` per place the type stands down the window's skills. A priority citizen and
        a ticket transferred to this window always get the full `line_cap` as pressure, so line
        pressure can never put anyone ahead of them (docs/DISPATCH.md, "Bounds")."""
        if now - t.rank >= self.max_wait:
            return (0, t.rank, t.seq)
        favoured = t.priority_group is not None
        if favoured or t.target_window is not None:
            line_pressure = self.line_cap
        skill = 0 if t.target_window is not None else self.skill_index[window].get(t.business_type, 0)
        group = 1 if favoured and window in self.priority_windows else 2
        return (group, t.rank - self.credit(t, now) - line_pressure + skill * self.skill_step, t.seq)

    def choose(self, window: int, candidates: Iterable[Ticket], now: float,
               open_windows: dict[str, int] | None = None, waiting: dict[str, int] | None = None) -> Ticket | None:
        """The ticket `window` calls next among `candidates`; `open_windows`: open windows per type;
        `waiting`: tickets waiting per line (default: counted among the candidates)."""
        candidates = list(candidates)
        if waiting is None:
            waiting = {}
            for t in candidates:
                if t.target_window is None:
                    waiting[t.business_type] = waiting.get(t.business_type, 0) + 1
        opened = open_windows if open_windows is not None else self.trained
        pressure = {p: self.line_pressure(n, opened.get(p, 0)) for p, n in waiting.items()}
        rule = self.key

        def key(t: Ticket) -> tuple:
            return rule(t, window, now, pressure.get(t.business_type, 0.0))
        return min(candidates, key=key, default=None)


class _Line:
    """One line in the forecast (a business type, or the tickets transferred to one window): its
    tickets sorted three ways, so the rule's favourite in the line is among three heads."""

    def __init__(self, tickets: list[Ticket], static_key: Callable[[Ticket], tuple]):
        self.plain = sorted((t for t in tickets if t.priority_group is None), key=static_key)
        self.favoured = sorted((t for t in tickets if t.priority_group is not None), key=static_key)
        self.oldest = sorted(tickets, key=lambda t: (t.rank, t.seq))
        self.heads = [0, 0, 0]
        self.left = len(tickets)

    def candidates(self, placed: set[str]) -> list[Ticket]:
        out = []
        for i, seq in enumerate((self.plain, self.favoured, self.oldest)):
            while self.heads[i] < len(seq) and seq[self.heads[i]].id in placed:
                self.heads[i] += 1
            if self.heads[i] < len(seq):
                out.append(seq[self.heads[i]])
        return out


class Forecast:
    """Expected call time of every waiting ticket: the dispatch rule replayed over the windows.

    Windows are taken in the order they come free (now, when the visit in hand is expected to end,
    or when their hours say they open); each calls the ticket `Dispatch.key` ranks first for it at
    that moment (the same function `call_next` uses, with line pressure from the open windows now),
    which then occupies it for its expected service time. `expected` gives a ticket's expected
    service seconds (observed today, blended with the catalogue's figure). `plans` says when each
    window may call (Engine.work_plan: its hours, breaks, reopenings); paused windows count from
    when their break is expected to end; citizens who have not come yet are not foreseen. Start
    times are absolute, so a forecast stays usable while time passes and plain tickets join the
    end (`add`).
    """

    def __init__(self, dispatch: Dispatch, windows: dict[int, WindowState], tickets: dict[str, Ticket],
                 waiting: Iterable[Ticket], expected: Callable[[Ticket], float], now: float,
                 plans: dict[int, list[tuple[float, float]]] | None = None,
                 coming: dict[str, tuple[float, float]] | None = None):
        self.now = now
        # Citizens still to come who may be called ahead of a plain ticket, at the pace seen lately:
        # `coming` maps "priority" (ahead within their head start plus the line cap) and "booked"
        # (appointments at their slot: ahead of every walk-in) to (tickets per second, mean work).
        self.coming = coming or {}
        self.delay: dict[str, float] = {}
        self.before: dict[str, int] = {}  # visits placed ahead of each ticket at the windows that serve it
        self.fixed: dict[str, float] = {}  # up to when a ticket's wait is set by the hours, not by visits
        self.placed_at: dict[int, int] = {}  # visits placed at each window so far in the replay
        self.dispatch = dispatch
        self.expected = expected
        # When each window may call: spans from its hours (Engine.work_plan); default: open ones, all day.
        self.plans = plans if plans is not None else {
            n: ([] if w.state == W_CLOSED else [(now, INF)]) for n, w in windows.items()}
        self.free_at: dict[int, float] = {}
        self.opens: dict[int, float] = {}  # windows due to call first when their hours open them
        self.open_windows: dict[str, int] = {}
        self.open_total = sum(1 for w in windows.values() if w.state not in (W_CLOSED, W_PAUSED))
        for number, w in windows.items():
            if w.state not in (W_CLOSED, W_PAUSED):
                for prefix in dispatch.serves[number]:
                    self.open_windows[prefix] = self.open_windows.get(prefix, 0) + 1
            free = self._first_free(number, w, tickets)
            if free is not None:
                self.free_at[number] = free
        # Windows per business type, in the order a tie prefers (the type's place in their skills).
        self.windows_for: dict[str, list[int]] = {}
        for number in self.free_at:
            for prefix in dispatch.serves[number]:
                self.windows_for.setdefault(prefix, []).append(number)
        for prefix, numbers in self.windows_for.items():
            numbers.sort(key=lambda n: dispatch.skill_index[n][prefix])
        self.start: dict[str, float | None] = {}
        self.window_of: dict[str, int] = {}
        self.ahead: dict[str, int] = {}
        self.line_length: dict[str, int] = {}
        self.order: dict[str, list[Ticket]] = {}  # per business type, in the order they will be called
        self._replay(list(waiting))

    def _first_free(self, number: int, w: WindowState, tickets: dict[str, Ticket]) -> float | None:
        if not self.plans.get(number):
            return None
        now, free = self.now, self.now
        if w.state == W_PAUSED:  # a short break: back after PAUSE_SECONDS, or soon if overdue
            free = max(w.since + PAUSE_SECONDS, now + 0.25 * PAUSE_SECONDS)
        if w.ticket is not None and w.state in (W_CALLING, W_SERVING):
            current = tickets[w.ticket]
            begun = current.started_at if current.started_at is not None else now
            free = max(begun + self.expected(current), now + RESIDUAL_SHARE * self.expected(current))
        first = self.slot(number, free)
        if first is not None and first > free:  # a window due to open: the hours set the wait until then
            self.opens[number] = first
        return first

    def slot(self, number: int, at: float) -> float | None:
        """The first time from `at` when window `number` may call (None: not again today)."""
        for a, b in self.plans.get(number, ()):
            if at < b:
                return max(at, a)
        return None

    def _static_key(self, t: Ticket) -> tuple:
        return (t.rank - self.dispatch.credit(t, self.now), t.seq)

    def _replay(self, waiting: list[Ticket]) -> None:
        by_line: dict[object, list[Ticket]] = {}  # business type, or ("window", n) for transferred tickets
        for t in waiting:
            if t.target_window is not None:
                where = ("window", t.target_window) if t.target_window in self.free_at else None
            else:
                where = t.business_type if t.business_type in self.windows_for else None
            if where is None:  # no window may call it today
                self._place(t, None)
            else:
                by_line.setdefault(where, []).append(t)
        lines = {k: _Line(v, self._static_key) for k, v in by_line.items()}
        placed: set[str] = set()
        heap = [(free, number) for number, free in self.free_at.items()]
        heapq.heapify(heap)
        while heap:
            at, number = heapq.heappop(heap)
            best, wake = self._pick(number, at, lines, placed)
            if best is None:
                self.free_at[number] = at
                if wake is not None:  # only tickets told to come later: try again then
                    heapq.heappush(heap, (wake, number))
                continue  # nothing left this window may call
            line, t = best
            placed.add(t.id)
            line.left -= 1
            self._place(t, at, number)
            nxt = self.slot(number, at + self.expected(t))
            self.free_at[number] = INF if nxt is None else nxt
            if nxt is not None:
                heapq.heappush(heap, (nxt, number))
        for line in lines.values():  # nobody left to call them today
            for t in line.oldest:
                if t.id not in placed:
                    self._place(t, None)

    def _pick(self, number: int, at: float, lines: dict, placed: set[str]) -> tuple:
        """What window `number` calls at `at`: (line, ticket), the rule's favourite among each line's
        heads, or None and the earliest time a ticket told to come later may be called."""
        d = self.dispatch
        best_key, best, wake = None, None, None
        for k in [*d.serves[number], ("window", number)]:
            line = lines.get(k)
            if line is None or not line.left:
                continue
            pressure = 0.0 if isinstance(k, tuple) else d.line_pressure(line.left, self.open_windows.get(k, 0))
            for t in line.candidates(placed):
                if t.not_before is not None and t.not_before > at:
                    wake = t.not_before if wake is None else min(wake, t.not_before)
                    continue
                key = d.key(t, number, at, pressure)
                if best_key is None or key < best_key:
                    best_key, best = key, (line, t)
        return best, wake

    def _place(self, t: Ticket, start: float | None, window: int | None = None) -> None:
        if start is not None and t.not_before is not None:
            start = max(start, t.not_before)
        if window is not None:
            self.window_of[t.id] = window
        self.ahead[t.id] = self.line_length.get(t.business_type, 0)
        self.line_length[t.business_type] = self.ahead[t.id] + 1
        self.order.setdefault(t.business_type, []).append(t)
        self.start[t.id] = start
        # Visits placed before it at the windows that may call it (a visit elsewhere does not delay it).
        self.before[t.id] = sum(self.placed_at.get(n, 0) for n in self.windows_for.get(t.business_type, ()))
        if window is not None:
            self.placed_at[window] = self.placed_at.get(window, 0) + 1
        if start is not None:  # the wait up to a window's opening (or `called_after`) is no guess
            opened = [a for a, _ in self.plans.get(window, ()) if a <= start] if window is not None else []
            back = self.opens.get(window, self.now) if window is not None else self.now
            self.fixed[t.id] = max([self.now, back if back <= start else self.now, t.not_before or self.now,
                                    *opened[-1:]])
        if start is not None and self.coming and t.priority_group is None and t.target_window is None \
                and t.appointment_start is None:
            delay = self._jumps(t, start)
            if delay > 0:
                self.delay[t.id] = delay

    def _jumps(self, t: Ticket, start: float) -> float:
        """The median delay to plain ticket `t` (called at `start` if nobody jumped ahead) from citizens
        still to come who would be called ahead of it: each kind arrives as a Poisson stream; its delay
        is the median number arriving before `t` would be called (priority: within their head start
        and the line cap of it) times their mean work, shared by the open windows. The median, not the
        mean: a few such arrivals are often none (see `wait`)."""
        d, now = self.dispatch, self.now
        delay = 0.0
        for kind, until in (("priority", min(start, t.rank + d.head_start + d.line_cap)), ("booked", start)):
            rate, work = self.coming.get(kind, (0.0, 0.0))
            if until > now and rate > 0:
                delay += poisson_median(rate * (until - now)) * work
        return delay / max(1, self.open_total)

    def _best_window(self, t: Ticket) -> int | None:
        if t.target_window is not None:
            return t.target_window if self.free_at.get(t.target_window, INF) < INF else None
        candidates = [n for n in self.windows_for.get(t.business_type, ()) if self.free_at[n] < INF]
        if not candidates:
            return None
        skill = self.dispatch.skill_index
        return min(candidates, key=lambda n: (self.free_at[n], skill[n].get(t.business_type, 0)))

    def add(self, t: Ticket) -> None:
        """Place `t` after everyone already placed."""
        best = self._best_window(t)
        if best is None:
            self._place(t, None)
            return
        start = self.slot(best, max(self.free_at[best], self.now))
        nxt = None if start is None else self.slot(best, start + self.expected(t))
        self.free_at[best] = INF if nxt is None else nxt
        self._place(t, start, best)

    def wait(self, ticket_id: str, now: float) -> float | None:
        """The median seconds from `now` until the ticket is called (None: no open window serves it): the
        replay's start (expected visits) turned into a median. The wait until a window opens is set by its
        hours; after that a ticket is called once the visits placed before it at the windows that serve
        its type end; with n of them and service times about exponential, that wait is about
        Gamma(n + 1) distributed, whose median is about its mean x (1 - 1 / (3 (n + 1))): the wait printed
        is one a citizen is as likely to beat as to exceed (the first in line: about 2/3 of the mean)."""
        start = self.start.get(ticket_id)
        if start is None:
            return None
        fixed = min(max(now, self.fixed.get(ticket_id, now)), start)
        visits = max(0.0, start + self.delay.get(ticket_id, 0.0) - fixed)
        return fixed - now + visits * (1.0 - 1.0 / (3.0 * MEDIAN_SHAPE * (self.before.get(ticket_id, 0) + 1)))

    def peek(self, prefix: str, now: float) -> float | None:
        """Expected wait for a plain ticket of `prefix` taken at `now`, without adding one."""
        free = min((self.free_at[n] for n in self.windows_for.get(prefix, ())), default=INF)
        return None if free == INF else max(0.0, free - now)


def poisson_median(mean: float) -> int:
    """The median of a Poisson count with this mean (0 below ln 2)."""
    if mean > 20:
        return int(mean + 1 / 3)
    k, p = 0, math.exp(-mean)
    cdf = p
    while cdf < 0.5:
        k += 1
        p *= mean / k
        cdf += p
    return k


def naive_wait(ahead: int, mean_service: float, open_windows: int) -> float | None:
    """The usual estimate, kept for comparison: people ahead x mean service time / open windows."""
    if open_windows <= 0:
        return None
    return ahead * mean_service / open_windows

