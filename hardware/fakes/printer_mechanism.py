"""The fake printer's print mechanism: executes ESC/POS tokens onto a paper roll.

The parser is the command table of `hardware.printing.escpos` (the renderer's own definitions): bytes are
split into tokens there, and each command name has one handler here (`_do_<name>`). A command the table
knows but the mechanism has no handler for is recorded in `unknown`, like bytes no table entry matches.
Each handler returns the dots of paper it fed, from which the fake printer derives how long printing takes.
"""
from __future__ import annotations

import logging

import qrcode
from PIL import Image

from hardware.printing import escpos
from hardware.printing.paper import CELL, LINE_SPACING, PAPER, align_offset
from hardware.fakes.printer_roll import CutMark, Feed, PrintedImage, PrintedLine

log = logging.getLogger("onewindow.fake_printer")

CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 16: "cp1252", 17: "cp866", 19: "cp858"}
ALIGN_BY_ARG = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}
QR_LEVELS = {48: qrcode.constants.ERROR_CORRECT_L, 49: qrcode.constants.ERROR_CORRECT_M,
             50: qrcode.constants.ERROR_CORRECT_Q, 51: qrcode.constants.ERROR_CORRECT_H}
IGNORED = {"cr", "nul", "underline", "font", "double_strike", "charset", "right_spacing", "upside_down",
           "reverse", "hri_position", "auto_status", "hri_font", "barcode_height", "barcode_width",
           "left_margin", "print_width", "chinese_mode", "chinese_underline", "chinese_quad"}


