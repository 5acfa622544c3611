"""Paper geometry of a thermal printer, in one place (layouts, renderer, station and fake printer use it).

A 203 dpi head prints 8 dots per mm. Font A is 12 x 24 dots: half-width characters take one 12-dot
column, CJK characters two. 58 mm paper has 384 printable dots (32 columns), 80 mm paper 576 (48).
"""
from __future__ import annotations

DOTS_PER_MM = 8
CELL = 12          # dots per half-width column (font A)
GLYPH_H = 24       # dots per character row (font A)
LINE_SPACING = 30  # dots, ESC 2 (the printer's default line spacing)
LINE_GAP = LINE_SPACING - GLYPH_H

# Paper widths: printable dots and font-A columns.
PAPER = {58: (384, 32), 80: (576, 48)}


def dots(paper_mm: int) -> int:
    """Printable dots across a roll of `paper_mm` (58 or 80)."""
    return PAPER[paper_mm][0]


def columns(paper_mm: int) -> int:
    """Normal-size font-A columns across a roll of `paper_mm`."""
    return PAPER[paper_mm][1]


def align_offset(align: str, width: int, space: int) -> int:
    """Where something `width` dots wide starts in `space` dots, aligned left, center or right (never < 0)."""
    x = {"left": 0, "center": (space - width) // 2, "right": space - width}[align]
    return max(0, x)
