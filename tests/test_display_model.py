"""The hall display's view model, from retained state and call events (no Kivy, no broker)."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from display.model import DisplayModel, format_wait, notice_text
from display.zones import Zone, ZoneError, load_zones, parse_zone

DAY = "2026-11-23"


def call(number: str, window: int, calls: int = 1, day: str = DAY) -> dict:
    return {"v": 1, "ticket": f"demo-county:{day}:{number}", "number": number, "window": window,
            "window_name": f"{window}号窗口", "calls": calls, "recall": calls > 1, "at": f"{day}T09:05:00+08:00",
            "text_zh": f"请 {number} 号到 {window} 号窗口办理", "text_en": f"Number {number}, please go to window {window}"}


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def model(clock):
    m = DisplayModel(highlight_seconds=8, clock=clock)
    m.set_connected(True)
    m.apply_state(("site",), {"name": "示范县医疗保障服务大厅", "name_en": "Demo County Hall", "service_day": DAY,
                              "windows": [{"window": 1, "serves": ["A", "B"]}, {"window": 2, "serves": ["C"]}]})
    m.apply_state(("display",), {"service_day": DAY, "calls": [], "windows": []})
    return m


def test_a_new_call_is_the_headline_and_highlighted_for_a_few_seconds(model, clock):
    heard = []
    model.on_new_call(heard.append)
    model.apply_call_payload(json.dumps(call("A023", 3)).encode())
    v = model.view(datetime(2026, 11, 23, 9, 5, 7))
    assert v.headline.number == "A023" and v.headline.window == 3 and v.highlighted
    assert [c.number for c in heard] == ["A023"]
    clock.t += 9
    assert not model.view().highlighted
    assert model.view().headline.number == "A023"


def test_recent_calls_list_each_ticket_once_newest_first(model):
    for number, window in [("A001", 1), ("B001", 2), ("A002", 1)]:
        model.apply_call_payload(call(number, window))
    model.apply_call_payload(call("B001", 2, calls=2))  # a recall of B001
    v = model.view()
    assert v.headline.number == "B001" and v.headline.calls == 2
    assert [c.number for c in v.recent] == ["A002", "A001"]


def test_a_display_started_late_is_whole_from_retained_state_but_announces_nothing(clock):
    m = DisplayModel(clock=clock)
    heard = []
    m.on_new_call(heard.append)
    m.apply_state(("display",), {"service_day": DAY, "calls": [call("A002", 1), call("A001", 2)],
                                 "windows": [{"window": 1, "name": "1号窗口", "state": "calling", "number": "A002"}]})
    m.apply_state(("queue", "A"), {"name": "参保登记", "name_en": "Enrolment", "waiting": 4, "estimated_wait_min": 12.4})
    v = m.view()
    assert v.headline.number == "A002" and not v.highlighted
    assert [c.number for c in v.recent] == ["A001"]
    assert v.windows[0].ticket == "A002" and v.windows[0].state_zh == "正在呼叫"
    assert v.queues[0].waiting == 4 and format_wait(v.queues[0].wait_min) == ("约 12 分钟", "about 12 min")
    assert heard == []
    # a call missed while the display was away arrives in the next retained state: it is announced
    m.apply_state(("display",), {"service_day": DAY, "calls": [call("A003", 2), call("A002", 1), call("A001", 2)]})
    assert [c.number for c in heard] == ["A003"]


def test_a_call_event_and_the_same_call_in_the_retained_state_are_one_call(model):
    heard = []
    model.on_new_call(heard.append)
    model.apply_call_payload(call("A001", 1))
    model.apply_state(("display",), {"service_day": DAY, "calls": [call("A001", 1)]})
    assert len(heard) == 1 and model.view().recent == ()


def test_a_new_service_day_clears_yesterdays_calls(model):
    model.apply_call_payload(call("A009", 1))
    model.apply_state(("display",), {"service_day": "2026-11-24", "calls": []})
    assert model.view().headline is None
    model.apply_call_payload(call("A010", 1))  # a late event of yesterday
    assert model.view().headline is None
    model.apply_call_payload(call("A001", 1, day="2026-11-24"))
    assert model.view().headline.number == "A001"


def test_a_call_of_a_new_day_also_starts_the_day(model):
    model.apply_call_payload(call("A009", 1))
    model.apply_call_payload(call("A001", 2, day="2026-11-24"))
    v = model.view()
    assert v.headline.number == "A001" and v.recent == () and v.service_day == "2026-11-24"


def test_connection_lost_is_shown_and_the_last_state_kept(model):
    model.apply_call_payload(call("A001", 1))
    model.set_connected(False)
    v = model.view()
    assert v.connection_lost and v.headline.number == "A001"
    model.set_connected(True)
    assert not model.view().connection_lost


def test_bad_messages_are_ignored(model):
    model.apply_call_payload(b"not json")
    model.apply_call_payload(b"[1, 2]")
    model.apply_call_payload({"number": 5, "window": "x"})
    model.apply_state(("display",), {"service_day": DAY, "calls": ["junk", {"number": "A1"}], "windows": "x"})
    assert model.view().headline is None


def test_a_zone_shows_only_its_windows_and_business_types(clock):
    m = DisplayModel(parse_zone("windows=1"), clock=clock)
    heard = []
    m.on_new_call(heard.append)
    m.apply_state(("site",), {"service_day": DAY, "windows": [{"window": 1, "serves": ["A", "B"]},
                                                              {"window": 2, "serves": ["C"]}]})
    m.apply_state(("display",), {"service_day": DAY, "calls": []})
    for p in "ABC":
        m.apply_state(("queue", p), {"name": p, "waiting": 1})
    m.apply_state(("window", "1"), {"name": "1号窗口", "state": "idle"})
    m.apply_state(("window", "2"), {"name": "2号窗口", "state": "idle"})
    m.apply_call_payload(call("A001", 1))
    m.apply_call_payload(call("C001", 2))
    v = m.view()
    assert v.headline.number == "A001" and v.recent == ()
    assert [w.number for w in v.windows] == [1]
    assert [q.prefix for q in v.queues] == ["A", "B"]
    assert [c.number for c in heard] == ["A001"]
    typed = DisplayModel(parse_zone("types=C"), clock=clock)
    typed.apply_call_payload(call("A001", 1))
    typed.apply_call_payload(call("C001", 2))
    assert typed.view().headline.number == "C001"


def test_zone_specs_and_zones_file(tmp_path):
    assert parse_zone(None) == Zone()
    z = parse_zone("windows=1-3,7;types=A,B")
    assert z.windows == {1, 2, 3, 7} and z.business_types == {"A", "B"}
    for bad in ("windows=x", "types=a1", "colour=red", "east"):
        with pytest.raises(ZoneError):
            parse_zone(bad)
    f = tmp_path / "zones.toml"
    f.write_text('[zone.east]\nwindows = [1, 2]\n[zone.firms]\ntypes = ["F"]\n', encoding="utf-8")
    assert parse_zone("east", f).windows == {1, 2}
    assert load_zones(f)["firms"].business_types == {"F"}
    with pytest.raises(ZoneError):
        parse_zone("west", f)


def test_notice_and_date():
    assert notice_text("  午休 12:00-13:30 ") == "午休 12:00-13:30"
    assert notice_text({"text_zh": "今日停电", "text_en": "Power cut today"}) == "今日停电    Power cut today"
    assert notice_text(None) == "" and notice_text(5) == ""
    m = DisplayModel()
    m.apply_state(("display",), {"notice": {"text": "请保管好随身物品"}})
    v = m.view(datetime(2026, 11, 23, 9, 5, 7))
    assert v.notice == "请保管好随身物品" and v.clock == "09:05"
    assert v.date_zh == "2026年11月23日 星期一" and v.date_en == "Mon 23 Nov 2026"
    assert v.connection_lost  # not yet connected


def test_a_queue_server_gone_offline_is_shown_while_the_broker_stays(model):
    model.apply_call_payload(call("A001", 1))
    model.apply_state(("presence", "kiosk-1"), {"client": "kiosk-1", "role": "kiosk", "state": "offline"})
    assert not model.view().server_offline  # a kiosk is not the server
    model.apply_state(("presence", "server-demo"), {"client": "server-demo", "role": "server", "state": "online"})
    assert not model.view().server_offline
    model.apply_state(("presence", "server-demo"), {"client": "server-demo", "role": "server", "state": "offline"})
    v = model.view()
    assert v.server_offline and not v.connection_lost and v.headline.number == "A001"
    model.apply_state(("presence", "server-demo"), {"client": "server-demo", "role": "server", "state": "online"})
    assert not model.view().server_offline