class Mechanism:
    """Modes, the line being composed and the roll. Subclasses say whether it can print (`can_print`)."""

    def __init__(self, paper_mm: int = 80, chinese_font: bool = True):
        if paper_mm not in PAPER:
            raise ValueError("paper_mm must be 58 or 80")
        self.paper_mm = paper_mm
        self.dots = PAPER[paper_mm][0]
        self.chinese_font = chinese_font
        self.roll: list[PrintedLine | PrintedImage | Feed | CutMark] = []
        self.unknown: list[bytes] = []
        self._line: list = []
        self._line_align: str | None = None
        self._carry = b""  # the first byte(s) of a GB18030 character split across reads
        self._reset_modes()

    @property
    def can_print(self) -> bool:
        return True

    def _reset_modes(self) -> None:
        self.align = "left"
        self.bold = False
        self.mag = (1, 1)
        self.chinese = False
        self.code_page = 0
        self.line_spacing = LINE_SPACING
        self._qr = {"module": 3, "ecc": 49, "data": b""}

    # ------------------------------------------------------------------ dispatch
    def execute(self, tok: escpos.Token) -> int:
        """Carry out one token; the dots of paper it fed."""
        if tok.unknown:
            self.unknown.append(tok.data[:8])
            return 0
        if tok.name in IGNORED:
            return 0
        handler = getattr(self, f"_do_{tok.name}", None)
        if handler is None:
            self.unknown.append(tok.data[:8])
            return 0
        return handler(tok.data) or 0

    # ------------------------------------------------------------------ handlers, one per command name
    def _do_text(self, data: bytes) -> int:
        data, self._carry = self._carry + data, b""
        pos = 0
        while pos < len(data):
            b = data[pos]
            if b < 0x80:
                self._put(chr(b), CELL)
                pos += 1
            elif self.chinese:
                if len(data) - pos < 2 or (0x30 <= data[pos + 1] <= 0x39 and len(data) - pos < 4):
                    self._carry = data[pos:]
                    break
                k = 4 if 0x30 <= data[pos + 1] <= 0x39 else 2
                try:
                    ch = data[pos:pos + k].decode("gb18030")
                except UnicodeDecodeError:
                    ch = "\ufffd"
                self._put(ch, 2 * CELL)
                pos += k
            else:
                self._put(bytes([b]).decode(CODE_PAGES.get(self.code_page, "cp437"), "replace"), CELL)
                pos += 1
        return 0

    def _do_lf(self, data: bytes) -> int:
        if self._line:
            return self._flush_line()
        self.roll.append(Feed(self.line_spacing))
        return self.line_spacing

    def _do_tab(self, data: bytes) -> int:
        self._put(" " * 4, CELL)
        return 0

    def _do_init(self, data: bytes) -> int:
        fed = self._flush_line()
        self._reset_modes()
        return fed

    def _do_align(self, data: bytes) -> None:
        self.align = ALIGN_BY_ARG.get(data[2], "left")

    def _do_bold(self, data: bytes) -> None:
        self.bold = bool(data[2] & 1)

    def _do_print_mode(self, data: bytes) -> None:
        n = data[2]
        self.bold = bool(n & 0x08)
        self.mag = (2 if n & 0x20 else 1, 2 if n & 0x10 else 1)

    def _do_size(self, data: bytes) -> None:
        self.mag = ((data[2] >> 4) + 1, (data[2] & 0x0F) + 1)

    def _do_code_page(self, data: bytes) -> None:
        if data[2] not in CODE_PAGES:
            self.unknown.append(data)
        self.code_page = data[2]

    def _do_line_spacing_default(self, data: bytes) -> None:
        self.line_spacing = LINE_SPACING

    def _do_line_spacing(self, data: bytes) -> None:
        self.line_spacing = data[2]

    def _do_feed_lines(self, data: bytes) -> int:
        return self._feed(data[2] * self.line_spacing)

    def _do_feed_dots(self, data: bytes) -> int:
        return self._feed(data[2])

    def _do_chinese_on(self, data: bytes) -> None:
        self.chinese = self.chinese_font

    def _do_chinese_off(self, data: bytes) -> None:
        self.chinese = False

    def _do_cut(self, data: bytes) -> int:
        fed = self._flush_line()
        if len(data) == 4:
            fed += self._feed(data[3] * self.line_spacing)
        self.roll.append(CutMark(partial=data[2] in (1, 49, 66, 98)))
        self.on_cut()
        return fed

    def on_cut(self) -> None:
        """Called after each cut (the fake printer runs its fault schedule here)."""

    def _do_raster(self, data: bytes) -> int:
        wb, h = data[4] | data[5] << 8, data[6] | data[7] << 8
        fed = self._flush_line()
        img = Image.frombytes("1", (wb * 8, h), bytes(data[8:]))
        self.roll.append(PrintedImage(img, "raster", too_wide=wb * 8 > self.dots))
        return fed + h

    def _do_function(self, data: bytes) -> int:
        if len(data) < 7 or data[5] != 0x31:  # only QR codes (cn 49)
            self.unknown.append(data[:8])
            return 0
        fn, args = data[6], data[7:]
        if fn == 0x43 and args:
            self._qr["module"] = args[0]
        elif fn == 0x45 and args:
            self._qr["ecc"] = args[0]
        elif fn == 0x50:
            self._qr["data"] = args[1:]
        elif fn == 0x51:
            return self._flush_line() + self._print_qr()
        return 0

    # ------------------------------------------------------------------ the roll
    def _feed(self, dots: int) -> int:
        fed = self._flush_line()
        self.roll.append(Feed(dots))
        return fed + dots

    def _put(self, ch: str, base_dots: int) -> None:
        w, h = self.mag
        dots = base_dots * w
        used = sum(c[1] for c in self._line)
        if not self._line:
            self._line_align = self.align
        if used + dots > self.dots:  # the printer wraps by itself: a layout bug
            self._flush_line(wrapped=True)
            self._line_align = self.align
        self._line.append((ch, dots, w, h, self.bold))

    def _flush_line(self, wrapped: bool = False) -> int:
        if not self._line:
            return 0
        chars = self._line
        line = PrintedLine(
            text="".join(c[0] for c in chars), dots=sum(c[1] for c in chars),
            width=max(c[2] for c in chars), height=max(c[3] for c in chars),
            bold=any(c[4] for c in chars), align=self._line_align or "left", wrapped=wrapped, chars=chars)
        self.roll.append(line)
        self._line = []
        return line.feed_dots

    def _print_qr(self) -> int:
        q = qrcode.QRCode(error_correction=QR_LEVELS.get(self._qr["ecc"], qrcode.constants.ERROR_CORRECT_M),
                          box_size=max(1, self._qr["module"]), border=4)
        q.add_data(self._qr["data"])
        q.make(fit=True)
        m = q.get_matrix()
        n, k = len(m), max(1, self._qr["module"])
        small = Image.frombytes("L", (n, n), bytes(255 if v else 0 for row in m for v in row))
        img = small.resize((n * k, n * k), Image.NEAREST).convert("1")
        canvas = Image.new("1", (self.dots, img.height), 0)
        canvas.paste(img, (align_offset(self.align, img.width, self.dots), 0))
        self.roll.append(PrintedImage(canvas, "qr", qr_data=bytes(self._qr["data"]), too_wide=img.width > self.dots))
        return img.height
