"""Validation at the edge: raw MQTT payloads in, typed command arguments out (or a clear error).

Every command payload is a JSON object with the envelope
    {"v": 1, "request_id": "...", "reply_to": "onewindow/{site}/reply/{client}", ...arguments}
The argument schemas below are the contract documented in docs/PROTOCOL.md; a test checks that
every command here is documented there.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any, Callable

from onewindow import PROTOCOL_VERSION
from onewindow.logsafe import escape
from onewindow.personal import contains_personal_data, mask_text, personal_spans

__all__ = ["BadRequest", "parse", "log_excerpt", "contains_personal_data", "mask_text", "SCHEMAS", "QUERIES"]

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
CLERK_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
MAX_PAYLOAD = 8192


class BadRequest(Exception):
    """A payload that is not a valid command. `reply_to`/`request_id` are set when they could be read."""

    def __init__(self, code: str, message: str, request_id: str | None = None, reply_to: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.reply_to = reply_to


# --- field checkers: each takes the raw value and returns the clean one, or raises ValueError(why)
def _int(lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"must be a whole number from {lo} to {hi}")
        return v
    return check


def _str(pattern: re.Pattern | None = None, max_len: int = 200, choices: tuple[str, ...] | None = None):
    def check(v: Any) -> str:
        if not isinstance(v, str) or not v or len(v) > max_len:
            raise ValueError(f"must be a string of 1 to {max_len} characters")
        if pattern is not None and not pattern.fullmatch(v):
            raise ValueError(f"must match {pattern.pattern}")
        if choices is not None and v not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return v
    return check


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def _time(v: Any) -> float:
    """An ISO-8601 time with an offset, or seconds since the epoch."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 1e9 < v < 1e10:
        return float(v)
    if isinstance(v, str) and len(v) <= 40:
        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            pass
        else:
            if dt.tzinfo is not None:
                return dt.timestamp()
    raise ValueError("must be an ISO-8601 time with an offset (2026-11-23T10:00:00+08:00) or epoch seconds")


def _appointment(v: Any) -> dict:
    if not isinstance(v, dict) or set(v) - {"ref", "start"} or "ref" not in v or "start" not in v:
        raise ValueError('must be {"ref": "...", "start": "<ISO time of the booked slot>"}')
    return {"ref": _str(REQUEST_ID_RE, 64)(v["ref"]), "start": _time(v["start"])}


def _notice(v: Any) -> str:
    """The hall display notice: up to 200 characters, "" clears it."""
    if not isinstance(v, str) or len(v) > 200:
        raise ValueError("must be a string of at most 200 characters (empty clears the notice)")
    return v


WINDOW = _int(1, 999)
CLERK = _str(CLERK_RE, 32)
TICKET = _str(re.compile(r"^[A-Za-z0-9:_.\-]{1,100}$"), 100)
PREFIX = _str(re.compile(r"^[A-Z]$"), 1)
TEXT = _str(None, 200)
WINDOW_CMD = {"window": (WINDOW, True), "clerk": (CLERK, True)}
# A booking's citizen, protected: the salted hash made by onewindow.identity (letters only, never digits).
HOLDER = _str(re.compile(r"^[a-p]{64}$"), 64)
BOOKING_CODE = _str(re.compile(r"^[A-Za-z0-9]{8}$"), 8)


def DAY(v: Any) -> str:
    """A calendar date, YYYY-MM-DD."""
    try:
        return date.fromisoformat(_str(re.compile(r"^\d{4}-\d{2}-\d{2}$"), 10)(v)).isoformat()
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None



