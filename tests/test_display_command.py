"""`onewindow display` refuses bad options with a clear message before it opens a window."""
from __future__ import annotations

import logging

from cli.main import main


def test_bad_zone_repeat_and_led_file_are_refused(caplog, tmp_path):
    caplog.set_level(logging.ERROR)
    assert main(["display", "--zone", "colour=red"]) == 2
    assert "unknown key 'colour'" in caplog.text
    assert main(["display", "--zone", "east"]) == 2  # a name needs a zones file
    assert main(["display", "--repeat", "9"]) == 2
    leds = tmp_path / "leds.toml"
    leds.write_text('[[led]]\nwindow = 3\nport = "/dev/null"\naddress = 300\n', encoding="utf-8")
    assert main(["display", "--mute", "--led", str(leds), "--broker", "mqtt://127.0.0.1:1"]) == 2
    assert "address 300 is not 1-247" in caplog.text
