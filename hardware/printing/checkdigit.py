"""The check character printed in a ticket's QR code: ISO/IEC 7064 MOD 37-2.

A ticket QR code holds `<ticket id>:<check>` — for example `demo-county:2026-11-23:A001:K` — where the
ticket id is the server's (`site:service-day:number`) and `<check>` is one character from
`0-9 A-Z *` computed with ISO/IEC 7064 MOD 37-2 (a pure system: radix 2, modulus 37) over the id's
letters and digits, upper-cased, in order. The separators `-` and `:` are not counted: they are fixed by
the id's shape, which a scanner checks separately.

MOD 37-2 detects every single-character substitution and every transposition of adjacent characters
(37 is prime and 2 generates a large subgroup), which covers the usual ways a code is mistyped or misread.

Computing it: P = 0; for each character value v (0-9 -> 0-9, A-Z -> 10-35): P = ((P + v) * 2) mod 37;
the check value is (38 - P) mod 37, written with the same alphabet (36 is `*`). A string with its check
character appended is valid when running P over all of it, the check last *without* the final doubling,
gives (P + check) mod 37 == 1 — that is what `is_valid` does.
"""
from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_VALUES = {c: i for i, c in enumerate(ALPHABET)}
TICKET_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*:\d{4}-\d{2}-\d{2}:[A-Z]\d{3,4}$")


def _significant(text: str) -> str:
    return "".join(c for c in text.upper() if c in _VALUES and c != "*")


def mod37_2(text: str) -> str:
    """The ISO/IEC 7064 MOD 37-2 check character of `text`'s letters and digits."""
    p = 0
    for c in _significant(text):
        p = ((p + _VALUES[c]) * 2) % 37
    return ALPHABET[(38 - p) % 37]


def is_valid(text: str, check: str) -> bool:
    """True if `check` is the MOD 37-2 check character of `text`."""
    if len(check) != 1 or check.upper() not in _VALUES:
        return False
    p = 0
    for c in _significant(text):
        p = ((p + _VALUES[c]) * 2) % 37
    return (p + _VALUES[check.upper()]) % 37 == 1


def ticket_code(ticket_id: str) -> str:
    """What a ticket's QR code holds: the ticket id, a colon and its check character."""
    return f"{ticket_id}:{mod37_2(ticket_id)}"


def parse_ticket_code(code: str) -> str:
    """The ticket id inside a scanned ticket code; ValueError if its shape or check character is wrong."""
    ticket_id, sep, check = code.strip().rpartition(":")
    if not sep or not TICKET_ID_RE.match(ticket_id):
        raise ValueError(f"not a ticket code: {code!r}")
    if not is_valid(ticket_id, check):
        raise ValueError(f"check character of {code!r} is wrong (expected {mod37_2(ticket_id)})")
    return ticket_id
