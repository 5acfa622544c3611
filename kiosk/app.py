"""The kiosk's Kivy app: full screen, Chinese font, one ScreenView redrawn from the presenter.

    prepare(settings)               # before anything imports kivy.core.window: font, size, full screen
    app = KioskApp(presenter, settings)
    app.run()

Headless (tests, benchmarks): set SDL_VIDEODRIVER=offscreen, KIVY_HOME=<tmp>, KIVY_NO_ARGS=1 first
(`headless_env()` gives them).
"""
from __future__ import annotations

import logging
import os
from collections import deque
import tempfile
import time
from typing import Any

from kiosk import theme

log = logging.getLogger("onewindow.kiosk")
_prepared = False


def headless_env(video: str = "offscreen", home: str | None = None) -> dict[str, str]:
    """Environment for Kivy without a screen (merge into os.environ before importing kivy); KIVY_HOME is
    `home`, else the one set, else a new temporary folder."""
    return {"SDL_VIDEODRIVER": video, "KIVY_NO_ARGS": "1", "KIVY_CLIPBOARD": "sdl2",
            "SDL_AUDIODRIVER": "dummy", "KIVY_NO_FILELOG": "1",
            "KIVY_HOME": home or os.environ.get("KIVY_HOME") or tempfile.mkdtemp(prefix="onewindow-kivy-")}


def prepare(settings: Any, fullscreen: bool | None = None, size: tuple[int, int] | None = None) -> None:
    """Font, window size and full screen; must run before kivy.core.window is imported."""
    global _prepared
    if _prepared:
        return
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    full = settings.fullscreen if fullscreen is None else fullscreen
    w, h = size or settings.screen_px
    Config.set("graphics", "width", str(w))
    Config.set("graphics", "height", str(h))
    Config.set("graphics", "fullscreen", "auto" if full else "0")
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "multisamples", "0")  # flat colours and text need no anti-aliasing passes
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kivy.core.text import DEFAULT_FONT, LabelBase

    if os.path.exists(theme.FONT):
        LabelBase.register(DEFAULT_FONT, theme.FONT, theme.FONT, theme.FONT, theme.FONT)
    else:
        log.error("the Chinese font %s is missing (Debian: fonts-wqy-microhei); Chinese will not show", theme.FONT)
    _prepared = True


def make_app(presenter: Any, settings: Any):
    """The App class is built here so that importing this module does not import Kivy."""
    from kivy.app import App
    from kivy.clock import Clock

    from kiosk.widgets import ScreenView

    class KioskApp(App):
        title = "onewindow kiosk"

        def __init__(self, **kw):
            super().__init__(**kw)
            self.presenter, self.settings = presenter, settings
            self.view = None
            self.frames_after_redraw: list = []  # callbacks to run once the next frame is drawn
            self.redraws = 0
            self.redraw_ms: deque[float] = deque(maxlen=5000)  # how long the latest redraws took (benchmark)
            self.started_at = time.monotonic()
            self.first_frame_at: float | None = None

        def build(self):
            self.view = ScreenView(self.tap, settings.px_per_mm)
            self.redraw()
            presenter.on_change(lambda: Clock.schedule_once(lambda dt: self.redraw(), 0))
            Clock.schedule_interval(self._tick, 1.0)
            Clock.schedule_once(self._first_frame, 0)
            from kivy.core.window import Window

            self._typed: list[str] = []  # a QR scanner in keyboard (HID) mode types its code and Enter
            Window.bind(on_textinput=lambda w, text: self._typed.append(text), on_key_down=self._key)
            return self.view

        def _key(self, window, key, *args):
            if key in (13, 271):  # Enter, keypad Enter
                line, self._typed = "".join(self._typed).strip(), []
                if line:
                    presenter.identified(qr=line)
                return True
            return False

        def _tick(self, dt):
            presenter.tick()
            self.redraw()  # a no-op when nothing changed; catches any change whose notice was missed

        def _first_frame(self, dt):
            self.first_frame_at = time.monotonic()

        def tap(self, action: str) -> None:
            presenter.tap(action)
            self.redraw()

        def redraw(self) -> None:
            started = time.perf_counter()
            if self.view is not None and self.view.show(presenter.screen()):
                self.redraws += 1
                self.redraw_ms.append((time.perf_counter() - started) * 1000)

    return KioskApp()
