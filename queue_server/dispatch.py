"""Who a window calls next, and when each waiting citizen can expect to be called.

One ordering rule serves both: `Dispatch.key` ranks a waiting ticket for a window (smaller is
sooner). The forecast replays that rule forward over the open windows with expected service times,
so the estimate printed on a ticket follows the same policy that will actually call it.

The rule, in order:
1. A ticket that has waited `max_wait` or longer goes first, longest wait first (aging: nobody
   waits past the maximum while a window that may serve them calls others). Waiting is counted from
   `rank`: the arrival time, kept through transfers; a missed ticket put back in line counts from
   the place it was given.
2. Otherwise tickets are ranked by their place in line (`rank`, normally the arrival time), moved
   forward by credits: a priority group's head start; an appointment whose slot has begun; the
   pressure of the ticket's line (`line_step` for each person waiting in it per window trained for
   its business type, so a window that serves several lines helps the one falling behind); and
   moved back by `skill_step` for each place the business type stands down the window's list of
   skills. Within one line the pressure is the same for everyone, so a line keeps its own order.
"""
from __future__ import annotations

import heapq
from typing import Callable, Iterable

from onewindow.config import SiteConfig
from queue_server.model import Ticket, WindowState, W_CLOSED, W_PAUSED, W_CALLING, W_SERVING

# An appointment whose slot has begun ranks as if it had waited this much longer than anyone else
# could without being overdue: it is served ahead of walk-ins at its slot.
APPOINTMENT_CREDIT_FACTOR = 2.0
# `priority.line_step_minutes` (default 60): minutes of credit per person waiting in a ticket's line,
# per window trained for its business type. Measured in sim/: with six business types on windows
# trained for three each at 85% load, it brings the mean wait from ~21% to ~7% above the fully
# pooled bound (docs/DISPATCH.md).
# Forecast: a paused window is expected back PAUSE_SECONDS after its pause began; a visit running
# past its expected length is expected to need RESIDUAL_SHARE of it again (service times have a long
# tail). Both were measured in sim/ (docs/DISPATCH.md): they cut the estimate error by about 3%.
PAUSE_SECONDS = 600.0
RESIDUAL_SHARE = 0.25
# Before a break (lunch) clerks clear the line they serve: the forecast lets a window call for this
# long after the end of a span that another span follows the same day.
BREAK_OVERRUN = 30 * 60.0
INF = float("inf")


class Dispatch:
    def __init__(self, site: SiteConfig):
        self.head_start = site.priority.head_start_minutes * 60.0
        self.max_wait = site.priority.max_wait_minutes * 60.0
        self.skill_step = site.priority.skill_step_minutes * 60.0
        self.appointment_credit = APPOINTMENT_CREDIT_FACTOR * self.max_wait
        self.line_step = site.priority.line_step_minutes * 60.0
        self.trained: dict[str, int] = {}  # business type -> windows trained for it
        for w in site.windows:
            for prefix in w.serves:
                self.trained[prefix] = self.trained.get(prefix, 0) + 1
        self.skill_index = {w.number: {p: i for i, p in enumerate(w.serves)} for w in site.windows}
        self.serves = {w.number: w.serves for w in site.windows}

    def credit(self, t: Ticket, now: float) -> float:
        c = 0.0
        if t.priority_group is not None:
            c += self.head_start
        if t.appointment_start is not None and now >= t.appointment_start:
            c += self.appointment_credit
        return c

    def key(self, t: Ticket, window: int, now: float, pressure: float = 0.0) -> tuple:
        """Sort key of `t` for `window` (smaller is called sooner); `pressure` is its line's credit."""
        if now - t.rank >= self.max_wait:
            return (0, t.rank, t.seq)
        skill = self.skill_index[window].get(t.business_type, 0) if t.target_window is None else 0
        return (1, t.rank - self.credit(t, now) - pressure + skill * self.skill_step, t.seq)

    def pressure(self, candidates: list[Ticket]) -> dict[str, float]:
        """Credit per business type: people waiting in its line per window trained for it."""
        if not self.line_step:
            return {}
        counts: dict[str, int] = {}
        for t in candidates:
            if t.target_window is None:
                counts[t.business_type] = counts.get(t.business_type, 0) + 1
        return {p: self.line_step * n / self.trained[p] for p, n in counts.items()}

    def choose(self, window: int, candidates: Iterable[Ticket], now: float) -> Ticket | None:
        candidates = list(candidates)
        pressure = self.pressure(candidates) if len(candidates) > 1 else {}
        best, best_key = None, None
        for t in candidates:
            k = self.key(t, window, now, pressure.get(t.business_type, 0.0) if t.target_window is None else 0.0)
            if best_key is None or k < best_key:
                best, best_key = t, k
        return best


