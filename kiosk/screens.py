"""What each kiosk screen shows, built from the presenter's state and the hall's mirror (no Kivy here)."""
from __future__ import annotations

from kiosk.checkin import WORDS as CHECK_IN_WORDS, words_for as check_in_words
from kiosk.presenter import Button, Line, Screen
from kiosk.texts import t


def _screen(p, name: str, title: str, **kw) -> Screen:
    return Screen(name=name, title=title, lang=p.lang, large=p.large, banner=p.banner(), **kw)


def _minutes(value) -> int | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return max(1, int(round(value)))


def home(p) -> Screen:
    buttons = []
    for bt in p._types():
        prefix = bt.get("prefix", "")
        queue = p.mirror.queues.get(prefix) or {}
        is_open = bt.get("open", True) and queue.get("open", True)
        if not is_open:
            sub = t("type_closed", p.lang)
        else:
            sub = t("waiting_people", p.lang, n=int(queue.get("waiting") or 0))
            m = _minutes(queue.get("estimated_wait_min"))
            if m is not None:
                sub += " · " + t("about_min", p.lang, m=m)
            left = queue.get("quota_left")
            if isinstance(left, int) and not isinstance(left, bool):
                sub += " · " + t("quota_left", p.lang, n=left)
        buttons.append(Button(f"type:{prefix}", f"{prefix}  {p._name(bt)}", sub=sub))
    lines = [Line(t("scan_hint", p.lang), "note")]
    return _screen(p, "home", t("home_title", p.lang), lines=lines, buttons=buttons,
                   nav=p.nav(back=False, home=False))


def items(p) -> Screen:
    bt = p._type(p.business_type)
    buttons = [Button(f"item:{i['code']}", p._name(i)) for i in p._items_of(p.business_type)]
    buttons.append(Button("take", t("take_type", p.lang), kind="primary"))
    return _screen(p, "items", t("items_title", p.lang, type=p._name(bt)), buttons=buttons, nav=p.nav())


def material_text(p, m: dict, n: int) -> str:
    lang = p.lang
    form = t(f"form_{m.get('form', 'original')}", lang) if f"form_{m.get('form')}" in _FORMS else ""
    copies = t("copies", lang, n=int(m.get("copies") or 1))
    issuer = p._name(m, "issuer")
    text = f"{n}. {p._name(m)}  ({form}, {copies})" if lang == "en" else f"{n}. {p._name(m)}（{form}，{copies}）"
    if issuer:
        text += ("  " if lang == "en" else " ") + t("issuer", lang, who=issuer)
    return text


_FORMS = {"form_original", "form_copy", "form_original_and_copy", "form_form"}


def _steps(p, item: dict) -> list[str]:
    key = "steps_en" if p.lang == "en" else "steps"
    steps = item.get(key) or item.get("steps")
    if not steps:  # an older server's catalogue state carries no steps: the kiosk's own catalogue does
        local = p.site.catalogue.item(item.get("code", "")) if getattr(p.site, "catalogue", None) else None
        if local is not None:
            steps = (local.steps_en if p.lang == "en" and local.steps_en else local.steps)
    return list(steps or [])


def notice(p) -> Screen:
    bt = p._type(p.business_type)
    item = p._item(p.item)
    lines: list[Line] = []
    if item is None:
        title = p._name(bt)
        lines.append(Line(t("no_items", p.lang), "note"))
    else:
        title = p._name(item)
        lines.append(Line(t("materials", p.lang), "heading"))
        lines += [Line(material_text(p, m, n)) for n, m in enumerate(item.get("materials") or [], 1)]
        steps = _steps(p, item)
        if steps:
            lines.append(Line(t("steps", p.lang), "heading"))
            lines += [Line(f"{n}. {s}") for n, s in enumerate(steps, 1)]
        fee, limit = p._name(item, "fee"), p._name(item, "time_limit")
        if fee:
            lines.append(Line(f"{t('fee', p.lang)}{': ' if p.lang == 'en' else '：'}{fee}", "heading"))
        if limit:
            lines.append(Line(f"{t('time_limit', p.lang)}{': ' if p.lang == 'en' else '：'}{limit}", "heading"))
    buttons = [Button("take", t("take", p.lang), kind="primary")]
    if item is not None and p.settings.print_slips:
        buttons.append(Button("slip", t("slip_on" if p.slip else "slip_off", p.lang), kind="toggle"))
    if p.identity is not None:
        buttons.append(Button("forget", t("forget_me", p.lang), kind="toggle"))
    return _screen(p, "notice", title, lines=lines, buttons=buttons, nav=p.nav())


def working(p) -> Screen:
    return _screen(p, "working", t("working", p.lang), lines=[Line(t("working", p.lang), "alert")],
                   nav=p.nav(enabled=False))


def _ahead(lang: str, n: int) -> str:
    return t("ahead_none", lang) if not n else t("ahead_one", lang) if n == 1 else t("ahead", lang, n=n)


def printed(p) -> Screen:
    """The ticket printed; the notice slip is still printing."""
    return result(p, (p.outcome.ticket or {}), p.outcome, slip_pending=True)


