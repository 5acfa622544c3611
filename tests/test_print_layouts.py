"""Every layout, at both paper widths, in Chinese and English, in both text modes, for the longest item,
printed on the fake printer and read back the way a citizen would read it."""
from __future__ import annotations

from datetime import datetime

import pytest
import zxingcpp

from hardware.fakes.printer import FakePrinter, PrintedImage, PrintedLine
from hardware.printing import layouts
from hardware.printing.checkdigit import parse_ticket_code
from hardware.printing.config import PrinterProfile
from hardware.printing.render import render
from hardware.printing.samples import sample_ticket, sample_time
from hardware.printing.textwidth import text_width
from tests.support import county_site as county, village_site as village

WIDTHS = (58, 80)
LANGS = ("zh", "en")
MODES = ("gb18030", "image")


def longest(site):
    return site.catalogue.longest_item()


def print_on_fake(doc, mode: str, native_qr: bool = True) -> FakePrinter:
    fake = FakePrinter(doc.paper_mm, chinese_font=mode == "gb18030")
    fake.feed(render(doc, PrinterProfile(doc.paper_mm, mode, native_qr, True)))
    return fake


def qr_texts(fake: FakePrinter) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(fake.roll_image())]


def assert_fits_the_paper(fake: FakePrinter) -> None:
    assert fake.unknown == [], f"commands the printer did not understand: {fake.unknown}"
    for r in fake.printed():
        if isinstance(r, PrintedLine):
            assert not r.wrapped, f"the printer had to wrap {r.text!r}"
            assert r.dots <= fake.dots, f"{r.text!r} is {r.dots} dots wide on {fake.dots}-dot paper"
        elif isinstance(r, PrintedImage):
            assert not r.too_wide and r.image.width <= fake.dots


def ticket_doc(site, lang, paper, **over):
    t = sample_ticket(site, longest(site))
    t.update(over)
    return layouts.ticket(site, t, lang, paper), t


