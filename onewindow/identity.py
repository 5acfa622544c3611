"""A booking's citizen, protected: what the site asks for to recognise a citizen (for example the last
4 characters of the ID number and a phone number) turned into a salted scrypt hash by the process that
received it (the web console), so that only the hash travels over MQTT and is stored.

The hash is written in the letters a-p only (hex with letters for digits), so no run of digits in it can
look like an ID or phone number to the server's personal-data filter. The salt is the site's secret
(a file readable only by the console's user): the same citizen gives the same hash, which is how the
no-show rule recognises a citizen across bookings.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

FIELDS = {
    "id_last4": (re.compile(r"^[0-9]{3}[0-9X]$"), "the last 4 characters of the ID number (digits, or X last)"),
    "phone": (re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{9,11})$"), "a mobile (11 digits) or landline number"),
    "name": (re.compile(r"^\S.{0,39}$"), "the name as on the ID card"),
}
_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


class IdentityError(ValueError):
    """A field is missing or malformed; `field` names it and the message says what is expected."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def normalise(field: str, value: str) -> str:
    value = (value or "").strip()
    if field == "id_last4":
        value = value.upper().replace("x", "X")
    elif field == "phone":
        value = re.sub(r"[\s\-]", "", value)
    pattern, what = FIELDS[field]
    if not pattern.fullmatch(value):
        raise IdentityError(field, f"{field}: must be {what}")
    return value


def protect(salt: bytes, required: tuple[str, ...], values: dict[str, str]) -> str:
    """The holder hash of a citizen: every required field checked and normalised, then scrypt."""
    parts = [f"{f}={normalise(f, values.get(f, ''))}" for f in required]
    digest = hashlib.scrypt("\x1f".join(parts).encode(), salt=salt, n=2 ** 14, r=8, p=1, dklen=32)
    return digest.hex().translate(_LETTERS)


def load_salt(path: str | Path) -> bytes:
    """The site's secret salt, made (32 random bytes, mode 0600) the first time it is asked for."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())
