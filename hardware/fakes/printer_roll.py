"""The fake printer's paper roll: what came out (lines, pictures, feeds, cuts) and a picture of it."""
from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from hardware.printing.paper import CELL, GLYPH_H, LINE_SPACING, align_offset

FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


@dataclass
class PrintedLine:
    """One line of text as it came out of the printer."""

    text: str
    dots: int               # width in dots
    width: int = 1          # largest horizontal magnification on the line
    height: int = 1         # largest vertical magnification on the line
    bold: bool = False      # any bold character
    align: str = "left"
    wrapped: bool = False   # the printer had to wrap it: the line was wider than the paper
    chars: list = field(default_factory=list, repr=False)  # (char, dots, width, height, bold)

    @property
    def feed_dots(self) -> int:
        return max(LINE_SPACING, GLYPH_H * self.height + 6)


@dataclass
class PrintedImage:
    """A raster picture or a QR code on the roll (mode "1", ink = 1)."""

    image: Image.Image
    kind: str = "raster"      # raster | qr
    qr_data: bytes = b""
    too_wide: bool = False    # the raster was wider than the paper


@dataclass
class Feed:
    dots: int


@dataclass
class CutMark:
    partial: bool


def split_pages(records: list) -> list[list]:
    """The roll split at each cut: one list of records per slip."""
    pages, cur = [], []
    for r in records:
        if isinstance(r, CutMark):
            pages.append(cur)
            cur = []
        else:
            cur.append(r)
    if cur:
        pages.append(cur)
    return pages


def roll_image(records: list, dots: int, margin: int = 16) -> Image.Image:
    """The paper roll as a picture (RGB, white paper, black print, grey margins)."""
    items: list[tuple[int, object]] = []
    height = margin
    for r in records:
        if not isinstance(r, Feed):
            items.append((height, r))
        height += {PrintedLine: lambda: r.feed_dots, PrintedImage: lambda: r.image.height,
                   Feed: lambda: r.dots, CutMark: lambda: 12}[type(r)]()
    height += margin
    out = Image.new("L", (dots + 2 * margin, height), 255)
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, 0, margin - 1, height], fill=200)
    draw.rectangle([dots + margin, 0, dots + 2 * margin, height], fill=200)
    for y, r in items:
        if isinstance(r, PrintedImage):
            ink = r.image.point(lambda v: 0 if v else 255, mode="L")
            out.paste(ink.crop((0, 0, min(ink.width, dots), ink.height)), (margin, y))
        elif isinstance(r, PrintedLine):
            _draw_line(out, r, dots, margin, y)
        elif isinstance(r, CutMark):
            for x in range(margin, dots + margin, 12):
                draw.line([x, y + 6, x + 6, y + 6], fill=120)
    return out.convert("RGB")


def _draw_line(out: Image.Image, line: PrintedLine, dots: int, margin: int, y: int) -> None:
    x = margin + align_offset(line.align, line.dots, dots)
    draw = ImageDraw.Draw(out)
    draw.fontmode = "1"  # dots are on or off, as on thermal paper
    for ch, w_dots, w, h, bold in line.chars:
        wide = w_dots // w >= 2 * CELL
        font = _font(GLYPH_H * h if wide else 20 * h, not wide)
        cx = x + w_dots / 2
        for dx in ((0, 1) if bold else (0,)):
            draw.text((cx + dx, y + round(GLYPH_H * h * (0.84 if wide else 0.80))), ch, font=font, fill=0,
                      anchor="ms")
        x += w_dots


_FONTS: dict = {}


def _font(size: int, mono: bool) -> ImageFont.FreeTypeFont:
    key = (size, mono)
    if key not in _FONTS:
        _FONTS[key] = ImageFont.truetype(FONT_PATH, size, index=1 if mono else 0)
    return _FONTS[key]
