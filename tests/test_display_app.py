"""The real hall display (Kivy, offscreen) against a real Mosquitto: a call shows at once, a broker
restart leaves a visible mark and the display is whole again soon after (target 2 s). Screenshots of both
layouts go to docs/images/. Kivy runs in subprocesses (tests/display_harness.py), both layouts side by side."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"


def offscreen_env(kivy_home: Path) -> dict:
    """The environment of a Kivy child process without a screen or sound card."""
    return dict(os.environ, SDL_VIDEODRIVER="offscreen", SDL_AUDIODRIVER="dummy", KIVY_NO_ARGS="1",
                KIVY_CLIPBOARD="sdl2", KIVY_HOME=str(kivy_home), KIVY_NO_CONSOLELOG="1")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("display")
    IMAGES.mkdir(parents=True, exist_ok=True)
    # Each child its own KIVY_HOME: Kivy writes config.ini there at first start, and two children racing
    # on one file made the second exit 1 before it drew anything (seen in a fresh-clone CI run).
    procs = {name: subprocess.Popen([sys.executable, str(ROOT / "tests" / "display_harness.py"), name, layout,
                                     str(out), str(IMAGES)], env=offscreen_env(out / f"kivy-{name}"),
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
             for name, layout in (("landscape", "landscape"), ("portrait", "portrait"))}
    results = {}
    for name, proc in procs.items():
        try:
            log, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            log, _ = proc.communicate()
        path = out / f"{name}.json"
        assert path.exists(), f"the {name} display run wrote nothing (exit {proc.returncode}):\n{log[-3000:]}"
        facts = json.loads(path.read_text(encoding="utf-8"))
        assert "error" not in facts, f"{facts['error']}\n{log[-3000:]}"
        results[name] = facts
    return results


def test_a_display_started_after_the_server_is_whole_at_once(runs):
    for facts in runs.values():
        assert facts["whole_at_start"]
        assert len(facts["windows"]) == 12 and len(facts["queues"]) == 6
        assert facts["windows"][0] == "1号窗口(绿色通道)   A022   正在呼叫 Calling"
        assert facts["windows"][8] == "9号窗口   暂停服务 Closed"
        assert facts["queues"][0] == ["A 参保登记与变更  Enrolment and changes", "12 人", "约 24 分钟"]
        assert facts["queues"][5][2] == "暂停取号"  # type F does not issue: no wait promised
        assert facts["notice"].startswith("中午 12:00-13:30")
        status = facts["device_status"]  # retained on device/{id}/status for the manager
        assert status["kind"] == "display" and status["state"] == "ok" and status["parts"] == {"broker": "ok"}


def test_a_call_arrives_and_the_screen_shows_it_large_and_highlighted(runs):
    for facts in runs.values():
        head = facts["headline"]
        assert head["number"] == "A023" and head["window"] == "到 3号窗口 办理"
        assert head["window_en"] == "Number A023, please go to window 3"
        r, g, b, _ = head["colour"]  # amber, breathing
        assert head["highlighted"] and r == 1.0 and 0.6 <= g <= 0.8 and b <= 0.26
        assert facts["recent"][0] == "A022  →  1号窗口" and len(facts["recent"]) == 5
        assert facts["call_shown_s"] < 5  # behaviour here; the latency is measured in bench/


def test_a_call_renders_only_its_new_texts(runs):
    for facts in runs.values():
        # the number, "Number A023, please go to window 3", "到 3号窗口 办理", the new recent row (and the
        # window rows whose state changed); every other text on screen is drawn from textures it had
        assert 1 <= facts["texts_rendered_by_the_call"] <= 6
        assert facts["recent_row_reused_its_texture"]


def test_the_screenshot_shows_the_highlighted_call(runs):
    for layout, size in (("landscape", (1920, 1080)), ("portrait", (1080, 1920))):
        image = Image.open(runs[layout]["screenshot"]).convert("RGB")
        assert image.size == size
        amber = sum(1 for px in image.get_flattened_data() if px[0] > 240 and 150 < px[1] < 205 and px[2] < 70)
        assert amber > 0.1 * size[0] * size[1]  # the highlighted headline is a large part of the screen
        navy = sum(1 for px in image.get_flattened_data() if px[2] > 40 and px[0] < 30)
        assert navy > 0.1 * size[0] * size[1]
        x, y, w, h = (round(v) for v in runs[layout]["headline_box"])
        box = image.crop((x, size[1] - y - h, x + w, size[1] - y))  # Kivy's y grows upwards, the image's down
        ink = sum(1 for px in box.get_flattened_data() if px[0] < 80)  # dark text on the amber
        assert ink > 0.04 * w * h  # the number and the window are drawn on it


def test_a_broker_restart_shows_connection_lost_and_the_display_is_whole_again(runs):
    facts = runs["landscape"]
    assert facts["lost_mark_text"] == "连接中断 Connection lost"
    assert facts["kept_headline"] == "A023"  # the last state stays on screen
    assert facts["after_restart"] == {"lost": False, "headline": "C008", "windows": 12}
    # Connected, resubscribed, retained state and calls read. The target is 2 s (a display retries at least
    # every second; ~1 s measured here); the bound leaves room for a loaded 2-core machine.
    assert facts["whole_after_restart_s"] < 5.0
    assert facts["screen_whole_after_restart_s"] < 10  # drawn at the next frame (software GL here)


def test_the_display_benchmark_runs_and_ends_with_its_json_line(tmp_path):
    env = offscreen_env(tmp_path / "kivy")
    out = subprocess.run([sys.executable, "-m", "bench", "display", "--calls", "5", "--interval", "0.1",
                          "--size", "480x270"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["calls_shown"] >= 1 and result["call_to_label_p50_ms"] > 0 and result["frames"] > 0