def uncertain(p) -> Screen:
    """The ticket is valid but the printer did not confirm it printed: the number stays on screen."""
    s = result(p, (p.outcome.ticket or {}), p.outcome)
    s.name = "uncertain"
    s.lines = [ln for ln in s.lines if ln.text != t("take_paper", p.lang)]
    s.lines.insert(0, Line(t("uncertain", p.lang), "warning"))
    return s


def printing(p) -> Screen:
    """The number, shown as soon as the server issued it, while the ticket prints."""
    return result(p, p.printing or {}, None)


def result(p, ticket: dict | None = None, o=..., slip_pending: bool = False) -> Screen:
    if o is ...:
        o = p.outcome
        ticket = o.ticket or {}
    lines: list[Line] = []
    today = ticket.get("service_day") or p.now().date().isoformat()
    if ticket.get("called_after"):
        lines.append(Line(t("called_after", p.lang, t=p.clock_text(ticket["called_after"], p.lang, today)), "warning"))
    ahead = ticket.get("ahead")
    if ahead is None:
        queue = p.mirror.queues.get(ticket.get("business_type", "")) or {}
        ahead = max(0, int(queue.get("waiting") or 1) - 1)
    lines.append(Line(_ahead(p.lang, ahead), "heading"))
    if not ticket.get("called_after"):
        m = _minutes(ticket.get("estimated_wait_min"))
        lines.append(Line(t("wait", p.lang, m=m) if m is not None else t("wait_unknown", p.lang)))
    if o is None:
        lines.append(Line(t("printing", p.lang), "heading"))
        return _screen(p, "printing", t("your_number", p.lang), big=ticket.get("number", ""), lines=lines,
                       buttons=[Button("done", t("done", p.lang), kind="primary", enabled=False)],
                       nav=p.nav(back=False, enabled=False))
    lines.append(Line(t("take_paper", p.lang), "heading"))
    if slip_pending:
        lines.append(Line(t("slip_printing", p.lang), "note"))
        return _screen(p, "printed", t("your_number", p.lang), big=ticket.get("number", ""), lines=lines,
                       buttons=[Button("done", t("done", p.lang), kind="primary", enabled=False)],
                       nav=p.nav(back=False, enabled=False))
    if o.slip_printed is True:
        lines.append(Line(t("slip_printed", p.lang), "note"))
    elif o.slip_printed is False:
        lines.append(Line(t("slip_failed", p.lang), "warning"))
    return _screen(p, "result", t("your_number", p.lang), big=ticket.get("number", ""), lines=lines,
                   buttons=[Button("done", t("done", p.lang), kind="primary")], nav=p.nav(back=False))


def refused(p) -> Screen:
    o = p.outcome
    code = o.reason or "other"
    key = f"refused_{code}" if f"refused_{code}" in _REFUSED else "refused_other"
    lines = []
    if key == "refused_throttled":
        lines.append(Line(t("throttled", p.lang), "alert"))
    elif code in CHECK_IN_WORDS:  # an appointment check-in refused: why, in the citizen's words
        lines.append(Line(check_in_words(code, o.detail, p.lang), "alert"))
    elif key == "refused_other":  # the server's own words are English: say what to do instead
        lines.append(Line(t("ask_staff", p.lang), "alert"))
        if p.lang == "en" and o.detail:
            lines.append(Line(o.detail, "note"))
    if o.next_open:
        lines.append(Line(t("come_back", p.lang, t=p.clock_text(o.next_open, p.lang, p.now().date().isoformat())),
                          "alert"))
    elif key not in ("refused_other", "refused_throttled"):
        lines.append(Line(t("ask_when", p.lang), "heading"))
    if o.refusal_printed:
        lines.append(Line(t("refusal_slip", p.lang), "note"))
    return _screen(p, "refused", t(key, p.lang), lines=lines,
                   buttons=[Button("done", t("done", p.lang), kind="primary")], nav=p.nav())


_REFUSED = {"refused_quota_reached", "refused_outside_hours", "refused_business_type_closed", "refused_throttled"}


def failed(p) -> Screen:
    return _screen(p, "failed", t("print_failed_title", p.lang), lines=[Line(t("print_failed", p.lang), "alert")],
                   buttons=[Button("done", t("done", p.lang), kind="primary")], nav=p.nav())


def unavailable(p) -> Screen:
    return _screen(p, "unavailable", t("unavailable_title", p.lang), lines=[Line(t("unavailable", p.lang))],
                   buttons=[Button("retry", t("retry", p.lang), kind="primary")], nav=p.nav())


def out_of_service(p, h) -> Screen:
    if h.problem == "printer":
        lines = [Line(t("oos_printer", p.lang, why=p.printer_words(h.printer_problem)), "alert")]
    else:
        lines = [Line(t("oos_server", p.lang), "alert")]
    lines.append(Line(t("oos_recover", p.lang), "note"))
    return _screen(p, "out_of_service", t("oos_title", p.lang), lines=lines,
                   nav=p.nav(back=False, home=False))
