"""What the paper says is true: the business type's issuing hours (Saturday as it really is), no control
characters from the catalogue, a QR code only where something reads it, and "called after" when the
windows are closed for a break."""
from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
import zxingcpp

from hardware.fakes.printer import FakePrinter
from hardware.printing import layouts
from hardware.printing.config import PrinterProfile
from hardware.printing.document import Document, Text
from hardware.printing.render import render
from hardware.printing.samples import sample_ticket, sample_time
from onewindow import config
from onewindow.catalogue import load_catalogue_data
from tests.support import county_site as county


def printed(doc, mode="gb18030") -> FakePrinter:
    fake = FakePrinter(doc.paper_mm, chinese_font=mode == "gb18030")
    fake.feed(render(doc, PrinterProfile(doc.paper_mm, mode, True, True)))
    return fake


def slip_hours(site, item, lang="zh") -> list[str]:
    lines = printed(layouts.notice_slip(site, item, sample_time(site), lang, 80)).lines()
    start = lines.index("【取号时间】" if lang == "zh" else "[Tickets issued]")
    return lines[start + 1:start + 3]


def test_the_notice_slip_prints_the_business_types_issuing_hours_not_the_halls():
    site = county()
    item = next(i for i in site.catalogue.items if i.business_type == "F")  # issues 08:30-11:30, 13:30-16:30
    hours = slip_hours(site, item)
    assert hours[0] == "周一至周五 08:30-11:30, 13:30-16:30"
    assert "17:30" not in " ".join(hours)


def test_saturday_is_printed_as_saturday_hours_not_as_ordinary_hours():
    site = county()  # the hall opens Saturday 09:00-12:00 only
    item = next(i for i in site.catalogue.items if i.business_type == "F")
    assert slip_hours(site, item) == ["周一至周五 08:30-11:30, 13:30-16:30", "周六 09:00-11:30"]
    assert slip_hours(site, item, "en")[1] == "Sat 09:00-11:30"
    other = next(i for i in site.catalogue.items if i.business_type == "A")  # no issuing hours of its own
    assert slip_hours(site, other) == ["周一至周五 08:30-12:00, 13:30-17:30", "周六 09:00-12:00"]


def test_the_catalogue_refuses_control_characters_naming_the_item_and_field():
    raw = {"item": [{"code": "X-1", "business_type": "A", "name": "参保登记\x1bd\xff",
                     "steps": ["取号", "窗口\n办理"], "material": [{"name": "身份证\x0c"}]}]}
    _, errors = load_catalogue_data(raw, ["A"])
    keys = {k for k, _, why in errors if "control characters" in why}
    assert keys == {"item 'X-1'.name", "item 'X-1'.steps[1]", "item 'X-1'.material[0].name"}
    assert any("U+001B at 4" in why for _, _, why in errors)


@pytest.mark.parametrize("mode", ["gb18030", "image"])
def test_control_characters_that_reach_the_renderer_are_dropped(mode):
    doc = Document((Text("参保\x1bd\xff登记"), Text("A\x1dVB\x00001\n")), 80)
    out = render(doc, PrinterProfile(80, mode))
    fake = printed(doc, mode)
    assert fake.unknown == [] and fake.cuts() == 0 and b"\x1bd\xff" not in out
    if mode == "gb18030":
        assert fake.lines() == ["参保dÿ登记", "AVB001"]  # ÿ (U+00FF) is a letter, ESC is not


def test_with_a_public_address_the_tickets_qr_links_to_its_ticket_page():
    site = dataclasses.replace(county(), public_url="https://hall.example.cn")
    t = sample_ticket(site, site.catalogue.longest_item())
    fake = printed(layouts.ticket(site, t, "zh", 80))
    codes = [r.text for r in zxingcpp.read_barcodes(fake.roll_image())]
    assert codes == [f"https://hall.example.cn/t/{t['id']}"]
    assert "凭此码查询排队进度" in fake.text()


def test_without_a_public_address_the_ticket_claims_nothing_about_its_qr():
    site = county()
    assert site.public_url == ""
    for lang in ("zh", "en"):
        text = printed(layouts.ticket(site, sample_ticket(site), lang, 80)).text()
        assert "凭此码" not in text and "Scan" not in text


def test_the_site_config_checks_its_public_address(tmp_path):
    text = config.sample_path().read_text(encoding="utf-8").replace(
        'phone_enquiry = "12393"', 'phone_enquiry = "12393"\npublic_url = "hall.example.cn/queue"')
    (tmp_path / "site.toml").write_text(text, encoding="utf-8")
    for name in ("county-catalogue.toml",):
        (tmp_path / name).write_text((config.sample_path().parent / name).read_text(encoding="utf-8"))
    with pytest.raises(config.ConfigError) as exc:
        config.load(tmp_path / "site.toml")
    assert "site.public_url" in str(exc.value)


@pytest.mark.parametrize("lang, expected", [("zh", "13:30 后叫号"), ("en", "Called after 13:30")])
def test_a_ticket_issued_while_its_windows_are_closed_says_when_it_will_be_called(lang, expected):
    site = county()
    t = sample_ticket(site, now=datetime(2026, 11, 23, 12, 10, tzinfo=site.tz))
    t["called_after"] = "2026-11-23T13:30:00+08:00"
    line = printed(layouts.ticket(site, t, lang, 80)).find(expected)
    assert line is not None and line.bold
    t.pop("called_after")
    assert printed(layouts.ticket(site, t, lang, 80)).find(expected) is None


def test_called_after_on_another_day_names_the_day():
    site = county()
    t = sample_ticket(site, now=datetime(2026, 11, 23, 17, 10, tzinfo=site.tz))
    t["called_after"] = "2026-11-24T08:30:00+08:00"
    assert printed(layouts.ticket(site, t, "zh", 58)).find("11-24 08:30 后叫号") is not None


def test_a_refusal_slip_for_a_business_type_gives_its_issuing_hours():
    site = county()
    doc = layouts.refusal_slip(site, "outside_hours", datetime(2026, 11, 28, 14, 0, tzinfo=site.tz),
                               next_open="2026-11-30T08:30:00+08:00", business_type="F")
    lines = printed(doc).lines()
    start = lines.index("【取号时间】")
    assert lines[start + 1:start + 3] == ["周一至周五 08:30-11:30, 13:30-16:30", "周六 09:00-11:30"]
