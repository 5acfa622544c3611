"""The hall display's widgets. They only draw what a DisplayView says; no state, no MQTT."""
from __future__ import annotations

import math

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from display.model import DisplayView, format_wait
from display.paint import Fill, Ink

NAVY = (0.04, 0.11, 0.23, 1)
PANEL = (0.07, 0.17, 0.33, 1)
AMBER = (1.0, 0.70, 0.0, 1)
YELLOW = (1.0, 0.86, 0.25, 1)
WHITE = (1, 1, 1, 1)
GREY = (0.72, 0.78, 0.88, 1)
RED = (0.85, 0.1, 0.1, 1)
GREEN = (0.35, 0.85, 0.45, 1)
STATE_COLOURS = {"calling": YELLOW, "serving": GREEN, "idle": WHITE, "closed": GREY, "paused": GREY,
                 "rating": WHITE}


def text(value: str = "", size: float = 32, colour=WHITE, bold: bool = False, halign: str = "left", **kw) -> Ink:
    """One line of text (display/paint.py: a texture only as big as the text, cut with "..." when wider
    than its box unless centred)."""
    # No synthetic bold: WenQuanYi has no bold face, and SDL_ttf's emboldening of large glyphs cost
    # 100-400 ms a label here (measured), which froze frames whenever a number changed.
    return Ink(text=value, font_size=size, color=colour, halign=halign, **kw)


class Panel(BoxLayout):
    """A box on the panel colour, which is the window's own (cleared, nothing drawn); with `colour`, a
    filled background whose colour can change (a scissored clear: display/paint.py)."""

    def __init__(self, colour=None, **kw):
        super().__init__(**kw)
        self._colour = None
        if colour is not None:
            self._colour = Fill(self.canvas.before, colour)
            self.bind(pos=self._redraw, size=self._redraw)

    def _redraw(self, *_):
        self._colour.place(self.x, self.y, self.width, self.height)

    def set_colour(self, colour) -> None:
        self._colour.rgba = colour
        self._colour.shown = tuple(colour) != PANEL  # the window's colour: nothing to paint


class TopBar(Panel):
    """Title, connection mark, clock and date."""

    def __init__(self, scale: float, **kw):
        super().__init__(colour=NAVY, orientation="horizontal", padding=(24, 8), spacing=16, size_hint_y=None,
                         height=120 * scale, **kw)
        titles = BoxLayout(orientation="vertical")
        self.title = text(size=42 * scale)
        self.title_en = text(size=22 * scale, colour=GREY)
        titles.add_widget(self.title)
        titles.add_widget(self.title_en)
        self.lost = text("", size=34 * scale, colour=WHITE, bold=True, halign="center", size_hint_x=None,
                         width=0)
        self._lost_bg = Panel(colour=RED, size_hint_x=None, width=0)
        self._lost_bg.add_widget(self.lost)
        clock = BoxLayout(orientation="vertical", size_hint_x=None, width=510 * scale)
        self.clock = text(size=60 * scale, bold=True, halign="right")
        self.date = text(size=24 * scale, colour=GREY, halign="right")
        clock.add_widget(self.clock)
        clock.add_widget(self.date)
        self.scale = scale
        for w in (titles, self._lost_bg, clock):
            self.add_widget(w)

    def show(self, v: DisplayView) -> None:
        self.title.text, self.title_en.text = v.title, v.title_en
        self.clock.text = v.clock
        self.date.text = f"{v.date_zh}  {v.date_en}"
        lost = ("连接中断 Connection lost" if v.connection_lost
                else "服务器离线 Server offline" if v.server_offline else "")
        if self.lost.text != lost:
            self.lost.text = lost
            width = 520 * self.scale if lost else 0
            self._lost_bg.width = self.lost.width = width


class Headline(Panel):
    """The newest call, very large; amber while it is fresh."""

    def __init__(self, scale: float, **kw):
        super().__init__(colour=PANEL, orientation="vertical", padding=(24, 12), **kw)
        self.caption = text("请 Please", size=44 * scale, colour=GREY, halign="center", size_hint_y=0.18)
        self.number = text("", size=250 * scale, colour=YELLOW, bold=True, halign="center", size_hint_y=0.52)
        self.window = text("", size=86 * scale, colour=WHITE, bold=True, halign="center", size_hint_y=0.2)
        self.window_en = text("", size=40 * scale, colour=GREY, halign="center", size_hint_y=0.1)
        for w in (self.caption, self.number, self.window, self.window_en):
            self.add_widget(w)

    def show(self, v: DisplayView) -> None:
        c = v.headline
        self.number.text = c.number if c else "--"
        self.window.text = f"到 {c.window_name} 办理" if c else "请留意叫号"
        self.window_en.text = f"Number {c.number}, please go to window {c.window}" if c else "Please watch for your number"
        self.caption.text = ("再次呼叫 Called again" if c and c.recall else "请 Please") if c else ""
        self.set_colour(AMBER if v.highlighted else PANEL)
        ink = NAVY if v.highlighted else YELLOW
        self.number.color = ink
        self.window.color = NAVY if v.highlighted else WHITE
        self.window_en.color = NAVY if v.highlighted else GREY
        self.caption.color = NAVY if v.highlighted else GREY


    def pulse(self, t: float, highlighted: bool) -> None:
        """While fresh, the amber breathes (a frame timer calls this) so an eye across the hall finds it."""
        if highlighted:
            k = 0.5 + 0.5 * math.sin(t * 2 * math.pi / 1.2)
            self.set_colour((1.0, 0.62 + 0.16 * k, 0.0 + 0.25 * k, 1))


