"""`onewindow print-sample` and the docs pictures: what an installer and a README reader see."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import zxingcpp
from PIL import Image

from hardware.fakes.printer import FakePrinter
from cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def test_print_sample_renders_the_longest_item_to_a_png(tmp_path, capsys):
    out = tmp_path / "sample.png"
    assert main(["print-sample", "--fake-png", str(out), "--width", "58", "--lang", "en"]) == 0
    assert "2 slip(s)" in capsys.readouterr().out
    codes = [r.text for r in zxingcpp.read_barcodes(Image.open(out))]
    assert codes == ["demo-county:2026-11-23:D005:0", "https://ybfw.example.gov.cn/guide/HB:2036023002"]


def test_print_sample_prints_on_a_real_port(capsys):
    with FakePrinter(80, transport="tcp") as fake:
        code = main(["print-sample", "--printer", fake.url, "--item", "CB-01", "--text-mode", "image", "--refusal"])
        fake.wait_idle()
        assert code == 0 and fake.cuts() == 3
    out = capsys.readouterr().out
    assert ": ok" in out and "printed the ticket" in out and "printed the notice slip" in out


def test_print_sample_explains_a_dead_printer_and_fails(capsys):
    fake = FakePrinter(80, transport="tcp").start()
    fake.paper_out = True
    try:
        assert main(["print-sample", "--printer", fake.url]) == 1
    finally:
        fake.stop()
    out = capsys.readouterr().out
    assert "paper_out" in out and "FAILED to print the ticket: out of paper" in out


def test_print_sample_reports_a_bad_url_or_item(capsys):
    assert main(["print-sample", "--printer", "lpt://1"]) == 1
    assert "unknown scheme" in capsys.readouterr().out
    assert main(["print-sample", "--fake-png", "x.png", "--item", "NOPE"]) == 1
    assert "no item 'NOPE'" in capsys.readouterr().out


def test_the_docs_pictures_are_made_by_the_code(tmp_path):
    spec = importlib.util.spec_from_file_location("make_images", ROOT / "docs" / "make_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.main(tmp_path)
    assert {p.name for p in written} == {name for name, *_ in module.PICTURES} | {"ticket-zh-80mm-lunch-break.png"}
    for p in written:  # and every one of them is committed for the README
        assert (ROOT / "docs" / "images" / p.name).is_file(), p.name
    ticket = [r.text for r in zxingcpp.read_barcodes(Image.open(tmp_path / "ticket-zh-80mm.png"))]
    assert ticket == ["demo-county:2026-11-23:D005:0"]
    lunch = [r.text for r in zxingcpp.read_barcodes(Image.open(tmp_path / "ticket-zh-80mm-lunch-break.png"))]
    assert lunch == ["https://ybj.example.gov.cn/hall/t/demo-county:2026-11-23:D005"]
