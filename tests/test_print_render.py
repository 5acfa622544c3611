"""The renderer's bytes, command by command (as python-escpos tests its functions), and printer configs."""
from __future__ import annotations

import pytest

from hardware.fakes.printer import FakePrinter, PrintedImage
from hardware.printing import escpos as cmd
from hardware.printing.config import (PrinterConfigError, PrinterProfile, load_printers, parse_printers,
                                      parse_url, printer_from_url)
from hardware.printing.document import QR, Cut, Document, Feed, Rule, Text
from hardware.printing.render import RenderError, glyph, render

GB = PrinterProfile(80, "gb18030", native_qr=True, cutter=True)
IMG = PrinterProfile(80, "image", native_qr=True, cutter=True)


def doc(*blocks, paper=80):
    return Document(tuple(blocks), paper)


def test_ascii_text_goes_out_as_plain_bytes():
    assert render(doc(Text("A001")), GB) == cmd.INIT + b"A001\n"


def test_chinese_text_goes_out_as_gb18030_between_fs_and_and_fs_dot():
    out = render(doc(Text("参保登记"), Text("OK")), GB)
    assert out == cmd.INIT + b"\x1c&" + "参保登记".encode("gb18030") + b"\n\x1c.OK\n"


def test_full_width_punctuation_alone_is_still_gb18030_not_question_marks():
    out = render(doc(Text("（）：")), GB)
    assert "（）：".encode("gb18030") in out and b"?" not in out


def test_size_bold_and_alignment_are_set_only_when_they_change_and_reset_at_the_end():
    out = render(doc(Text("A001", 4, 4, True, "center"), Text("B", 4, 4, True, "center")), GB)
    assert out == (cmd.INIT + b"\x1ba\x01" + b"\x1bE\x01" + b"\x1d!\x33" + b"A001\n" + b"B\n"
                   + b"\x1ba\x00" + b"\x1bE\x00" + b"\x1d!\x00")


def test_a_rule_spans_the_paper():
    assert render(doc(Rule(), paper=58), PrinterProfile(58)) == cmd.INIT + b"-" * 32 + b"\n"


def test_native_qr_uses_gs_paren_k_model_2():
    out = render(doc(QR("hello", module=6, ecc="M")), GB)
    assert b"\x1d(k\x04\x001A2\x00" in out                 # model 2
    assert b"\x1d(k\x03\x001C\x06" in out                  # module size 6
    assert b"\x1d(k\x03\x001E1" in out                     # error correction M
    assert b"\x1d(k\x08\x001P0hello" in out                # store 5 bytes (+3)
    assert out.index(b"\x1d(k\x03\x001Q0") > out.index(b"1P0hello")  # then print


def test_a_qr_code_is_a_picture_for_printers_without_native_qr():
    out = render(doc(QR("hello")), PrinterProfile(80, "gb18030", native_qr=False))
    assert b"\x1d(k" not in out and b"\x1dv0\x00" in out


def test_cut_feeds_and_cuts_or_only_feeds_without_a_cutter():
    assert render(doc(Cut()), GB).endswith(b"\x1dVB\x04")
    assert render(doc(Cut(partial=False)), GB).endswith(b"\x1dVA\x04")
    no_cutter = render(doc(Cut()), PrinterProfile(80, "gb18030", cutter=False))
    assert b"\x1dV" not in no_cutter and b"\x1bd\x05" in no_cutter


def test_feed_is_esc_d():
    assert render(doc(Feed(3)), GB) == cmd.INIT + b"\x1bd\x03"


def test_image_mode_sends_chinese_lines_as_one_raster_and_ascii_as_text():
    out = render(doc(Text("参保登记"), Text("办理"), Text("A001")), IMG)
    assert b"\x1c&" not in out and "参".encode("gb18030") not in out
    # 2 lines x 30 dots high; 4 characters x 24 dots = 96 dots = 12 bytes wide (blank right side dropped)
    head = b"\x1dv0\x00" + (12).to_bytes(2, "little") + (60).to_bytes(2, "little")
    assert out.startswith(cmd.INIT + head) and out.endswith(b"A001\n")
    assert len(out) == len(cmd.INIT) + len(head) + 12 * 60 + len(b"A001\n")


