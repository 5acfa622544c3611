"""The queue server: commands in over a transport, the engine decides, the store makes it durable.

The transport delivers commands in batches (`onewindow.transport`): the server's handler only collects
them; at the end of each batch (`on_batch_end`, on the transport's own thread) the server runs each
command through the engine, writes the batch's events and replies to SQLite in one transaction
(group commit), and only then publishes the replies, the call events and the retained state that
changed. One thread, no queue: the MQTT transport and the in-process one drive it the same way.

The server never dies of input: a bad payload gets an error reply (when it names where to reply)
and a log line; an unexpected failure in one command gets an `internal_error` reply.
"""
from __future__ import annotations

import gc
import json
import logging
import time
from typing import Callable

from onewindow import PROTOCOL_VERSION, __version__
from onewindow.config import SiteConfig
from onewindow.logsafe import SenderLog, escape
from onewindow.topics import Topics
from onewindow.transport import Transport, dumps
from queue_server import commands, followups
from queue_server import appointment_log, budget
from queue_server.engine import Engine
from queue_server.roles import Roles
from queue_server.security_events import SecurityEvents
from queue_server.store import Store, StoreError

log = logging.getLogger("onewindow.server")

QUEUE_STATE_INTERVAL = 0.5  # seconds between republishing a busy business type's queue state
REPLY_MEMORY = 2 * 86400.0  # how far back retried request ids are remembered after a restart


def error_reply(request_id: str | None, code: str, message: str) -> str:
    return dumps({"v": PROTOCOL_VERSION, "request_id": request_id, "ok": False,
                  "error": {"code": code, "message": message}})


def collect_when_due(threshold: int = 700, ratio: int = 10) -> None:
    """Python's own rule (gc's default thresholds 700, 10, 10), run when the caller chooses: the youngest
    generation after `threshold` net allocations, the middle one every `ratio` of those, the oldest every
    `ratio` of the middle one's."""
    young, middle, old = gc.get_count()
    if young < threshold:
        return
    gc.collect(2 if middle >= ratio and old >= ratio else 1 if middle >= ratio else 0)


class Batch:
    """What one batch of commands leads to: replies to send, events and requests to store, calls."""

    def __init__(self, resync: bool = False):
        self.resync = resync  # republish every retained topic
        self.replies: list[tuple[str, str]] = []  # (reply_to, payload)
        self.events: list[tuple[dict, str]] = []  # (event, request id)
        self.requests: list[tuple[str, str, float, bool, str]] = []  # as Store.commit takes them
        self.calls: list[dict] = []

    def accept(self, command: str, request_id: str, reply_to: str, now: float, events: list[dict],
               text: str, ok: bool) -> None:
        self.events.extend((e, request_id) for e in events)
        self.requests.append((request_id, command, now, ok, text))
        self.replies.append((reply_to, text))

    def refuse_all(self, code: str, message: str) -> None:
        """The batch could not be stored: every reply becomes this error; nothing happened."""
        self.replies = [(rt, error_reply(json.loads(p).get("request_id"), code, message))
                        for rt, p in self.replies]
        self.events, self.requests, self.calls = [], [], []