class RecentCalls(Panel):
    """Recent calls: number -> window."""

    def __init__(self, scale: float, cols: int = 2, rows: int = 4, **kw):
        super().__init__(orientation="vertical", padding=(20, 8), spacing=4, **kw)
        self.add_widget(text("最近呼叫   Recent calls: number → window", size=32 * scale, colour=GREY, size_hint_y=None,
                             height=48 * scale))
        grid = GridLayout(cols=cols, spacing=(24, 4))
        self.cells = [text("", size=56 * scale, bold=True) for _ in range(cols * rows)]
        for cell in self.cells:
            grid.add_widget(cell)
        self.add_widget(grid)

    def show(self, v: DisplayView) -> None:
        for i, cell in enumerate(self.cells):
            c = v.recent[i] if i < len(v.recent) else None
            cell.text = f"{c.number}  →  {c.window}号窗口" if c else ""


class WindowTable(Panel):
    def __init__(self, scale: float, rows: int = 12, cols: int = 1, **kw):
        super().__init__(orientation="vertical", padding=(20, 8), spacing=2, **kw)
        self.scale = scale
        self.add_widget(text("窗口  Windows", size=32 * scale, colour=GREY, size_hint_y=None, height=48 * scale))
        grid = GridLayout(cols=cols, spacing=(24, 2))
        self.rows = [text("", size=34 * scale) for _ in range(rows * cols)]
        for r in self.rows:
            grid.add_widget(r)
        self.add_widget(grid)

    def show(self, v: DisplayView) -> None:
        for i, label in enumerate(self.rows):
            w = v.windows[i] if i < len(v.windows) else None
            if w is None:
                label.text = ""
                continue
            ticket = f"{w.ticket}   " if w.ticket else ""  # before the state: never cut off
            label.text = f"{w.name}   {ticket}{w.state_zh} {w.state_en}"
            label.color = STATE_COLOURS.get(w.state, WHITE)


class QueueTable(Panel):
    def __init__(self, scale: float, rows: int = 6, **kw):
        super().__init__(orientation="vertical", padding=(20, 8), spacing=2, **kw)
        self.add_widget(text("等候人数 · 预计等候   Waiting · expected wait", size=32 * scale, colour=GREY, size_hint_y=None,
                             height=48 * scale))
        grid = GridLayout(cols=3, spacing=(12, 2))
        self.cells = []
        for _ in range(rows):
            row = (text("", size=32 * scale, size_hint_x=0.62), text("", size=34 * scale, bold=True, halign="right",
                                                                       size_hint_x=0.16),
                   text("", size=30 * scale, halign="right", size_hint_x=0.22))
            for c in row:
                grid.add_widget(c)
            self.cells.append(row)
        self.add_widget(grid)

    def show(self, v: DisplayView) -> None:
        for i, (name, waiting, wait) in enumerate(self.cells):
            q = v.queues[i] if i < len(v.queues) else None
            if q is None:
                name.text = waiting.text = wait.text = ""
                continue
            zh, en = format_wait(q.wait_min)
            name.text = f"{q.prefix} {q.name}  {q.name_en}"
            waiting.text = f"{q.waiting} 人"
            wait.text = zh if q.open else "暂停取号"
            name.color = WHITE if q.open else GREY


class Marquee(Widget):
    """The manager's notice, scrolling right to left; `step(dt)` moves it (the app's frame timer): one
    texture moved, nothing re-rendered. It spans the whole window, so the window's edges clip it: no
    stencil (costly in software GL)."""

    def __init__(self, scale: float, speed: float = 160, **kw):
        super().__init__(size_hint_y=None, height=76 * scale, **kw)
        self._background = Fill(self.canvas.before, NAVY)
        self.label = Ink(font_size=40 * scale, color=YELLOW, halign="center", size_hint=(None, None), width=0)
        self.label.bind(text_width=lambda label, width: setattr(label, "width", width))
        self.add_widget(self.label)
        self.speed = speed * scale
        self._x = 0.0
        self.bind(pos=self._place, size=self._place)

    def _place(self, *_):
        self._background.place(self.x, self.y, self.width, self.height)
        self.label.height = self.height
        self.label.center_y = self.center_y

    def show(self, v: DisplayView) -> None:
        if self.label.text != v.notice:
            self.label.text = v.notice
            self._x = 24.0  # readable at once, then it moves left and comes back in from the right
            self.label.pos = (self.x + self._x, self.y)

    @property
    def moving(self) -> bool:
        return bool(self.label.text) and self.speed > 0

    def step(self, dt: float) -> None:
        if not self.moving:
            return
        self._x -= self.speed * dt
        if self._x < -self.label.width:
            self._x = self.width
        self.label.pos = (self.x + round(self._x), self.y)
