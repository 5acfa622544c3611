"""What a booking's QR code says, and reading a booking code back from a scan or from typing.

The QR carries `onewindow:appointment?code=K7M2ZQ4P&ref=K7M2ZQ4P&start=...&bt=A&item=CB-01`: the code
(all a kiosk needs for `check_in`), plus the slot for a kiosk to show before it asks. Nothing personal.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

CODE_RE = re.compile(r"^[A-HJKMNP-Z2-9]{8}$")


def qr_text(booking: dict) -> str:
    query = {"code": booking["code"], "ref": booking["code"], "start": booking["start"],
             "bt": booking["business_type"]}
    if booking.get("item"):
        query["item"] = booking["item"]
    return "onewindow:appointment?" + urlencode(query)


def code_from(text: str) -> str | None:
    """The booking code in a scanned QR text or a typed code (spaces, dashes and case ignored), or None."""
    text = (text or "").strip()
    if text.startswith("onewindow:appointment"):
        query = parse_qs(urlsplit(text).query)
        text = (query.get("code") or query.get("ref") or [""])[0]
    code = re.sub(r"[\s\-]", "", text).upper()
    return code if CODE_RE.fullmatch(code) else None
