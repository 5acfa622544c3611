"""Layouts: pure functions from data to a `Document` for 58 mm or 80 mm paper, in Chinese or English.

- `ticket(site, ticket, lang, paper)`: the queue ticket (`ticket` is the server's ticket dict).
- `notice_slip(site, item, now, lang, paper)`: the one-time notice slip for a catalogue item.
- `refusal_slip(site, code, now, ...)`: why no ticket was issued and when one can be.

Every line is wrapped here to the paper's columns at its magnification, so no line is wider than the
paper; a material's copy count is glued to its name. Site texts written as "中文 / English" (the
address in the samples) print the half matching the language.
"""
from __future__ import annotations

import math
from urllib.parse import quote
from datetime import datetime
from typing import Any, Mapping

from hardware.printing.checkdigit import ticket_code
from hardware.printing.document import QR, Cut, Document, Feed, Rule, Text
from hardware.printing.paper import PAPER
from hardware.printing.textwidth import Glue, Keep, text_width, wrap
from onewindow.config import PRIORITY_GROUPS, WEEKDAYS, Span

LANGS = ("zh", "en")
WEEKDAY_NAMES = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}

T = {
    "zh": {
        "ticket_title": "排队凭条", "ahead": "您前面还有 {n} 人", "ahead_none": "您前面没有人，请留意叫号",
        "wait": "预计等候约 {m} 分钟", "issued": "取号时间：{t}", "item": "办理事项：{name}",
        "priority": "优先：{name}", "scan": "凭此码查询排队进度", "called_after": "{t} 后叫号",
        "missed_void": "叫号 {calls} 次未到视为过号，过号作废，请重新取号。",
        "missed_requeue": "叫号 {calls} 次未到视为过号，过号后顺延 {places} 位重新排队"
                          "（限 {times} 次），再次过号作废。",
        "listen": "请留意大厅显示屏和语音叫号。",
        "slip_title": "一次性告知单", "code": "事项编码：{code}", "btype": "业务类型：{p} {name}",
        "basis": "办理依据：", "conditions": "【办理条件】", "materials": "【申请材料】（共 {n} 项）",
        "no_materials": "无需提交材料。", "issuer": "出具单位：{who}", "steps": "【办理流程】",
        "fee": "【收费标准】", "limit": "【承诺时限】", "place": "【办理地点】", "hours": "【办理时间】",
        "issue_hours": "【取号时间】",
        "enquiry": "咨询电话：{q}", "complaint": "投诉电话：{c}", "online": "扫码查看网上办事指南",
        "printed": "打印时间：{t}",
        "missing_rule": "材料不全的，窗口将一次性告知需补正的全部材料；不予受理的，将书面说明理由，"
                        "您可依法申请行政复议或者提起行政诉讼。",
        "note": "备注：",
        "refusal_title": "暂不能取号", "why": "原因：", "next": "下次可取号时间：{t}",
        "next_unknown": "下次可取号时间请咨询工作人员。", "ask_staff": "如有疑问，请咨询现场工作人员。",
        "closed_day": "休息",
    },
    "en": {
        "ticket_title": "Queue ticket", "ahead": "People ahead of you: {n}",
        "ahead_none": "You are next. Please watch for your number.",
        "wait": "Estimated wait: about {m} min", "issued": "Issued: {t}", "item": "Item: {name}",
        "priority": "Priority: {name}", "scan": "Scan to check your place in line",
        "called_after": "Called after {t}",
        "missed_void": "After {calls} calls without answer the number is missed and void; "
                       "please take a new ticket.",
        "missed_requeue": "After {calls} calls without answer the number is missed and goes {places} "
                          "places back in line ({times}); missed again, it is void.",
        "listen": "Please watch the hall display and listen for calls.",
        "slip_title": "One-time notice", "code": "Item code: {code}", "btype": "Business type: {p} {name}",
        "basis": "Legal basis: ", "conditions": "[Conditions]", "materials": "[Materials] ({n} in all)",
        "no_materials": "No documents needed.", "issuer": "Issued by: {who}", "steps": "[Steps]",
        "fee": "[Fee]", "limit": "[Time limit]", "place": "[Where]", "hours": "[Opening hours]",
        "issue_hours": "[Tickets issued]",
        "enquiry": "Enquiries: {q}", "complaint": "Complaints: {c}", "online": "Scan for the online guide",
        "printed": "Printed: {t}",
        "missing_rule": "If anything is missing, the window tells you everything missing at once. "
                        "If your application is refused, you get the reason in writing and may apply "
                        "for administrative review or sue.",
        "note": "Note: ",
        "refusal_title": "No ticket issued", "why": "Reason: ", "next": "Tickets again from: {t}",
        "next_unknown": "Please ask staff when tickets are issued again.",
        "ask_staff": "Please ask a member of staff if you need help.", "closed_day": "closed",
    },
}

