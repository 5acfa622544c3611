"""The one renderer: a `Document` plus a `PrinterProfile` in, ESC/POS bytes out.

Text goes out one of two ways, chosen by the profile:
- `gb18030`: for printers with a Chinese font. ASCII lines are plain bytes; a line with any other
  character is sent between FS & and FS . as GB18030.
- `image`: for printers without one. ASCII lines are still plain bytes (every printer has an ASCII font);
  a line with any other character is drawn with Pillow and the WenQuanYi Micro Hei font on the same
  12/24-dot grid the printer's own font uses, and runs of such lines go out as one GS v 0 raster.
  Glyphs are drawn once and cached, so a kiosk pays for a character the first time it prints it.

QR codes are sent as GS ( k when the printer has native QR, else drawn as a raster picture.
Pictures are placed on a paper-wide canvas and sent left-aligned (blank columns on the right dropped), so
they print where the layout put them on every printer (some ignore ESC a for rasters).
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image as PILImage
from PIL import ImageChops, ImageDraw, ImageFont

from hardware.printing import escpos as cmd
from hardware.printing.config import PrinterProfile
from hardware.printing.document import QR, Cut, Document, Feed, Image, Rule, Text
from hardware.printing.paper import CELL, GLYPH_H, LINE_GAP, align_offset
from hardware.printing.textwidth import char_width

FONT_PATHS = (
    os.environ.get("ONEWINDOW_CJK_FONT", ""),
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
# Control characters reaching the renderer are dropped: on paper they would be commands (LF feeds, ESC
# starts a command, GS V cuts). The catalogue refuses them; this is the last line of defence.
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
RASTER_BAND = 256  # rows per GS v 0 command (printers have small input buffers)


class RenderError(Exception):
    """The document cannot be printed with this profile (wrong paper width, no CJK font, ...)."""


def find_font() -> Path:
    for p in FONT_PATHS:
        if p and Path(p).is_file():
            return Path(p)
    raise RenderError("no CJK font found for image text mode: install fonts-wqy-microhei "
                      "(Debian) or set ONEWINDOW_CJK_FONT to a .ttf/.ttc with Chinese glyphs")


@lru_cache(maxsize=32)
def _font(size: int, mono: bool) -> ImageFont.FreeTypeFont:
    path = find_font()
    index = 1 if mono and path.name == "wqy-microhei.ttc" else (2 if path.name.startswith("NotoSansCJK") else 0)
    return ImageFont.truetype(str(path), size, index=index)


@lru_cache(maxsize=8192)
def glyph(ch: str, width: int = 1, height: int = 1, bold: bool = False) -> PILImage.Image:
    """A character cell as a 1-bit image (ink = 1), CELL*cols*width wide and GLYPH_H*height high."""
    cols = char_width(ch)
    w, h = CELL * cols * width, GLYPH_H * height
    if cols == 0:
        return PILImage.new("1", (0, h), 0)
    # Draw at the height's scale, then stretch sideways if the magnification differs.
    base_w = CELL * cols * height
    img = PILImage.new("1", (base_w, h), 0)
    draw = ImageDraw.Draw(img)
    draw.fontmode = "1"
    if cols == 1:  # the mono face's ASCII advance is 0.6 em: 20 px gives the 12-dot cell
        font = _font(20 * height, True)
        draw.text((base_w / 2, round(h * 0.80)), ch, font=font, fill=1, anchor="ms")
    else:
        font = _font(GLYPH_H * height, False)
        draw.text((base_w / 2, round(h * 0.84)), ch, font=font, fill=1, anchor="ms")
    if base_w != w:
        img = img.resize((w, h), PILImage.NEAREST)
    if bold:
        img = ImageChops.logical_or(img, ImageChops.offset(img, 1, 0))
    return img


def text_image(lines: list[Text], dots: int) -> PILImage.Image:
    """Draw text lines on the printer's grid; one image for the run."""
    heights = [GLYPH_H * t.height + LINE_GAP for t in lines]
    canvas = PILImage.new("1", (dots, sum(heights)), 0)
    y = 0
    for t, lh in zip(lines, heights):
        width = sum(CELL * char_width(c) * t.width for c in t.text)
        x = align_offset(t.align, width, dots)
        for c in t.text:
            g = glyph(c, t.width, t.height, t.bold)
            if g.width:
                if x + g.width > dots:
                    break
                canvas.paste(g, (x, y))
                x += g.width
        y += lh
    return canvas


