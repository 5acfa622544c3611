"""The booking page: a citizen books an appointment on a phone; a clerk books for a citizen at the counter.

Public pages (no sign-in), rendered on the server, no script (works on any phone, passes the console's
strict content policy):
    GET  /book                  pick an item (business types the site serves by appointment)
    GET  /book/slots?bt=A&item= its one-time notice (what to bring), the free slots, the identity form
    POST /book                  book: the identity is hashed HERE (salted scrypt, onewindow.identity) and
                                only the hash goes to the queue server; -> /book/done/{code}
    GET  /book/done/{code}      the booking code, its QR, the slot, check-in times, the no-show rule
    POST /book/cancel           cancel (code + the same identity)
    GET  /book/slots?...&change=CODE   pick a new slot for a booking (POST /book then sends change_booking)
A signed-in clerk (the clerk page links to /book) books the same way, recorded as channel `counter`.
Clerk API (signed-in clerk or manager, CSRF token):
    GET  /api/book/slots?business_type=A[&item=]    POST /api/book (JSON: business_type, item, start,
    and the identity fields) -> the booking, its QR (PNG data URI) and the text it encodes.
    GET  /api/bookings[?day=YYYY-MM-DD]              a day's bookings per slot and check-in state (manager).

The citizen's numbers live only in this request's memory: never logged, never sent, never stored.
A POST must come from this site's own pages (Origin); each address may book BOOKINGS_PER_WINDOW times
in THROTTLE_WINDOW seconds.
"""
from __future__ import annotations

import base64
import html
import io
import logging
import os
import time
from collections import defaultdict, deque
from datetime import date
from pathlib import Path
from string import Template
from urllib.parse import parse_qs, quote

import qrcode
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from console.app import SECURITY_HEADERS, error, json_body, ok, require, require_write, session_of
from console.hall import HallUnavailable
from onewindow.booking_code import CODE_RE, qr_text
from onewindow.identity import FIELDS, IdentityError, load_salt, protect

log = logging.getLogger("onewindow.console.booking")

TEMPLATE = Template((Path(__file__).parent / "templates" / "booking.html").read_text(encoding="utf-8"))
SALT_FILE = os.environ.get("ONEWINDOW_BOOKING_SALT_FILE", "var/booking-salt")
DAYS_SHOWN = 7
DEFAULT_IDENTITY = ("id_last4", "phone")
BOOKINGS_PER_WINDOW, THROTTLE_WINDOW = 10, 600.0
LABELS = {"id_last4": ("身份证号后4位", "Last 4 characters of the ID number", "text", 4),
          "phone": ("手机号码", "Phone number", "tel", 13), "name": ("姓名", "Name", "text", 40)}
STATES = {"booked": "已预约 Booked", "checked_in": "已签到 Checked in", "late": "迟到，已转现场取号 Late: walk-in",
          "no_show": "爽约 No-show", "cancelled": "已取消 Cancelled"}


class _Throttle:
    def __init__(self):
        self.seen: dict[str, deque] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now, q = time.monotonic(), self.seen[key]
        while q and q[0] < now - THROTTLE_WINDOW:
            q.popleft()
        if len(q) >= BOOKINGS_PER_WINDOW:
            return False
        if len(self.seen) > 10_000:
            self.seen.clear()
        self.seen[key].append(now)
        return True


_throttle = _Throttle()
e = html.escape


def salt(request: Request) -> bytes:
    """The site's identity salt (app.state.booking_salt, else the salt file, made on first use)."""
    state = request.app.state
    if getattr(state, "booking_salt", None) is None:
        state.booking_salt = load_salt(SALT_FILE)
    return state.booking_salt


