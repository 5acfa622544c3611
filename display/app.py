"""The hall display: a full-screen Kivy app that draws the DisplayModel and speaks the calls.

    hall = Hall(settings, site_id, zone)          # MQTT, mirror, model, voice (no Kivy)
    run_app(hall, layout="landscape")             # the window; returns when it closes

Call `configure_kivy()` before anything imports a Kivy window (run_app does).
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from display.announcer import Announcer
from display.model import DisplayModel
from display.zones import Zone
from onewindow.devices import status_payload
from onewindow.mirror import StateMirror
from onewindow.topics import Topics

log = logging.getLogger("onewindow.display")

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
SIZES = {"landscape": (1920, 1080), "portrait": (1080, 1920)}
FRAME_S = 1 / 60  # while a fresh call's highlight breathes
IDLE_FRAME_S = 1 / 30  # while only the notice scrolls


class Hall:
    """The display's link to the site: transport, state mirror, view model, and (optionally) voice."""

    def __init__(self, settings, site_id: str, zone: Zone | None = None, *, voice_dir: str | Path | None = None,
                 repeat: int = 2, english: bool = True, speak: bool = True, client_id: str | None = None,
                 transport=None):
        from onewindow.mqtt import MqttTransport

        self.site_id = site_id
        self.model = DisplayModel(zone)
        # With per-device credentials the device is its broker user name (the ACL lets it write only
        # presence/<user> and device/<user>/status); without, a random display id.
        user = getattr(settings, "username", None)
        self.client_id = client_id or user or f"display-{uuid.uuid4().hex[:8]}"
        self.device_id = user or self.client_id
        # A hall display retries at least every second: whole again within two seconds of a broker restart.
        # The connection mark clears from the transport's thread the moment it is back (the screen's
        # timer also polls, and is the one that notices a loss).
        self.transport = transport or MqttTransport(settings, site_id, client_id=self.client_id, role="display",
                                                    retry_max=1.0, on_connected=self._on_connected)
        self.parts: dict[str, str] = {}  # device status parts besides the broker (LED signs)
        self.speaker = None
        if speak:
            self.speaker = self._speaker(voice_dir, repeat, english)
            self.model.on_new_call(self.speaker.say_call)
        self.mirror = StateMirror(self.transport, site_id, presence=True, devices=False)
        self.mirror.on_change(self.model.apply_state)
        self.transport.subscribe(Topics(site_id).calls, lambda topic, payload: self.model.apply_call_payload(payload))

    def _speaker(self, voice_dir, repeat: int, english: bool):
        from display.speaker import KivyPlayer, Speaker
        from display.voice import Voice

        voice = Voice(voice_dir or Path(os.environ.get("ONEWINDOW_VOICE_DIR", "var/voice")))
        announcer = Announcer(voice.seconds, repeat=repeat, english=english)
        return Speaker(announcer, voice, KivyPlayer(), Path(tempfile.gettempdir()) / "onewindow-voice")

    def _on_connected(self) -> None:
        self.model.set_connected(True)
        self.publish_status()

    def publish_status(self, parts: dict[str, str] | None = None) -> None:
        """The display's retained device status (parts: broker, and led-N for each window sign)."""
        if parts is not None:
            self.parts = dict(parts)
        bad = [k for k, v in self.parts.items() if v != "ok"]
        payload = status_payload(self.device_id, "display", "degraded" if bad else "ok", {"broker": "ok", **self.parts},
                                 ("not answering: " + ", ".join(sorted(bad))) if bad else "showing the hall",
                                 at=self.now().isoformat(timespec="seconds"))
        try:
            self.transport.publish(Topics(self.site_id).device_status(self.device_id), payload, qos=1, retain=True)
        except Exception:  # not connected: the next connect publishes it
            log.debug("device status not published (no connection)")

    def start(self) -> "Hall":
        self.transport.start(timeout=None)
        return self

    def poll_connection(self) -> None:
        connected = getattr(self.transport, "connected", True)  # MqttTransport: a property
        self.model.set_connected(bool(connected() if callable(connected) else connected))

    def now(self) -> datetime:
        """Wall time in the site's time zone (from the retained site state; local time until then)."""
        tz_name = (self.mirror.site or {}).get("timezone")
        try:
            from zoneinfo import ZoneInfo

            return datetime.now(ZoneInfo(tz_name)) if isinstance(tz_name, str) else datetime.now()
        except (ValueError, KeyError, OSError):
            return datetime.now()

    def stop(self) -> None:
        self.transport.stop()