REFUSALS = {
    "outside_hours": ("现在不在取号时间内。", "Tickets are not issued at this time."),
    "quota_reached": ("今日该业务号源已发完。", "Today's tickets for this business type have all been issued."),
    "business_type_closed": ("该业务今日暂停办理。", "This business type is closed today."),
    "site_closed": ("今日大厅休息。", "The hall is closed today."),
    "print_failed": ("打印机故障，号码未能打印，已作废。", "The printer failed; the number was not printed "
                     "and has been cancelled."),
    "server_unreachable": ("排队系统暂时无法连接。", "The queue system cannot be reached just now."),
}

FORMS = {
    "zh": {"original": "（原件{n}份）", "copy": "（复印件{n}份）", "original_and_copy": "（原件及复印件各{n}份）",
           "form": "（表格{n}份，可现场填写）"},
    "en": {"original": " ({n} original)", "copy": " ({n} cop{ies})", "original_and_copy": " (original + {n} cop{ies})",
           "form": " ({n} form, filled in at the hall)"},
}


def _check_args(lang: str, paper: int) -> None:
    if lang not in LANGS:
        raise ValueError(f"language must be zh or en, not {lang!r}")
    if paper not in PAPER:
        raise ValueError(f"paper must be 58 or 80 (mm), not {paper!r}")


def pick(text: str, lang: str) -> str:
    """The half of a "中文 / English" text for `lang` (the whole text if it has no " / ")."""
    if " / " in text:
        zh, en = text.split(" / ", 1)
        return (zh if lang == "zh" else en).strip()
    return text


def _en(zh: str, en: str, lang: str) -> str:
    return en if lang == "en" and en else zh


def _lines(text: str | list, columns: int, size: int = 1, bold: bool = False, align: str = "left",
           indent: int = 0, prefix: str = "") -> list[Text]:
    cols = columns // size
    return [Text(line, size, size, bold, align) for line in wrap(text, cols, indent=indent, first_prefix=prefix)]


def _numbered(entries: list[str | list], columns: int) -> list[Text]:
    out: list[Text] = []
    for i, entry in enumerate(entries, 1):
        prefix = f"{i}. "
        out += _lines(entry, columns, indent=text_width(prefix), prefix=prefix)
    return out


def _phones(site: Any, lang: str, cols: int) -> list[Text]:
    parts: list = []
    if site.phone_enquiry:
        parts.append(Keep(T[lang]["enquiry"].format(q=site.phone_enquiry)))
    if site.phone_complaint:
        parts += ["  ", Keep(T[lang]["complaint"].format(c=site.phone_complaint))]
    return _lines(parts, cols) if parts else []


def _site_name(site: Any, lang: str) -> str:
    return _en(site.name, getattr(site, "name_en", ""), lang)


def _local(site: Any, t: datetime | str) -> datetime:
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t.astimezone(site.tz) if t.tzinfo else t


def _stamp(site: Any, t: datetime | str) -> str:
    return _local(site, t).strftime("%Y-%m-%d %H:%M")


def issuing_hours(site: Any, business_type: Any) -> dict[str, tuple]:
    """When tickets of `business_type` are issued, per weekday: its own issuing hours cut to the hall's
    opening hours of that day (a Saturday morning stays a Saturday morning), else the opening hours."""
    own = getattr(business_type, "issue_hours", None)
    out = {}
    for key in WEEKDAYS:
        open_spans = site.hours.get(key, ())
        if own is None:
            out[key] = tuple(open_spans)
            continue
        cut = [Span(max(a.start, b.start), min(a.end, b.end)) for a in own for b in open_spans]
        out[key] = tuple(sorted((x for x in cut if x.start < x.end), key=lambda x: x.start))
    return out


def hours_lines(site: Any, lang: str, hours: Mapping[str, tuple] | None = None) -> list[str]:
    """Hours (default: the hall's opening hours) grouped by runs of days with the same spans,
    e.g. "周一至周五 08:30-12:00, 13:30-17:30"."""
    names = WEEKDAY_NAMES[lang]
    hours = site.hours if hours is None else hours
    groups: list[tuple[int, int, str]] = []
    for d, key in enumerate(WEEKDAYS):
        spans = hours.get(key, ())
        text = ", ".join(str(s) for s in spans)
        if not text:
            continue
        if groups and groups[-1][2] == text and groups[-1][1] == d - 1:
            groups[-1] = (groups[-1][0], d, text)
        else:
            groups.append((d, d, text))
    parts = []
    for a, b, text in groups:
        days = names[a] if a == b else (f"{names[a]}至{names[b]}" if lang == "zh" else f"{names[a]}-{names[b]}")
        parts.append(f"{days} {text}")
    return parts