def test_a_centred_picture_keeps_its_place():
    out = render(doc(Text("参", align="center")), IMG)
    width_bytes = int.from_bytes(out[len(cmd.INIT) + 4:len(cmd.INIT) + 6], "little")
    assert 288 + 12 <= width_bytes * 8 < 288 + 12 + 8  # up to the right edge of the centred character


def test_tall_pictures_are_sent_in_bands_the_printer_can_buffer():
    lines = [Text(f"第{i}行") for i in range(20)]  # 20 x 30 = 600 rows
    out = render(doc(*lines), IMG)
    assert out.count(b"\x1dv0\x00") == 3


def test_glyphs_sit_on_the_printers_12_and_24_dot_grid():
    assert glyph("A").size == (12, 24) and glyph("参").size == (24, 24)
    assert glyph("A", 4, 4).size == (48, 96) and glyph("参", 2, 1).size == (48, 24)
    assert glyph("参").getbbox() is not None  # it has ink


def test_what_the_renderer_sends_the_fake_printer_reads_back():
    fake = FakePrinter(80)
    fake.feed(render(doc(Text("示范县", 2, 2, True, "center"), Text("A001", 4, 4), Cut()), GB))
    assert fake.lines() == ["示范县", "A001"]
    first = fake.find("示范县")
    assert (first.width, first.height, first.bold, first.align, first.dots) == (2, 2, True, "center", 144)
    assert fake.cuts() == 1 and fake.unknown == []


def test_the_renderer_refuses_a_document_for_other_paper_or_a_line_too_wide():
    with pytest.raises(RenderError, match="58 mm"):
        render(doc(Text("x"), paper=58), GB)
    with pytest.raises(RenderError, match="columns"):
        render(doc(Text("参" * 25)), GB)
    with pytest.raises(RenderError, match="magnification"):
        render(doc(Text("x", 9, 1)), GB)


def test_an_image_block_prints_dark_pixels():
    from PIL import Image as PILImage

    from hardware.printing.document import Image

    img = PILImage.new("L", (100, 10), 255)
    img.paste(0, (0, 0, 50, 10))
    fake = FakePrinter(80)
    fake.feed(render(doc(Image(img, align="left")), GB))
    [pic] = [r for r in fake.printed() if isinstance(r, PrintedImage)]
    assert pic.image.getpixel((10, 5)) and not pic.image.getpixel((52, 5))
    assert pic.image.width == 56  # the blank right half is not sent


# ---------------------------------------------------------------- printer configuration

def test_printer_tables_parse_into_profiles_and_endpoints():
    printers = parse_printers([
        {"id": "kiosk-1", "url": "serial:///dev/ttyUSB0?baudrate=19200", "paper": 58, "fallback": "kiosk-1b"},
        {"id": "kiosk-1b", "url": "tcp://10.0.0.5", "chinese_font": False, "native_qr": False, "cutter": False},
        {"id": "usb", "url": "usb://0x0416:0x5011?out_ep=0x03"},
        {"id": "lp", "url": "file:///dev/usb/lp0"},
    ])
    a, b, u, f = printers
    assert (a.endpoint.scheme, a.endpoint.target, a.endpoint.options["baudrate"]) == ("serial", "/dev/ttyUSB0", 19200)
    assert a.profile == PrinterProfile(58, "gb18030", True, True) and a.fallback == "kiosk-1b"
    assert (b.endpoint.target, b.endpoint.port, b.profile.text_mode) == ("10.0.0.5", 9100, "image")
    assert u.endpoint.options == {"out_ep": 3, "vendor_id": 0x0416, "product_id": 0x5011}
    assert f.status is False and a.status is True  # /dev/usb/lp0 cannot answer status queries


