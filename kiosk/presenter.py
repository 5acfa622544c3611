"""The kiosk's screen flow and every decision a screen shows, in plain Python (no Kivy here).

    presenter = KioskPresenter(site, mirror, desk, client, settings, connected=transport_connected,
                               publish=transport.publish)
    presenter.on_change(redraw)      # called (from any thread) when the screen may have changed
    presenter.screen()               # the Screen to draw now: title, big text, lines, buttons, nav
    presenter.tap("type:A")          # every touch comes here, by the button's action
    presenter.tick()                 # about once a second: idle -> home, health, device status

Flow: home (business types, from the mirror's `state/site` and `state/queue/X`) -> items of a type (from
`state/catalogue`) -> the item's notice (materials, steps, fee, time limit) -> take a number -> the result
(number, people ahead, expected wait or "called after 13:30"), or a refusal (why, when to come back), a
print failure, or "cannot reach the queue system" (retry with the same request id). Back, home, language
and large text on every screen; idle -> home and a fresh session. "Out of service" replaces the choosing
screens while every printer is out of order or the server is unreachable, and goes away by itself.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from kiosk import identity as ident
from kiosk import status as health_mod
from kiosk.session import Intent
from kiosk.texts import printer_problem, t
from onewindow.topics import Topics

log = logging.getLogger("onewindow.kiosk")

CHOOSING = ("home", "items", "notice")
BUSY = ("working", "printing", "printed")  # a number is being taken: touches wait
OUTCOME_PAGE = {"issued": "result", "refused": "refused", "print_failed": "failed", "unavailable": "unavailable",
               "uncertain": "uncertain"}


@dataclass
class Button:
    action: str
    label: str
    sub: str = ""            # a second, smaller line (people waiting, "not issuing now")
    enabled: bool = True
    kind: str = "choice"     # choice | primary | nav | toggle


@dataclass
class Line:
    text: str
    style: str = "body"      # heading | body | note | warning | number


@dataclass
class Screen:
    name: str
    title: str
    lang: str
    large: bool
    big: str = ""
    lines: list[Line] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    nav: list[Button] = field(default_factory=list)
    banner: str = ""

    def button(self, action: str) -> Button | None:
        return next((b for b in self.buttons + self.nav if b.action == action), None)


def _threaded(fn: Callable, *args) -> None:
    threading.Thread(target=fn, args=args, name="kiosk-take", daemon=True).start()


class KioskPresenter:
    def __init__(self, site: Any, mirror: Any, desk: Any, client: Any, settings: Any, *,
                 connected: Callable[[], bool] = lambda: True, publish: Callable | None = None,
                 run: Callable = _threaded, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] | None = None, devices: Callable[[], dict] | None = None):
        self.site, self.mirror, self.desk, self.client, self.settings = site, mirror, desk, client, settings
        self.connected, self.publish, self.run, self.clock = connected, publish, run, clock
        self.now = now or (lambda: datetime.now(site.tz))
        self.devices = devices or (lambda: {})
        self.topics = Topics(site.site_id)
        self.server_id = f"server-{site.site_id}"
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._last_status: dict | None = None
        self.takes = 0
        self._reset()
        if getattr(client, "on_issued", "missing") is None:
            client.on_issued = self._issued
        mirror.on_change(lambda key, value: self._changed())
        for station in getattr(desk, "printers", []):
            station.on_status(lambda pid, st: self._changed())

    # ------------------------------------------------------------------ session
    def _reset(self) -> None:
        self.lang = self.settings.languages[0]
        self.large = False
        self.page = "home"
        self.business_type: str | None = None
        self.item: str | None = None
        self.slip = self.settings.print_slips
        self.outcome = None
        self.printing: dict | None = None  # the ticket being printed (shown while it prints)
        self.intent: Intent | None = None
        self.identity: ident.Identity | None = None
        self.notice = ""  # a one-off message on the current screen (a code not understood)
        self.last_touch = self.clock()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        self.publish_status()  # the device status follows the printers, the server and the broker
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("a kiosk screen listener failed")

    # ------------------------------------------------------------------ touches
    def tap(self, action: str) -> None:
        """A touch on the button with this action. Unknown or disabled actions are ignored."""
        with self._lock:
            self.last_touch = self.clock()
            if self.page in BUSY:
                return  # a double tap while the number is being taken: one intent, one ticket
            screen = self.screen()
            button = screen.button(action)
            if button is None or not button.enabled:
                return
            self.notice = ""
            kind, _, arg = action.partition(":")
            handler = getattr(self, f"_do_{kind}", None)
            later = handler(arg) if handler is not None else None
        self._changed()
        if later is not None:  # taking a number runs outside the lock: printers and the mirror report meanwhile
            self.run(*later)

    def _do_lang(self, _arg: str) -> None:
        langs = self.settings.languages
        self.lang = langs[(langs.index(self.lang) + 1) % len(langs)] if self.lang in langs else langs[0]

    def _do_large(self, _arg: str) -> None:
        self.large = not self.large

    def _do_home(self, _arg: str) -> None:
        lang, large, intent, who = self.lang, self.large, self.intent, self.identity
        self._reset()
        # The same citizen: keep their language, text size, identity, and an unanswered take-a-number
        # intent (if the server did issue it, taking the same number again gets that ticket, not a second).
        self.lang, self.large, self.intent, self.identity = lang, large, intent, who

    def _do_back(self, _arg: str) -> None:
        if self.page == "notice" and self.item is not None and self._items_of(self.business_type):
            self.page, self.item = "items", None
        elif self.page in ("notice", "items"):
            self.page, self.business_type, self.item = "home", None, None
        elif self.page == "unavailable":
            self.page = "notice"  # the unanswered intent stays: a new tap on "take" repeats it
        else:
            self._do_home("")

    def _do_type(self, prefix: str) -> None:
        self.business_type, self.item = prefix, None
        self.page = "items" if self._items_of(prefix) else "notice"

    def _do_item(self, code: str) -> None:
        self.item, self.page = code, "notice"

    def _do_slip(self, _arg: str) -> None:
        self.slip = not self.slip

    def _do_done(self, _arg: str) -> None:
        self._reset()

    def _do_forget(self, _arg: str) -> None:
        self.identity = None

    def _do_take(self, _arg: str) -> tuple | None:
        if self.business_type is None:
            return
        if self.intent is None or (self.intent.business_type, self.intent.item) != (self.business_type, self.item):
            who = self.identity
            self.intent = Intent(self.business_type, self.item, who.priority_group if who else None,
                                 who.appointment if who else None, request_id=Intent.new_id(self.settings.id))
        self.page = "working"
        return (self._take, self.intent, self.lang, self.slip)

    _do_retry = _do_take

    def _take(self, intent: Intent, lang: str, slip: bool) -> None:
        """On a worker thread: the TicketDesk asks the server and prints (it may take a second or two)."""
        outcome = None
        try:
            self.client.begin(intent)
            self.desk.print_slips = slip
            outcome = self.desk.take_ticket(intent.business_type, item=intent.item,
                                            priority_group=intent.priority_group, lang=lang,
                                            on_ticket=lambda o: self._printed(intent, o))
        except Exception as exc:  # noqa: BLE001 - a broken part ends on a screen, never in a crash
            log.exception("kiosk %s: taking a number failed", self.settings.id)
            from kiosk.ticketing import TicketOutcome
            outcome = TicketOutcome("unavailable", reason="kiosk_error", detail=str(exc))
        finally:
            self.client.end()
        with self._lock:
            self.takes += 1
            self.outcome, self.printing = outcome, None
            self.page = OUTCOME_PAGE.get(outcome.status, "failed")
            if outcome.status != "unavailable":
                self.intent = None  # the server answered: the next tap is a new intent
            if outcome.status in ("issued", "uncertain"):
                self.identity = None  # the ticket is out: the next citizen starts afresh
            self.last_touch = self.clock()
        self._changed()
        self.tick()

    def _issued(self, intent: Intent, ticket: dict) -> None:
        """The server issued the ticket; it prints now. The screen shows the number at once."""
        with self._lock:
            if self.intent is not intent or self.page != "working":
                return
            self.printing, self.page = ticket, "printing"
        self._changed()

    def _printed(self, intent: Intent, outcome: Any) -> None:
        """The ticket is in the citizen's hand (the notice slip may still be printing)."""
        with self._lock:
            if self.intent is not intent or self.page not in ("working", "printing"):
                return
            self.outcome, self.printing, self.page = outcome, None, "printed"
        self._changed()

    # ------------------------------------------------------------------ identification
    def identified(self, card_id: str | None = None, name: str = "", qr: str | None = None) -> None:
        """An ID card was read or a code scanned. Only masked values and the priority group stay."""
        today = self.now().date()
        pr = self.site.priority
        with self._lock:
            self.last_touch = self.clock()
            if self.page in BUSY:
                return
            try:
                who = (ident.from_qr(qr, today, pr.elderly_age, pr.groups) if qr is not None
                       else ident.from_id_card(card_id or "", name, today, pr.elderly_age, pr.groups))
            except ident.NotUnderstood as exc:
                log.info("kiosk %s: %s", self.settings.id, exc)
                self.notice = t("not_understood", self.lang)
            else:
                self.identity, self.notice = who, ""
                if who.appointment and who.business_type and self._type(who.business_type):
                    self.business_type, self.item = who.business_type, who.item
                    self.page, self.intent = "notice", None
        self._changed()

    # ------------------------------------------------------------------ time passing
    def tick(self) -> None:
        """Idle -> home (a fresh session for the next citizen); device status when it changed."""
        with self._lock:
            idle = self.clock() - self.last_touch
            if self.page != "home" and self.page not in BUSY and idle >= self.settings.idle_seconds:
                self._reset()
                changed = True
            else:
                changed = False
        if changed:
            self._changed()
        else:
            self.publish_status()

    def health(self) -> health_mod.Health:
        presence = self.mirror.presence.get(self.server_id)
        online = None if presence is None else presence.get("state") == "online"
        have_site = self.mirror.site is not None and self.mirror.catalogue is not None
        return health_mod.health(list(getattr(self.desk, "printers", [])), bool(self.connected()), online,
                                 have_site, self.devices())

    def publish_status(self, force: bool = False) -> dict | None:
        if not hasattr(self, "_last_status"):
            return None  # still being built
        h = self.health()
        body = health_mod.payload(self.settings.id, h, "")
        if self.publish is None or (body == self._last_status and not force):
            return None
        self._last_status = body
        body = {**body, "at": self.now().isoformat(timespec="seconds")}
        try:
            self.publish(self.topics.device_status(self.settings.id), body, qos=1, retain=True)
        except Exception:  # noqa: BLE001
            log.exception("kiosk %s: could not publish its device status", self.settings.id)
        return body

    # ------------------------------------------------------------------ reading the hall
    def _types(self) -> list[dict]:
        return [b for b in (self.mirror.site or {}).get("business_types", []) if isinstance(b, dict)]

    def _type(self, prefix: str | None) -> dict | None:
        return next((b for b in self._types() if b.get("prefix") == prefix), None)

    def _items_of(self, prefix: str | None) -> list[dict]:
        items = (self.mirror.catalogue or {}).get("items", [])
        return [i for i in items if isinstance(i, dict) and i.get("business_type") == prefix]

    def _item(self, code: str | None) -> dict | None:
        return next((i for i in (self.mirror.catalogue or {}).get("items", []) if i.get("code") == code), None)

    def _name(self, thing: dict | None, key: str = "name") -> str:
        if not thing:
            return ""
        return (thing.get(f"{key}_en") or thing.get(key) or "") if self.lang == "en" else (thing.get(key) or "")

    # ------------------------------------------------------------------ the screen
    def screen(self) -> Screen:
        from kiosk import screens  # the builders of each screen (kept apart for size)

        with self._lock:
            page = self.page
            if page in CHOOSING:
                h = self.health()
                if h.problem is not None:
                    return screens.out_of_service(self, h)
            return getattr(screens, page)(self)

    def nav(self, back: bool = True, home: bool = True, enabled: bool = True) -> list[Button]:
        out = []
        if back:
            out.append(Button("back", t("back", self.lang), kind="nav", enabled=enabled))
        if home:
            out.append(Button("home", t("home", self.lang), kind="nav", enabled=enabled))
        out.append(Button("large", t("large_off" if self.large else "large_on", self.lang), kind="nav",
                          enabled=enabled))
        if len(self.settings.languages) > 1:
            nxt = self.settings.languages[(self.settings.languages.index(self.lang) + 1) % len(self.settings.languages)]
            out.append(Button("lang", "English" if nxt == "en" else "中文", kind="nav", enabled=enabled))
        return out

    def banner(self) -> str:
        who = self.identity
        parts = []
        if who is not None:
            if who.masked_name or who.masked_id:
                parts.append(t("identified", self.lang, who=" ".join(x for x in (who.masked_name, who.masked_id) if x)))
            if who.priority_group == "elderly":
                parts.append(t("priority_elderly", self.lang))
            if who.appointment:
                parts.append(t("appointment", self.lang, ref=who.appointment["ref"]))
        if self.notice:
            parts.append(self.notice)
        return "  ·  ".join(parts)

    @staticmethod
    def clock_text(iso: str | None, lang: str, today: str | None = None) -> str:
        """"13:30" today, "11月24日 08:30" / "24 Nov 08:30" on another day."""
        if not iso:
            return ""
        try:
            when = datetime.fromisoformat(iso)
        except ValueError:
            return str(iso)
        hm = when.strftime("%H:%M")
        if today is None or when.date().isoformat() == today:
            return hm
        return f"{when.month}月{when.day}日 {hm}" if lang == "zh" else f"{when.day} {when:%b} {hm}"

    def printer_words(self, code: str | None) -> str:
        return printer_problem(code, self.lang)