def render(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(TEMPLATE.substitute(title=e(title), body=body), status_code=status, headers=SECURITY_HEADERS)


def qr_data_uri(text: str) -> str:
    image = qrcode.make(text, box_size=6, border=2)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


async def ask(request: Request, command: str, **args) -> dict:
    return await run_in_threadpool(request.app.state.hall.command, command, **args)


def unavailable() -> HTMLResponse:
    return render("暂不可用 Unavailable", "<p class=err>预约服务暂时无法连接，请稍后再试。<br>The booking service cannot be "
                  "reached just now; please try again in a minute.</p>", 503)


def _types(request: Request) -> list[dict]:
    return list((request.app.state.hall.mirror.site or {}).get("business_types", []))


def _items(request: Request, prefix: str) -> list[dict]:
    cat = request.app.state.hall.mirror.catalogue or {}
    return [i for i in cat.get("items", []) if i.get("business_type") == prefix]


# --------------------------------------------------------------------------- citizen pages
async def start_page(request: Request) -> Response:
    parts = []
    try:
        for bt in _types(request):
            answer = await ask(request, "appointment_slots", business_type=bt["prefix"], days=1)
            if not answer.get("ok"):
                continue  # not served by appointment
            links = [f'<li><a href="/book/slots?bt={e(bt["prefix"])}&amp;item={quote(i["code"])}">{e(i["name"])}'
                     f'<small>{e(i.get("name_en") or "")}</small></a></li>' for i in _items(request, bt["prefix"])]
            links = links or [f'<li><a href="/book/slots?bt={e(bt["prefix"])}">{e(bt["name"])}</a></li>']
            parts.append(f'<section><h2>{e(bt["name"])} <small>{e(bt.get("name_en") or "")}</small></h2>'
                         f'<ul class=items>{"".join(links)}</ul></section>')
    except HallUnavailable:
        return unavailable()
    body = "".join(parts) or "<p>目前没有可预约的业务。<br>Nothing can be booked at the moment.</p>"
    return render("预约办理 Book an appointment", "<p>选择要办理的事项 · Pick what you need to do</p>" + body)


def _notice(item: dict | None) -> str:
    """The item's one-time notice: what to bring, how long it takes, what it costs."""
    if not item:
        return ""
    rows = "".join(f'<li>{e(m.get("name") or "")} <small>{e(m.get("name_en") or "")}</small>'
                   f'{" ×" + str(m["copies"]) if m.get("copies") else ""}</li>' for m in item.get("materials", []))
    facts = []
    if item.get("time_limit"):
        facts.append(f'办理时限 {e(item["time_limit"])} <small>{e(item.get("time_limit_en") or "")}</small>')
    if item.get("fee"):
        facts.append(f'收费 {e(item["fee"])} <small>{e(item.get("fee_en") or "")}</small>')
    return (f'<section class=notice><h2>一次性告知 <small>What to bring</small></h2><ul>{rows or "<li>无需材料 Nothing</li>"}'
            f'</ul><p>{"<br>".join(facts)}</p></section>')


def _weekday(day: str) -> str:
    n = date.fromisoformat(day).weekday()
    return f'周{"一二三四五六日"[n]} <small>{("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[n]}</small>'


def _slot_inputs(slots: list[dict], chosen: str | None) -> str:
    by_day: dict[str, list[str]] = {}
    for s in slots:
        free = s["free"]
        disabled = " disabled" if free <= 0 else ""
        checked = " checked" if s["start"] == chosen and free > 0 else ""
        by_day.setdefault(s["start"][:10], []).append(
            f'<label class=slot><input type=radio name=start value="{e(s["start"])}"{checked}{disabled} required>'
            f'{e(s["start"][11:16])}–{e(s["end"][11:16])} <small>余 {free} free</small></label>')
    return "".join(f"<fieldset><legend>{e(day)} {_weekday(day)}</legend>{''.join(v)}</fieldset>"
                   for day, v in by_day.items()) or \
        "<p>近期没有可预约的时段。<br>No free slots in the coming days.</p>"


async def slots_page(request: Request, form: dict | None = None, problem: str = "", status: int = 200) -> Response:
    q = form or {k: v[0] for k, v in parse_qs(request.url.query).items()}
    prefix, code = q.get("bt", ""), q.get("item") or None
    args = {"business_type": prefix, "days": DAYS_SHOWN}
    if code:
        args["item"] = code
    try:
        answer = await ask(request, "appointment_slots", **args)
    except HallUnavailable:
        return unavailable()
    if not answer.get("ok"):
        return render("无法预约 Cannot book", f'<p class=err>{e(answer["error"]["message"])}</p>'
                      '<p><a href="/book">返回 Back</a></p>', 404)
    item = next((i for i in _items(request, prefix) if i["code"] == code), None)
    fields = "".join(
        f'<label>{LABELS[f][0]} <small>{LABELS[f][1]}</small><input name={f} type={LABELS[f][2]} '
        f'maxlength={LABELS[f][3]} autocomplete=off required></label>' for f in answer["identity"])
    title = (item or {}).get("name") or next((b["name"] for b in _types(request) if b["prefix"] == prefix), prefix)
    body = (f'{_notice(item)}<form method=post action="/book"><input type=hidden name=bt value="{e(prefix)}">'
            f'<input type=hidden name=item value="{e(code or "")}">'
            + (f'<input type=hidden name=change value="{e(q["change"])}">' if CODE_RE.fullmatch(q.get("change", "")) else "")
            + f'{f"<p class=err>{problem}</p>" if problem else ""}'
            f'<h2>选择时段 <small>Pick a slot</small></h2>{_slot_inputs(answer["slots"], q.get("start"))}'
            f'<h2>预约人 <small>Who is coming</small></h2>{fields}'
            f'<p class=rule>{e(answer["rule_zh"])}<br><small>{e(answer["rule"])}</small></p>'
            f'<button type=submit>确认预约 Book</button></form>')
    return render(f"预约 {title}", body, status)


async def required(request: Request, prefix: str) -> tuple[str, ...]:
    """The identity fields the site asks for (from the server's answer, remembered), never what a form
    happens to send: a citizen leaving out the phone must not become someone else to the no-show rule."""
    known = getattr(request.app.state, "booking_identity", None)
    if known is None:
        answer = await ask(request, "appointment_slots", business_type=prefix or "A", days=1)
        known = tuple(answer.get("identity") or DEFAULT_IDENTITY)
        if answer.get("ok"):
            request.app.state.booking_identity = known
    return known


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin.split("://", 1)[-1] == request.headers.get("host", "")


async def _form(request: Request) -> dict:
    raw = (await request.body())[:4096].decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(raw).items()}


