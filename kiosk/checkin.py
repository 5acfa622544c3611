"""Appointment check-in at the kiosk: a scanned booking QR (or a typed booking code) -> the `check_in`
command -> a ticket, or words for the citizen saying why not. No Kivy, no printing here: the presenter
shows `CheckIn.words(lang)` and prints `CheckIn.ticket` like any other ticket.

    result = check_in(client, scanned_text)     # client: onewindow.client.QueueClient
    if result.ticket: print it; show result.words(lang)
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from onewindow.booking_code import code_from

log = logging.getLogger("onewindow.kiosk")

WORDS = {  # error code -> (Chinese, English); {time} is filled in where the server gave one
    "not_a_code": ("没有识别到预约码，请重新扫码或输入8位预约码。", "That is not a booking code: scan again or type the 8 characters."),
    "unknown_booking": ("没有这个预约码，请核对。", "There is no booking with this code."),
    "too_early": ("签到时间未到，请于 {time} 后签到。", "Too early: check-in opens at {time}."),
    "already_checked_in": ("该预约已签到，号码 {ticket}。", "Already checked in: your number is {ticket}."),
    "booking_closed": ("该预约已取消或已过期，请现场取号。", "This booking was cancelled or missed: please take a walk-in ticket."),
    "too_late": ("您已迟到，预约失效，且现在不能现场取号。", "You are late for your appointment, and no walk-in ticket can be issued now."),
    "appointments_only": ("今日仅办理预约业务，请先预约。", "Today the hall serves booked appointments only: please book a slot."),
    "unavailable": ("暂时无法连接排队系统，请稍后再试或咨询工作人员。", "The queue system cannot be reached: try again or ask staff."),
}


@dataclass
class CheckIn:
    ok: bool
    code: str | None = None  # the booking code read
    ticket: dict | None = None  # the ticket issued (print it)
    walk_in: bool = False  # late: a walk-in ticket, not the appointment
    error: str | None = None  # why not (a key of WORDS or the server's code)
    detail: dict | None = None
    message_zh: str = ""
    message_en: str = ""

    def words(self, lang: str = "zh") -> str:
        return self.message_zh if lang == "zh" else self.message_en


def words_for(error: str, message: str, lang: str = "zh") -> str:
    """The words for a refused check-in when only the server's message is at hand (the kiosk's refusal
    screen): the time and the ticket number are read back out of it."""
    times = re.findall(r"\b\d\d:\d\d\b", message or "")
    ticket = re.findall(r"\b[A-Z]\d{3,5}\b", message or "")
    zh, en = WORDS.get(error, WORDS["unknown_booking"])
    text = zh if lang == "zh" else en
    return text.format(time=times[-1] if times else "", ticket=ticket[-1] if ticket else "")


def _refusal(code: str | None, error: str, detail: dict | None = None) -> CheckIn:
    detail = detail or {}
    zh, en = WORDS.get(error, ("无法签到，请咨询工作人员。", "Cannot check in: please ask staff."))
    fill = {"time": str(detail.get("check_in_from", ""))[11:16], "ticket": detail.get("ticket", "")}
    return CheckIn(False, code, error=error, detail=detail, message_zh=zh.format(**fill), message_en=en.format(**fill))


def check_in(client, scanned: str) -> CheckIn:
    """Check a booking in from what the scanner read or the citizen typed."""
    code = code_from(scanned)
    if code is None:
        return _refusal(None, "not_a_code")
    try:
        reply = client.request("check_in", code=code)
    except Exception as exc:  # no answer (RequestTimeout) or no broker: the citizen is told, nothing changed
        log.warning("check-in of a booking could not reach the queue server: %s", exc)
        return _refusal(code, "unavailable")
    if not reply.get("ok"):
        error = reply.get("error") or {}
        return _refusal(code, error.get("code", "internal_error"), error)
    ticket = reply["ticket"]
    if reply.get("walk_in"):
        return CheckIn(True, code, ticket, walk_in=True, message_zh=reply.get("message_zh", ""),
                       message_en=reply.get("message", ""))
    slot = reply["booking"]["start"][11:16]
    return CheckIn(True, code, ticket, message_zh=f"签到成功，您的号码 {ticket['number']}，预约时段 {slot} 开始优先叫号。",
                   message_en=f"Checked in: your number is {ticket['number']}, called ahead of walk-ins from {slot}.")
