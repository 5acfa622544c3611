"""Display width of text on a thermal printer, and line wrapping that respects it.

A printer with a Chinese font prints every multi-byte GB18030 character full width (24 dots in font A)
and every ASCII character half width (12 dots). So a 58 mm roll (384 dots) holds 32 columns and an
80 mm roll (576 dots) 48, where a CJK character takes two columns. `char_width` follows
`unicodedata.east_asian_width`, counting Ambiguous characters (·, ×, →, ℃, ...) as wide, as a Chinese
printer does; any other non-ASCII character is also printed from the GB font, so it is wide too.

`wrap` breaks between words (Latin) or between characters (CJK), never inside a `Glue` run: the
notice slip glues a material's copy count to the end of its name so the two never part.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# No line may start with these (closing punctuation) or end with those (opening punctuation).
NO_LINE_START = set("，。、；：！？）》」』】〕〉”’,.;:!?)]}%")
NO_LINE_END = set("（《「『【〔〈“‘([{")


@lru_cache(maxsize=8192)
def char_width(ch: str) -> int:
    """Columns a character takes: 0 (combining/control), 1 (ASCII and narrow) or 2 (wide)."""
    o = ord(ch)
    if 0x20 <= o < 0x7F:
        return 1
    if o < 0x20 or o == 0x7F or unicodedata.combining(ch):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F", "A"):
        return 2
    return 2  # printed from the GB18030 font: full width


def text_width(text: str) -> int:
    """Columns `text` takes when printed at normal size."""
    if text.isascii():
        return sum(1 for c in text if 0x20 <= ord(c) < 0x7F)
    return sum(char_width(c) for c in text)


def clip(text: str, columns: int) -> str:
    """The longest prefix of `text` that fits in `columns`."""
    out, used = [], 0
    for c in text:
        w = char_width(c)
        if used + w > columns:
            break
        out.append(c)
        used += w
    return "".join(out)


@dataclass(frozen=True)
class Glue:
    """A run of text that `wrap` keeps on one line with the word before it (if they fit a line at all)."""

    text: str


@dataclass(frozen=True)
class Keep:
    """A run of text that `wrap` never breaks inside (if it fits a line at all), e.g. "投诉电话：12345"."""

    text: str


def _tokens(text: str) -> list[str]:
    """Split into break units: ASCII words (a space is its own token) and single wide characters."""
    out: list[str] = []
    for m in re.finditer(r" +|[!-~]+|[^ -~]", text):
        out.append(m.group(0))
    # Kinsoku: glue closing punctuation to the token before it, opening punctuation to the one after.
    merged: list[str] = []
    pending_open = ""
    for tok in out:
        if tok[0] in NO_LINE_START and merged and not merged[-1].isspace():
            merged[-1] += pending_open + tok
            pending_open = ""
            continue
        if len(tok) == 1 and tok in NO_LINE_END:
            pending_open += tok
            continue
        merged.append(pending_open + tok)
        pending_open = ""
    if pending_open:
        merged.append(pending_open)
    return merged


def _break_units(parts: list[str | Glue | Keep]) -> tuple[list[str], list[str]]:
    """The tokens `wrap` places, and per token the glued end that must stay on one line ("" if none)."""
    tokens: list[str] = []
    tails: list[str] = []
    for part in parts:
        if isinstance(part, Keep):
            tokens.append(part.text)
            tails.append(part.text)
        elif isinstance(part, Glue):
            if len(tokens) >= 2 and tokens[-1].isspace():
                word, space = tokens[-2], tokens[-1]
                tokens[-2:] = [word + space + part.text]
                tails[-2:] = [word[-1] + space + part.text]
            elif tokens and not tokens[-1].isspace():
                word = tokens[-1]
                tokens[-1] = word + part.text
                tails[-1] = word[-1] + part.text
            else:
                tokens.append(part.text)
                tails.append(part.text)
        else:
            new = _tokens(part)
            tokens.extend(new)
            tails.extend([""] * len(new))
    return tokens, tails


def wrap(parts: str | list[str | Glue | Keep], columns: int, indent: int = 0, first_prefix: str = "") -> list[str]:
    """Wrap text into lines of at most `columns` columns.

    `parts` is a string or a list of strings, `Glue` and `Keep` runs. `first_prefix` (e.g. "1. ") starts the
    first line; continuation lines are indented by `indent` spaces (use the prefix width for a hanging
    indent). A `Glue` run sticks to the word (or wide character) before it, spaces included; should the
    two be wider than a line, the word is split and its last character stays with the glue. A token wider
    than a whole line is split by character, the only case where text breaks mid-word.
    """
    if columns < 2:
        raise ValueError(f"cannot wrap to {columns} column(s)")
    tokens, tails = _break_units([parts] if isinstance(parts, str) else parts)
    indent = min(indent, columns // 2)
    lines: list[str] = []
    cur, used = first_prefix, text_width(first_prefix)
    fresh = True  # nothing but the prefix/indent on the current line yet

    def newline() -> None:
        nonlocal cur, used, fresh
        lines.append(cur.rstrip())
        cur, used, fresh = " " * indent, indent, True

    def place_by_char(text: str) -> None:
        nonlocal cur, used, fresh
        for c in text:
            w = char_width(c)
            if used + w > columns and not fresh:
                newline()
            cur += c
            used += w
            fresh = False

    for tok, tail in zip(tokens, tails):
        tw = text_width(tok)
        if tok.isspace():
            if not fresh:
                cur += tok
                used += tw
            continue
        if used + tw > columns and not fresh:
            newline()
        if used + tw <= columns:
            cur += tok
            used += tw
            fresh = False
            continue
        # Wider than a whole line: split by character, but keep a glued tail together if it fits a line.
        if tail and text_width(tail) <= columns - indent and tail != tok:
            place_by_char(tok[:-len(tail)])
            if used + text_width(tail) > columns:
                newline()
            cur += tail
            used += text_width(tail)
            fresh = False
        else:
            place_by_char(tok)
    if not fresh or not lines:
        lines.append(cur.rstrip())
    return lines
