"""Who is at the kiosk, decided locally: ID numbers and names never leave it.

A citizen may identify (for a priority ticket or an appointment check-in) by reading an ID card or
scanning a QR code. The kiosk keeps only what it needs for the next ticket and shows it masked:

    ident = from_id_card(card.id_number, card.name, today, site.priority)
    ident.masked_id      # "3301**********1234"
    ident.masked_name    # "张*"
    ident.priority_group # "elderly" when old enough at this site, else None

What goes to the queue server is the priority group (a word) or the appointment reference; never the
ID number or the name. The ticket does not print the priority group either.

QR codes the kiosk understands (a scanner sends one line per code):
    onewindow:appointment?ref=R20261123-0007&start=2026-11-23T10:00:00%2B08:00&bt=B&item=CB-01
        an appointment booked online: checked in with `issue(appointment={"ref", "start"})`;
    ybpz:1?name=...&idn=...&region=...&token=...
        a medical-insurance e-voucher as decoded by the voucher SDK (name, ID number, region, token);
        the token and region stay on the kiosk too.
Anything else is "not a code this kiosk reads" (a log line, a message on screen, no crash).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qs, urlsplit

from onewindow.personal import mask_id, mask_name

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
ID_RE = re.compile(r"^\d{17}[\dXx]$")
REF_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")


class NotUnderstood(ValueError):
    """A code or card the kiosk cannot read; the message says why (without the personal data)."""


@dataclass(frozen=True)
class Identity:
    masked_id: str = ""
    masked_name: str = ""
    priority_group: str | None = None
    age: int | None = None
    appointment: dict | None = None  # {"ref", "start"} for the issue command
    business_type: str | None = None  # an appointment's business type and item
    item: str | None = None
    source: str = ""                  # id_card | e_voucher | appointment


def valid_id_number(id_number: str) -> bool:
    """An 18-character resident ID number with a correct check character and a real birth date."""
    if not isinstance(id_number, str) or not ID_RE.match(id_number):
        return False
    total = sum(int(d) * w for d, w in zip(id_number[:17], WEIGHTS))
    if CHECK[total % 11] != id_number[17].upper():
        return False
    return birth_date(id_number) is not None


def birth_date(id_number: str) -> date | None:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def age_on(id_number: str, today: date) -> int:
    born = birth_date(id_number)
    if born is None:
        raise NotUnderstood("the ID number holds no valid birth date")
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def priority_for(age: int, elderly_age: int, groups: tuple[str, ...] | list[str]) -> str | None:
    return "elderly" if "elderly" in groups and age >= elderly_age else None


def from_id_card(id_number: str, name: str, today: date, elderly_age: int = 70,
                 groups: tuple[str, ...] = ("elderly",), source: str = "id_card") -> Identity:
    if not valid_id_number(id_number):
        raise NotUnderstood("not a valid 18-character ID number")
    age = age_on(id_number, today)
    return Identity(masked_id=mask_id(id_number), masked_name=mask_name(name),
                    priority_group=priority_for(age, elderly_age, groups), age=age, source=source)


def from_qr(code: str, today: date, elderly_age: int = 70, groups: tuple[str, ...] = ("elderly",)) -> Identity:
    """An appointment or an e-voucher from one scanned line."""
    code = (code or "").strip()
    parts = urlsplit(code)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "onewindow" and parts.path == "appointment":
        ref, start = query.get("ref", ""), query.get("start", "")
        if not REF_RE.match(ref) or len(start) < 16:
            raise NotUnderstood("an appointment code without a valid reference and start time")
        if re.search(r"\d{11,}", ref):
            raise NotUnderstood("an appointment reference that looks like personal data")
        bt = query.get("bt") or None
        return Identity(appointment={"ref": ref, "start": start}, business_type=bt, item=query.get("item") or None,
                        source="appointment")
    if parts.scheme == "ybpz":
        return from_id_card(query.get("idn", ""), query.get("name", ""), today, elderly_age, groups,
                            source="e_voucher")
    raise NotUnderstood("not a code this kiosk reads")
