"""What clients see of the engine's state: ticket, window, queue and display views, the snapshot,
and the invariants tests check. A mixin of `queue_server.engine.Engine`.
"""
from __future__ import annotations

from queue_server.model import CALLED, HELD, SERVING, TERMINAL_STATES, W_CALLING, W_CLOSED, W_PAUSED, W_SERVING, \
    WAITING, Ticket, WindowState
from queue_server.tickets import RATING_NAMES


class Views:
    def ticket_view(self, t: Ticket, now: float) -> dict:
        view = {"id": t.id, "number": t.number, "business_type": t.business_type, "item": t.item,
                "state": t.state, "priority_group": t.priority_group, "service_day": self.day,
                "issued_at": self.calendar.iso(t.arrival), "window": t.window}
        if t.state == WAITING and self.estimates:
            fc = self.forecast(now)
            wait = fc.wait(t.id, now)
            view["ahead"] = fc.ahead.get(t.id, 0)
            view["estimated_wait_min"] = None if wait is None else round(wait / 60.0, 1)
        if t.not_before is not None:
            view["called_after"] = self.calendar.iso(t.not_before)
        return view

    def window_view(self, w: WindowState) -> dict:
        cfg = self.site.window(w.number)
        current = self.tickets.get(w.ticket) if w.ticket else None
        return {
            "window": w.number, "name": cfg.name, "state": w.state, "clerk": w.clerk,
            "serves": list(cfg.serves), "since": self.calendar.iso(w.since) if w.since else None,
            "ticket": None if current is None else {"id": current.id, "number": current.number,
                                                    "business_type": current.business_type,
                                                    "calls": current.calls},
            "held": [self.tickets[tid].number for tid in w.held],
            "pause_reason": w.pause_reason, "served_today": w.served,
            "average_service_s": round(w.service_seconds / w.served, 1) if w.served else None,
            "awaiting_rating": self.tickets[w.last_ticket].number if w.last_ticket else None,
        }

    def queue_view(self, prefix: str, now: float) -> dict:
        bt = self.site.business_type(prefix)
        fc = self.forecast(now)
        waiting = self.waiting_count(prefix)
        head = []
        for t in fc.order.get(prefix, ()):  # the forecast's order is the calling order
            if t.state == WAITING and t.business_type == prefix:
                head.append(t.number)
                if len(head) == 5:
                    break
        wait = fc.peek(prefix, now)
        oldest = min((t.arrival for t in self.lines[prefix].values()), default=None)
        for line in self.targeted.values():
            for t in line.values():
                if t.business_type == prefix and (oldest is None or t.arrival < oldest):
                    oldest = t.arrival
        return {
            "business_type": prefix, "name": bt.name, "name_en": bt.name_en, "open": self.type_open[prefix],
            "waiting": waiting, "next": head,
            "issued_today": self.issued.get(prefix, 0),
            "quota_left": None if bt.daily_quota is None else max(0, bt.daily_quota - self.issued.get(prefix, 0)),
            "estimated_wait_min": None if wait is None else round(wait / 60.0, 1),
            "longest_wait_since": None if oldest is None else self.calendar.iso(oldest),
            "windows_open": sum(1 for w in self.windows.values()
                                if w.state not in (W_CLOSED, W_PAUSED) and prefix in self.dispatch.serves[w.number]),
        }

    def display_view(self) -> dict:
        calls = [{k: (self.calendar.iso(v) if k == "at" else v) for k, v in c.items()} for c in self.recent_calls]
        calls.reverse()
        return {
            "site": self.site.site_id, "name": self.site.name, "service_day": self.day,
            "calls": calls[:10], "notice": self.notice,
            "windows": [{"window": w.number, "name": self.site.window(w.number).name, "state": w.state,
                         "number": self.tickets[w.ticket].number if w.ticket else None}
                        for w in self.windows.values()],
        }

    def snapshot(self, now: float) -> dict:
        return {
            "service_day": self.day,
            "windows": [self.window_view(w) for w in self.windows.values()],
            "queues": [self.queue_view(p, now) for p in self.lines],
            "display": self.display_view(),
            "ratings": {RATING_NAMES[s]: n for s, n in self.ratings.items()},
        }

    def take_changes(self) -> tuple[set[int], set[str]]:
        """Windows and business types changed since the last call (what to republish)."""
        w, t = self.changed_windows, self.changed_types
        self.changed_windows, self.changed_types = set(), set()
        return w, t

    def check_invariants(self) -> None:
        at_window: dict[str, int] = {}
        for w in self.windows.values():
            if w.ticket is not None:
                assert w.ticket not in at_window, f"{w.ticket} at two windows"
                at_window[w.ticket] = w.number
                t = self.tickets[w.ticket]
                assert t.state in (CALLED, SERVING) and t.window == w.number, (t, w)
                assert w.state in (W_CALLING, W_SERVING), w
            else:
                assert w.state not in (W_CALLING, W_SERVING), w
            for tid in w.held:
                assert self.tickets[tid].state == HELD and self.tickets[tid].window == w.number
        numbers: set[str] = set()
        waiting = 0
        for t in self.tickets.values():
            assert t.number not in numbers, f"number {t.number} issued twice"
            numbers.add(t.number)
            if t.state in (CALLED, SERVING):
                assert at_window.get(t.id) == t.window, t
            if t.state == WAITING:
                waiting += 1
                where = self.targeted[t.target_window] if t.target_window is not None else self.lines[t.business_type]
                assert t.id in where, t
            if t.state in TERMINAL_STATES:
                assert t.finished_at is not None
        assert waiting == sum(len(x) for x in self.lines.values()) + sum(len(x) for x in self.targeted.values())
        for prefix, line in self.lines.items():  # the short cut of WindowRules._candidates relies on this
            order = [(t.rank, t.seq) for t in line.values()]
            assert prefix in self.out_of_order or order == sorted(order), (prefix, order)
        assert sum(self.issued.values()) == len(self.tickets)