def picture(img: PILImage.Image, dots: int, align: str = "center") -> PILImage.Image:
    """A picture on a full-width 1-bit canvas (ink = 1), scaled down if wider than the paper."""
    img = img.convert("L").point(lambda v: 255 if v < 128 else 0, mode="1")
    if img.width > dots:
        img = img.resize((dots, max(1, img.height * dots // img.width)), PILImage.NEAREST)
    canvas = PILImage.new("1", (dots, img.height), 0)
    canvas.paste(img, (align_offset(align, img.width, dots), 0))
    return canvas


def qr_matrix(data: str, ecc: str = "M") -> list[list[bool]]:
    level = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
             "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}[ecc]
    q = qrcode.QRCode(error_correction=level, border=4)
    q.add_data(data.encode("utf-8"))
    q.make(fit=True)
    return q.get_matrix()


def qr_image(data: str, module: int, ecc: str = "M") -> PILImage.Image:
    """A QR code as a 1-bit image (ink = 1) with its 4-module quiet zone."""
    m = qr_matrix(data, ecc)
    n = len(m)
    small = PILImage.frombytes("L", (n, n), bytes(255 if v else 0 for row in m for v in row))
    return small.resize((n * module, n * module), PILImage.NEAREST).convert("1", dither=PILImage.Dither.NONE)


def raster_bytes(canvas: PILImage.Image) -> bytes:
    """GS v 0 commands for a 1-bit canvas (ink = 1), in bands of RASTER_BAND rows.

    Blank columns on the right are dropped (the left edge stays, so the picture keeps its place): fewer
    bytes down a slow serial line."""
    if canvas.width % 8:
        raise RenderError(f"raster width {canvas.width} is not a multiple of 8")
    box = canvas.getbbox()
    if box is not None and box[2] < canvas.width - 8:
        canvas = canvas.crop((0, 0, (box[2] + 7) // 8 * 8, canvas.height))
    out = bytearray()
    wb = canvas.width // 8
    data = canvas.tobytes()
    for top in range(0, canvas.height, RASTER_BAND):
        rows = min(RASTER_BAND, canvas.height - top)
        out += cmd.raster(wb, rows, data[top * wb:(top + rows) * wb])
    return bytes(out)


class _Writer:
    """Tracks the printer's mode so the output carries only the commands that change something."""

    def __init__(self) -> None:
        self.out = bytearray(cmd.INIT)
        self.align = "left"
        self.bold = False
        self.size = (1, 1)
        self.chinese = False

    def mode(self, align: str, bold: bool = False, size: tuple[int, int] = (1, 1)) -> None:
        if align != self.align:
            self.out += cmd.ALIGN[align]
            self.align = align
        if bold != self.bold:
            self.out += cmd.BOLD_ON if bold else cmd.BOLD_OFF
            self.bold = bold
        if size != self.size:
            self.out += cmd.size(*size)
            self.size = size

    def chinese_mode(self, on: bool) -> None:
        if on != self.chinese:
            self.out += cmd.CHINESE_ON if on else cmd.CHINESE_OFF
            self.chinese = on


def render(doc: Document, profile: PrinterProfile) -> bytes:
    """ESC/POS bytes that print `doc` on a printer with `profile`."""
    if doc.paper_mm != profile.paper_mm:
        raise RenderError(f"document is laid out for {doc.paper_mm} mm paper, printer has {profile.paper_mm} mm")
    problems = doc.check()
    if problems:
        raise RenderError("; ".join(problems))
    w = _Writer()
    dots = profile.dots
    pending: list[Text] = []  # image-mode text lines waiting to go out as one raster

    def flush() -> None:
        if pending:
            w.mode("left")
            w.out += raster_bytes(text_image(pending, dots))
            pending.clear()

    for block in doc.blocks:
        if isinstance(block, Text) and CONTROLS.search(block.text):
            block = Text(CONTROLS.sub("", block.text), block.width, block.height, block.bold, block.align)
        if isinstance(block, Text):
            ascii_only = block.text.isascii()
            if profile.text_mode == "image" and not ascii_only:
                pending.append(block)
                continue
            flush()
            w.mode(block.align, block.bold, (block.width, block.height))
            if ascii_only:
                w.chinese_mode(False)
                w.out += block.text.encode("ascii", "replace") + cmd.LF
            else:
                w.chinese_mode(True)
                w.out += block.text.encode("gb18030", "replace") + cmd.LF
            continue
        flush()
        if isinstance(block, Rule):
            w.mode("left")
            w.chinese_mode(False)
            w.out += (block.char if block.char.isascii() else "-").encode() * profile.columns + cmd.LF
        elif isinstance(block, QR):
            if profile.native_qr:
                w.mode(block.align)
                w.out += cmd.qr_native(block.data.encode("utf-8"), block.module, block.ecc)
            else:
                w.mode("left")
                w.out += raster_bytes(picture_from_qr(block, dots))
        elif isinstance(block, Image):
            w.mode("left")
            w.out += raster_bytes(picture(block.image, dots, block.align))
        elif isinstance(block, Feed):
            w.out += cmd.feed(block.lines)
        elif isinstance(block, Cut):
            w.mode("left")
            w.out += cmd.cut(block.partial) if profile.cutter else cmd.feed(5)
    flush()
    w.chinese_mode(False)
    w.mode("left")
    return bytes(w.out)


def picture_from_qr(block: QR, dots: int) -> PILImage.Image:
    img = qr_image(block.data, block.module, block.ecc)
    if img.width > dots:  # shrink the module size rather than scaling the picture
        n = img.width // block.module
        img = qr_image(block.data, max(1, dots // n), block.ecc)
    canvas = PILImage.new("1", (dots, img.height), 0)
    canvas.paste(img, (align_offset(block.align, img.width, dots), 0))
    return canvas
