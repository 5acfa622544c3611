"""Appointment commands of the engine: book, change, cancel, check in; no-shows as time passes;
walk-ins refused on appointment-only days; the appointment queries. A mixin of
`queue_server.engine.Engine` (which holds `self.book`, a `queue_server.appointments.Book`); pure.

A check-in on time (from `check_in_early_minutes` before the slot to `check_in_late_minutes` after
its start) issues a ticket carrying the appointment, which the dispatch rule serves ahead of walk-ins
once its slot has begun. Later than that, the citizen gets a walk-in ticket and is told so.
"""
from __future__ import annotations

from datetime import date, timedelta

from queue_server.appointments import BOOKED, CANCELLED, CHECKED_IN, LATE, NO_SHOW, Book
from queue_server.model import Rejected

APPOINTMENT_COMMANDS = ("book", "change_booking", "cancel_booking", "check_in")
APPOINTMENT_QUERIES = ("appointment_slots", "booking_status", "bookings")
APPOINTMENT_EVENTS = ("appointment_booked", "appointment_changed", "appointment_cancelled",
                      "appointment_checked_in", "appointment_no_show", "appointment_holders_purged")
MAX_SLOT_DAYS = 14  # days of slots one appointment_slots query answers


class BookingRules:
    book: Book

    # ------------------------------------------------------------------ decide
    def _book(self, args: dict, now: float):
        prefix = args["business_type"]
        if self.site.business_type(prefix) is None:
            raise Rejected("unknown_business_type", f"there is no business type {prefix} at this site")
        self._check_item(prefix, args.get("item"))
        self.book.check_holder(args["holder"], now)
        slot = self.book.check_slot(prefix, args["start"], now)
        code = self.book.new_code(args["holder"], slot.start, now)
        event = self._event("appointment_booked", now, code=code, business_type=prefix, item=args.get("item"),
                            start=slot.start, end=slot.end, holder=args["holder"],
                            channel=args.get("channel", "online"))
        return [event], lambda: {"booking": self.book.view(self.book.bookings[code])}

    def _change_booking(self, args: dict, now: float):
        b = self._open_booking(args, now)
        slot = self.book.check_slot(b.business_type, args["start"], now, ignore=b)
        if slot.start == b.start:
            return [], {"booking": self.book.view(b)}
        return [self._event("appointment_changed", now, code=b.code, start=slot.start, end=slot.end,
                            old_start=b.start)], lambda: {"booking": self.book.view(b)}

    def _cancel_booking(self, args: dict, now: float):
        b = self._open_booking(args, now)
        return [self._event("appointment_cancelled", now, code=b.code, reason=args.get("reason", "citizen"))], \
            lambda: {"booking": self.book.view(b)}

    def _open_booking(self, args: dict, now: float):
        """A booking its holder may still change or cancel: booked, and its slot not begun."""
        b = self.book.find(args["code"], args["holder"])
        if b.state != BOOKED:
            raise Rejected("booking_closed", f"booking {b.code} is {b.state.replace('_', ' ')}")
        if b.start <= now:
            raise Rejected("slot_started", f"booking {b.code}'s slot has begun: it can no longer be changed")
        return b

    def _check_in(self, args: dict, now: float):
        b = self.book.find(args["code"])
        if b.state in (CHECKED_IN, LATE):
            number = self.tickets[b.ticket].number if b.ticket in self.tickets else b.ticket
            raise Rejected("already_checked_in", f"booking {b.code} has already been checked in: ticket {number}",
                           ticket=number)
        if b.state in (CANCELLED, NO_SHOW):
            raise Rejected("booking_closed", f"booking {b.code} was {'cancelled' if b.state == CANCELLED else 'missed'}"
                           f" (slot {self.calendar.iso(b.start)[:16].replace('T', ' ')})")
        p = self.book.policy
        opens = b.start - p.check_in_early_minutes * 60
        if now < opens:
            raise Rejected("too_early", f"check-in for the {self.calendar.local(b.start):%Y-%m-%d %H:%M} appointment "
                           f"opens at {self.calendar.local(opens):%H:%M}", check_in_from=self.calendar.iso(opens))
        if now > b.start + p.check_in_late_minutes * 60:
            return self._late_check_in(b, args, now)
        ticket = self._appointment_ticket(b, args, now)
        events = [ticket, self._event("appointment_checked_in", now, code=b.code, ticket=ticket["ticket"],
                                      late=False)]
        return events, lambda: {"ticket": self.ticket_view(self.tickets[ticket["ticket"]], now),
                                "booking": self.book.view(b), "walk_in": False}

    def _appointment_ticket(self, b, args: dict, now: float) -> dict:
        prefix = b.business_type
        try:
            called_after = self._issue_timing(self.site.business_type(prefix), now)
        except Rejected:
            called_after = None  # the booked slot is the promise: no issuing-hours refusal for it
        seq = self.counters.get(prefix, 0) + 1
        number = f"{prefix}{seq:03d}"
        return self._event("ticket_issued", now, ticket=f"{self.site.site_id}:{self.day}:{number}", number=number,
                           business_type=prefix, seq=seq, item=b.item, priority_group=None, channel="appointment",
                           appointment_ref=b.code, appointment_start=b.start, kiosk=args.get("kiosk"),
                           called_after=called_after)

    def _late_check_in(self, b, args: dict, now: float):
        """Too late for the slot: a walk-in ticket (if walk-ins are served now), with a clear message."""
        late_by = int((now - b.start) // 60)
        words = (f"you are {late_by} minutes late for your {self.calendar.local(b.start):%H:%M} appointment "
                 f"(check-in closes {self.book.policy.check_in_late_minutes} minutes after the slot begins)")
        try:
            events, _ = self._issue_on_service_day({"business_type": b.business_type, "item": b.item,
                                                    "kiosk": args.get("kiosk")}, now)
        except Rejected as refused:
            raise Rejected("too_late", f"{words}; no walk-in ticket either: {refused.message}",
                           walk_in_refused=refused.code) from None
        tid = events[0]["ticket"]
        events.append(self._event("appointment_checked_in", now, code=b.code, ticket=tid, late=True))
        return events, lambda: {
            "ticket": self.ticket_view(self.tickets[tid], now), "booking": self.book.view(b), "walk_in": True,
            "message": f"{words[0].upper()}{words[1:]}: you have a walk-in ticket and wait like everyone else.",
            "message_zh": f"您已超过预约时间{late_by}分钟,预约失效,已按现场取号排队。"}

    def _check_item(self, prefix: str, item: str | None) -> None:
        if item is not None:
            entry = self.site.catalogue.item(item)
            if entry is None or entry.business_type != prefix:
                raise Rejected("unknown_item", f"item {item} is not a {prefix} item of this site")

    def _issue_on_service_day(self, args: dict, now: float):
        """`issue`, refused for walk-ins on days that serve appointments only (weekend days, holidays).
        An `issue` whose appointment names a booking of the book (a kiosk that read the booking QR's `ref`)
        is that booking's check-in."""
        appointment = args.get("appointment")
        if appointment is not None and str(appointment.get("ref", "")).upper() in self.book.bookings:
            return self._check_in({"code": appointment["ref"], "kiosk": args.get("kiosk")}, now)
        if appointment is not None and args.get("kiosk") and self.book.policy.enabled:
            # A kiosk naming an appointment the book does not hold (a made-up QR): no head start for it.
            args = {k: v for k, v in args.items() if k != "appointment"}
            appointment = None
        if appointment is None:
            kind = self.book.day_kind(self.calendar.local(now).date())
            if kind in ("appointments_only", "holiday"):
                raise Rejected("appointments_only", "today the hall serves booked appointments only: "
                               "book a slot, or come on a working day")
            if kind == "closed" and self.calendar.local(now).date() in self.book.policy.holidays:
                raise Rejected("outside_hours", "the hall is closed for the holiday", next_open=None)
        return self._issue(args, now)

    # ------------------------------------------------------------------ time passing
    def _appointment_tick(self, now: float) -> list[dict]:
        """No-shows (slot ended, never checked in) and identities due to be forgotten."""
        if now < self._appointments_due or self.day is None:
            return []
        missed, purge = self.book.due(now)
        if not missed and not purge:
            self._appointments_due = self.book.next_due()
            return []
        # (the due time stays passed: the next tick rescans, finds these done and moves it on)
        events = [self._event("appointment_no_show", now, code=b.code, business_type=b.business_type,
                              start=b.start) for b in missed]
        if purge:
            events.append(self._event("appointment_holders_purged", now, codes=sorted(b.code for b in purge)))
        return events

    # ------------------------------------------------------------------ queries
    def _appointment_query(self, command: str, args: dict, now: float) -> dict:
        try:
            if command == "appointment_slots":
                return {"ok": True, **self._slots_answer(args, now)}
            if command == "booking_status":
                return {"ok": True, "booking": self.book.view(self.book.find(args["code"]))}
            return {"ok": True, **self._bookings_answer(args, now)}
        except Rejected as rejected:
            return {"ok": False, "error": rejected.as_error()}
        except ValueError as bad:  # a date the schema let through but the calendar cannot use
            return {"ok": False, "error": {"code": "bad_request", "message": str(bad)}}

    def _slots_answer(self, args: dict, now: float) -> dict:
        prefix = args["business_type"]
        if self.site.business_type(prefix) is None:
            raise Rejected("unknown_business_type", f"there is no business type {prefix} at this site")
        if not self.book.policy.bookable(prefix):
            raise Rejected("not_bookable", f"business type {prefix} is not served by appointment here")
        self._check_item(prefix, args.get("item"))
        first = date.fromisoformat(args["day"]) if "day" in args else self.calendar.local(now).date()
        days = min(args.get("days", 1), MAX_SLOT_DAYS)
        slots = self.book.upcoming(prefix, now, first, days)
        return {"business_type": prefix, "item": args.get("item"),
                "days": [{"day": (first + timedelta(days=i)).isoformat(),
                          "kind": self.book.day_kind(first + timedelta(days=i))} for i in range(days)],
                "slots": [self.book.slot_view(s) for s in slots], "rule": self.book.rule_text(),
                "rule_zh": self.book.rule_text_zh(), "identity": list(self.book.policy.identity)}

    def _bookings_answer(self, args: dict, now: float) -> dict:
        """A day's bookings per slot with their check-in state (the manager's view; no identities)."""
        d = date.fromisoformat(args["day"]) if "day" in args else self.calendar.local(now).date()
        per_slot: dict[tuple[str, float], list] = {}
        for b in self.book.on_day(d):
            per_slot.setdefault((b.business_type, b.start), []).append(b)
        slots = []
        for (prefix, start), group in sorted(per_slot.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            slot = self.book.slot_at(prefix, start)
            slots.append({"business_type": prefix, "start": self.calendar.iso(start),
                          "capacity": slot.capacity if slot else None,
                          "bookings": [{"code": b.code, "item": b.item, "state": b.state, "channel": b.channel,
                                        "ticket": self.tickets[b.ticket].number if b.ticket in self.tickets
                                        else b.ticket} for b in group]})
        counts = {s: sum(1 for b in self.book.on_day(d) if b.state == s) for s in (BOOKED, CHECKED_IN, LATE, NO_SHOW)}
        return {"day": d.isoformat(), "kind": self.book.day_kind(d), "slots": slots, "counts": counts}

    # ------------------------------------------------------------------ apply (events)
    def _on_appointment_event(self, e: dict) -> None:
        self.book.apply(e)
        b = self.book.bookings.get(e.get("code", ""))
        if b is not None and e["type"] in ("appointment_booked", "appointment_changed"):
            self._appointments_due = min(self._appointments_due, b.end)  # never later than the truth

    _on_appointment_booked = _on_appointment_changed = _on_appointment_cancelled = _on_appointment_event
    _on_appointment_checked_in = _on_appointment_no_show = _on_appointment_holders_purged = _on_appointment_event