class QueueServer:
    def __init__(self, site: SiteConfig, store: Store, transport: Transport,
                 clock: Callable[[], float] = time.time, always_open: bool = False, roles: Roles | None = None):
        """`roles`: who may send what (docs/SECURITY.md); None: any sender may send any command (an open
        site, for tests and development only)."""
        self.site = site
        self.roles = roles
        if roles is not None:
            roles.ticket_window = self._ticket_window
            roles.ticket_kiosk = self._ticket_kiosk
        self.store = store
        self.transport = transport
        self.clock = clock
        self.always_open = always_open
        self.topics = Topics(site.site_id)
        self.replies: dict[str, str] = {}
        self.engine = self._rebuild()
        self.stats = {"commands": 0, "duplicates": 0, "rejected": 0, "bad": 0, "batches": 0, "forbidden": 0}
        self.bad_log = SenderLog(log)  # bad input: a few lines per sender, then one summary line
        # A flood from one sender is dropped before parsing; kiosks issue at a person's pace.
        self.budget = budget.TokenBuckets(budget.MESSAGES_PER_SECOND, budget.MESSAGE_BURST, time.monotonic)
        self.program_budget = budget.TokenBuckets(budget.PROGRAM_MESSAGES_PER_SECOND, budget.PROGRAM_MESSAGE_BURST,
                                                  time.monotonic)  # consoles, managers; everyone on an open site
        self.kiosk_issues = budget.TokenBuckets(budget.KIOSK_ISSUES_PER_MINUTE / 60, budget.KIOSK_ISSUE_BURST,
                                                clock)
        self.bad_replies = budget.TokenBuckets(budget.BAD_REPLIES_PER_SECOND, budget.BAD_REPLY_BURST,
                                               time.monotonic)
        self.dropped: dict[str, int] = {}
        self.security = SecurityEvents(time.monotonic)  # reported to managers on event/security
        self.quarantined: dict[str, float] = {}  # sender -> until (monotonic): not listened to
        self._waiting: list[tuple[str, bytes]] = []
        self._resync = True
        self._queue_dirty: set[str] = set()
        self._queue_published: dict[str, float] = {}
        self._site_day: str | None = None
        self.collects_garbage = False  # see collect_garbage_between_batches

    # ------------------------------------------------------------------ life cycle
    def _rebuild(self) -> Engine:
        """A fresh engine holding exactly what the log says (used at start and after a failed write)."""
        engine = Engine(self.site, always_open=self.always_open)
        events = self.store.latest_day_events()
        older_cases = self.store.events_of_types(followups.EVENT_TYPES, events[0]["day"] if events else None)
        # follow-up cases and the appointment book outlive the service day they began on
        older = older_cases + appointment_log.earlier_events(self.store, events[0]["day"] if events else None,
                                                             self.clock())
        for event in older + events:
            engine.apply(event)
        engine.take_changes()
        self.issued_by = {e["ticket"]: e.get("kiosk") or "" for e in events if e["type"] == "ticket_issued"}
        self.replies = self.store.replies_since(self.clock() - REPLY_MEMORY)
        log.info("state rebuilt from the log: %d events of service day %s, %d tickets, %d remembered requests",
                 len(events), engine.day or "-", len(engine.tickets), len(self.replies))
        return engine

    def start(self) -> None:
        """Subscribe to the site's commands; from now on each batch the transport delivers is processed."""
        self.transport.on_connected = self._on_connected
        self.transport.on_batch_end = self._on_batch_end
        if self.roles is not None and hasattr(self.transport, "unsubscribe"):
            # One subscription per device: the server can stop listening to one that floods, and the broker
            # then drops its messages instead of queueing them ahead of everyone else's.
            for member in self.roles.members.values():  # the server's own name too: a second server's probe
                self.transport.subscribe(self.topics.cmd("+", member.id), self._on_command)
        else:
            self.transport.subscribe(self.topics.cmd_filter, self._on_command)

    def collect_garbage_between_batches(self) -> None:
        """Python's garbage collector runs between batches, after their replies have left, not inside one.

        Left to itself it stops the process whenever a count of allocations passes its threshold: inside a
        command as often as not (2 % of ticket issues here, up to 0.3 ms each; a full collection took 12-20
        ms). Everything made while starting (configuration, catalogue, the day rebuilt from the log) is
        frozen out of collections; the same rule as Python's own then runs at the end of each batch (see
        `collect_when_due`). For the server process only: it turns the collector off for the whole process."""
        gc.freeze()
        gc.disable()
        self.collects_garbage = True

    def stop(self) -> None:
        """Process no more batches (stop the transport first, so that none is under way)."""
        self.transport.on_batch_end = None
        self.transport.on_connected = None

    def _on_connected(self) -> None:
        self._resync = True  # a broker may come back without the retained state

    def _on_command(self, topic: str, payload: bytes) -> None:
        found = self.topics.sender_and_command(topic)  # onewindow/{site}/cmd/{sender}/{command}
        sender = found[0] if found else ""
        role = self.roles.role_of(sender) if self.roles is not None else "console"
        if not (self.program_budget if role in ("console", "manager") else self.budget).allow(sender):
            self.dropped[sender] = self.dropped.get(sender, 0) + 1
            return
        self._waiting.append((topic, payload))

    def _on_batch_end(self) -> None:
        if self.dropped or self.quarantined:
            self._police_floods()
        waiting, self._waiting = self._waiting, []
        resync, self._resync = self._resync, False
        try:
            self.process(waiting, resync=resync)
        except Exception:  # never let the transport's thread die; the log says what happened
            log.exception("unexpected failure while processing a batch of %d messages", len(waiting))
        if self.collects_garbage:
            collect_when_due()

    # ------------------------------------------------------------------ one batch
    def process(self, messages: list[tuple[str, bytes]], resync: bool = False) -> None:
        """Handle one batch of (topic, payload) command messages, then publish what they changed."""
        batch = Batch(resync)
        # The day rolls over on time, with or without commands (this runs at least once a second).
        batch.events.extend((e, None) for e in self.engine.tick(self.clock()))
        for topic, payload in messages:
            self._handle(batch, topic, payload)
        if batch.requests or batch.events:
            self._store(batch)
            appointment_log.forget_holders(self.store, (e for e, _ in batch.events))
        if messages:
            self.stats["batches"] += 1
            self.stats["messages"] = self.stats.get("messages", 0) + len(messages)
        self._send(batch)

    def _handle(self, batch: Batch, topic: str, payload: bytes) -> None:
        found = self.topics.sender_and_command(topic)
        if found is None:
            self.bad_log.warning("(wrong topic)", "wrong_topic", f"ignored a message on {topic}: not a "
                                 f"command topic of site {self.site.site_id}")
            return
        sender, command = found
        try:
            request_id, reply_to, args = self._parse(sender, command, payload)
        except commands.BadRequest as bad:
            self._bad(batch, command, payload, bad, sender)
            return
        first = self.replies.get(request_id)
        if first is not None:  # a retry: the first answer, never a second ticket
            self.stats["duplicates"] += 1
            batch.replies.append((reply_to, first))
            return
        now = self.clock()
        if self.roles is not None and not self._allowed(batch, sender, command, request_id, reply_to, args):
            return
        if command in commands.QUERIES:
            reply = self.engine.query(command, args, now)
            batch.replies.append((reply_to, self._reply_text(request_id, reply)))
            return
        try:
            events, reply = self.engine.handle(command, args, now)
        except Exception as exc:
            log.exception("command %s (request %s) failed inside the engine", command, request_id)
            batch.replies.append((reply_to, error_reply(request_id, "internal_error", str(exc))))
            self._rebuild_after_failure(batch)
            return
        self.stats["commands"] += 1
        if not reply["ok"]:
            self.stats["rejected"] += 1
            log.info("refused %s from %s: %s", command, sender, reply["error"]["message"])
        text = self._reply_text(request_id, reply)
        self.replies[request_id] = text
        batch.accept(command, request_id, reply_to, now, events, text, reply["ok"])
        for e in events:
            if e["type"] == "ticket_issued":
                self.issued_by[e["ticket"]] = e.get("kiosk") or ""
        if any(e["type"] in ("ticket_called", "ticket_recalled") for e in events):
            batch.calls.append(dict(self.engine.recent_calls[-1]))

    def _reply_text(self, request_id: str, reply: dict) -> str:
        call = reply.get("call")
        if call is not None and isinstance(call.get("at"), (int, float)):  # times travel as ISO local time
            reply = {**reply, "call": {**call, "at": self.engine.calendar.iso(call["at"])}}
        return dumps({"v": PROTOCOL_VERSION, "request_id": request_id, **reply})

    def _store(self, batch: Batch) -> None:
        try:
            self.store.commit(batch.events, batch.requests)
        except StoreError as exc:
            log.error("%s; refusing this batch of %d commands and rebuilding state", exc, len(batch.requests))
            for request_id, *_ in batch.requests:
                self.replies.pop(request_id, None)
            self.engine = self._rebuild()
            batch.refuse_all("store_unavailable", "the queue log could not be written; try again")

    def _send(self, batch: Batch) -> None:
        publish = self.transport.publish
        for reply_to, text in batch.replies:
            publish(reply_to, text, qos=1)
        for call in batch.calls:
            call["at"] = self.engine.calendar.iso(call["at"])
            publish(self.topics.calls, dumps({"v": PROTOCOL_VERSION, **call}), qos=1)
        if batch.replies:
            self.transport.flush()  # the replies leave now; state updates can take their time
        if batch.events:
            self._publish_log(batch.events)
        self._publish_state(full=batch.resync)
        if self.store.checkpoint_due():
            self.store.checkpoint()
        for report in self.security.due():
            publish(self.topics.security, dumps({"v": PROTOCOL_VERSION, "site": self.site.site_id,
                                                 "at": self.engine.calendar.iso(self.clock()),
                                                 "role": self.roles.role_of(report["sender"]) if self.roles else None,
                                                 **report}), qos=1)
        if self.bad_log.suppressed_total:
            self.bad_log.flush()

    def _rebuild_after_failure(self, batch: Batch) -> None:
        """An engine error may have left state half-changed: write what the batch did so far, then rebuild."""
        if batch.requests:
            self.store.commit(batch.events, batch.requests)
            batch.events.clear()
            batch.requests.clear()
        self.engine = self._rebuild()

    def _police_floods(self) -> None:
        """Count what went over budget; stop listening for a while to a device that floods."""
        dropped, self.dropped = self.dropped, {}
        self.stats["dropped"] = self.stats.get("dropped", 0) + sum(dropped.values())
        now = time.monotonic()
        for sender, n in dropped.items():
            self.bad_log.warning(sender, "over_budget", f"dropped {n} commands from {sender}: over its budget "
                                 f"of messages a second (a flood?)")
            self.security.note(sender, "flood", "more messages a second than its budget: dropped, and the device "
                               f"not listened to for {budget.QUARANTINE_SECONDS:.0f} s", n)
            if self.roles is not None and sender in self.roles.members and sender not in self.quarantined \
                    and hasattr(self.transport, "unsubscribe"):
                self.transport.unsubscribe(self.topics.cmd("+", sender))
                self.quarantined[sender] = now + budget.QUARANTINE_SECONDS
                log.warning("%s floods the server: not listening to it for %.0f s", sender, budget.QUARANTINE_SECONDS)
        for sender, until in list(self.quarantined.items()):
            if now >= until:
                del self.quarantined[sender]
                self.transport.subscribe(self.topics.cmd("+", sender), self._on_command)
                log.info("listening to %s again", sender)

    def _parse(self, sender: str, command: str, payload: bytes) -> tuple[str, str, dict]:
        """Check a payload; replies go only to the sender's own reply topic (no reflection onto others)."""
        own = self.topics.reply(sender)
        if not commands.CLIENT_ID_RE.fullmatch(sender):
            raise commands.BadRequest("bad_sender", "the client name in the topic is not valid")
        try:
            request_id, reply_to, args = commands.parse(command, payload, self.topics.reply_prefix)
        except commands.BadRequest as bad:
            bad.reply_to = own if bad.reply_to is not None else None
            raise
        if reply_to != own:
            raise commands.BadRequest("bad_reply_to", f"reply_to must be {own}: the topic says you are {sender}",
                                      request_id, own)
        return request_id, reply_to, args

    def _allowed(self, batch: Batch, sender: str, command: str, request_id: str, reply_to: str,
                 args: dict) -> bool:
        """The role check (queue_server/roles.py); a refusal is answered `forbidden`, logged, not stored."""
        refusal = self.roles.check(sender, command, args)
        if refusal is not None:
            self.stats["forbidden"] += 1
            if refusal.code == "forbidden":
                self.security.note(sender, "forbidden", f"refused {command}: {refusal.message}")
            self.bad_log.warning(sender, refusal.code, f"refused {command} from {sender}: {refusal.message}")
            batch.replies.append((reply_to, error_reply(request_id, refusal.code, refusal.message)))
            return False
        if command in ("issue", "check_in") and self.roles.role_of(sender) == "kiosk":
            args["kiosk"] = sender  # the ticket records the kiosk that issued it, as the broker knows it
            if not self.kiosk_issues.allow(sender):
                wait = round(self.kiosk_issues.retry_after(sender), 1)
                self.stats["throttled"] = self.stats.get("throttled", 0) + 1
                self.security.note(sender, "throttled", f"issuing faster than people can (over "
                                   f"{budget.KIOSK_ISSUES_PER_MINUTE:.0f} tickets a minute)")
                self.bad_log.warning(sender, "throttled", f"kiosk {sender} issues tickets faster than people can "
                                     f"(over {budget.KIOSK_ISSUES_PER_MINUTE:.0f} a minute): throttled")
                batch.replies.append((reply_to, dumps({
                    "v": PROTOCOL_VERSION, "request_id": request_id, "ok": False, "error": {
                        "code": "throttled", "message": "this kiosk is issuing faster than people can; wait",
                        "retry_after": wait}})))
                return False
        return True

    def _ticket_kiosk(self, ref: str) -> str | None:
        """The kiosk that issued a ticket of today ("" if none did), or None if there is no such ticket."""
        return self.issued_by.get(self.engine.by_number.get(ref, ref))

    def _ticket_window(self, ref: str) -> int | None:
        """The window a ticket of today is (or was last) at, for the role check of ratings."""
        ticket = self.engine.tickets.get(self.engine.by_number.get(ref, ref))
        return ticket.window if ticket is not None else None

    def _bad(self, batch: Batch, command: str, payload: bytes, bad: commands.BadRequest, sender: str) -> None:
        self.stats["bad"] += 1
        self.bad_log.warning(sender, bad.code, f"bad {escape(command)} command from {sender} ({bad.code}: "
                             f"{commands.mask_text(bad.message)}): {commands.log_excerpt(payload)}")
        if bad.reply_to is not None and self.bad_replies.allow(sender):
            batch.replies.append((bad.reply_to, error_reply(bad.request_id, bad.code, bad.message)))

    # ------------------------------------------------------------------ publishing
    def _publish_log(self, events: list[tuple[dict, str]]) -> None:
        cal = self.engine.calendar
        items = []
        for e, _ in events:
            item = appointment_log.public_event(e)
            item = {**item, "at": cal.iso(e["at"])}
            items.append(item)
        self.transport.publish(self.topics.log, dumps({"v": PROTOCOL_VERSION, "site": self.site.site_id,
                                                       "events": items}), qos=1)

    def _publish_state(self, full: bool = False) -> None:
        engine = self.engine
        now = self.clock()
        windows, types = engine.take_changes()
        publish = self.transport.publish
        if full or engine.day != self._site_day:
            self._site_day = engine.day
            publish(self.topics.site, dumps(self.site_view()), qos=1, retain=True)
        if full:
            windows, types = set(engine.windows), set(engine.lines)
            publish(self.topics.catalogue, dumps(self.catalogue_view()), qos=1, retain=True)
        for number in sorted(windows):
            publish(self.topics.window(number), dumps({"v": PROTOCOL_VERSION, **engine.window_view(
                engine.windows[number])}), qos=1, retain=True)
        if windows or full:
            publish(self.topics.display, dumps({"v": PROTOCOL_VERSION, **engine.display_view()}), qos=1, retain=True)
        # A window change moves every estimate: refresh all queues then, else only the changed ones.
        self._queue_dirty |= set(engine.lines) if windows else types
        for prefix in sorted(self._queue_dirty):
            if full or now - self._queue_published.get(prefix, 0.0) >= QUEUE_STATE_INTERVAL:
                publish(self.topics.queue(prefix), dumps({"v": PROTOCOL_VERSION, **engine.queue_view(prefix, now)}),
                        qos=1, retain=True)
                self._queue_published[prefix] = now
                self._queue_dirty.discard(prefix)

    def site_view(self) -> dict:
        s = self.site
        return {
            "v": PROTOCOL_VERSION, "site": s.site_id, "name": s.name, "name_en": s.name_en, "level": s.level,
            "server_version": __version__, "service_day": self.engine.day, "timezone": s.timezone,
            "hours": {day: [str(span) for span in spans] for day, spans in s.hours.items()},
            "business_types": [{"prefix": b.prefix, "name": b.name, "name_en": b.name_en,
                                "open": self.engine.type_open[b.prefix], "daily_quota": b.daily_quota,
                                "issue_hours": None if b.issue_hours is None else [str(x) for x in b.issue_hours]}
                               for b in s.business_types],
            "windows": [{"window": w.number, "name": w.name, "serves": list(w.serves), "kind": w.kind}
                        for w in s.windows],
            "priority_groups": list(s.priority.groups),
            "calls": {"max_calls": s.calls.max_calls, "missed": s.calls.missed,
                      "requeue_places": s.calls.requeue_places, "max_requeues": s.calls.max_requeues},
            "ratings_enabled": s.ratings_enabled,
            "phone_enquiry": s.phone_enquiry, "phone_complaint": s.phone_complaint, "address": s.address,
        }

    def catalogue_view(self) -> dict:
        cat = self.site.catalogue
        return {"v": PROTOCOL_VERSION, "version": cat.version, "items": [
            {"code": i.code, "business_type": i.business_type, "name": i.name, "name_en": i.name_en,
             "category": i.category, "time_limit": i.time_limit, "time_limit_en": i.time_limit_en,
             "fee": i.fee, "fee_en": i.fee_en, "online_url": cat.url_for(i),
             "materials": [{"name": m.name, "name_en": m.name_en, "copies": m.copies, "form": m.form,
                            "issuer": m.issuer, "issuer_en": m.issuer_en} for m in i.materials]}
            for i in cat.items]}
