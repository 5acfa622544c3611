"""The kiosk's screens, driven without a window: a citizen taps through against the real queue server
(in-process broker, SQLite) and fake thermal printers; every screen says what the server and printers did."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kiosk.settings import KioskSettings
from tests.kiosk_support import Clock, Hall
from tests.support import county_site, wait_until

TZ = ZoneInfo("Asia/Shanghai")
# A valid ID number of someone born on 1 May 1950 (76 in 2026), and one born in 1990.
OLD_ID = "110101195005010014"
YOUNG_ID = "110101199003070011"


@pytest.fixture
def hall(tmp_path):
    h = Hall(county_site(), tmp_path)
    yield h
    h.stop()


@pytest.fixture
def kiosk(hall):
    rt = hall.kiosk(clock=Clock())
    assert wait_until(lambda: rt.presenter.screen().name == "home")
    return rt


def actions(screen):
    return [b.action for b in screen.buttons]


def test_home_shows_every_business_type_in_chinese_and_one_tap_gives_english(kiosk):
    p = kiosk.presenter
    s = p.screen()
    assert s.name == "home" and s.lang == "zh"
    assert actions(s) == [f"type:{x}" for x in "ABCDEF"]
    assert s.buttons[0].label == "A  参保登记与变更"
    assert "等候 0 人" in s.buttons[0].sub
    assert s.button("lang").label == "English"
    p.tap("lang")
    s = p.screen()
    assert s.lang == "en" and s.buttons[0].label == "A  Enrolment and changes"
    assert s.title == "Choose what you need to do" and s.button("lang").label == "中文"


def test_a_citizen_takes_a_number_and_the_paper_matches_the_screen(kiosk, hall):
    p = kiosk.presenter
    p.tap("type:A")
    s = p.screen()
    assert s.name == "items" and "item:CB-01" in actions(s)
    p.tap("item:CB-01")
    s = p.screen()
    assert s.name == "notice" and s.title == "城乡居民参保登记"
    text = [ln.text for ln in s.lines]
    assert "所需材料" in text and "办理步骤" in text
    assert any("（原件，1份）" in x and "出具：公安机关等" in x for x in text)
    assert "1. 取号" in text and "办理时限：即时办结" in text and "收费：不收费" in text
    p.tap("take")
    s = p.screen()
    assert s.name == "result" and s.big == "A001"
    assert [ln.text for ln in s.lines][:2] == ["前面没有人，请留意叫号", "暂无开放窗口，请留意叫号"]
    assert "告知单已打印，请一并取走" in [ln.text for ln in s.lines]
    printer = hall.printers[0]
    printer.wait_idle()
    assert printer.find("A001") is not None and printer.find("一次性告知单") is not None
    assert kiosk.client.issued_request_ids[0].startswith("kiosk-1-")


def test_the_second_citizen_sees_people_ahead_and_the_expected_wait(kiosk):
    p, q = kiosk.presenter, kiosk.queue_client
    assert q.window("sign_in", 2, "wang")["ok"]
    q.issue("A")
    p.tap("type:B")
    p.tap("take")
    assert p.screen().big == "B001"
    p.tap("done")
    p.tap("type:A")
    p.tap("take")
    s = p.screen()
    assert s.big == "A002"
    assert s.lines[0].text == "前面还有 1 人" and s.lines[1].text.startswith("预计等候约 ")
    p.tap("lang")
    assert p.screen().lines[0].text == "1 person ahead of you"


def test_called_after_is_shown_instead_of_a_wait(kiosk):
    p = kiosk.presenter
    real = kiosk.queue_client.issue

    def with_called_after(*a, **kw):
        reply = real(*a, **kw)
        reply["ticket"]["called_after"] = "2026-11-23T13:30:00+08:00"
        reply["ticket"]["service_day"] = "2026-11-23"
        return reply

    kiosk.queue_client.issue = with_called_after
    p.tap("type:B")
    p.tap("take")
    s = p.screen()
    assert s.lines[0].text == "13:30 后叫号" and not any("预计等候" in ln.text for ln in s.lines)
    p.tap("lang")
    assert p.screen().lines[0].text == "Called after 13:30"


def test_a_double_tap_and_a_lost_reply_give_one_ticket(kiosk, hall):
    p = kiosk.presenter
    replies = []
    q = kiosk.queue_client
    real = hall.server_transport.publish

    def lossy(topic, payload, **kw):  # the server's replies to this kiosk are lost on the way
        if topic == q.reply_to:
            replies.append(payload)
            return None
        return real(topic, payload, **kw)

    hall.server_transport.publish = lossy
    p.tap("type:A")
    p.tap("take")
    p.tap("take")  # a second tap after the first failed is a retry of the same intent
    assert p.screen().name == "unavailable"
    assert len(set(kiosk.client.issued_request_ids)) == 1 and len(replies) >= 2
    hall.server_transport.publish = real
    p.tap("retry")
    s = p.screen()
    assert s.name == "result" and s.big == "A001"
    assert len(set(kiosk.client.issued_request_ids)) == 1
    p.tap("done")
    p.tap("type:A")
    p.tap("take")
    assert p.screen().big == "A002"  # the retries made no second ticket
    assert len(set(kiosk.client.issued_request_ids)) == 2


def test_taps_while_a_number_is_being_taken_are_ignored(hall):
    started = []
    rt = hall.kiosk(run=lambda fn, *a: started.append((fn, a)))
    assert wait_until(lambda: rt.presenter.screen().name == "home")
    p = rt.presenter
    p.tap("type:A")
    p.tap("take")
    assert p.screen().name == "working" and not p.screen().button("home").enabled
    p.tap("take")
    p.tap("home")
    assert len(started) == 1 and p.screen().name == "working"
    fn, args = started[0]
    fn(*args)
    assert p.screen().big == "A001"


def test_back_and_home_from_every_screen(kiosk):
    p = kiosk.presenter
    p.tap("type:A")
    p.tap("item:CB-01")
    p.tap("back")
    assert p.screen().name == "items"
    p.tap("back")
    assert p.screen().name == "home"
    p.tap("type:A")
    p.tap("item:CB-01")
    p.tap("home")
    assert p.screen().name == "home"
    p.tap("type:A")
    p.tap("take")
    assert p.screen().name == "result" and p.screen().button("home") is not None
    p.tap("home")
    assert p.screen().name == "home"


def test_idle_returns_home_and_forgets_the_citizen(hall):
    clock = Clock()
    rt = hall.kiosk(settings=KioskSettings(id="kiosk-1", idle_seconds=30), clock=clock)
    p = rt.presenter
    assert wait_until(lambda: p.screen().name == "home")
    p.tap("lang")
    p.tap("large")
    p.tap("type:A")
    p.identified(card_id=OLD_ID, name="张三")
    clock.advance(29)
    p.tick()
    assert p.screen().name == "items"
    clock.advance(2)
    p.tick()
    s = p.screen()
    assert s.name == "home" and s.lang == "zh" and not s.large and p.identity is None and s.banner == ""


def test_large_text_mode_is_one_tap(kiosk):
    p = kiosk.presenter
    assert not p.screen().large
    p.tap("large")
    assert p.screen().large and p.screen().button("large").label == "标准字"


def test_refusals_say_why_and_when_to_come_back(hall, tmp_path):
    # Sunday 10:00: the hall is closed; it opens Monday 08:30.
    clock = lambda: datetime(2026, 11, 22, 10, 0, tzinfo=TZ).timestamp()  # noqa: E731
    closed = Hall(county_site(), tmp_path / "closed", clock=clock, always_open=False)
    (tmp_path / "closed").mkdir(exist_ok=True)
    try:
        rt = closed.kiosk(now=lambda: datetime(2026, 11, 22, 10, 0, tzinfo=TZ))
        p = rt.presenter
        assert wait_until(lambda: p.screen().name == "home")
        p.tap("type:A")
        p.tap("take")
        s = p.screen()
        assert s.name == "refused" and s.title == "现在不是取号时间"
        assert "请于 11月23日 08:30 后再来" in [ln.text for ln in s.lines]
        assert "已打印说明单，请取走" in [ln.text for ln in s.lines]
        p.tap("lang")
        assert "Please come back from 23 Nov 08:30" in [ln.text for ln in p.screen().lines]
    finally:
        closed.stop()


def test_a_closed_business_type_is_marked_at_home_and_refused(kiosk):
    p, q = kiosk.presenter, kiosk.queue_client
    assert q.request("set_business_type", business_type="C", open=False)["ok"]
    assert wait_until(lambda: p.screen().button("type:C").sub == "暂停取号")
    p.tap("type:C")
    p.tap("take")
    assert p.screen().name == "refused" and p.screen().title == "该业务暂停办理"


def test_quota_reached(kiosk):
    p, q = kiosk.presenter, kiosk.queue_client
    for _ in range(60):
        assert q.issue("F")["ok"]
    p.tap("type:F")
    p.tap("take")
    s = p.screen()
    assert s.name == "refused" and s.title == "今日号已取完"


def test_paper_running_out_mid_job_keeps_the_number_on_screen_and_the_kiosk_goes_out_of_service(kiosk, hall):
    p, printer = kiosk.presenter, hall.printers[0]
    printer.paper_runs_out_after = 40  # the ticket's bytes reached the printer: it may be half printed
    p.tap("type:A")
    p.tap("take")
    s = p.screen()
    assert s.name == "uncertain" and s.big == "A001"  # valid at the server, never printed twice
    assert s.lines[0].text.startswith("打印机未能确认号票已打出")
    assert kiosk.queue_client.request("ticket_status", ticket="A001")["ticket"]["state"] == "waiting"
    p.tap("done")
    s = p.screen()
    assert s.name == "out_of_service" and "缺纸" in s.lines[0].text
    topic = "onewindow/demo-county/device/kiosk-1/status"
    p.tick()
    st = hall.retained(topic)
    assert st["state"] == "out_of_service" and st["parts"]["printer"] == "paper_out" and st["kind"] == "kiosk"
    printer.paper_out = False
    printer.paper_runs_out_after = None  # staff put in a new roll: the kiosk finds it by itself
    assert wait_until(lambda: p.screen().name == "home", 5)
    assert wait_until(lambda: (p.tick(), hall.retained(topic)["state"])[1] == "ok", 5)


def test_a_printer_known_out_of_paper_voids_nothing_and_says_so(hall):
    rt = hall.kiosk()
    p = rt.presenter
    assert wait_until(lambda: p.screen().name == "home")
    p.tap("type:A")
    hall.printers[0].paper_out = True
    assert wait_until(lambda: p.screen().name == "out_of_service", 5)  # the idle status poll found it
    assert p.screen().button("take") is None  # nothing to tap: no number is asked for


def test_a_ticket_the_printer_refused_is_voided_at_the_server(kiosk, hall):
    p = kiosk.presenter
    station = kiosk.desk.printers[0]
    p.tap("type:A")
    hall.printers[0].cover_open = True  # opened just now: the kiosk has not polled it yet
    p.tap("take")
    s = p.screen()
    assert s.name == "failed" and s.big == "" and "作废" in s.lines[0].text
    assert wait_until(lambda: kiosk.queue_client.request("ticket_status", ticket="A001")["ticket"]["state"]
                      == "cancelled", 5)
    assert station.status.problem == "cover_open"


def test_a_fallback_printer_keeps_the_kiosk_serving_degraded(hall):
    rt = hall.kiosk(printers=2)
    p = rt.presenter
    assert wait_until(lambda: p.screen().name == "home")
    hall.printers[0].paper_out = True
    p.tap("type:A")
    p.tap("take")
    assert p.screen().big == "A001"
    hall.printers[1].wait_idle()
    assert hall.printers[1].find("A001") is not None
    p.tick()
    st = hall.retained("onewindow/demo-county/device/kiosk-1/status")
    assert st["state"] == "degraded" and st["parts"]["printers"] == {"main": "paper_out", "spare": "ok"}


def test_server_lost_mid_flow_then_back(kiosk, hall):
    p = kiosk.presenter
    p.tap("type:A")
    p.tap("item:CB-01")
    hall.server_down()
    assert p.screen().name == "out_of_service"  # its presence went offline
    assert "正在连接排队系统" in p.screen().lines[0].text
    hall.server_up()
    assert wait_until(lambda: p.screen().name == "notice")
    hall.server_down()
    # the server vanished between the notice and the tap: no reply, a retry button
    kiosk.mirror._values.pop(("presence", "server-demo-county"))
    p.tap("take")
    assert p.screen().name == "unavailable" and p.screen().button("retry")
    hall.server_up()
    p.tap("retry")
    assert p.screen().big == "A001"


def test_an_elderly_citizen_gets_priority_and_nothing_personal_leaves_the_kiosk(kiosk, hall):
    p = kiosk.presenter
    seen = []
    hall.broker.transport("spy", "spy", "demo-county").start().subscribe("#", lambda t, b: seen.append(b))
    p.identified(card_id=OLD_ID, name="张三丰")
    s = p.screen()
    assert "张**" in s.banner and "1101**********0014" in s.banner and "老年人优先" in s.banner
    p.tap("type:A")
    p.tap("take")
    assert p.screen().big == "A001"
    status = kiosk.queue_client.request("ticket_status", ticket="A001")["ticket"]
    assert status["priority_group"] == "elderly"
    everything = b"".join(seen).decode()
    assert OLD_ID not in everything and "张三丰" not in everything
    printer = hall.printers[0]
    printer.wait_idle()
    assert OLD_ID not in printer.text() and "张" not in printer.text() and "优先" not in printer.text()
    assert p.identity is None  # forgotten once the ticket is out


def test_a_young_citizen_gets_no_priority_and_a_bad_code_is_refused_gently(kiosk):
    p = kiosk.presenter
    p.identified(card_id=YOUNG_ID, name="李四")
    assert p.identity.priority_group is None and "李*" in p.screen().banner
    p.identified(qr="hello world")
    assert "无法识别此码" in p.screen().banner
    p.identified(card_id="110101195005010015", name="王五")  # wrong check digit
    assert "无法识别此码" in p.screen().banner


def test_an_appointment_qr_checks_in_straight_to_its_item(kiosk):
    p = kiosk.presenter
    p.identified(qr="onewindow:appointment?ref=R20261123-7&start=2026-11-23T10:00:00%2B08:00&bt=A&item=CB-01")
    s = p.screen()
    assert s.name == "notice" and s.title == "城乡居民参保登记" and "预约签到：R20261123-7" in s.banner
    p.tap("take")
    assert p.screen().big == "A001"
    t = kiosk.queue_client.request("ticket_status", ticket="A001")["ticket"]
    assert t["state"] == "waiting"


def test_device_status_is_retained_and_names_each_part(kiosk, hall):
    topic = "onewindow/demo-county/device/kiosk-1/status"
    assert wait_until(lambda: hall.retained(topic)["state"] == "ok")  # once the printer answered its status
    st = hall.retained(topic)
    assert st["v"] == 1 and st["device"] == "kiosk-1" and st["state"] == "ok"
    assert st["parts"]["printer"] == "ok" and st["parts"]["broker"] == "ok" and st["parts"]["server"] == "ok"
    assert "T" in st["at"]
    json.dumps(st)


def test_the_number_shows_while_the_ticket_prints_and_is_withdrawn_if_the_paper_runs_out(kiosk, hall):
    p = kiosk.presenter
    seen = []
    p.on_change(lambda: seen.append((p.page, p.screen().big)))
    station = kiosk.desk.printers[0]
    real_submit = station.submit
    at_print = []
    station.submit = lambda doc, *a, **kw: (at_print.append(p.screen()), real_submit(doc, *a, **kw))[1]
    p.tap("type:A")
    p.tap("item:CB-01")
    p.tap("take")
    assert at_print[0].name == "printing" and at_print[0].big == "A001"
    assert "正在打印号票，请稍候……" in [ln.text for ln in at_print[0].lines]
    assert not at_print[0].button("done").enabled and not at_print[0].button("home").enabled
    slip_time = [ln.text for ln in at_print[1].lines]  # the ticket is out; the notice slip prints next
    assert at_print[1].name == "printed" and "请取走号票" in slip_time and "正在打印告知单……" in slip_time
    assert p.screen().name == "result", (p.outcome.reason, p.outcome.detail, p.outcome.failures)
    assert "请取走号票" in [ln.text for ln in p.screen().lines]
    p.tap("done")
    hall.printers[0].cover_open = True
    seen.clear()
    p.tap("type:A")
    p.tap("take")
    assert ("printing", "A002") in seen
    s = p.screen()
    assert s.name == "failed" and s.big == "" and "作废" in s.lines[0].text  # withdrawn on screen


def test_a_throttled_kiosk_and_an_unknown_refusal_say_what_to_do(kiosk):
    p = kiosk.presenter
    real = kiosk.queue_client.issue
    answers = iter([{"ok": False, "error": {"code": "throttled", "message": "too fast", "retry_after": 20}},
                    {"ok": False, "error": {"code": "something_new", "message": "a new rule refused it"}}])
    kiosk.queue_client.issue = lambda *a, **kw: next(answers)
    p.tap("type:A")
    p.tap("take")
    s = p.screen()
    assert s.name == "refused" and s.title == "取号太频繁" and s.lines[0].text == "请稍等片刻再取号。"
    p.tap("back")
    p.tap("type:A")
    p.tap("take")
    s = p.screen()
    assert s.title == "未能取号" and [ln.text for ln in s.lines][0] == "请联系现场工作人员。"
    assert not any("rule" in ln.text for ln in s.lines)  # no English server words on a Chinese screen
    p.tap("lang")
    assert "a new rule refused it" in [ln.text for ln in p.screen().lines]
    kiosk.queue_client.issue = real


def test_at_lunch_the_real_engine_says_called_after_and_the_screen_shows_it(tmp_path):
    from onewindow import config

    sample = config.sample_path()
    text = sample.read_text(encoding="utf-8").replace(
        'catalogue = "county-catalogue.toml"', f'catalogue = "{sample.parent / "county-catalogue.toml"}"')
    text = text.replace('name_en = "Enrolment and changes"\nservice_minutes = 6',
                        'name_en = "Enrolment and changes"\nservice_minutes = 6\nissue_hours = ["08:00-17:30"]')
    (tmp_path / "site.toml").write_text(text, encoding="utf-8")
    site = config.load(tmp_path / "site.toml")
    lunch = datetime(2026, 11, 23, 12, 30, tzinfo=TZ)  # Monday: windows open again at 13:30
    hall = Hall(site, tmp_path, clock=lambda: lunch.timestamp(), always_open=False)
    try:
        rt = hall.kiosk(now=lambda: lunch)
        p = rt.presenter
        assert wait_until(lambda: p.screen().name == "home")
        p.tap("type:A")
        p.tap("take")
        s = p.screen()
        assert s.name == "result" and s.big == "A001", (s.name, s.title, [ln.text for ln in s.lines])
        assert s.lines[0].text == "13:30 后叫号"
        p.tap("lang")
        assert p.screen().lines[0].text == "Called after 13:30"
    finally:
        hall.stop()


def test_an_unanswered_take_repeated_after_going_back_is_the_same_request(kiosk, hall):
    p, q = kiosk.presenter, kiosk.queue_client
    real = hall.server_transport.publish
    hall.server_transport.publish = lambda topic, payload, **kw: None if topic == q.reply_to else real(topic, payload, **kw)
    p.tap("type:A")
    p.tap("item:CB-01")
    p.tap("take")
    assert p.screen().name == "unavailable"  # the server issued A001, its replies were lost
    hall.server_transport.publish = real
    p.tap("home")
    p.tap("type:A")
    p.tap("item:CB-01")
    p.tap("take")
    assert p.screen().big == "A001" and len(set(kiosk.client.issued_request_ids)) == 1
    p.tap("done")
    p.tap("type:A")
    p.tap("take")
    assert p.screen().big == "A002"  # a new citizen, a new intent
