"""What a hall display shows, computed from the site's retained state and its call events.

Plain Python, no Kivy: the screen (display/app.py) only draws a `DisplayView`.

    model = DisplayModel(zone, highlight_seconds=8)
    mirror.on_change(model.apply_state)           # state/display, state/window/N, state/queue/X, state/site
    transport.subscribe(Topics(site).calls, lambda t, p: model.apply_call_payload(p))
    model.set_connected(transport.connected())    # from the app's timer
    view = model.view(now=time.monotonic(), wall=datetime.now(tz))

Calls come from two places: live `event/call` messages and the latest ten calls in the retained
`state/display` (so a display that starts or reconnects is whole at once). They are merged by
(ticket, calls). A new service day (a newer `service_day`) clears yesterday's calls.
Calls new to the display (not the ones found at start) go to `on_new_call` listeners: the announcer.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from display.zones import Zone, prefix_of

log = logging.getLogger("onewindow.display")

RECENT = 8  # recent calls listed beside the newest one
WEEKDAYS_ZH = "一二三四五六日"
WINDOW_STATES = {  # state -> (Chinese, English)
    "closed": ("暂停服务", "Closed"), "idle": ("空闲", "Open"), "calling": ("正在呼叫", "Calling"),
    "serving": ("办理中", "Serving"), "rating": ("评价中", "Rating"), "paused": ("暂停", "Paused"),
}


@dataclass(frozen=True)
class Call:
    ticket: str
    number: str
    window: int
    window_name: str
    calls: int
    recall: bool
    at: str
    text_zh: str
    text_en: str

    @property
    def key(self) -> tuple[str, int]:
        return (self.ticket, self.calls)

    @property
    def service_day(self) -> str | None:
        """The day in a ticket id "site:2026-11-23:A001", or None."""
        parts = self.ticket.split(":")
        return parts[1] if len(parts) == 3 else None


def call_from(data: Any) -> Call | None:
    """A Call from an `event/call` payload (or one entry of `state/display` calls); None if malformed."""
    try:
        number, window = data["number"], data["window"]
        if not isinstance(number, str) or not number or isinstance(window, bool) or not isinstance(window, int):
            raise TypeError("number/window")
        return Call(ticket=str(data.get("ticket") or number), number=number, window=window,
                    window_name=str(data.get("window_name") or f"{window}号窗口"),
                    calls=int(data.get("calls") or 1), recall=bool(data.get("recall")), at=str(data.get("at", "")),
                    text_zh=str(data.get("text_zh") or f"请 {number} 号到 {window} 号窗口办理"),
                    text_en=str(data.get("text_en") or f"Number {number}, please go to window {window}"))
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("ignored a call that is not a call: %.200r", data)
        return None


@dataclass(frozen=True)
class WindowRow:
    number: int
    name: str
    state: str
    state_zh: str
    state_en: str
    ticket: str | None


@dataclass(frozen=True)
class QueueRow:
    prefix: str
    name: str
    name_en: str
    waiting: int
    wait_min: float | None
    open: bool


@dataclass(frozen=True)
class DisplayView:
    """Everything one frame of the hall display shows."""
    title: str
    title_en: str
    headline: Call | None
    highlighted: bool
    recent: tuple[Call, ...]
    windows: tuple[WindowRow, ...]
    queues: tuple[QueueRow, ...]
    clock: str
    date_zh: str
    date_en: str
    notice: str
    connection_lost: bool
    service_day: str | None
    server_offline: bool = False  # the broker is there but the queue server's presence says offline


@dataclass
class _Seen:
    call: Call
    seen_at: float | None  # monotonic time it arrived live; None: found in retained state at start


class DisplayModel:
    """The display's state; thread-safe (the transport thread writes, the UI thread reads)."""

    def __init__(self, zone: Zone | None = None, *, highlight_seconds: float = 8.0,
                 clock: Callable[[], float] | None = None):
        import time
        self.zone = zone or Zone()
        self.highlight_seconds = highlight_seconds
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, int], _Seen] = {}
        self._order: list[tuple[str, int]] = []  # oldest first
        self._windows: dict[int, dict] = {}
        self._queues: dict[str, dict] = {}
        self._site: dict = {}
        self._display: dict = {}
        self._day: str | None = None
        self._servers: dict[str, bool] = {}  # queue servers' presence: online?
        self._whole = False  # the first retained display state has been read
        self.connected = False
        self.version = 0  # bumped on every change: the screen redraws when it moves
        self._listeners: list[Callable[[Call], None]] = []
        self._watchers: list[Callable[[], None]] = []

    def on_update(self, watcher: Callable[[], None]) -> None:
        """Call `watcher()` after every change (any thread): the screen schedules a redraw."""
        self._watchers.append(watcher)

    def _updated(self) -> None:
        for watcher in self._watchers:
            try:
                watcher()
            except Exception:
                log.exception("a display watcher failed")

    # --- input ---------------------------------------------------------------------------------
    def on_new_call(self, listener: Callable[[Call], None]) -> None:
        self._listeners.append(listener)

    def set_connected(self, connected: bool) -> None:
        with self._lock:
            if connected != self.connected:
                self.connected = connected
                self.version += 1
                log.info("display %s", "connected" if connected else "lost its broker connection")
            else:
                return
        self._updated()

    def apply_state(self, key: tuple[str, ...], value: dict | None) -> None:
        """A StateMirror change: ("display",), ("site",), ("window", "3"), ("queue", "A")."""
        new: list[Call] = []
        with self._lock:
            kind = key[0] if key else ""
            if kind == "window" and len(key) == 2 and key[1].isdigit():
                self._put(self._windows, int(key[1]), value)
            elif kind == "queue" and len(key) == 2:
                self._put(self._queues, key[1], value)
            elif kind == "site":
                self._site = value or {}
                self._new_day(self._site.get("service_day"))
            elif kind == "presence" and len(key) == 2:
                if value is None or value.get("role") != "server":
                    if key[1] not in self._servers:
                        return
                    self._servers.pop(key[1], None)
                else:
                    self._servers[key[1]] = value.get("state") == "online"
            elif kind == "display":
                self._display = value or {}
                self._new_day(self._display.get("service_day"))
                new = self._merge_retained_calls(self._display.get("calls") or [])
            else:
                return
            self.version += 1
        self._updated()
        self._tell(new)

    def apply_call_payload(self, payload: bytes | str | dict) -> None:
        """An `event/call` message."""
        try:
            data = payload if isinstance(payload, dict) else json.loads(payload)
        except ValueError:
            log.warning("ignored a call event that is not JSON")
            return
        call = call_from(data) if isinstance(data, dict) else None
        if call is None:
            return
        with self._lock:
            fresh = self._add_call(call, live=True)
            if fresh:
                self.version += 1
        if fresh:
            self._updated()
            self._tell([call])

    @staticmethod
    def _put(table: dict, key, value) -> None:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value

    def _new_day(self, day: Any) -> None:
        if not isinstance(day, str) or not day:
            return
        if self._day is not None and day > self._day:
            log.info("service day %s begins: yesterday's calls cleared from the display", day)
            self._calls.clear()
            self._order.clear()
        if self._day is None or day > self._day:
            self._day = day

    def _merge_retained_calls(self, raw_calls: list) -> list[Call]:
        new = []
        for data in reversed(raw_calls if isinstance(raw_calls, list) else []):  # oldest first
            call = call_from(data) if isinstance(data, dict) else None
            if call is not None and self._add_call(call, live=self._whole):
                new.append(call)
        self._whole = True
        return new

    def _add_call(self, call: Call, live: bool) -> bool:
        """Record a call; True if it is new and live (to announce and highlight)."""
        day = call.service_day
        if day and self._day and day < self._day:
            return False  # yesterday's
        if day and (self._day is None or day > self._day):
            self._new_day(day)
        if call.key in self._calls:
            return False
        self._calls[call.key] = _Seen(call, self._clock() if live else None)
        self._order.append(call.key)
        if len(self._order) > 50:
            self._calls.pop(self._order.pop(0), None)
        return live and self.zone.has_call(call.number, call.window)

    def _tell(self, calls: list[Call]) -> None:
        for call in calls:
            if not self.zone.has_call(call.number, call.window):
                continue
            for listener in self._listeners:
                try:
                    listener(call)
                except Exception:
                    log.exception("a call listener failed")

    # --- output --------------------------------------------------------------------------------
    def view(self, wall: datetime | None = None) -> DisplayView:
        wall = wall or datetime.now()
        now = self._clock()
        with self._lock:
            seen = [self._calls[k] for k in reversed(self._order)
                    if self.zone.has_call(self._calls[k].call.number, self._calls[k].call.window)]
            latest: dict[str, _Seen] = {}
            for s in seen:  # newest first: one line per ticket, its latest call
                latest.setdefault(s.call.ticket, s)
            ordered = list(latest.values())
            head = ordered[0] if ordered else None
            highlighted = bool(head and head.seen_at is not None and now - head.seen_at < self.highlight_seconds)
            return DisplayView(
                title=str(self._site.get("name") or self._display.get("name") or "医疗保障服务大厅"),
                title_en=str(self._site.get("name_en") or "Medical Insurance Service Hall"),
                headline=head.call if head else None, highlighted=highlighted,
                recent=tuple(s.call for s in ordered[1:RECENT + 1]),
                windows=self._window_rows(), queues=self._queue_rows(),
                clock=wall.strftime("%H:%M"),  # minutes: a label that changes every second costs a texture a second
                date_zh=f"{wall.year}年{wall.month}月{wall.day}日 星期{WEEKDAYS_ZH[wall.weekday()]}",
                date_en=wall.strftime("%a %d %b %Y"),
                notice=notice_text(self._display.get("notice")),
                connection_lost=not self.connected, service_day=self._day,
                server_offline=bool(self._servers) and not any(self._servers.values()))

    def _window_rows(self) -> tuple[WindowRow, ...]:
        rows = {}
        for w in self._display.get("windows") or []:  # the display feed: state and number
            if isinstance(w, dict) and isinstance(w.get("window"), int):
                rows[w["window"]] = (w.get("name"), w.get("state"), w.get("number"))
        for n, w in self._windows.items():  # the window's own retained state is newer
            t = w.get("ticket") if isinstance(w.get("ticket"), dict) else None
            rows[n] = (w.get("name"), w.get("state"), t.get("number") if t else None)
        out = []
        for n in sorted(rows):
            if not self.zone.has_window(n):
                continue
            name, state, number = rows[n]
            zh, en = WINDOW_STATES.get(state, (str(state or "-"), str(state or "-")))
            out.append(WindowRow(n, str(name or f"{n}号窗口"), str(state), zh, en,
                                 number if state in ("calling", "serving") else None))
        return tuple(out)

    def _queue_rows(self) -> tuple[QueueRow, ...]:
        types = self.zone.business_types
        if types is None and self.zone.windows is not None:  # a zone of windows: what they serve
            types = {t for n, w in self._windows.items() if n in self.zone.windows for t in w.get("serves") or []}
            types |= {t for w in self._site.get("windows") or [] if isinstance(w, dict)
                      and w.get("window") in self.zone.windows for t in w.get("serves") or []}
        out = []
        for prefix in sorted(self._queues):
            q = self._queues[prefix]
            if types is not None and prefix not in types:
                continue
            wait = q.get("estimated_wait_min")
            out.append(QueueRow(prefix, str(q.get("name") or prefix), str(q.get("name_en") or ""),
                                int(q.get("waiting") or 0),
                                float(wait) if isinstance(wait, (int, float)) and not isinstance(wait, bool) else None,
                                bool(q.get("open", True))))
        return tuple(out)


def notice_text(notice: Any) -> str:
    """The scrolling notice: a string, or {"text"/"text_zh", "text_en"} (Chinese first)."""
    if isinstance(notice, str):
        return notice.strip()
    if isinstance(notice, dict):
        zh = notice.get("text_zh") or notice.get("text") or ""
        en = notice.get("text_en") or ""
        parts = [p.strip() for p in (zh, en) if isinstance(p, str) and p.strip()]
        return "    ".join(parts)
    return ""


def format_wait(minutes: float | None) -> tuple[str, str]:
    """("约 12 分钟", "about 12 min"); ("--", "no window open") when no open window serves it."""
    if minutes is None:
        return "--", "no window open"
    m = max(0, round(minutes))
    return f"约 {m} 分钟", f"about {m} min"