def configure_kivy(layout: str = "landscape", fullscreen: bool = False, size: tuple[int, int] | None = None) -> None:
    """Window size, font with Chinese glyphs, no Kivy argument parsing: before any window exists."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    from kivy.config import Config

    w, h = size or SIZES[layout]
    Config.set("graphics", "width", str(w))
    Config.set("graphics", "height", str(h))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "maxfps", "60")  # the ceiling while a call animates (display/app.py frame)
    Config.set("graphics", "multisamples", "0")  # flat panels and text need no MSAA; it costs 2-4x in software GL
    Config.set("graphics", "show_cursor", "0" if fullscreen else "1")
    Config.set("kivy", "exit_on_escape", "1")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kivy.core.text import DEFAULT_FONT, LabelBase

    if Path(FONT).exists():
        LabelBase.register(DEFAULT_FONT, FONT, FONT, FONT, FONT)
    else:
        log.warning("%s is missing: Chinese will not show (Debian: apt-get install fonts-wqy-microhei)", FONT)


def build_screen(layout: str, width: int, height: int):
    """The widget tree of one layout, scaled to the window (designed for 1080p)."""
    from kivy.uix.boxlayout import BoxLayout

    from display import widgets as wd
    from display.paint import Gaps, InkRoot

    base_w, base_h = SIZES[layout]
    scale = min(width / base_w, height / base_h)
    from kivy.core.window import Window

    Window.clearcolor = wd.PANEL  # the panels are the cleared window: only bars and gaps are painted
    root = InkRoot(orientation="vertical", spacing=6)
    root.top_bar = wd.TopBar(scale)
    root.headline = wd.Headline(scale)
    root.marquee = wd.Marquee(scale)
    if layout == "landscape":
        root.recent = wd.RecentCalls(scale, cols=2, rows=4, size_hint_y=0.36)
        root.windows = wd.WindowTable(scale, rows=12, size_hint_y=0.6)
        root.queues = wd.QueueTable(scale, rows=6, size_hint_y=0.4)
        body = BoxLayout(orientation="horizontal", spacing=6)
        left = BoxLayout(orientation="vertical", spacing=6, size_hint_x=0.56)
        right = BoxLayout(orientation="vertical", spacing=6, size_hint_x=0.44)
        root.headline.size_hint_y = 0.64
        left.add_widget(root.headline)
        left.add_widget(root.recent)
        right.add_widget(root.windows)
        right.add_widget(root.queues)
        body.add_widget(left)
        body.add_widget(right)
        parts = [root.top_bar, body, root.marquee]
        boxes = [root, body, left, right]
    else:
        root.recent = wd.RecentCalls(scale, cols=2, rows=4, size_hint_y=0.17)
        root.windows = wd.WindowTable(scale, rows=6, cols=2, size_hint_y=0.2)
        root.queues = wd.QueueTable(scale, rows=6, size_hint_y=0.2)
        root.headline.size_hint_y = 0.36
        parts = [root.top_bar, root.headline, root.recent, root.windows, root.queues, root.marquee]
        boxes = [root]
    for part in parts:
        root.add_widget(part)
    root.gaps = Gaps(root.canvas.before, boxes, wd.NAVY)
    return root


def show(root, view) -> None:
    for part in (root.top_bar, root.headline, root.recent, root.windows, root.queues, root.marquee):
        part.show(view)


def make_app(hall: Hall, layout: str = "landscape"):
    """The Kivy App (import Kivy only after configure_kivy)."""
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window

    class DisplayApp(App):
        title = "onewindow display"

        def build(self):
            self.root_widget = build_screen(layout, *Window.size)
            self.redraws = 0
            self._stepped = time.perf_counter()
            self.slept = 0.0  # seconds frame() slept, in all
            self._redraw = Clock.create_trigger(self.refresh, 0)
            hall.model.on_update(self._redraw)
            return self.root_widget

        def on_start(self):
            Clock.schedule_interval(self.refresh, 0.5)  # clock, highlight ending
            Clock.schedule_interval(lambda dt: hall.poll_connection(), 0.2)
            Clock.schedule_interval(self.frame, 0)  # every tick of Kivy's clock (maxfps: 60 a second)
            if hall.speaker is not None:
                Clock.schedule_interval(lambda dt: hall.speaker.poll(), 0.05)
            self.refresh()

        def frame(self, dt):
            """The animation step, looked at every clock tick. A frame is drawn only when something moved:
            60 a second while a fresh call's highlight breathes, 30 while only the notice scrolls, none
            when nothing moves (in software GL frames are the display's main cost). Kivy's clock wakes up to
            10 ms early (it does not sleep less than its resolution, 5.6 ms): the last few ms are slept
            here, so frames come at their rate and not at 60-100 a second."""
            now = time.perf_counter()
            wait = self._stepped + (FRAME_S if self.view.highlighted else IDLE_FRAME_S) - now
            if wait > 0.006:
                return
            if wait > 0 and not self._redraw.is_triggered:  # a call waiting to be shown is not kept waiting
                time.sleep(wait)  # the UI thread's last few ms before the frame (other threads run meanwhile)
                self.slept += time.perf_counter() - now  # (the benchmark does not count it as a frame's work)
                now = time.perf_counter()
            self.root_widget.marquee.step(min(0.1, now - self._stepped))
            self.root_widget.headline.pulse(time.monotonic(), self.view.highlighted)
            self._stepped = now

        def refresh(self, *_):
            self.view = hall.model.view(hall.now())
            show(self.root_widget, self.view)
            self.redraws += 1
            self.shown_at = time.perf_counter()

    return DisplayApp()


def run_app(hall: Hall, layout: str = "landscape", fullscreen: bool = True,
            size: tuple[int, int] | None = None) -> int:
    configure_kivy(layout, fullscreen, size)
    app = make_app(hall, layout)
    hall.start()
    try:
        app.run()
    finally:
        hall.stop()
    return 0