def _channel(request: Request) -> str:
    """`counter` when a signed-in clerk books on the citizen's behalf (the clerk page links here), else `online`."""
    s = session_of(request)
    return "counter" if s is not None and s.role in ("clerk", "manager", "admin") else "online"


async def submit(request: Request) -> Response:
    if not _same_origin(request):
        return render("无法预约 Cannot book", "<p class=err>请在本站页面预约。Book from this site's own page.</p>", 403)
    form = await _form(request)
    if not _throttle.allow(request.client.host if request.client else "-"):
        return render("请稍后 Please wait", "<p class=err>预约过于频繁，请稍后再试。Too many bookings from here; "
                      "try again later.</p>", 429)
    try:
        fields = await required(request, form.get("bt", ""))
        holder = await run_in_threadpool(protect, salt(request), fields, form)
        if CODE_RE.fullmatch(form.get("change", "")):  # a new slot for an existing booking (same code)
            answer = await ask(request, "change_booking", code=form["change"], holder=holder, start=form.get("start", ""))
        else:
            answer = await ask(request, "book", business_type=form.get("bt", ""), start=form.get("start", ""),
                               holder=holder, channel=_channel(request),
                               **({"item": form["item"]} if form.get("item") else {}))
    except IdentityError as bad:
        return await slots_page(request, form, e(f"{LABELS[bad.field][0]}格式不对 · {LABELS[bad.field][1]}: "
                                                  f"{FIELDS[bad.field][1]}"), 400)
    except HallUnavailable:
        return unavailable()
    if not answer.get("ok"):
        err = answer["error"]
        log.info("booking refused: %s", err["code"])
        return await slots_page(request, {**form, "start": ""}, e(err["message"]), 409)
    return RedirectResponse(f'/book/done/{answer["booking"]["code"]}', status_code=303, headers=SECURITY_HEADERS)


async def done_page(request: Request) -> Response:
    code = request.path_params["code"].upper()
    if not CODE_RE.fullmatch(code):
        return render("没有这个预约 Not found", "<p class=err>没有这个预约。No such booking.</p>", 404)
    try:
        answer = await ask(request, "booking_status", code=code)
    except HallUnavailable:
        return unavailable()
    if not answer.get("ok"):
        return render("没有这个预约 Not found", "<p class=err>没有这个预约。No such booking.</p>", 404)
    b = answer["booking"]
    when = f'{b["start"][:10]} {b["start"][11:16]}–{b["end"][11:16]}'
    body = (f'<section class=booking><p>预约码 <small>Booking code</small></p><p class=code id=code>{e(b["code"])}</p>'
            f'<img class=qr alt="{e(b["code"])}" src="{qr_data_uri(qr_text(b))}">'
            f'<p class=when id=when>{e(when)}</p><p>{e(_what(request, b))} · '
            f'<span id=state>{e(STATES.get(b["state"], b["state"]))}</span></p>'
            f'<p>请于 {e(b["check_in_from"][11:16])}–{e(b["check_in_until"][11:16])} 到大厅自助机扫码签到。<br>'
            f'<small>Check in at a hall kiosk (scan this code) between {e(b["check_in_from"][11:16])} and '
            f'{e(b["check_in_until"][11:16])}; later, you queue as a walk-in.</small></p>'
            f'<p class=rule>{e(b["rule_zh"])}<br><small>{e(b["rule"])}</small></p></section>'
            f'<p><a id=change href="/book/slots?bt={e(b["business_type"])}&amp;item={quote(b.get("item") or "")}'
            f'&amp;change={e(b["code"])}">改约 <small>Change the slot</small></a></p>'
            f'<form method=post action="/book/cancel"><h2>取消预约 <small>Cancel</small></h2>'
            f'<input type=hidden name=code value="{e(b["code"])}">'
            + "".join(f'<label>{LABELS[f][0]} <small>{LABELS[f][1]}</small><input name={f} type={LABELS[f][2]} '
                      f'maxlength={LABELS[f][3]} autocomplete=off required></label>'
                      for f in await required(request, b["business_type"]))
            + '<button type=submit class=secondary>取消 Cancel this booking</button></form>')
    return render(f"预约成功 Booked {b['code']}", body)