def missed_rule(site: Any, lang: str) -> str:
    calls = site.calls
    if calls.missed == "requeue" and calls.max_requeues > 0:
        times = calls.max_requeues
        if lang == "en":
            times = "once" if times == 1 else f"up to {times} times"
        return T[lang]["missed_requeue"].format(calls=calls.max_calls, places=calls.requeue_places, times=times)
    return T[lang]["missed_void"].format(calls=calls.max_calls)


def ticket(site: Any, ticket: Mapping[str, Any], lang: str = "zh", paper: int = 80) -> Document:
    """The queue ticket: site, business type, the number very large, people ahead, wait, time, QR, missed rule."""
    _check_args(lang, paper)
    cols = PAPER[paper][1]
    s = T[lang]
    prefix = ticket["business_type"]
    bt = site.business_type(prefix)
    bt_name = _en(bt.name, bt.name_en, lang) if bt else ""
    blocks: list = []
    blocks += _lines(_site_name(site, lang), cols, bold=True, align="center")
    blocks += _lines(f"{prefix} {bt_name}".strip(), cols, size=2, align="center")
    blocks.append(Rule())
    blocks.append(Text(ticket["number"], 4, 4, True, "center") if len(ticket["number"]) * 4 <= cols
                  else Text(ticket["number"], 2, 2, True, "center"))
    if ticket.get("priority_group"):
        zh, en = PRIORITY_GROUPS.get(ticket["priority_group"], (ticket["priority_group"],) * 2)
        blocks += _lines(s["priority"].format(name=en if lang == "en" else zh), cols, bold=True, align="center")
    ahead = int(ticket.get("ahead") or 0)
    if ahead > 0:
        blocks += _lines(s["ahead"].format(n=ahead), cols, bold=True, align="center")
        wait = ticket.get("estimated_wait_min")
        if wait is not None:
            blocks += _lines(s["wait"].format(m=max(1, math.ceil(float(wait)))), cols, align="center")
    else:
        blocks += _lines(s["ahead_none"], cols, bold=True, align="center")
    if ticket.get("called_after"):
        when = called_after_text(site, ticket["called_after"], ticket.get("issued_at"))
        blocks += _lines(s["called_after"].format(t=when), cols, bold=True, align="center")
    item_code = ticket.get("item")
    item = site.catalogue.item(item_code) if item_code else None
    if item is not None:
        blocks += _lines(s["item"].format(name=_en(item.name, item.name_en, lang)), cols, align="center")
    blocks += _lines(s["issued"].format(t=_stamp(site, ticket["issued_at"])), cols, align="center")
    public = getattr(site, "public_url", "")
    if public:  # the hall's ticket page: a phone shows the place in line
        blocks.append(QR(f"{public}/t/{quote(ticket['id'], safe=':')}", module=4 if paper == 58 else 5))
        blocks += _lines(s["scan"], cols, align="center")
    else:  # only the hall's own scanners read it: no promise to the citizen
        blocks.append(QR(ticket_code(ticket["id"]), module=5 if paper == 58 else 6))
    blocks.append(Rule())
    blocks += _lines(missed_rule(site, lang), cols)
    blocks += _lines(s["listen"], cols)
    blocks.append(Cut())
    return Document(tuple(blocks), paper, "ticket", {"ticket_id": ticket["id"], "number": ticket["number"]})


def called_after_text(site: Any, called_after: str, issued_at: str | None) -> str:
    """"13:30", or "11-24 08:30" when the ticket will be called on a later day than it was issued."""
    when = _local(site, called_after)
    same_day = issued_at is not None and _local(site, issued_at).date() == when.date()
    return when.strftime("%H:%M" if same_day else "%m-%d %H:%M")


def material_parts(material: Any, lang: str) -> list:
    """A material's name and its glued copy count ("有效身份证件" + "（原件1份）")."""
    name = _en(material.name, material.name_en, lang)
    n = material.copies
    count = FORMS[lang][material.form].format(n=n, ies="y" if n == 1 else "ies")
    return [name, Glue(count)]


def item_url(site: Any, item: Any) -> str:
    url = getattr(site.catalogue, "url_for", None)
    return url(item) if url else item.online_url