# command -> {field: (checker, required)}
SCHEMAS: dict[str, dict[str, tuple[Callable, bool]]] = {
    "issue": {"business_type": (PREFIX, True), "item": (_str(None, 40), False),
              "priority_group": (_str(None, 20), False), "appointment": (_appointment, False),
              "channel": (_str(choices=("kiosk", "counter", "online", "app", "bench")), False),
              "kiosk": (_str(CLIENT_ID_RE, 64), False)},
    "cancel": {"ticket": (TICKET, True), "reason": (_str(re.compile(r"^[a-z_]{1,40}$"), 40), False),
               "manager": (CLERK, False)},
    "sign_in": {**WINDOW_CMD, "manager": (CLERK, False)},
    "sign_out": {**WINDOW_CMD, "manager": (CLERK, False)},
    "pause": {**WINDOW_CMD, "reason": (TEXT, False), "manager": (CLERK, False)},
    "resume": {**WINDOW_CMD, "manager": (CLERK, False)},
    "call_next": dict(WINDOW_CMD),
    "call": {**WINDOW_CMD, "ticket": (TICKET, True)},
    "recall": dict(WINDOW_CMD),
    "start": dict(WINDOW_CMD),
    "finish": dict(WINDOW_CMD),
    "no_show": dict(WINDOW_CMD),
    "transfer": {**WINDOW_CMD, "to_business_type": (PREFIX, False), "to_window": (WINDOW, False),
                 "note": (TEXT, False)},
    "hold": {**WINDOW_CMD, "note": (TEXT, False)},
    "call_back": {**WINDOW_CMD, "ticket": (TICKET, True)},
    "rate": {"ticket": (TICKET, True), "score": (_int(1, 5), True), "window": (WINDOW, False),
             "reason": (_str(re.compile(r"^[a-z_]{1,40}$"), 40), False)},
    "set_business_type": {"business_type": (PREFIX, True), "open": (_bool, True),
                          "manager": (CLERK, False)},
    "set_notice": {"text": (_notice, True), "manager": (CLERK, False)},
    "follow_up": {"case": (TICKET, True), "action": (_str(choices=("assign", "note", "contact", "close")), True),
                  "manager": (CLERK, True), "owner": (CLERK, False), "text": (TEXT, False),
                  "outcome": (_str(re.compile(r"^[a-z_]{1,40}$"), 40), False)},
    # appointments (queue_server/booking_rules.py)
    "book": {"business_type": (PREFIX, True), "item": (_str(None, 40), False), "start": (_time, True),
             "holder": (HOLDER, True), "channel": (_str(choices=("online", "counter", "phone")), False)},
    "change_booking": {"code": (BOOKING_CODE, True), "holder": (HOLDER, True), "start": (_time, True)},
    "cancel_booking": {"code": (BOOKING_CODE, True), "holder": (HOLDER, True),
                       "reason": (_str(re.compile(r"^[a-z_]{1,40}$"), 40), False)},
    "check_in": {"code": (BOOKING_CODE, True), "kiosk": (_str(CLIENT_ID_RE, 64), False)},
    # read-only queries: answered from memory, nothing stored
    "ticket_status": {"ticket": (TICKET, True)},
    "snapshot": {},
    "follow_ups": {"state": (_str(choices=("open", "contacted", "closed", "all")), False)},
    "appointment_slots": {"business_type": (PREFIX, True), "item": (_str(None, 40), False), "day": (DAY, False),
                          "days": (_int(1, 14), False)},
    "booking_status": {"code": (BOOKING_CODE, True)},
    "bookings": {"day": (DAY, False)},
}
QUERIES = frozenset({"ticket_status", "snapshot", "follow_ups", "appointment_slots", "booking_status", "bookings"})
ENVELOPE = frozenset({"v", "request_id", "reply_to", "client"})


def log_excerpt(payload: bytes | str, limit: int = 200) -> str:
    """What a log line may show of an outside payload: personal numbers masked FIRST, then control
    characters escaped, then cut to `limit` characters (a number straddling the cut is masked whole:
    the masking sees 128 characters past the cut, more than the longest grouped number)."""
    size, unit = len(payload), "characters"
    if isinstance(payload, bytes):
        payload, unit = payload[:4 * limit + 512].decode("utf-8", "replace"), "bytes"
    head = payload[:limit + 128]
    shown = escape(mask_text(head))
    if len(shown) > limit or len(payload) > len(head):
        return f"{shown[:limit]}... ({size:,} {unit})"
    return shown


