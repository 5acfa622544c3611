"""Ticket rules of the engine: issuing (hours, quotas, `called_after`), cancelling, no-shows,
transfers, holds, ratings, and the events that move a ticket through its day.

A mixin of `queue_server.engine.Engine` (which holds the state); pure, like the engine. Deciders
(`_issue`, ...) check a command and return (events, reply); appliers (`_on_...`) change state.
"""
from __future__ import annotations

from queue_server import followups
from queue_server.model import (
    CALLED, CANCELLED, DONE, HELD, MISSED, SERVING, W_CLOSED, W_RATING, WAITING, Rejected, Ticket,
)

BAD_RATING = 2  # ratings 1-2 (dissatisfied, very dissatisfied) are bad reviews
RATING_NAMES = {5: "very_satisfied", 4: "satisfied", 3: "basically_satisfied", 2: "dissatisfied",
                1: "very_dissatisfied"}


class TicketRules:
    # ------------------------------------------------------------------ decide
    def _find_ticket(self, ref: str) -> Ticket:
        t = self.tickets.get(ref)
        if t is None:
            tid = self.by_number.get(ref)
            t = self.tickets.get(tid) if tid else None
        if t is None:
            raise Rejected("unknown_ticket", f"no ticket {ref} today")
        return t

    def waiting_count(self, prefix: str) -> int:
        return len(self.lines[prefix]) + sum(
            1 for line in self.targeted.values() for t in line.values() if t.business_type == prefix)

    def _issue(self, args: dict, now: float):
        prefix = args["business_type"]
        bt = self.site.business_type(prefix)
        if bt is None:
            raise Rejected("unknown_business_type", f"there is no business type {prefix} at this site")
        if not self.type_open[prefix]:
            raise Rejected("business_type_closed", f"{bt.name_en or bt.name} is not taking tickets now",
                           next_open=None)
        if not self.always_open and not self.calendar.within(now, bt.issue_hours):
            nxt = self.calendar.next_open(now, bt.issue_hours)
            raise Rejected("outside_hours", "tickets are issued only during opening hours",
                           next_open=self.calendar.iso(nxt) if nxt else None)
        called_after = self._issue_timing(bt, now)
        if bt.daily_quota is not None and self.issued.get(prefix, 0) >= bt.daily_quota:
            nxt = self.calendar.next_open(now, bt.issue_hours, skip_today=True)
            raise Rejected("quota_reached", f"today's {bt.daily_quota} tickets for {bt.name_en or bt.name} "
                                            "are all taken", next_open=self.calendar.iso(nxt) if nxt else None)
        item = args.get("item")
        if item is not None:
            entry = self.site.catalogue.item(item)
            if entry is None or entry.business_type != prefix:
                raise Rejected("unknown_item", f"item {item} is not a {prefix} item of this site")
        group = args.get("priority_group")
        if group is not None and group not in self.site.priority.groups:
            raise Rejected("unknown_priority_group", f"priority group {group} is not served here")
        appointment = args.get("appointment")
        seq = self.counters.get(prefix, 0) + 1
        number = f"{prefix}{seq:03d}"
        tid = f"{self.site.site_id}:{self.day}:{number}"
        event = self._event("ticket_issued", now, ticket=tid, number=number, business_type=prefix, seq=seq,
                            item=item, priority_group=group, channel=args.get("channel", "kiosk"),
                            appointment_ref=appointment["ref"] if appointment else None,
                            appointment_start=appointment["start"] if appointment else None,
                            kiosk=args.get("kiosk"), called_after=called_after)

        def reply():
            return {"ticket": self.ticket_view(self.tickets[tid], now)}
        return [event], reply

    def _issue_timing(self, bt, now: float) -> float | None:
        """When a new ticket of `bt` may be called: None (a serving window is open now), or the time a
        serving window next opens today. Refused in the last `stop_issuing_minutes` before every
        window serving the type closes, and when none works again today."""
        if self.always_open:
            return None
        spans = sorted(s for n in self.serving[bt.prefix] for s in self.calendar.window_spans(n, now))
        end, covered = now, False
        for a, b in spans:  # the end of the scheduled cover that holds `now` (overlapping spans chain)
            if a <= end < b:
                end, covered = b, True
        if covered:
            if end - now >= self.site.stop_issuing_minutes * 60.0:
                return None
            nxt = self.calendar.next_open(end, bt.issue_hours)
            raise Rejected("outside_hours", f"the windows serving {bt.name_en or bt.name} close at "
                           f"{self.calendar.local(end):%H:%M}: tickets stop {self.site.stop_issuing_minutes:g} "
                           "minutes before", next_open=self.calendar.iso(nxt) if nxt else None)
        if not spans or any(self.windows[n].state != W_CLOSED for n in self.serving[bt.prefix]):
            return None
        later = [a for a, _ in spans if a > now]
        if not later:
            nxt = self.calendar.next_open(now, bt.issue_hours, skip_today=True)
            raise Rejected("outside_hours", f"no window serves {bt.name_en or bt.name} again today",
                           next_open=self.calendar.iso(nxt) if nxt else None)
        return min(later)

    def _cancel(self, args: dict, now: float):
        t = self._find_ticket(args["ticket"])
        if t.state not in (WAITING, HELD, CALLED):
            raise Rejected("wrong_state", f"ticket {t.number} is {t.state} and cannot be cancelled")
        return [self._event("ticket_cancelled", now, ticket=t.id, reason=args.get("reason", "citizen"))], \
            {"ticket": t.id}

    def _no_show(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED,))
        policy = self.site.calls
        if t.calls < policy.max_calls:
            left = policy.max_calls - t.calls
            raise Rejected("calls_left", f"ticket {t.number} has been called {t.calls} of {policy.max_calls} "
                                         f"times: recall it before marking a no-show", calls_left=left)
        if policy.missed == "requeue" and t.requeues < policy.max_requeues:
            # Back into its line with `requeue_places` people ahead of it (or last, if fewer wait).
            line = sorted(self.lines[t.business_type].values(), key=lambda x: (x.rank, x.seq))
            places = policy.requeue_places
            if not line:
                rank = t.rank
            elif len(line) <= places:
                rank = line[-1].rank + 0.001
            elif places == 0:
                rank = line[0].rank - 0.001
            else:
                rank = (line[places - 1].rank + line[places].rank) / 2.0
                if rank <= line[places - 1].rank:  # arrivals in the same instant
                    rank = line[places - 1].rank + 0.001
            return [self._event("ticket_requeued", now, ticket=t.id, number=t.number, window=w.number,
                                rank=rank, calls=t.calls)], lambda: {"ticket": self.ticket_view(t, now)}
        return [self._event("ticket_missed", now, ticket=t.id, number=t.number, window=w.number,
                            calls=t.calls)], lambda: {"ticket": self.ticket_view(t, now)}

    def _transfer(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED, SERVING))
        to_type, to_window = args.get("to_business_type"), args.get("to_window")
        if (to_type is None) == (to_window is None):
            raise Rejected("bad_request", "give exactly one of to_business_type or to_window")
        if to_type is not None and self.site.business_type(to_type) is None:
            raise Rejected("unknown_business_type", f"there is no business type {to_type} at this site")
        if to_window is not None:
            if to_window not in self.windows:
                raise Rejected("unknown_window", f"there is no window {to_window} at this site")
            if to_window == w.number:
                raise Rejected("bad_request", "a ticket cannot be transferred to its own window")
            if self.windows[to_window].state == W_CLOSED:
                raise Rejected("transfer_target_closed", f"nobody is signed in at window {to_window}: "
                                                         "transfer to a business type or an open window")
        elif not self.type_open[to_type] or not any(self.can_serve_today(n, now) for n in self.serving[to_type]):
            raise Rejected("transfer_target_closed", f"no window can serve business type {to_type} again today")
        # The waiting clock restarts from the time already waited: the visit itself is not waiting.
        rank = now - t.waited
        return [self._event("ticket_transferred", now, ticket=t.id, number=t.number, window=w.number,
                            to_business_type=to_type, to_window=to_window, note=args.get("note", ""),
                            rank=rank)], \
            lambda: {"ticket": self.ticket_view(t, now)}

    def _hold(self, args: dict, now: float):
        w = self._window(args)
        t = self._current(w, (CALLED, SERVING))
        return [self._event("ticket_held", now, ticket=t.id, number=t.number, window=w.number,
                            note=args.get("note", ""))], lambda: {"ticket": self.ticket_view(t, now)}

    def _call_back(self, args: dict, now: float):
        w = self._window(args)
        self._require_free(w)
        t = self._find_ticket(args["ticket"])
        if t.state != HELD or t.window != w.number:
            raise Rejected("not_held_here", f"ticket {t.number} is not held at window {w.number}")
        events = [self._event("ticket_called", now, ticket=t.id, number=t.number, window=w.number,
                              clerk=w.clerk, chosen="call_back", waited=round(now - t.arrival, 1))]
        return events, lambda: {"ticket": self.ticket_view(t, now), "call": self.recent_calls[-1]}

    def _rate(self, args: dict, now: float):
        t = self._find_ticket(args["ticket"])
        if t.state != DONE:
            raise Rejected("wrong_state", f"ticket {t.number} is {t.state}: only a finished visit is rated")
        if t.rating is not None:
            raise Rejected("already_rated", f"ticket {t.number} has already been rated")
        score = args["score"]
        if args.get("window") is not None and args["window"] != t.window:  # only that window's pad rates
            raise Rejected("not_served_here", f"ticket {t.number} was not served at window {args['window']}")
        clerk = self.windows[t.window].clerk  # signed in at the window that served the visit
        rated = self._event("ticket_rated", now, ticket=t.id, window=t.window, score=score,
                            bad=score <= BAD_RATING, reason=args.get("reason"), item=t.item, clerk=clerk)
        case = followups.opened(rated, t.number, clerk, self.calendar, self.site.follow_up_days)
        return [rated, *case], {"ticket": t.id, "rating": RATING_NAMES[score], "follow_up": bool(case)}

    def _set_business_type(self, args: dict, now: float):
        prefix = args["business_type"]
        if self.site.business_type(prefix) is None:
            raise Rejected("unknown_business_type", f"there is no business type {prefix} at this site")
        if self.type_open[prefix] == args["open"]:
            return [], {"business_type": prefix, "open": args["open"]}
        return [self._event("business_type_set", now, business_type=prefix, open=args["open"])], \
            {"business_type": prefix, "open": args["open"]}

    # ------------------------------------------------------------------ apply (events)
    def _leave_line(self, t: Ticket) -> None:
        if t.target_window is not None:
            self.targeted[t.target_window].pop(t.id, None)
        else:
            line = self.lines[t.business_type]
            line.pop(t.id, None)
            if not line:
                self.out_of_order.discard(t.business_type)
        self.changed_types.add(t.business_type)

    def _join_line(self, t: Ticket) -> None:
        t.state, t.window, t.calls = WAITING, None, 0
        if t.target_window is not None:
            self.targeted[t.target_window][t.id] = t
        else:
            self._append(t)
        self.changed_types.add(t.business_type)

    def _append(self, t: Ticket) -> None:
        """`t` joins the end of its line; a line whose tickets no longer stand in (rank, seq) order is
        noted (`WindowRules._candidates` takes a short cut on the others)."""
        line = self.lines[t.business_type]
        if line:
            last = line[next(reversed(line))]
            if (t.rank, t.seq) < (last.rank, last.seq):
                self.out_of_order.add(t.business_type)
        line[t.id] = t

    def _on_ticket_issued(self, e: dict) -> None:
        t = Ticket(id=e["ticket"], number=e["number"], business_type=e["business_type"], seq=e["seq"],
                   arrival=e["at"], rank=e["at"], item=e.get("item"), priority_group=e.get("priority_group"),
                   appointment_start=e.get("appointment_start"), appointment_ref=e.get("appointment_ref"),
                   channel=e.get("channel", "kiosk"), not_before=e.get("called_after"))
        self.tickets[t.id] = t
        if t.priority_group is not None or t.appointment_start is not None:
            self.priority_recent.append(t)
        self.by_number[t.number] = t.id
        self.counters[t.business_type] = t.seq
        self.issued[t.business_type] = self.issued.get(t.business_type, 0) + 1
        self._append(t)
        self.changed_types.add(t.business_type)
        fc = self._forecast
        if fc is not None and t.priority_group is None and t.appointment_start is None:
            fc.add(t)  # a plain ticket joins the end of the forecast: no need to recompute it
        else:
            self._invalidate()

    def _on_ticket_cancelled(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        if t.state == WAITING:
            self._leave_line(t)
        elif t.state == HELD:
            self.windows[t.window].held.remove(t.id)
            self.changed_windows.add(t.window)
        elif t.state in (CALLED, SERVING):
            self._free_window(t.window, e["at"])
        t.state, t.end_reason, t.finished_at = CANCELLED, e.get("reason"), e["at"]
        self.changed_types.add(t.business_type)
        self._invalidate()

    def _on_ticket_missed(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        self._free_window(t.window, e["at"])
        t.state, t.finished_at, t.end_reason = MISSED, e["at"], "no_show"
        self.changed_types.add(t.business_type)
        self._invalidate()

    def _on_ticket_requeued(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        self._free_window(t.window, e["at"])
        t.rank = e["rank"]
        t.requeues += 1
        self._join_line(t)
        self._invalidate()

    def _on_ticket_transferred(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        self._free_window(t.window, e["at"])
        t.transfers += 1
        t.started_at = None
        t.rank = e.get("rank", t.rank)
        if e.get("to_business_type"):
            self.changed_types.add(t.business_type)
            t.business_type, t.item, t.target_window = e["to_business_type"], None, None
        else:
            t.target_window = e["to_window"]
        self._join_line(t)
        self._invalidate()

    def _on_ticket_held(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        w = self.windows[t.window]
        self._free_window(w.number, e["at"])
        t.state = HELD
        w.held.append(t.id)
        self._invalidate()

    def _on_ticket_rated(self, e: dict) -> None:
        t = self.tickets[e["ticket"]]
        t.rating = e["score"]
        self.ratings[e["score"]] += 1
        w = self.windows.get(t.window)
        if w is not None and w.state == W_RATING and w.last_ticket == t.id:
            w.last_ticket = None
            self._free_window(w.number, e["at"])

    def _on_business_type_set(self, e: dict) -> None:
        self.type_open[e["business_type"]] = e["open"]
        self.changed_types.add(e["business_type"])
