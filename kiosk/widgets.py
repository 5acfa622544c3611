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
        self._sub_px = sub_px
        text = self._text(spec)
        super().__init__(text=text, markup=True, font_size=font_px, color=theme.rgba(fg), halign="center",
                         valign="middle", background_normal="", background_down="",
                         background_disabled_normal="", background_color=theme.rgba(bg),
                         disabled_color=theme.rgba(fg), disabled=not spec.enabled, **kw)
        self.action, self.kind, self._down = spec.action, spec.kind, theme.rgba(down)
        self._up = theme.rgba(bg)
        self._on_tap = on_tap
        self.bind(size=lambda *_: setattr(self, "text_size", (self.width - font_px, None)))

    def _text(self, spec: Button) -> str:
        return spec.label if not spec.sub else f"{spec.label}\n[size={int(self._sub_px)}]{spec.sub}[/size]"

    def relabel(self, spec: Button) -> None:
        self.text = self._text(spec)

    def on_press(self):
        self.background_color = self._down

    def on_release(self):
        self.background_color = self._up
        self._on_tap(self.action)


CACHE_SIZE = 32


def shape(s: Screen) -> tuple:
    """What decides a screen's widgets (not its texts)."""
    return (s.name, s.large, bool(s.big), bool(s.banner), tuple(ln.style for ln in s.lines),
            tuple((b.action, b.kind, b.enabled, bool(b.sub)) for b in s.buttons),
            tuple((b.action, b.enabled) for b in s.nav))


class Built:
    """The widgets of one drawn screen, and the labels whose texts a screen of the same shape changes."""

    def __init__(self) -> None:
        self.roots: list = []
        self.title = self.banner = self.big = None
        self.lines: list = []
        self.buttons: dict[str, TapButton] = {}
        self.scrolls: list = []

    def update(self, screen: Screen) -> None:
        self.title.text = screen.title
        if self.banner is not None:
            self.banner.text = screen.banner
        if self.big is not None:
            self.big.text = screen.big
        for label, line in zip(self.lines, screen.lines):
            label.text = line.text
        for spec in screen.buttons + screen.nav:
            self.buttons[spec.action].relabel(spec)
        for scroll in self.scrolls:
            scroll.scroll_y = 1


class ScreenView(Painted):
    """The whole kiosk screen. `show(screen)` redraws it; taps go to `on_tap(action)`."""

    def __init__(self, on_tap, px_per_mm: float, **kw):
        super().__init__(theme.WHITE, orientation="vertical", **kw)
        self.on_tap = on_tap
        self.px_per_mm = px_per_mm
        self.shown: Screen | None = None
        self.buttons: dict[str, TapButton] = {}
        self._cache: dict[tuple, Built] = {}
        self._rec: Built | None = None

    def px(self, key: str, scale: float = 1.0) -> float:
        return theme.SIZES_MM[key] * self.px_per_mm * scale

    def font(self, key: str, screen: Screen) -> float:
        return self.px(key, theme.LARGE if screen.large else 1.0)

    def show(self, screen: Screen) -> bool:
        """Redraw for `screen`; False if it is what is shown already. A screen laid out like one drawn
        before (same kinds of lines and the same buttons) reuses those widgets and only changes their
        texts: a redraw then costs a few labels, not a widget tree."""
        if screen == self.shown:
            return False
        self.shown = screen
        key = shape(screen)
        built = self._cache.pop(key, None)
        if built is None:
            built = self._build(screen)
        else:
            built.update(screen)
        self._cache[key] = built
        while len(self._cache) > CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self.clear_widgets()
        for w in built.roots:
            self.add_widget(w)
        self.buttons = built.buttons
        self.built = built
        return True

    def drawn(self) -> dict:
        """The texts the widgets hold now (tests compare them with the presenter's screen)."""
        b = self.built
        return {"title": b.title.text, "banner": b.banner.text if b.banner else "", "big": b.big.text if b.big else "",
                "lines": [label.text for label in b.lines],
                "buttons": {a: btn.text.split("\n")[0] for a, btn in b.buttons.items()}}

    def _build(self, screen: Screen) -> "Built":
        self._rec = rec = Built()
        pad = self.px("padding")
        title = Painted(theme.BLUE, size_hint_y=None, height=max(self.px("title_height"),
                                                                   self.font("title", screen) * 1.8),
                        padding=(pad * 2, 0))
        rec.title = Label(text=screen.title, font_size=self.font("title", screen), bold=True,
                          color=theme.rgba(theme.PAIRS["title"][0]), halign="left", valign="middle",
                          text_size=(None, None), shorten=True, shorten_from="right")
        rec.title.bind(size=lambda w, *_: setattr(w, "text_size", w.size))
        title.add_widget(rec.title)
        rec.roots.append(title)
        if screen.banner:
            banner = Painted(theme.BANNER_BG, size_hint_y=None, padding=(pad * 2, pad / 2))
            rec.banner = Text(screen.banner, "banner", self.font("banner", screen))
            banner.add_widget(rec.banner)
            rec.banner.bind(height=lambda w, h: setattr(banner, "height", h + pad))
            rec.roots.append(banner)
        rec.roots.append(self._content(screen, pad))
        if screen.nav:
            rec.roots.append(self._nav(screen, pad))
        return rec

    def _button(self, spec: Button, screen: Screen, **kw) -> TapButton:
        key = spec.kind if spec.kind in ("choice", "primary", "toggle", "nav") else "choice"
        b = TapButton(spec, self.font(key, screen), self.font("choice_sub", screen), self.on_tap, **kw)
        self._rec.buttons[spec.action] = b
        return b

    def _lines(self, screen: Screen, pad: float) -> ScrollView:
        body = BoxLayout(orientation="vertical", size_hint_y=None, spacing=pad / 2, padding=(pad * 2, pad))
        body.bind(minimum_height=body.setter("height"))
        if screen.big:
            self._rec.big = Text(screen.big, "number", self.px("number"), halign="center")
            body.add_widget(self._rec.big)
        for line in screen.lines:
            label = Text(line.text, line.style, self.font(line.style if line.style in theme.SIZES_MM else "body",
                                                          screen),
                         halign="center" if screen.big or screen.name in CENTRED else "left")
            self._rec.lines.append(label)
            body.add_widget(label)
        scroll = ScrollView(do_scroll_x=False, bar_width=max(8, pad), scroll_type=["bars", "content"])
        self._rec.scrolls.append(scroll)
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
                    self._rec.lines.append(t)
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
            self._rec.scrolls.append(scroll)
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