def _envelope_in_text(text: str, reply_prefix: str) -> tuple[str | None, str | None]:
    """(request_id, reply_to) found in the first MAX_PAYLOAD characters of a payload that is not read
    whole (too large); None for what is not there or not valid."""
    head = text[:MAX_PAYLOAD]
    found = {k: m.group(1) for k in ("request_id", "reply_to")
             if (m := re.search(rf'"{k}"\s*:\s*"([^"\\]{{1,200}})"', head))}
    return (_valid_request_id(found.get("request_id")), _valid_reply_to(found.get("reply_to"), reply_prefix))


def _valid_reply_to(value: Any, reply_prefix: str) -> str | None:
    if (isinstance(value, str) and value.startswith(reply_prefix)
            and CLIENT_ID_RE.fullmatch(value[len(reply_prefix):])):
        return value
    return None


def _valid_request_id(value: Any) -> str | None:
    return value if isinstance(value, str) and REQUEST_ID_RE.fullmatch(value) else None


def _json_object(payload: bytes, reply_prefix: str) -> tuple[dict, str]:
    if len(payload) > MAX_PAYLOAD:
        request_id, reply_to = _envelope_in_text(payload.decode("utf-8", "replace"), reply_prefix)
        raise BadRequest("too_large", f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD}",
                         request_id, reply_to)
    try:
        text = payload.decode("utf-8")
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("bad_json", f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("bad_json", "payload must be a JSON object")
    if "\\u" in text and _has_lone_surrogate(data):  # "\ud800": not text, and nothing could publish it
        raise BadRequest("bad_json", "payload has a lone UTF-16 surrogate escape: not text")
    return data, text


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _arguments(command: str, data: dict) -> tuple[dict[str, Any], list[str]]:
    schema = SCHEMAS[command]
    problems = []
    args: dict[str, Any] = {}
    for key, value in data.items():
        if key in ENVELOPE:
            continue
        if key not in schema:
            problems.append(f"{key}: not a field of {command}")
            continue
        try:
            args[key] = schema[key][0](value)
        except ValueError as why:
            problems.append(f"{key}: {why}")
    for key, (_, required) in schema.items():
        if required and key not in data:
            problems.append(f"{key}: is required")
    return args, problems


def parse(command: str, payload: bytes, reply_prefix: str) -> tuple[str, str, dict]:
    """Check one command payload. Returns (request_id, reply_to, args) or raises BadRequest, which
    carries `reply_to` and `request_id` whenever they could be read (then the client gets a reply)."""
    data, text = _json_object(payload, reply_prefix)
    reply_to = _valid_reply_to(data.get("reply_to"), reply_prefix)
    if reply_to is None:
        raise BadRequest("bad_reply_to", f"reply_to must be {reply_prefix}<client id>")
    request_id = _valid_request_id(data.get("request_id"))
    if request_id is None:
        raise BadRequest("bad_request", "request_id must be 1-64 characters of A-Z a-z 0-9 _ . : -",
                         reply_to=reply_to)
    if command not in SCHEMAS:
        raise BadRequest("unknown_command", f"unknown command {command!r}", request_id, reply_to)
    if data.get("v") != PROTOCOL_VERSION:
        raise BadRequest("unsupported_version", f"this server speaks protocol version {PROTOCOL_VERSION}",
                         request_id, reply_to)
    if contains_personal_data(data) if "\\" in text else personal_spans(text):
        # One pass over the text as sent (JSON numbers included); a text with escapes is read value by value.
        raise BadRequest("personal_data", "the payload carries what looks like an ID or phone number in the "
                         "clear: send masked values or none", request_id, reply_to)
    args, problems = _arguments(command, data)
    if problems:
        raise BadRequest("bad_request", "; ".join(problems), request_id, reply_to)
    return request_id, reply_to, args