def _what(request: Request, b: dict) -> str:
    """The booked item's (or business type's) name, as the site calls it."""
    item = next((i for i in _items(request, b["business_type"]) if i["code"] == b.get("item")), None)
    if item:
        return item["name"]
    return next((t["name"] for t in _types(request) if t["prefix"] == b["business_type"]), b["business_type"])


async def cancel(request: Request) -> Response:
    if not _same_origin(request):
        return render("无法取消 Cannot cancel", "<p class=err>请在本站页面操作。</p>", 403)
    form = await _form(request)
    code = form.get("code", "").upper()
    if not CODE_RE.fullmatch(code):
        return render("没有这个预约 Not found", "<p class=err>没有这个预约。No such booking.</p>", 404)
    try:
        holder = await run_in_threadpool(protect, salt(request), await required(request, "A"), form)
        answer = await ask(request, "cancel_booking", code=code, holder=holder)
    except IdentityError:
        answer = {"ok": False, "error": {"message": "身份信息不符 · The identity does not match"}}
    except HallUnavailable:
        return unavailable()
    if not answer.get("ok"):
        return render("无法取消 Cannot cancel", f'<p class=err>{e(answer["error"]["message"])}</p>'
                      f'<p><a href="/book/done/{e(code)}">返回 Back</a></p>', 409)
    return render("已取消 Cancelled", f'<p>预约 {e(code)} 已取消。Booking {e(code)} is cancelled.</p>'
                  '<p><a href="/book">重新预约 Book again</a></p>')


# --------------------------------------------------------------------------- clerk API
async def clerk_slots(request: Request) -> Response:
    require(request, "clerk", "manager")
    q = request.query_params
    args = {"business_type": q.get("business_type", ""), "days": DAYS_SHOWN}
    if q.get("item"):
        args["item"] = q["item"]
    try:
        return ok(await ask(request, "appointment_slots", **args))
    except HallUnavailable as exc:
        return error(503, "hall_unavailable", str(exc))


async def clerk_book(request: Request) -> Response:
    """A clerk books for the citizen at the counter (or on the phone): same rules, channel `counter`."""
    session = require_write(request, "clerk", "manager")
    body = await json_body(request)
    identity = {f: str(body.get(f, "")) for f in FIELDS if f in body}
    try:
        fields = await required(request, str(body.get("business_type", "")))
        holder = await run_in_threadpool(protect, salt(request), fields, identity)
        args = {"business_type": body.get("business_type"), "start": body.get("start"), "holder": holder,
                "channel": "phone" if body.get("channel") == "phone" else "counter"}
        if body.get("item"):
            args["item"] = body["item"]
        answer = await ask(request, "book", **args)
    except IdentityError as bad:
        return error(400, "bad_identity", str(bad), field=bad.field)
    except HallUnavailable as exc:
        return error(503, "hall_unavailable", str(exc))
    if not answer.get("ok"):
        return refused(answer)
    log.info("clerk %s booked %s for a citizen", session.username, answer["booking"]["code"])
    text = qr_text(answer["booking"])
    return ok({"ok": True, "booking": answer["booking"], "qr_text": text, "qr": qr_data_uri(text)})


def refused(answer: dict) -> Response:
    return error(409, answer["error"]["code"], answer["error"]["message"],
                 **{k: v for k, v in answer["error"].items() if k not in ("code", "message")})


async def day_bookings(request: Request) -> Response:
    """A day's bookings per slot with their check-in state (the manager's page; no identities)."""
    require(request, "manager", "clerk")
    day = request.query_params.get("day")
    try:
        return ok(await ask(request, "bookings", **({"day": day} if day else {})))
    except HallUnavailable as exc:
        return error(503, "hall_unavailable", str(exc))


def routes() -> list[Route]:
    return [Route("/book", start_page), Route("/book", submit, methods=["POST"]),
            Route("/book/slots", slots_page), Route("/book/done/{code}", done_page),
            Route("/book/cancel", cancel, methods=["POST"]),
            Route("/api/book/slots", clerk_slots), Route("/api/book", clerk_book, methods=["POST"]),
            Route("/api/bookings", day_bookings)]
