"""A printer-independent document: a short list of blocks that layouts produce and one renderer prints.

Layouts already wrap text to the paper: each `Text` block is one printed line whose width at its size
fits `Document.columns`. The renderer never re-wraps, so what a test measures is what the citizen gets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from PIL import Image as PILImage

from hardware.printing.paper import PAPER
from hardware.printing.textwidth import text_width

ALIGNS = ("left", "center", "right")


@dataclass(frozen=True)
class Text:
    """One line of text. `width`/`height` are character magnifications 1-8 (GS !)."""

    text: str
    width: int = 1
    height: int = 1
    bold: bool = False
    align: str = "left"

    def columns(self) -> int:
        return text_width(self.text) * self.width


@dataclass(frozen=True)
class Rule:
    """A horizontal rule across the paper."""

    char: str = "-"


@dataclass(frozen=True)
class QR:
    """A QR code; `module` is the module size in dots, `ecc` one of L, M, Q, H."""

    data: str
    module: int = 6
    ecc: str = "M"
    align: str = "center"


@dataclass(frozen=True)
class Image:
    """A black-and-white picture (a PIL image; dark pixels print)."""

    image: PILImage.Image
    align: str = "center"


@dataclass(frozen=True)
class Feed:
    lines: int = 1


@dataclass(frozen=True)
class Cut:
    partial: bool = True


Block = Union[Text, Rule, QR, Image, Feed, Cut]


@dataclass(frozen=True)
class Document:
    """What to print on one roll width: `dots` printable dots, `columns` normal-size columns."""

    blocks: tuple[Block, ...]
    paper_mm: int = 80
    kind: str = ""  # ticket | notice_slip | refusal_slip
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def dots(self) -> int:
        return PAPER[self.paper_mm][0]

    @property
    def columns(self) -> int:
        return PAPER[self.paper_mm][1]

    def lines(self) -> list[str]:
        """The text lines, for logs and quick assertions."""
        return [b.text for b in self.blocks if isinstance(b, Text)]

    def check(self) -> list[str]:
        """Problems that would spoil the print (a line wider than the paper, a bad magnification)."""
        problems = []
        for i, b in enumerate(self.blocks):
            if isinstance(b, Text):
                if not (1 <= b.width <= 8 and 1 <= b.height <= 8):
                    problems.append(f"block {i}: magnification {b.width}x{b.height} outside 1-8")
                if b.columns() > self.columns:
                    problems.append(f"block {i}: {b.text!r} takes {b.columns()} columns of {self.columns}")
                if b.align not in ALIGNS:
                    problems.append(f"block {i}: alignment {b.align!r}")
        return problems