@pytest.mark.parametrize("paper", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("mode", MODES)
def test_a_ticket_fits_the_paper_shows_the_number_large_and_its_qr_code_checks(paper, lang, mode):
    site = county()
    doc, t = ticket_doc(site, lang, paper)
    fake = print_on_fake(doc, mode)
    assert_fits_the_paper(fake)
    number = fake.find(t["number"])
    assert number is not None and number.text.strip() == t["number"]
    assert (number.width, number.height) == (4, 4) and number.bold and number.align == "center"
    codes = qr_texts(fake)
    assert len(codes) == 1 and parse_ticket_code(codes[0]) == t["id"]
    assert fake.cuts() == 1
    if mode == "gb18030":  # every word is there as text
        text = fake.text()
        if lang == "zh":
            assert "您前面还有 4 人" in text and "预计等候约" in text and "2026-11-23 09:01" in text
            assert "顺延 3 位" in text.replace("\n", "")  # the county hall requeues missed numbers
        else:
            assert "People ahead of you: 4" in text and "about 24 min" in text
            assert "goes 3 places back" in " ".join(fake.lines())
        assert (site.name if lang == "zh" else site.name_en).split()[0] in text


@pytest.mark.parametrize("paper", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("mode", MODES)
def test_the_notice_slip_of_the_longest_item_fits_and_links_to_the_item_online(paper, lang, mode):
    site = county()
    item = longest(site)
    doc = layouts.notice_slip(site, item, sample_time(site), lang, paper)
    fake = print_on_fake(doc, mode)
    assert_fits_the_paper(fake)
    assert qr_texts(fake) == [site.catalogue.url_for(item)]
    assert fake.cuts() == 1
    if mode == "gb18030":
        text = fake.text()
        assert ("打印时间：2026-11-23 09:01" if lang == "zh" else "Printed: 2026-11-23 09:01") in text
        assert site.phone_enquiry in text and site.phone_complaint in text
        assert item.code in text


@pytest.mark.parametrize("paper", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_a_material_never_parts_from_its_copy_count(paper, lang):
    site = county()
    item = longest(site)
    fake = print_on_fake(layouts.notice_slip(site, item, sample_time(site), lang, paper), "gb18030")
    lines = fake.lines()
    for m in item.materials:
        count = layouts.material_parts(m, lang)[1].text.strip()
        holders = [ln for ln in lines if count in ln]
        assert holders, f"{count!r} not printed whole on one line"
        # the count shares its line with the end of the material's name
        name = m.name if lang == "zh" else m.name_en
        tail = name.split()[-1] if lang == "en" else name[-1]
        assert any(tail in ln for ln in holders), f"{count!r} is alone, away from {name!r}"


@pytest.mark.parametrize("paper", WIDTHS)
def test_the_chinese_slip_lists_every_material_step_and_condition(paper):
    site = county()
    item = longest(site)
    fake = print_on_fake(layouts.notice_slip(site, item, sample_time(site), "zh", paper), "gb18030")
    flat = "".join(ln.strip() for ln in fake.lines())
    for text in [item.name, *item.conditions, *item.steps, item.fee, item.time_limit,
                 *(m.name for m in item.materials), *(m.issuer for m in item.materials if m.issuer)]:
        assert text.replace(" ", "") in flat.replace(" ", ""), text
    assert f"共 {len(item.materials)} 项" in flat.replace("（共", "共")


@pytest.mark.parametrize("paper", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("mode", MODES)
def test_a_refusal_slip_says_why_and_when_tickets_are_issued_again(paper, lang, mode):
    site = county()
    now = datetime(2026, 11, 23, 16, 40, tzinfo=site.tz)
    doc = layouts.refusal_slip(site, "quota_reached", now, next_open="2026-11-24T08:30:00+08:00",
                               business_type="F", lang=lang, paper=paper)
    fake = print_on_fake(doc, mode)
    assert_fits_the_paper(fake)
    assert fake.cuts() == 1
    if mode == "gb18030":
        text = fake.text()
        assert "2026-11-24 08:30" in text  # never split: it is kept on one line
        assert ("号源已发完" if lang == "zh" else "all been issued") in text.replace("\n", " ")


def test_an_unknown_refusal_code_prints_the_servers_message():
    site = county()
    doc = layouts.refusal_slip(site, "site_on_fire", sample_time(site), message="evacuation drill", lang="en",
                               paper=80)
    assert any("evacuation drill" in line for line in doc.lines())
    assert any("Please ask staff" in line for line in doc.lines())  # no next_open: ask staff


def test_a_village_ticket_says_a_missed_number_is_void():
    site = village()
    doc, _ = ticket_doc(site, "zh", 58)
    fake = print_on_fake(doc, "gb18030")
    assert "过号作废" in "".join(fake.lines())
    doc, _ = ticket_doc(site, "en", 58)
    assert "void" in " ".join(doc.lines())


def test_every_item_of_both_samples_lays_out_on_58mm_paper_in_both_languages():
    for site in (county(), village()):
        for item in site.catalogue.items:
            for lang in LANGS:
                doc = layouts.notice_slip(site, item, sample_time(site), lang, 58)
                assert doc.check() == [], (item.code, lang)
                assert all(text_width(line) <= 32 * 2 for line in doc.lines())


def test_a_ticket_with_nobody_ahead_and_a_priority_group():
    site = county()
    doc, _ = ticket_doc(site, "zh", 80, ahead=0, priority_group="elderly", estimated_wait_min=0.0)
    lines = doc.lines()
    assert "您前面没有人，请留意叫号" in lines and "优先：老年人优先" in lines
    assert not any("预计等候" in line for line in lines)


def test_images_are_qr_codes_when_the_printer_has_no_native_qr():
    site = county()
    doc, t = ticket_doc(site, "zh", 58)
    fake = print_on_fake(doc, "image", native_qr=False)
    assert_fits_the_paper(fake)
    assert [parse_ticket_code(c) for c in qr_texts(fake)] == [t["id"]]
    assert all(r.kind == "raster" for r in fake.printed() if isinstance(r, PrintedImage))


def test_image_mode_sends_no_gb18030_so_a_printer_without_a_chinese_font_prints_no_junk():
    site = county()
    doc, _ = ticket_doc(site, "zh", 80)
    fake = print_on_fake(doc, "image")
    assert all(line.isascii() for line in fake.lines())  # Chinese lines came as pictures
    assert fake.find("D005") is not None
    # ... whereas GB18030 text on that printer is junk: the failure this mode prevents
    junk = FakePrinter(80, chinese_font=False)
    junk.feed(render(doc, PrinterProfile(80, "gb18030")))
    assert "示范县" not in junk.text() and junk.lines()[0] != site.name


def test_layouts_refuse_an_unknown_language_or_paper():
    site = county()
    with pytest.raises(ValueError):
        layouts.ticket(site, sample_ticket(site), "fr", 80)
    with pytest.raises(ValueError):
        layouts.notice_slip(site, longest(site), sample_time(site), "zh", 76)


def test_the_sample_slip_renders_to_a_readable_png(tmp_path):
    site = county()
    doc = layouts.notice_slip(site, longest(site), sample_time(site), "zh", 80)
    fake = print_on_fake(doc, "gb18030")
    out = tmp_path / "slip.png"
    fake.save_png(out)
    from PIL import Image

    img = Image.open(out)
    assert img.width == 576 + 32 and img.height > 1000