def notice_slip(site: Any, item: Any, now: datetime, lang: str = "zh", paper: int = 80) -> Document:
    """The one-time notice slip: everything `item` needs, so it is done in one trip."""
    _check_args(lang, paper)
    cols = PAPER[paper][1]
    s = T[lang]
    en = lang == "en"
    bt = site.business_type(item.business_type)
    blocks: list = []
    blocks += _lines(_site_name(site, lang), cols, bold=True, align="center")
    blocks += _lines(s["slip_title"], cols, size=2, bold=True, align="center")
    blocks.append(Rule())
    blocks += _lines(_en(item.name, item.name_en, lang), cols, size=2, bold=True)
    blocks += _lines(s["code"].format(code=item.code), cols)
    if bt is not None:
        blocks += _lines(s["btype"].format(p=bt.prefix, name=_en(bt.name, bt.name_en, lang)), cols)
    basis = _en(item.legal_basis, item.legal_basis_en, lang)
    if basis:
        blocks += _lines(s["basis"] + basis, cols, indent=2 if en else 0)
    conditions = list(item.conditions_en if en and item.conditions_en else item.conditions)
    if conditions:
        blocks.append(Text(s["conditions"], bold=True))
        blocks += _numbered(conditions, cols)
    blocks.append(Text(s["materials"].format(n=len(item.materials)), bold=True))
    if not item.materials:
        blocks += _lines(s["no_materials"], cols)
    for i, m in enumerate(item.materials, 1):
        prefix = f"{i}. "
        blocks += _lines(material_parts(m, lang), cols, indent=text_width(prefix), prefix=prefix)
        who = _en(m.issuer, m.issuer_en, lang)
        if who:
            blocks += _lines(s["issuer"].format(who=who), cols, indent=text_width(prefix),
                             prefix=" " * text_width(prefix))
    steps = list(item.steps_en if en and item.steps_en else item.steps)
    if steps:
        blocks.append(Text(s["steps"], bold=True))
        blocks += _numbered(steps, cols)
    for key, value in (("fee", _en(item.fee, item.fee_en, lang)),
                       ("limit", _en(item.time_limit, item.time_limit_en, lang)),
                       ("place", pick(site.address, lang)),
                       ("issue_hours", hours_lines(site, lang, issuing_hours(site, bt)) or [s["closed_day"]])):
        if value:
            blocks.append(Text(s[key], bold=True))
            for text in ([value] if isinstance(value, str) else value):
                blocks += _lines(text, cols)
    note = _en(item.note, item.note_en, lang)
    if note:
        blocks += _lines(s["note"] + note, cols)
    blocks += _phones(site, lang, cols)
    blocks.append(Rule())
    blocks += _lines(s["missing_rule"], cols)
    url = item_url(site, item)
    if url:
        blocks.append(QR(url, module=4 if paper == 58 else 5))
        blocks += _lines(s["online"], cols, align="center")
    blocks += _lines(s["printed"].format(t=_stamp(site, now)), cols, align="center")
    blocks.append(Cut())
    return Document(tuple(blocks), paper, "notice_slip", {"item": item.code, "url": url})


def refusal_slip(site: Any, code: str, now: datetime, message: str = "", next_open: datetime | str | None = None,
                 business_type: str | None = None, lang: str = "zh", paper: int = 80) -> Document:
    """Why no ticket was issued (the server's error code) and the next time one can be."""
    _check_args(lang, paper)
    cols = PAPER[paper][1]
    s = T[lang]
    blocks: list = []
    blocks += _lines(_site_name(site, lang), cols, bold=True, align="center")
    blocks += _lines(s["refusal_title"], cols, size=2, bold=True, align="center")
    blocks.append(Rule())
    bt = site.business_type(business_type) if business_type else None
    if bt is not None:
        blocks += _lines(s["btype"].format(p=bt.prefix, name=_en(bt.name, bt.name_en, lang)), cols)
    known = REFUSALS.get(code)
    reason = (known[1] if lang == "en" else known[0]) if known else (message or code)
    blocks += _lines(s["why"] + reason, cols, bold=True)
    if next_open:
        label, _, _ = s["next"].partition("{t}")
        blocks += _lines([label, Keep(_stamp(site, next_open))], cols, bold=True)
    else:
        blocks += _lines(s["next_unknown"], cols)
    blocks.append(Text(s["issue_hours"] if bt is not None else s["hours"], bold=True))
    for text in hours_lines(site, lang, issuing_hours(site, bt) if bt is not None else None) or [s["closed_day"]]:
        blocks += _lines(text, cols)
    blocks += _phones(site, lang, cols)
    blocks += _lines(s["ask_staff"], cols)
    blocks += _lines(s["printed"].format(t=_stamp(site, now)), cols, align="center")
    blocks.append(Cut())
    return Document(tuple(blocks), paper, "refusal_slip", {"code": code})
