"""Kivy widgets of the kiosk: they draw a presenter `Screen` and forward touches; they decide nothing.

Import only after `kiosk.app.prepare()` (the font must be registered before the first label exists).
"""
from __future__ import annotations

from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button as KvButton
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from kiosk import theme
from kiosk.presenter import Button, Screen


CENTRED = ("out_of_service", "failed", "working", "unavailable", "refused")


class Painted(BoxLayout):
    """A box with a flat background colour."""

    def __init__(self, colour: str, **kw):
        super().__init__(**kw)
        with self.canvas.before:
            Color(*theme.rgba(colour))
            self._bg = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._paint, size=self._paint)

    def _paint(self, *_):
        self._bg.pos, self._bg.size = self.pos, self.size


class Text(Label):
    """A label that wraps to its width and grows to its text's height."""

    def __init__(self, text: str, style: str, font_px: float, **kw):
        fg, _ = theme.PAIRS[style]
        super().__init__(text=text, font_size=font_px, color=theme.rgba(fg), size_hint_y=None,
                         halign=kw.pop("halign", "left"), valign="middle", bold=style in ("heading", "warning", "alert"), **kw)
        self.style = style
        self.bind(width=lambda *_: setattr(self, "text_size", (self.width, None)),
                  texture_size=lambda *_: setattr(self, "height", self.texture_size[1] + font_px * 0.35))


class TapButton(KvButton):
    """A flat button that knows its presenter action."""

    def __init__(self, spec: Button, font_px: float, sub_px: float, on_tap, **kw):
        kind = spec.kind if spec.enabled else "disabled"
        fg, bg = theme.PAIRS[kind]
        down = theme.PAIRS.get(f"{kind}_down", (fg, bg))[1]
        text = spec.label if not spec.sub else f"{spec.label}\n[size={int(sub_px)}]{spec.sub}[/size]"
        super().__init__(text=text, markup=True, font_size=font_px, color=theme.rgba(fg), halign="center",
                         valign="middle", background_normal="", background_down="",
                         background_disabled_normal="", background_color=theme.rgba(bg),
                         disabled_color=theme.rgba(fg), disabled=not spec.enabled, **kw)
        self.action, self.kind, self._down = spec.action, spec.kind, theme.rgba(down)
        self._up = theme.rgba(bg)
        self._on_tap = on_tap
        self.bind(size=lambda *_: setattr(self, "text_size", (self.width - font_px, None)))

    def on_press(self):
        self.background_color = self._down

    def on_release(self):
        self.background_color = self._up
        self._on_tap(self.action)


