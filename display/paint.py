"""Cheap drawing for the hall display: what a frame costs in software OpenGL.

Measured here (Mesa llvmpipe, 2 cores, 1080p): a frame's cost is the pixels it fills, not the text it
renders. A full-screen flat rectangle drawn the Kivy way (a textured, blended quad) costs ~18 ms; the same
area cleared through a scissor ~5 ms; a full-screen textured quad 19-25 ms (nearest filtering ~20% less
than linear); SDL_ttf renders a 250 px number in under 1 ms. So:

- `Fill` paints a rectangle with a scissored glClear instead of a textured quad, and the window is cleared
  to the panels' colour, so only the bars, the gaps between panels (`Gaps`) and the highlighted headline
  are painted;
- `Ink` draws text from a texture exactly the size of its text (a Kivy Label's left- or right-aligned
  texture spans the whole line), white and tinted by one Color (a colour change re-renders nothing), at
  whole pixels with nearest filtering;
- rendered texts are kept (`TEXTURES`, by text and size), so a row that shows a text it showed before
  (the recent calls shift down one row at every call) reuses its texture: only new texts are rendered.
  A texture is never written again once drawn (writing into a texture the previous frame still reads
  made llvmpipe wait for that whole frame: 150-300 ms, measured).
"""
from __future__ import annotations

from collections import OrderedDict

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.graphics import ClearBuffers, ClearColor, Color, Rectangle, RenderContext
from kivy.graphics.scissor_instructions import ScissorPop, ScissorPush
from kivy.graphics.texture import Texture
from kivy.properties import ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

WHITE = (1, 1, 1, 1)


class TextureCache:
    """Rendered texts by (text, font size, width limit), newest last; the oldest go beyond `limit`."""

    def __init__(self, limit: int = 160):
        self.limit = limit
        self._texts: OrderedDict = OrderedDict()
        self.rendered = 0  # texts rendered (not found here): what a call costs in rasterising

    def get(self, text: str, font_size: float, max_width: int | None = None) -> "Glyphs":
        key = (text, round(font_size, 2), max_width)
        glyphs = self._texts.get(key)
        if glyphs is not None:
            self._texts.move_to_end(key)
            return glyphs
        glyphs = render(text, font_size, max_width)
        self.rendered += 1
        self._texts[key] = glyphs
        while len(self._texts) > self.limit:
            self._texts.popitem(last=False)
        return glyphs


class Glyphs:
    """A rendered text: a one-channel texture of its inked rows, and where those rows sit in its line."""

    __slots__ = ("texture", "width", "height", "bottom")

    def __init__(self, texture, width: int, height: int, bottom: int):
        self.texture, self.width, self.height, self.bottom = texture, width, height, bottom


def render(text: str, font_size: float, max_width: int | None = None) -> Glyphs:
    """White text's coverage as a one-channel ("luminance") texture, as small as the text: only its inked
    rows (a 250 px number's line is 40% blank above and below), cut with "..." to `max_width` when wider.
    One channel instead of four draws ~40% faster in llvmpipe (measured); `InkRoot`'s shader reads it."""
    options = {"text": text, "font_size": font_size, "color": WHITE, "halign": "left", "valign": "middle"}
    if max_width is not None:
        options.update(text_size=(max_width, None), shorten=True, shorten_from="right", split_str="")
    core = _Coverage(**options)
    core.resolve_font_name()
    width, height = core._size = core.render()  # the first pass: the size
    if width <= 1 or height <= 1:
        return Glyphs(None, 0, 0, 0)
    core.render(real=True)  # SDL_ttf draws the text; _Coverage keeps its alpha channel
    rows = [core.alpha[y * width:(y + 1) * width] for y in range(height)]  # top row first
    blank = bytes(width)
    inked = [y for y, row in enumerate(rows) if row != blank] or [0]
    top, last = inked[0], inked[-1]
    texture = Texture.create(size=(width, last - top + 1), colorfmt="luminance")
    texture.blit_buffer(b"".join(rows[top:last + 1]), colorfmt="luminance", bufferfmt="ubyte")
    texture.flip_vertical()
    texture.mag_filter = texture.min_filter = "nearest"  # drawn 1:1 at whole pixels: same look, cheaper
    return Glyphs(texture, width, height, height - 1 - last)


class _Coverage(CoreLabel):
    """Kivy's text provider, keeping the rendered pixels' alpha instead of uploading them as RGBA."""

    alpha = b""

    def _render_end(self):
        data = super()._render_end()
        self.alpha = bytes(data.data)[3::4]  # (10x faster than a strided memoryview copy)
        return data

    def _render_real(self):
        lines = self._cached_lines
        options = self._default_line_options(lines)
        if options is None:
            return
        ih, size = self._internal_size[1], self.size
        y = int((size[1] - ih + 2 * options["padding"][1]) / 2)  # valign middle
        self._render_begin()
        self.render_lines(lines, options, self._render_text, y, size)
        self._render_end()


TEXTURES = TextureCache()


