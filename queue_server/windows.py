"""Window rules of the engine: signing in and out, pauses, calls, service, and the windows' hours
(when a window is expected to call, for the forecast and for transfers).

A mixin of `queue_server.engine.Engine` (which holds the state); pure, like the engine.
"""
from __future__ import annotations

from queue_server.dispatch import BREAK_OVERRUN, INF
from queue_server.model import (
    CALLED, DONE, HELD, SERVING, WAITING, W_CALLING, W_CLOSED, W_IDLE, W_PAUSED, W_RATING, W_SERVING, Rejected,
    Ticket, WindowState,
)


class WindowRules:
    # ------------------------------------------------------------------ checks and hours
    def _window(self, args: dict, clerk_required: bool = True) -> WindowState:
        number = args["window"]
        w = self.windows.get(number)
        if w is None:
            raise Rejected("unknown_window", f"there is no window {number} at this site")
        if clerk_required:
            if w.state == W_CLOSED:
                raise Rejected("window_closed", f"window {number} is closed: sign in first")
            if args.get("clerk") != w.clerk:
                raise Rejected("forbidden", f"window {number} is signed in by another clerk")
        return w

    def _current(self, w: WindowState, states: tuple[str, ...]) -> Ticket:
        if w.ticket is None:
            raise Rejected("no_ticket", f"window {w.number} has no ticket called or in service")
        t = self.tickets[w.ticket]
        if t.state not in states:
            raise Rejected("wrong_state", f"ticket {t.number} is {t.state}")
        return t

    def _require_free(self, w: WindowState) -> None:
        if w.state in (W_CALLING, W_SERVING):
            raise Rejected("window_busy", f"window {w.number} is {w.state} {self.tickets[w.ticket].number}: "
                                          "finish, transfer or hold it first")
        if w.state == W_PAUSED:
            raise Rejected("window_paused", f"window {w.number} is paused: resume first")

    def work_plan(self, number: int, now: float) -> list[tuple[float, float]]:
        """When window `number` is expected to call, from `now`: spans of its hours (a break's end
        stretched by BREAK_OVERRUN while the clerk clears the line; the last span open-ended, the
        line is served out). A signed-in window works from now; a closed one from its next opening."""
        signed_in = self.windows[number].state != W_CLOSED
        spans = () if self.always_open else self.calendar.window_spans(number, now)
        if not spans:
            return [(now, INF)] if signed_in else []
        out = []
        for i, (a, b) in enumerate(spans):
            b = INF if i == len(spans) - 1 else b + BREAK_OVERRUN
            if b <= now or (not signed_in and a <= now):
                continue
            out.append((now if signed_in and not out else a, b))
        return out

    def open_windows(self) -> dict[str, int]:
        """Open windows (signed in, not paused) per business type they serve (kept until a window opens,
        closes, pauses or resumes: `_free_window`; callers must not change the dict)."""
        out = self._open_cache
        if out is None:
            out = {}
            for w in self.windows.values():
                if w.state not in (W_CLOSED, W_PAUSED):
                    for prefix in self.dispatch.serves[w.number]:
                        out[prefix] = out.get(prefix, 0) + 1
            self._open_cache = out
        return out

    def can_serve_today(self, number: int, now: float) -> bool:
        """Is window `number` signed in, or due to work later today by its hours?"""
        if self.windows[number].state != W_CLOSED:
            return True
        return not self.always_open and any(end > now for _, end in self.calendar.window_spans(number, now))

    # ------------------------------------------------------------------ decide
    def _sign_in(self, args: dict, now: float):
        w = self._window(args, clerk_required=False)
        if w.state != W_CLOSED:
            if w.clerk == args["clerk"]:
                return [], self.window_view(w)  # already signed in: idempotent
            raise Rejected("window_taken", f"window {w.number} is signed in by another clerk")
        return [self._event("window_opened", now, window=w.number, clerk=args["clerk"])], \
            lambda: self.window_view(w)

    def _sign_out(self, args: dict, now: float):
        w = self._window(args)
        if w.state in (W_CALLING, W_SERVING):
            self._require_free(w)
        return [self._event("window_closed", now, window=w.number, clerk=w.clerk, reason="sign_out")], \
            lambda: self.window_view(w)

    def _pause(self, args: dict, now: float):
        w = self._window(args)
        if w.state == W_PAUSED:
            return [], self.window_view(w)
        self._require_free(w)
        return [self._event("window_paused", now, window=w.number, reason=args.get("reason", ""))], \
            lambda: self.window_view(w)

    def _resume(self, args: dict, now: float):
        w = self._window(args)
        if w.state != W_PAUSED:
            return [], self.window_view(w)
        return [self._event("window_resumed", now, window=w.number)], lambda: self.window_view(w)

    def _call_next(self, args: dict, now: float):
        w = self._window(args)
        self._require_free(w)
        candidates, waiting = self._candidates(w.number, now)
        t = self.dispatch.choose(w.number, candidates, now, self.open_windows(), waiting)
        if t is None:
            raise Rejected("queue_empty", f"nobody is waiting for window {w.number}")
        return self._call_events(w, t, now, chosen="next")

    def _call(self, args: dict, now: float):
        w = self._window(args)
        self._require_free(w)
        t = self._find_ticket(args["ticket"])
        if t.state != WAITING:
            raise Rejected("wrong_state", f"ticket {t.number} is {t.state}, not waiting")
        served_here = (t.target_window == w.number if t.target_window is not None
                       else t.business_type in self.dispatch.serves[w.number])
        if not served_here:
            raise Rejected("not_served_here", f"window {w.number} does not serve ticket {t.number}")
        return self._call_events(w, t, now, chosen="specific")

    def _call_events(self, w: WindowState, t: Ticket, now: float, chosen: str):
        events = []
        if w.state == W_RATING and w.last_ticket:
            events.append(self._event("rating_skipped", now, window=w.number, ticket=w.last_ticket))
        events.append(self._event("ticket_called", now, ticket=t.id, number=t.number, window=w.number,
                                  clerk=w.clerk, chosen=chosen, waited=round(now - t.arrival, 1)))
        return events, lambda: {"ticket": self.ticket_view(t, now), "call": self.recent_calls[-1]}

    def _recall(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED,))
        if t.calls >= self.site.calls.max_calls:
            raise Rejected("recall_limit", f"ticket {t.number} has been called {t.calls} times: "
                                           "mark it as a no-show or start serving")
        return [self._event("ticket_recalled", now, ticket=t.id, number=t.number, window=w.number,
                            calls=t.calls + 1)], lambda: {"ticket": self.ticket_view(t, now),
                                                          "call": self.recent_calls[-1]}

    def _start(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED,))
        return [self._event("service_started", now, ticket=t.id, window=w.number)], \
            lambda: {"ticket": self.ticket_view(t, now)}

    def _finish(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED, SERVING))
        began = t.started_at if t.started_at is not None else now
        return [self._event("service_finished", now, ticket=t.id, window=w.number,
                            service_seconds=round(now - began, 1), item=t.item)], \
            lambda: {"ticket": self.ticket_view(t, now)}

    def _candidates(self, window: int, now: float) -> tuple[list[Ticket], dict[str, int]]:
        """Tickets window `window` may call now (not those told they are called after a later time), and
        how many of them wait in each line. In a line standing in (rank, seq) order only the first plain
        ticket can be the rule's choice among the plain ones (they share credits, pressure and skill,
        and the oldest is the first overdue), so the others are left out."""
        out: list[Ticket] = []
        waiting: dict[str, int] = {}
        for prefix in self.dispatch.serves[window]:
            ordered = prefix not in self.out_of_order
            plain_seen = False
            n = 0
            for t in self.lines[prefix].values():
                if t.not_before is not None and t.not_before > now:
                    continue
                n += 1
                if ordered and t.priority_group is None and t.appointment_start is None:
                    if plain_seen:
                        continue
                    plain_seen = True
                out.append(t)
            if n:
                waiting[prefix] = n
        out.extend(self.targeted[window].values())
        return out, waiting

    # ------------------------------------------------------------------ apply (events)
    def _free_window(self, number: int, at: float, state: str = W_IDLE) -> None:
        w = self.windows[number]
        if state in (W_CLOSED, W_PAUSED) or w.state in (W_CLOSED, W_PAUSED):
            self._open_cache = None  # open windows per type changed
        if w.state in (W_CALLING, W_PAUSED):
            self.lost_time[0] += at - w.since
        w.ticket = None
        w.state, w.since = state, at
        self.changed_windows.add(number)

    def _on_window_opened(self, e: dict) -> None:
        w = self.windows[e["window"]]
        w.clerk = e["clerk"]
        self._free_window(w.number, e["at"])
        self._invalidate()

    def _on_window_closed(self, e: dict) -> None:
        w = self.windows[e["window"]]
        for tid in w.held:  # held tickets go back into line, keeping their place
            t = self.tickets[tid]
            if t.state == HELD:
                self._join_line(t)
        w.held.clear()
        for t in list(self.targeted[w.number].values()):  # so do tickets transferred to this window
            self.targeted[w.number].pop(t.id)
            t.target_window = None
            self._join_line(t)
        w.clerk, w.pause_reason, w.last_ticket = None, None, None
        self._free_window(w.number, e["at"], W_CLOSED)
        self._invalidate()

    def _on_window_paused(self, e: dict) -> None:
        w = self.windows[e["window"]]
        w.pause_reason = e.get("reason") or None
        self._free_window(w.number, e["at"], W_PAUSED)
        self._invalidate()

    def _on_window_resumed(self, e: dict) -> None:
        self.windows[e["window"]].pause_reason = None
        self._free_window(e["window"], e["at"])
        self._invalidate()

    def _on_ticket_called(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        w = self.windows[e["window"]]
        if t.state == WAITING:
            self._leave_line(t)
            t.waited = e["at"] - t.rank
        elif t.state == HELD:
            w.held.remove(t.id)
        t.state, t.window, t.calls, t.called_at = CALLED, w.number, 1, e["at"]
        t.target_window = None
        if t.first_called_at is None:
            t.first_called_at = e["at"]
        w.ticket, w.state, w.since, w.last_ticket = t.id, W_CALLING, e["at"], None
        self.changed_windows.add(w.number)
        self.changed_types.add(t.business_type)
        self._record_call(t, w, e["at"], recall=False)
        self._invalidate()

    def _record_call(self, t: Ticket, w: WindowState, at: float, recall: bool) -> None:
        name = self.site.window(w.number).name
        self.recent_calls.append({
            "ticket": t.id, "number": t.number, "window": w.number, "window_name": name,
            "calls": t.calls, "recall": recall, "at": at,
            "text_zh": f"请 {t.number} 号到 {w.number} 号窗口办理",
            "text_en": f"Number {t.number}, please go to window {w.number}",
        })

    def _on_ticket_recalled(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        t.calls = e["calls"]
        t.called_at = e["at"]
        w = self.windows[t.window]
        self.changed_windows.add(w.number)
        self._record_call(t, w, e["at"], recall=True)

    def _on_service_started(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        t.state, t.started_at = SERVING, e["at"]
        w = self.windows[t.window]
        self.lost_time[0] += e["at"] - w.since  # calling: the citizen walking up, or recalls
        w.state, w.since = W_SERVING, e["at"]
        self.changed_windows.add(w.number)
        self._invalidate()

    def _on_service_finished(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        if t.started_at is None:
            t.started_at = e["at"]
        t.state, t.finished_at, t.end_reason = DONE, e["at"], "served"
        w = self.windows[t.window]
        w.served += 1
        w.service_seconds += e["service_seconds"]
        key = t.item or t.business_type
        obs = self.observed.setdefault(key, [0.0, 0])
        obs[0] += e["service_seconds"]
        obs[1] += 1
        pace = self.observed_pace.setdefault(t.business_type, [0.0, 0.0, 0])
        pace[0] += e["service_seconds"]
        pace[1] += self.catalogue_service(t)
        pace[2] += 1
        self.lost_time[1] += 1
        if self.site.ratings_enabled:
            self._free_window(w.number, e["at"], W_RATING)
            w.last_ticket = t.id
        else:
            self._free_window(w.number, e["at"])
        self.changed_types.add(t.business_type)
        self._invalidate()

    def _on_rating_skipped(self, e: dict) -> None:
        self.windows[e["window"]].last_ticket = None