class ScreenView(Painted):
    """The whole kiosk screen. `show(screen)` redraws it; taps go to `on_tap(action)`."""

    def __init__(self, on_tap, px_per_mm: float, **kw):
        super().__init__(theme.WHITE, orientation="vertical", **kw)
        self.on_tap = on_tap
        self.px_per_mm = px_per_mm
        self.shown: Screen | None = None
        self.buttons: dict[str, TapButton] = {}

    def px(self, key: str, scale: float = 1.0) -> float:
        return theme.SIZES_MM[key] * self.px_per_mm * scale

    def font(self, key: str, screen: Screen) -> float:
        return self.px(key, theme.LARGE if screen.large else 1.0)

    def show(self, screen: Screen) -> bool:
        """Redraw for `screen`; False if it is what is shown already."""
        if screen == self.shown:
            return False
        self.shown = screen
        self.clear_widgets()
        self.buttons = {}
        pad = self.px("padding")
        title = Painted(theme.BLUE, size_hint_y=None, height=max(self.px("title_height"),
                                                                   self.font("title", screen) * 1.8),
                        padding=(pad * 2, 0))
        title.add_widget(Label(text=screen.title, font_size=self.font("title", screen), bold=True,
                               color=theme.rgba(theme.PAIRS["title"][0]), halign="left", valign="middle",
                               text_size=(None, None), shorten=True, shorten_from="right"))
        title.children[0].bind(size=lambda w, *_: setattr(w, "text_size", w.size))
        self.add_widget(title)
        if screen.banner:
            banner = Painted(theme.BANNER_BG, size_hint_y=None, padding=(pad * 2, pad / 2))
            label = Text(screen.banner, "banner", self.font("banner", screen))
            banner.add_widget(label)
            label.bind(height=lambda w, h: setattr(banner, "height", h + pad))
            self.add_widget(banner)
        self.add_widget(self._content(screen, pad))
        if screen.nav:
            self.add_widget(self._nav(screen, pad))
        return True

    def _button(self, spec: Button, screen: Screen, **kw) -> TapButton:
        key = spec.kind if spec.kind in ("choice", "primary", "toggle", "nav") else "choice"
        b = TapButton(spec, self.font(key, screen), self.font("choice_sub", screen), self.on_tap, **kw)
        self.buttons[spec.action] = b
        return b

    def _lines(self, screen: Screen, pad: float) -> ScrollView:
        body = BoxLayout(orientation="vertical", size_hint_y=None, spacing=pad / 2, padding=(pad * 2, pad))
        body.bind(minimum_height=body.setter("height"))
        if screen.big:
            body.add_widget(Text(screen.big, "number", self.px("number"), halign="center"))
        for line in screen.lines:
            body.add_widget(Text(line.text, line.style, self.font(line.style if line.style in theme.SIZES_MM
                                                                 else "body", screen),
                                 halign="center" if screen.big or screen.name in CENTRED else "left"))
        scroll = ScrollView(do_scroll_x=False, bar_width=max(8, pad), scroll_type=["bars", "content"])
        scroll.add_widget(body)
        return scroll

    def _content(self, screen: Screen, pad: float) -> Widget:
        choices = [b for b in screen.buttons if b.kind == "choice"]
        others = [b for b in screen.buttons if b.kind != "choice"]
        if choices:  # home and items: a grid of large buttons under a short hint
            box = BoxLayout(orientation="vertical", padding=pad * 2, spacing=pad * 2)
            if screen.lines:
                hint = BoxLayout(orientation="vertical", size_hint_y=None)
                for line in screen.lines:
                    t = Text(line.text, line.style, self.font(line.style, screen))
                    hint.add_widget(t)
                    t.bind(height=lambda w, h: setattr(hint, "height", h))
                box.add_widget(hint)
            grid = GridLayout(cols=2, spacing=pad * 2, size_hint_y=None)
            grid.bind(minimum_height=grid.setter("height"))
            for spec in choices + others:
                key = "primary_height" if spec.kind == "primary" else "choice_height"
                grid.add_widget(self._button(spec, screen, size_hint_y=None,
                                             height=self.px(key, theme.LARGE if screen.large else 1.0)))
            scroll = ScrollView(do_scroll_x=False, bar_width=max(8, pad))
            scroll.add_widget(grid)
            box.add_widget(scroll)
            return box
        row = BoxLayout(orientation="horizontal", spacing=pad * 2, padding=(0, 0, pad * 2, pad * 2))
        row.add_widget(self._lines(screen, pad))
        if others:
            side = BoxLayout(orientation="vertical", size_hint_x=0.34, spacing=pad * 2, padding=(0, pad * 2, 0, 0))
            for spec in others:
                key = {"primary": "primary_height", "toggle": "toggle_height"}.get(spec.kind, "choice_height")
                side.add_widget(self._button(spec, screen, size_hint_y=None,
                                             height=self.px(key, theme.LARGE if screen.large else 1.0)))
            side.add_widget(Widget())
            row.add_widget(side)
        return row

    def _nav(self, screen: Screen, pad: float) -> BoxLayout:
        """Back and home on the left, text size and language on the right."""
        bar = Painted(theme.LIGHT, orientation="horizontal", size_hint_y=None, height=self.px("nav_height") + pad * 2,
                      padding=pad, spacing=pad * 2)
        left = [b for b in screen.nav if b.action in ("back", "home")]
        right = [b for b in screen.nav if b not in left]
        for spec in left:
            bar.add_widget(self._button(spec, screen, size_hint_x=None, width=self.px("nav_height") * 2.6))
        bar.add_widget(Widget())
        for spec in right:
            bar.add_widget(self._button(spec, screen, size_hint_x=None, width=self.px("nav_height") * 2.6))
        return bar