class Forecast:
    """Expected call time of every waiting ticket: the dispatch rule replayed over the open windows.

    Windows are taken in the order they come free (now, or when the visit in hand is expected to
    end); each calls the ticket `Dispatch.key` would give it at that moment (aging, credits, line
    pressure, its own skill order), which then occupies it for its expected service time.
    `expected` gives a ticket's expected service seconds (observed today, blended with the
    catalogue's figure). Closed windows are not counted, paused ones from when their break is
    expected to end; citizens who have not come yet are not foreseen. Start times are absolute, so a forecast stays usable while time
    passes and plain tickets join the end (`add`).
    """

    def __init__(self, dispatch: Dispatch, windows: dict[int, WindowState], tickets: dict[str, Ticket],
                 waiting: Iterable[Ticket], expected: Callable[[Ticket], float], now: float,
                 plans: dict[int, list[tuple[float, float]]] | None = None):
        self.now = now
        self.dispatch = dispatch
        self.expected = expected
        # When each window may call: spans from its hours (Engine.work_plan); default: open ones, all day.
        self.plans = plans if plans is not None else {
            n: ([] if w.state == W_CLOSED else [(now, INF)]) for n, w in windows.items()}
        self.free_at: dict[int, float] = {}
        for number, w in windows.items():
            if not self.plans.get(number):
                continue
            free = now
            if w.state == W_PAUSED:  # a short break: back after PAUSE_SECONDS, or soon if overdue
                free = max(w.since + PAUSE_SECONDS, now + 0.25 * PAUSE_SECONDS)
            if w.ticket is not None and w.state in (W_CALLING, W_SERVING):
                current = tickets[w.ticket]
                begun = current.started_at if current.started_at is not None else now
                free = max(begun + expected(current), now + RESIDUAL_SHARE * expected(current))
            free = self.slot(number, free)
            if free is not None:
                self.free_at[number] = free
        # Open windows per business type, in the order a tie prefers (the type's place in their skills).
        self.windows_for: dict[str, list[int]] = {}
        for number in self.free_at:
            for prefix in dispatch.serves[number]:
                self.windows_for.setdefault(prefix, []).append(number)
        for prefix, numbers in self.windows_for.items():
            numbers.sort(key=lambda n: dispatch.skill_index[n][prefix])
        self.start: dict[str, float | None] = {}
        self.ahead: dict[str, int] = {}
        self.line_length: dict[str, int] = {}
        self.order: dict[str, list[Ticket]] = {}  # per business type, in the order they will be called
        self._replay(list(waiting))

    def slot(self, number: int, at: float) -> float | None:
        """The first time from `at` when window `number` may call (None: not again today)."""
        for a, b in self.plans.get(number, ()):
            if at < b:
                return max(at, a)
        return None

    def _static_key(self, t: Ticket) -> tuple:
        return (t.rank - self.dispatch.credit(t, self.now), t.seq)

    def _replay(self, waiting: list[Ticket]) -> None:
        d, now = self.dispatch, self.now
        lines: dict[object, list[Ticket]] = {}  # business type, or ("window", n) for transferred tickets
        for t in sorted(waiting, key=self._static_key):
            if t.target_window is not None:
                where = ("window", t.target_window) if t.target_window in self.free_at else None
            else:
                where = t.business_type if t.business_type in self.windows_for else None
            if where is None:  # no open window may call it
                self._place(t, None)
                continue
            lines.setdefault(where, []).append(t)
        oldest = {k: sorted(v, key=lambda t: (t.rank, t.seq)) for k, v in lines.items()}
        head = {k: 0 for k in lines}  # next unplaced index into lines[k]
        old = {k: 0 for k in lines}  # next unplaced index into oldest[k]
        left = {k: len(v) for k, v in lines.items()}
        placed: set[str] = set()
        heap = [(free, number) for number, free in self.free_at.items()]
        heapq.heapify(heap)
        while heap:
            at, number = heapq.heappop(heap)
            best_key, best_line, best = None, None, None
            for k in [*d.serves[number], ("window", number)]:
                if not left.get(k):
                    continue
                line, by_rank = lines[k], oldest[k]
                while line[head[k]].id in placed:
                    head[k] += 1
                while by_rank[old[k]].id in placed:
                    old[k] += 1
                first = by_rank[old[k]]
                if at - first.rank >= d.max_wait:
                    key, t = (0, first.rank, first.seq), first
                else:
                    t = line[head[k]]
                    if isinstance(k, tuple):
                        shift = 0.0
                    else:
                        shift = d.skill_index[number][k] * d.skill_step - d.line_step * left[k] / d.trained[k]
                    key = (1, t.rank - d.credit(t, now) + shift, t.seq)
                if best_key is None or key < best_key:
                    best_key, best_line, best = key, k, t
            self.free_at[number] = at
            if best is None:
                continue  # nothing left this window may call
            placed.add(best.id)
            left[best_line] -= 1
            self._place(best, at)
            nxt = self.slot(number, at + self.expected(best))
            self.free_at[number] = INF if nxt is None else nxt
            if nxt is not None:
                heapq.heappush(heap, (nxt, number))

    def _place(self, t: Ticket, start: float | None) -> None:
        if start is not None and t.not_before is not None:
            start = max(start, t.not_before)
        self.ahead[t.id] = self.line_length.get(t.business_type, 0)
        self.line_length[t.business_type] = self.ahead[t.id] + 1
        self.order.setdefault(t.business_type, []).append(t)
        self.start[t.id] = start

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
        self._place(t, start)

    def wait(self, ticket_id: str, now: float) -> float | None:
        """Expected seconds from `now` until the ticket is called (None: no open window serves it)."""
        start = self.start.get(ticket_id)
        return None if start is None else max(0.0, start - now)

    def peek(self, prefix: str, now: float) -> float | None:
        """Expected wait for a plain ticket of `prefix` taken at `now`, without adding one."""
        free = min((self.free_at[n] for n in self.windows_for.get(prefix, ())), default=INF)
        return None if free == INF else max(0.0, free - now)


def naive_wait(ahead: int, mean_service: float, open_windows: int) -> float | None:
    """The usual estimate, kept for comparison: people ahead x mean service time / open windows."""
    if open_windows <= 0:
        return None
    return ahead * mean_service / open_windows

