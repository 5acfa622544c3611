"""The queue server: commands in over a transport, the engine decides, the store makes it durable.

One worker thread owns the engine and the store. Messages from the transport are queued; the
worker takes everything waiting (a batch), runs each command through the engine, writes the
batch's events and replies to SQLite in one transaction (group commit), and only then publishes
the replies, the call events and the retained state that changed.

The server never dies of input: a bad payload gets an error reply (when it names where to reply)
and a log line; an unexpected failure in one command gets an `internal_error` reply.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Callable, Protocol

from onewindow import PROTOCOL_VERSION, __version__
from onewindow.config import SiteConfig
from onewindow.logsafe import SenderLog, escape
from onewindow.topics import Topics
from queue_server import commands
from queue_server.engine import Engine
from queue_server.roles import Roles
from queue_server.store import Store, StoreError

log = logging.getLogger("onewindow.server")

MAX_BATCH = 2000
QUEUE_STATE_INTERVAL = 0.5  # seconds between republishing a busy business type's queue state
REPLY_MEMORY = 2 * 86400.0  # how far back retried request ids are remembered after a restart
_RESYNC = ("", b"resync")  # marker from the transport: (re)connected, republish retained state


class Transport(Protocol):
    on_connected: Callable[[], None] | None

    def subscribe(self, topic_filter: str, handler: Callable[[str, bytes], None]) -> None: ...

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None: ...


def dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class QueueServer:
    def __init__(self, site: SiteConfig, store: Store, transport: Transport,
                 clock: Callable[[], float] = time.time, always_open: bool = False, roles: Roles | None = None):
        """`roles`: who may send what (docs/SECURITY.md); None: any sender may send any command (an open
        site, for tests and development only)."""
        self.site = site
        self.roles = roles
        if roles is not None:
            roles.ticket_window = self._ticket_window
        self.store = store
        self.transport = transport
        self.clock = clock
        self.always_open = always_open
        self.topics = Topics(site.site_id)
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.replies: dict[str, str] = {}
        self.engine = self._rebuild()
        self.stats = {"commands": 0, "duplicates": 0, "rejected": 0, "bad": 0, "batches": 0, "forbidden": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue_dirty: set[str] = set()
        self._queue_published: dict[str, float] = {}
        self._site_day: str | None = None
        self.bad_log = SenderLog(log)  # bad input: a few lines per sender, then one summary line

    # ------------------------------------------------------------------ life cycle
    def _rebuild(self) -> Engine:
        """A fresh engine holding exactly what the log says (used at start and after a failed write)."""
        engine = Engine(self.site, always_open=self.always_open)
        events = self.store.latest_day_events()
        for event in events:
            engine.apply(event)
        engine.take_changes()
        self.replies = self.store.replies_since(self.clock() - REPLY_MEMORY)
        log.info("state rebuilt from the log: %d events of service day %s, %d tickets, %d remembered requests",
                 len(events), engine.day or "-", len(engine.tickets), len(self.replies))
        return engine

    def start(self) -> None:
        """Subscribe and start working. With a transport in select mode (`loop="select"`) the batch is
        processed in the transport's own thread at the end of each read pass (no queue, no hand-off);
        with any other transport a worker thread takes batches from a queue."""
        self._pending: list = [_RESYNC]
        if getattr(self.transport, "loop_mode", None) == "select":
            self.transport.on_connected = lambda: self._pending.append(_RESYNC)
            self.transport.on_batch_end = self._on_batch_end
            self.transport.subscribe(self.topics.cmd_filter, lambda topic, payload: self._pending.append((topic, payload)))
            return
        self.transport.on_connected = lambda: self.inbox.put(_RESYNC)
        self.transport.subscribe(self.topics.cmd_filter, self._on_message)
        self._thread = threading.Thread(target=self._run, name="queue-worker", daemon=True)
        self._thread.start()
        self.inbox.put(_RESYNC)

    def stop(self) -> None:
        self._stop.set()
        self.inbox.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _on_batch_end(self) -> None:
        batch, self._pending = self._pending, []
        try:
            self.process(batch)
        except Exception:  # never let the transport's thread die; the log says what happened
            log.exception("unexpected failure while processing a batch of %d messages", len(batch))

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.inbox.put((topic, payload))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self.inbox.get(timeout=self._next_publish_in())
            except queue.Empty:
                first = None
            batch = []
            if first is not None:
                batch.append(first)
                while len(batch) < MAX_BATCH:
                    try:
                        item = self.inbox.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        break
                    batch.append(item)
            try:
                self.process(batch)
            except Exception:  # never let the worker die; the log says what happened
                log.exception("unexpected failure while processing a batch of %d messages", len(batch))

    def _next_publish_in(self) -> float:
        if not self._queue_dirty:
            return 1.0
        oldest = min(self._queue_published.get(p, 0.0) for p in self._queue_dirty)
        return max(0.0, oldest + QUEUE_STATE_INTERVAL - self.clock())

    # ------------------------------------------------------------------ one batch
    def process(self, batch: list[tuple[str, bytes]]) -> None:
        """Handle a batch of (topic, payload) messages; used by the worker and directly by tests."""
        resync = False
        out: list[tuple[str, str]] = []  # (reply_to, payload)
        to_store_events: list[tuple[dict, str]] = []
        to_store_requests: list[tuple[str, str, float, bool, str]] = []
        pending_ids: list[str] = []
        calls: list[dict] = []
        engine = self.engine
        for item in batch:
            if item is _RESYNC:
                resync = True
                continue
            topic, payload = item
            found = self.topics.sender_and_command(topic)
            if found is None:
                self.bad_log.warning("(wrong topic)", "wrong_topic", f"ignored a message on {topic}: not a "
                                     f"command topic of site {self.site.site_id}")
                continue
            sender, command = found
            try:
                request_id, reply_to, args = self._parse(sender, command, payload)
            except commands.BadRequest as bad:
                self._bad(command, payload, bad, out, sender)
                continue
            first = self.replies.get(request_id)
            if first is not None:  # a retry: the first answer, never a second ticket
                self.stats["duplicates"] += 1
                out.append((reply_to, first))
                continue
            now = self.clock()
            refusal = self.roles.check(sender, command, args) if self.roles is not None else None
            if refusal is not None:
                self.stats["forbidden"] += 1
                self.bad_log.warning(sender, refusal.code, f"refused {command} from {sender}: {refusal.message}")
                out.append((reply_to, dumps({"v": PROTOCOL_VERSION, "request_id": request_id, "ok": False,
                                             "error": {"code": refusal.code, "message": refusal.message}})))
                continue
            if command == "issue" and self.roles is not None and self.roles.role_of(sender) == "kiosk":
                args["kiosk"] = sender  # the ticket records the kiosk that issued it, as the broker knows it
            if command in commands.QUERIES:
                reply = engine.query(command, args, now)
                out.append((reply_to, dumps({"v": PROTOCOL_VERSION, "request_id": request_id, **reply})))
                continue
            try:
                events, reply = engine.handle(command, args, now)
            except Exception as exc:
                log.exception("command %s (request %s) failed inside the engine", command, request_id)
                out.append((reply_to, dumps({"v": PROTOCOL_VERSION, "request_id": request_id, "ok": False,
                                             "error": {"code": "internal_error", "message": str(exc)}})))
                self.engine = engine = self._rebuild_after_failure(to_store_events, to_store_requests)
                continue
            self.stats["commands"] += 1
            if not reply["ok"]:
                self.stats["rejected"] += 1
                log.info("refused %s from %s: %s", command, reply_to.rsplit("/", 1)[-1], reply["error"]["message"])
            text = dumps({"v": PROTOCOL_VERSION, "request_id": request_id, **reply})
            self.replies[request_id] = text
            pending_ids.append(request_id)
            to_store_events.extend((e, request_id) for e in events)
            to_store_requests.append((request_id, command, now, reply["ok"], text))
            out.append((reply_to, text))
            if any(e["type"] in ("ticket_called", "ticket_recalled") for e in events):
                calls.append(dict(engine.recent_calls[-1]))
        if to_store_requests:
            try:
                self.store.commit(to_store_events, to_store_requests)
            except StoreError as exc:
                log.error("%s; refusing this batch of %d commands and rebuilding state", exc, len(pending_ids))
                for rid in pending_ids:
                    self.replies.pop(rid, None)
                self.engine = self._rebuild()
                error = {"code": "store_unavailable", "message": "the queue log could not be written; try again"}
                out = [(rt, dumps({"v": PROTOCOL_VERSION, "request_id": json.loads(p).get("request_id"),
                                   "ok": False, "error": error})) for rt, p in out]
                to_store_events, calls = [], []
        if batch:
            self.stats["batches"] += 1
        publish = self.transport.publish
        for reply_to, text in out:
            publish(reply_to, text, qos=1)
        for call in calls:
            call["at"] = self.engine.calendar.iso(call["at"])
            publish(self.topics.calls, dumps({"v": PROTOCOL_VERSION, **call}), qos=1)
        flush = getattr(self.transport, "flush", None)
        if flush is not None and out:
            flush()  # the replies leave now; state updates can take their time
        if to_store_events:
            self._publish_log(to_store_events)
        self._publish_state(full=resync)
        if self.store.checkpoint_due():
            self.store.checkpoint()
        if self.bad_log.suppressed_total:
            self.bad_log.flush()

    def _rebuild_after_failure(self, events, requests) -> Engine:
        """An engine error may have left state half-changed: write what the batch did so far, then rebuild."""
        if requests:
            self.store.commit(events, requests)
            events.clear()
            requests.clear()
        return self._rebuild()

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

    def _ticket_window(self, ref: str) -> int | None:
        """The window a ticket of today is (or was last) at, for the role check of ratings."""
        tid = self.engine.by_number.get(ref, ref)
        ticket = self.engine.tickets.get(tid)
        return ticket.window if ticket is not None else None

    def _bad(self, command: str, payload: bytes, bad: commands.BadRequest, out: list,
             sender: str | None = None) -> None:
        self.stats["bad"] += 1
        if sender is None:
            sender = bad.reply_to.rsplit("/", 1)[-1] if bad.reply_to else "(unknown sender)"
        self.bad_log.warning(sender, bad.code, f"bad {escape(command)!s} command from {sender} ({bad.code}: "
                             f"{commands.mask_text(bad.message)}): {commands.log_excerpt(payload)}")
        if bad.reply_to is not None:
            out.append((bad.reply_to, dumps({"v": PROTOCOL_VERSION, "request_id": bad.request_id, "ok": False,
                                             "error": {"code": bad.code, "message": bad.message}})))

    # ------------------------------------------------------------------ publishing
    def _publish_log(self, events: list[tuple[dict, str]]) -> None:
        cal = self.engine.calendar
        items = []
        for e, _ in events:
            item = dict(e)
            item["at"] = cal.iso(e["at"])
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