@pytest.mark.parametrize("table, key, why", [
    ({"id": "p", "url": "serial://dev/ttyUSB0"}, "printer 'p'.url", "three slashes"),
    ({"id": "p", "url": "serial:///dev/ttyUSB0?baudrate=12345"}, "printer 'p'.url?baudrate", "must be one of"),
    ({"id": "p", "url": "serial:///dev/ttyUSB0?speed=9600"}, "printer 'p'.url?speed", "unknown option"),
    ({"id": "p", "url": "tcp://:9100"}, "printer 'p'.url", "needs a host"),
    ({"id": "p", "url": "tcp://host:99999"}, "printer 'p'.url", "port"),
    ({"id": "p", "url": "usb://0416:5011"}, "printer 'p'.url", "vendor and product id"),
    ({"id": "p", "url": "lpt://1"}, "printer 'p'.url", "unknown scheme"),
    ({"id": "p", "url": "/dev/usb/lp0"}, "printer 'p'.url", "must be a URL"),
    ({"id": "p", "url": "file:///x", "paper": 76}, "printer 'p'.paper", "58 or 80"),
    ({"id": "p", "url": "file:///x", "text_mode": "gb18030", "chinese_font": False}, "printer 'p'.text_mode",
     "Chinese font"),
    ({"id": "p", "url": "file:///x", "timeout_ms": 5000}, "printer 'p'.timeout_ms", "2000"),
    ({"id": "p", "url": "file:///x", "cuter": True}, "printer 'p'.cuter", "unknown key"),
    ({"id": "p", "url": "file:///x", "fallback": "p"}, "printer 'p'.fallback", "its own fallback"),
    ({"id": "p", "url": "file:///x", "fallback": "q"}, "printer 'p'.fallback", "not a printer id"),
    ({"id": "bad id", "url": "file:///x"}, "printer 'bad id'.id", "is required"),
    ({"id": "p", "url": "file:///x", "cutter": "yes"}, "printer 'p'.cutter", "true or false"),
    ({"id": "p", "url": "tcp://h", "speed_mm_s": 0}, "printer 'p'.speed_mm_s", "10 to 500"),
    ({"id": "p", "url": "tcp://h", "confirm": 1}, "printer 'p'.confirm", "true or false"),
    ({"id": "p", "url": "file:///dev/usb/lp0", "status": True}, "printer 'p'.status", "cannot answer status"),
])
def test_a_broken_printer_table_is_reported_by_printer_and_key(table, key, why):
    with pytest.raises(PrinterConfigError) as exc:
        parse_printers([table], source="kiosk.toml")
    assert any(k == key and why in w for k, _, w in exc.value.errors), exc.value.errors
    assert str(exc.value).startswith("kiosk.toml: ")


def test_every_problem_is_reported_at_once():
    with pytest.raises(PrinterConfigError) as exc:
        parse_printers([{"id": "a", "url": "lpt://1", "paper": 1}, {"id": "a", "url": "file:///x"}])
    keys = [k for k, _, _ in exc.value.errors]
    assert "printer 'a'.url" in keys and "printer 'a'.paper" in keys and "printer 'a'.id" in keys


def test_printers_load_from_a_toml_file(tmp_path):
    f = tmp_path / "kiosk.toml"
    f.write_text('[[printer]]\nid = "k1"\nurl = "tcp://127.0.0.1:9100"\npaper = 58\n', encoding="utf-8")
    assert load_printers(f)[0].profile.paper_mm == 58
    with pytest.raises(PrinterConfigError, match="does not exist"):
        load_printers(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[[printer]\n", encoding="utf-8")
    with pytest.raises(PrinterConfigError, match="not valid TOML"):
        load_printers(tmp_path / "bad.toml")


def test_a_one_off_printer_from_a_url():
    p = printer_from_url("tcp://10.0.0.5:9101", 58, "image")
    assert (p.endpoint.port, p.profile.paper_mm, p.profile.text_mode) == (9101, 58, "image")
    endpoint, errors = parse_url("serial:///dev/ttyS0?parity=E&stopbits=2&rtscts=1")
    assert errors == [] and endpoint.options == {"parity": "E", "stopbits": 2, "rtscts": True}
