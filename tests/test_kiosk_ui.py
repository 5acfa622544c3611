"""The real Kivy kiosk app, tapped through with simulated touches (each run in its own process:
Kivy keeps one window per process). Against a real server and Mosquitto the ticket the fake printer
received carries the number the screen showed; screenshots of every screen in both languages; every
touch target at least 15 mm; every text colour at least 4.5:1 on its background; one real X window."""
from __future__ import annotations

import sys
import shutil
from pathlib import Path

from PIL import Image

from hardware.fakes.printer import FakePrinter
from kiosk import theme
from kiosk.settings import KioskSettings
from tests.server_process import ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import make_kiosk_screens  # noqa: E402

SCREENS = ["home", "items", "notice", "result", "refused", "out-of-service", "failed", "uncertain"]


def test_every_text_colour_reads_at_least_4_5_to_1():
    for name, (fg, bg) in theme.PAIRS.items():
        assert theme.contrast(fg, bg) >= 4.5, f"{name}: {fg} on {bg} is {theme.contrast(fg, bg):.2f}:1"
    assert round(theme.contrast("#000000", "#FFFFFF"), 1) == 21.0
    assert theme.contrast("#777777", "#FFFFFF") < 4.5  # the check can fail


def test_button_sizes_in_the_theme_are_at_least_15_mm():
    for key in ("choice_height", "primary_height", "toggle_height", "nav_height"):
        assert theme.SIZES_MM[key] >= 15
    s = KioskSettings(screen_px=(1920, 1080), screen_mm=(476, 268))
    assert round(s.min_target_px) == round(15 * 1080 / 268)


def _targets_ok(result):
    small = [t for t in result["targets"] if min(t["w"], t["h"]) < result["min_target_px"]]
    assert result["targets"] and not small, f"touch targets under 15 mm: {small}"


def test_a_citizen_taps_home_item_take_against_the_real_server_and_mosquitto(tmp_path, broker):
    server = ServerProcess(broker.url, tmp_path / "queue.db").start()
    printer = FakePrinter(paper_mm=80, transport="tcp", name="ui").start()
    try:
        r = make_kiosk_screens.run_tour(["--broker", broker.url, "--printer", printer.url, "--script", "basic"],
                                        tmp_path / "basic.json")
        assert r["errors"] == [], r["errors"]
        assert [s["name"] for s in r["screens"]] == ["home", "items", "notice", "result"]
        assert r["numbers"] == ["A001"]
        printer.wait_idle()
        assert printer.find("A001") is not None, printer.lines()
        assert printer.find("一次性告知单") is not None
        _targets_ok(r)
    finally:
        printer.stop()
        server.stop()


def test_screenshots_of_every_screen_in_chinese_and_english(tmp_path):
    r = make_kiosk_screens.make(tmp_path)
    assert r["errors"] == [], r["errors"]
    for screen in SCREENS:
        for lang in ("zh", "en"):
            path = tmp_path / f"kiosk-{screen}-{lang}.png"
            assert path.exists(), path
            img = Image.open(path).convert("RGB")
            assert img.size == (1280, 800)
            assert img.getpixel((5, 5)) == tuple(int(theme.BLUE[i:i + 2], 16) for i in (1, 3, 5))  # title bar
    titles = {s["label"]: s["title"] for s in r["screens"]}
    appointment = next(s for s in r["screens"] if s["label"] == "appointment-zh")  # typed by a keyboard-mode scanner
    assert appointment["title"] == "城乡居民参保信息变更登记" and "预约签到：R20261123-7" in appointment["banner"]
    assert titles["home-zh"] == "请选择您要办理的业务" and titles["home-en"] == "Choose what you need to do"
    assert titles["out-of-service-zh"] == "暂停服务"
    for s in r["screens"]:  # the widgets (reused between screens of one layout) hold this screen's texts
        want = {"title": s["title"], "banner": s["banner"], "big": s["big"], "lines": s["lines"],
                "buttons": s["buttons"]}
        assert s["drawn"] == want, s["label"]
    _targets_ok(r)


def test_a_real_x_window_under_xvfb(tmp_path):
    assert shutil.which("xvfb-run"), "xvfb-run is missing (Debian package xvfb; ./run setup installs it)"
    r = make_kiosk_screens.run_tour(["--local", "--script", "smoke", "--shots", str(tmp_path)], tmp_path / "x.json",
                                    video="x11", wrapper=["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"])
    assert r["errors"] == [], r["errors"] + [r["stderr_tail"]]
    assert [s["name"] for s in r["screens"]] == ["home", "items"]
    assert (tmp_path / "kiosk-items-zh.png").exists()