class Ink(Widget):
    """One line of text, aligned left, centre or right in its box; `text` and `color` as on a Label."""

    text = StringProperty("")
    color = ListProperty(WHITE)
    text_width = NumericProperty(0)  # of the text as drawn (once rendered, just before the frame)

    def __init__(self, text: str = "", font_size: float = 32, color=WHITE, halign: str = "left", **kw):
        super().__init__(**kw)
        self.font_size, self.halign = font_size, halign
        self.glyphs = None
        with self.canvas:
            self._ink = Color(*color)
            self._rect = Rectangle(size=(0, 0))
        self.color = list(color)
        # Rendered once per frame at most, just before it is drawn (after layout has sized the box): a
        # text set, or a box resized, several times within a frame is rendered once.
        self._trigger = Clock.create_trigger(self._render, -1)
        self.bind(text=self._trigger, size=self._trigger, pos=self._place,
                  color=lambda w, c: setattr(self._ink, "rgba", c))
        self.text = text

    def _render(self, *_):
        glyphs = TEXTURES.get(self.text, self.font_size) if self.text else None
        # Cut to the box when it is narrower than the text; a box narrower than two glyphs is one that
        # layout has not sized yet (Kivy passes through such sizes at start): not worth a texture.
        if glyphs is not None and self.halign != "center" and glyphs.width > self.width >= 2 * self.font_size:
            glyphs = TEXTURES.get(self.text, self.font_size, int(self.width))
        self.glyphs = glyphs
        self._rect.texture = glyphs.texture if glyphs else None
        self.text_width = glyphs.width if glyphs else 0
        self._place()

    def _place(self, *_):
        g = self.glyphs
        if g is None or g.texture is None:
            self._rect.size = (0, 0)
            return
        x = {"left": self.x, "center": self.center_x - g.width / 2, "right": self.right - g.width}[self.halign]
        self._rect.pos = (int(x), int(self.center_y - g.height / 2) + g.bottom)
        self._rect.size = g.texture.size


class InkRoot(BoxLayout):
    """The display's root: everything under it is drawn with a shader that reads text coverage from one
    channel (`render`). Draw only `Ink` and `Fill` under it: an RGBA image would lose its colours."""

    def __init__(self, **kw):
        self.canvas = RenderContext(use_parent_projection=True, use_parent_modelview=True,
                                    use_parent_frag_modelview=True)
        self.canvas.shader.fs = COVERAGE_SHADER
        super().__init__(**kw)


COVERAGE_SHADER = """$HEADER$
void main(void) {
    gl_FragColor = vec4(frag_color.rgb, frag_color.a * texture2D(texture0, tex_coord0).r);
}
"""


class Fill:
    """A solid rectangle painted by a scissored clear (a few times cheaper than a quad in software GL).
    Add it to a canvas (`Fill(canvas.before, colour)`), then `place(x, y, w, h)` and `rgba`."""

    def __init__(self, canvas, colour):
        self._box = (0, 0, 0, 0)
        self._shown = True
        with canvas:
            self._scissor = ScissorPush(x=0, y=0, width=0, height=0)
            self.colour = ClearColor(*colour)
            ClearBuffers(clear_color=True, clear_depth=False, clear_stencil=False)
            ScissorPop()

    def place(self, x: float, y: float, width: float, height: float) -> None:
        self._box = (int(x), int(y), max(0, int(width)), max(0, int(height)))
        s = self._scissor
        s.x, s.y, s.width, s.height = self._box if self._shown else (0, 0, 0, 0)

    @property
    def shown(self) -> bool:
        return self._shown

    @shown.setter
    def shown(self, value: bool) -> None:
        if value != self._shown:
            self._shown = value
            self.place(*self._box)

    @property
    def rgba(self) -> list[float]:
        c = self.colour  # not ClearColor.rgba: Kivy 2.3.1's getter returns r, b, g, a
        return [c.r, c.g, c.b, c.a]

    @rgba.setter
    def rgba(self, value) -> None:
        if [round(v, 6) for v in self.rgba] != [round(v, 6) for v in value]:  # an unchanged colour: no frame
            self.colour.rgba = value


class Gaps:
    """The spacing between the children of box layouts, painted `colour`. The window is cleared to the
    panels' colour, so only these strips and the bars are painted (at 1080p ~0.4 million pixels instead of
    the panels' 1.7). Make it after the boxes have their children."""

    def __init__(self, canvas, boxes, colour):
        self.boxes = boxes
        self.fills = [Fill(canvas, colour) for box in boxes for _ in box.children[1:]]
        for widget in [*boxes, *(child for box in boxes for child in box.children)]:
            widget.bind(pos=self.place, size=self.place)
        self.place()

    def place(self, *_):
        fills = iter(self.fills)
        for box in self.boxes:
            kids = box.children[::-1]  # in the order added: top to bottom, left to right
            for a, b in zip(kids, kids[1:]):
                if box.orientation == "vertical":
                    next(fills).place(box.x, b.top, box.width, a.y - b.top)
                else:
                    next(fills).place(a.right, box.y, b.x - a.right, box.height)
