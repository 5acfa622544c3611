"""Personal data, in one place: how ID and mobile numbers are recognised in any text, and how each
kind of personal datum is masked for screens, slips and logs.

    mask_id("330106199001011234")   -> "3301**********1234"  (region and last four; no birth date)
    mask_name("张三丰")              -> "张**"
    mask_text("call me on 139-1234-5678") -> "call me on 139****5678"

The server refuses any command that carries what `contains_personal_data` finds (docs/SECURITY.md);
the kiosk masks what its ID-card reader gives before anything is shown or sent.
"""
from __future__ import annotations

import re
from typing import Any

# What personal data looks like in the clear: a mainland ID number (17 digits and a digit or X), a mobile
# number (11 digits from 13x-19x), written with ASCII or full-width digits, in one piece or in groups
# split by spaces or dashes ("110101 19900307 123X", "139-1234-5678", "１３９１２３４５６７８").
_DIGIT = "[0-9\uff10-\uff19]"
_SEP_CHAR = "[ \t\u00a0\u3000\\-\u2010-\u2015\u2212\ufe63\uff0d]"
_SEP = _SEP_CHAR + "{1,3}"
_DIGIT_RUN = re.compile(f"(?<![0-9\uff10-\uff19])({_DIGIT}+(?:{_SEP}{_DIGIT}+)*)([XxＸｘ])?(?![0-9\uff10-\uff19])")
_CHUNK = re.compile(f"{_DIGIT}+")
# A cheap first look: every number found below is a digit followed by 10 or more digits and separators.
_MAYBE = re.compile(f"{_DIGIT}(?:{_DIGIT}|{_SEP_CHAR}){{10,}}")
_TO_ASCII = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789XX")


def mask_id(id_number: str) -> str:
    """3301**********1234: the region's first four and the last four, nothing of the birth date."""
    s = str(id_number or "")
    if len(s) <= 8:
        return "*" * len(s)
    return s[:4] + "*" * (len(s) - 8) + s[-4:]


def mask_phone(digits: str) -> str:
    """139****5678: the network's three and the last four."""
    return digits[:3] + "*" * max(0, len(digits) - 7) + digits[-4:] if len(digits) > 7 else "*" * len(digits)


def mask_name(name: str) -> str:
    """张* / 张** / J*** : the first character only."""
    s = str(name or "").strip()
    return s[:1] + "*" * max(1, len(s) - 1) if s else ""


def personal_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, masked) for every ID or mobile number in `text`, however its digits are grouped."""
    if not _MAYBE.search(text):  # most texts (every well-formed command) end here
        return []
    return _spans(text)


def _spans(text: str) -> list[tuple[int, int, str]]:
    found = []
    for run in _DIGIT_RUN.finditer(text):
        if run.end() - run.start() < 11:  # fewer than 11 characters hold neither a mobile nor an ID number
            continue
        chunks = [(m.start(), m.end(), m.group(0).translate(_TO_ASCII)) for m in _CHUNK.finditer(run.group(1))]
        base = run.start()
        tail = (run.group(2) or "").translate(_TO_ASCII)
        i = 0
        while i < len(chunks):
            best = None  # the longest number starting at chunk i: an ID (18) wins over a mobile (11)
            digits = ""
            for j in range(i, len(chunks)):
                digits += chunks[j][2]
                if len(digits) == 17 and j == len(chunks) - 1 and tail:
                    best = (j, run.end(), mask_id(digits + tail))
                    break
                if len(digits) == 18:
                    best = (j, base + chunks[j][1], mask_id(digits))
                    break
                if len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789":
                    best = (j, base + chunks[j][1], mask_phone(digits))
                if len(digits) > 18:
                    break
            if best is not None:
                found.append((base + chunks[i][0], best[1], best[2]))
                i = best[0]
            i += 1
    return found


def contains_personal_data(value: Any) -> bool:
    """Does any string inside `value` look like an ID number or a mobile number in the clear?"""
    if isinstance(value, str):
        return bool(personal_spans(value))
    if isinstance(value, dict):
        return any(contains_personal_data(k) or contains_personal_data(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_personal_data(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):  # a phone number sent as a JSON number
        return bool(personal_spans(str(value)))
    return False


def mask_text(text: str) -> str:
    """Mask ID and mobile numbers in a string (for log lines)."""
    spans = personal_spans(text)
    for start, end, masked in reversed(spans):
        text = text[:start] + masked + text[end:]
    return text
